using Microsoft.Win32.SafeHandles;

namespace VirtioFs.Transport.Tests.VhostUser;

/// <summary>A memfd of a given size, mapped shared into the test process (what QEMU's <c>memory-backend-memfd</c> is).</summary>
internal sealed unsafe class TestMemfd : IDisposable
{
    private readonly SafeMappedRegionHandle _mapping;

    private TestMemfd(SafeFileHandle fd, SafeMappedRegionHandle mapping, ulong size)
    {
        Fd = fd;
        _mapping = mapping;
        Size = size;
        Base = (byte*)mapping.DangerousGetHandle();
    }

    public SafeFileHandle Fd { get; }

    public ulong Size { get; }

    public byte* Base { get; }

    public byte[] Read(ulong offset, int length) => new ReadOnlySpan<byte>(Base + offset, length).ToArray();

    public void Write(ulong offset, ReadOnlySpan<byte> bytes) => bytes.CopyTo(new Span<byte>(Base + offset, bytes.Length));

    public static TestMemfd Create(ulong size)
    {
        int raw = Interop.MemfdCreate("test-vmm-ram", Interop.MFD_CLOEXEC);
        Assert.True(raw >= 0, $"memfd_create: {Interop.LastErrno}");
        SafeFileHandle fd = Interop.Own(raw);
        Assert.True(Interop.FTruncate(fd, (long)size) == 0, $"ftruncate: {Interop.LastErrno}");
        SafeMappedRegionHandle? mapping = SafeMappedRegionHandle.MapShared(fd, size, out int errno);
        Assert.True(mapping is not null, $"mmap: {(Protocol.Errno)errno}");
        return new TestMemfd(fd, mapping, size);
    }

    public void Dispose()
    {
        _mapping.Dispose();
        Fd.Dispose();
    }
}
