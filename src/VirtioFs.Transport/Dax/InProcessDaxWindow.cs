using System.Numerics;
using System.Runtime.InteropServices;
using VirtioFs.Dax;
using VirtioFs.Protocol;

namespace VirtioFs.Transport;

/// <summary>
/// A DAX window in this process's address space, for the loopback: an address range reserved inaccessible
/// (<c>PROT_NONE</c>, no swap reserved) into which file ranges are <c>mmap</c>ed shared with <c>MAP_FIXED</c>.
/// A client in the same process reads and writes files through <see cref="GetSpan"/> as a guest does through its
/// DAX window; writes go straight to the host file's page cache.
/// </summary>
/// <remarks>
/// <para>Touching an unmapped part of the window, or a mapped page past the end of its file, faults: the runtime
/// cannot recover and the process dies. Clients must stay within what they mapped and within the file.</para>
/// <para>Give it to a <see cref="DaxMappingServer"/>. Disposing it unmaps everything and releases the address range;
/// spans handed out before must not be used afterwards.</para>
/// </remarks>
public sealed unsafe class InProcessDaxWindow : IDaxWindow, IDisposable
{
    private readonly SafeMappedRegionHandle _region;

    /// <summary>Reserves a window.</summary>
    /// <param name="size">The window's size: a multiple of the system page size and at least one range of <paramref name="rangeSize"/>.</param>
    /// <param name="rangeSize">The range size clients split the window into (see <see cref="DaxWindowGeometry"/>). Default 2 MiB.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size breaks the rules above.</exception>
    /// <exception cref="IOException">The address range could not be reserved.</exception>
    public InProcessDaxWindow(long size, long rangeSize = DaxWindowGeometry.DefaultRangeSize)
    {
        int pageSize = Environment.SystemPageSize;
        if (size <= 0 || size % pageSize != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(size), size, $"The window size must be a positive multiple of the page size ({pageSize} bytes).");
        }

        Geometry = new DaxWindowGeometry(size, rangeSize, BitOperations.Log2((uint)pageSize));
        _region = SafeMappedRegionHandle.Reserve((ulong)size, out int errno)
            ?? throw new IOException($"Reserving a DAX window of {size} bytes failed: {(Errno)errno}.", errno);
    }

    /// <inheritdoc />
    public DaxWindowGeometry Geometry { get; }

    /// <summary>The window's size in bytes.</summary>
    public long Size => Geometry.WindowSize;

    /// <summary>The address of the window's first byte; valid until the window is disposed.</summary>
    /// <exception cref="ObjectDisposedException">The window was disposed.</exception>
    public nint BaseAddress
    {
        get
        {
            ObjectDisposedException.ThrowIf(_region.IsClosed, this);
            return _region.DangerousGetHandle();
        }
    }

    /// <summary>A span over part of the window, valid until the window is disposed. Touch only mapped ranges.</summary>
    /// <param name="offset">The window offset.</param>
    /// <param name="length">The length in bytes.</param>
    /// <returns>The span.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The range is not inside the window.</exception>
    /// <exception cref="ObjectDisposedException">The window was disposed.</exception>
    public Span<byte> GetSpan(long offset, int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(offset, Size - length);
        return new Span<byte>((byte*)BaseAddress + offset, length);
    }

    /// <inheritdoc />
    public Errno Map(long windowOffset, long length, DaxFileReference file, long fileOffset, bool writable)
    {
        ArgumentNullException.ThrowIfNull(file);
        if (!IsValid(windowOffset, length) || fileOffset < 0 || !Geometry.IsAligned((ulong)fileOffset))
        {
            return Errno.EINVAL;
        }

        bool fileAdded = false;
        bool regionAdded = false;
        try
        {
            file.Handle.DangerousAddRef(ref fileAdded);
            _region.DangerousAddRef(ref regionAdded);
            int protection = writable ? Interop.PROT_READ | Interop.PROT_WRITE : Interop.PROT_READ;
            void* address = (byte*)_region.DangerousGetHandle() + windowOffset;
            void* mapped = Interop.MMap(address, (nuint)length, protection, Interop.MAP_SHARED | Interop.MAP_FIXED, (int)file.Handle.DangerousGetHandle(), fileOffset);
            return mapped == Interop.MapFailed ? (Errno)Marshal.GetLastPInvokeError() : Errno.Success;
        }
        finally
        {
            if (regionAdded)
            {
                _region.DangerousRelease();
            }

            if (fileAdded)
            {
                file.Handle.DangerousRelease();
            }
        }
    }

    /// <inheritdoc />
    public Errno Unmap(long windowOffset, long length)
        => IsValid(windowOffset, length) ? Reserve(windowOffset, length) : Errno.EINVAL;

    /// <inheritdoc />
    public void UnmapAll()
    {
        if (_region.IsClosed)
        {
            return;
        }

        Errno error = Reserve(0, Size);
        if (error != Errno.Success)
        {
            throw new IOException($"Unmapping the DAX window failed: {error}.", (int)error);
        }
    }

    /// <summary>Unmaps everything and releases the address range.</summary>
    public void Dispose() => _region.Dispose();

    /// <summary>A negative offset or length turns into a ulong past the window, so the geometry's check refuses it too.</summary>
    private bool IsValid(long offset, long length) => Geometry.IsMappable((ulong)offset, (ulong)length);

    /// <summary>Puts inaccessible anonymous memory over a range: the previous mapping goes, the address range stays ours.</summary>
    private Errno Reserve(long windowOffset, long length)
    {
        bool added = false;
        try
        {
            _region.DangerousAddRef(ref added);
            void* address = (byte*)_region.DangerousGetHandle() + windowOffset;
            void* mapped = Interop.MMap(address, (nuint)length, Interop.PROT_NONE, Interop.MAP_PRIVATE | Interop.MAP_ANONYMOUS | Interop.MAP_NORESERVE | Interop.MAP_FIXED, -1, 0);
            return mapped == Interop.MapFailed ? (Errno)Marshal.GetLastPInvokeError() : Errno.Success;
        }
        finally
        {
            if (added)
            {
                _region.DangerousRelease();
            }
        }
    }
}
