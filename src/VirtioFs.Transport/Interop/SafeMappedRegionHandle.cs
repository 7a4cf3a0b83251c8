using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace VirtioFs.Transport;

/// <summary>
/// An address range reserved or mapped with <c>mmap</c>; releasing it <c>munmap</c>s the whole range. Being a
/// <see cref="SafeBuffer"/>, the unmap waits until every user that acquired it has released it, so a mapping never
/// disappears from under a copy (a DAX window being filled, a guest memory table being swapped).
/// </summary>
internal sealed unsafe class SafeMappedRegionHandle : SafeBuffer
{
    public SafeMappedRegionHandle()
        : base(ownsHandle: true)
    {
    }

    /// <summary>Reserves <paramref name="length"/> bytes of address space with no access and no swap reserved.</summary>
    /// <returns>The region, or null with <paramref name="errno"/> set.</returns>
    public static SafeMappedRegionHandle? Reserve(ulong length, out int errno)
    {
        var region = new SafeMappedRegionHandle();
        return region.Own(Interop.MMap(null, (nuint)length, Interop.PROT_NONE, Interop.MAP_PRIVATE | Interop.MAP_ANONYMOUS | Interop.MAP_NORESERVE, -1, 0), length, out errno);
    }

    /// <summary>
    /// Maps <paramref name="length"/> bytes of <paramref name="fd"/> from file offset 0, read-write and shared (guest
    /// memory the VMM shared with <c>VHOST_USER_SET_MEM_TABLE</c>).
    /// </summary>
    /// <returns>The mapping, or null with <paramref name="errno"/> set.</returns>
    public static SafeMappedRegionHandle? MapShared(SafeFileHandle fd, ulong length, out int errno)
    {
        var region = new SafeMappedRegionHandle();
        bool added = false;
        try
        {
            // The descriptor stays open for the call; mmap keeps its own reference to the file afterwards.
            fd.DangerousAddRef(ref added);
            return region.Own(
                Interop.MMap(null, (nuint)length, Interop.PROT_READ | Interop.PROT_WRITE, Interop.MAP_SHARED | Interop.MAP_NORESERVE, (int)fd.DangerousGetHandle(), 0),
                length,
                out errno);
        }
        finally
        {
            if (added)
            {
                fd.DangerousRelease();
            }
        }
    }

    protected override bool ReleaseHandle() => Interop.MUnmap((void*)handle, (nuint)ByteLength) == 0;

    /// <summary>
    /// Takes what <c>mmap</c> returned. The handle exists before the call so that nothing can fail between mapping
    /// and owning the range (which would leak it).
    /// </summary>
    private SafeMappedRegionHandle? Own(void* address, ulong length, out int errno)
    {
        if (address == Interop.MapFailed)
        {
            errno = Marshal.GetLastPInvokeError();
            SetHandleAsInvalid();
            return null;
        }

        errno = 0;
        SetHandle((nint)address);
        Initialize(length);
        return this;
    }
}
