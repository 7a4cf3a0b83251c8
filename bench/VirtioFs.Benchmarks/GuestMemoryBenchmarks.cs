using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;
using VirtioFs.Transport;
using VirtioFs.Transport.VhostUser;

namespace VirtioFs.Benchmarks;

/// <summary>
/// Copying a 1 MiB virtio-fs request out of guest memory, as the vhost-user queues do for every WRITE (and, the other
/// way, for every READ reply). The baseline is a plain block copy between the same two buffers; "as one buffer" and
/// "as 256 pages" go through <see cref="GuestMemory"/> (region lookup, bounds checks, a reference on the mapping per
/// segment), the second as Linux sends a 1 MiB request: one descriptor per 4 KiB page. "SafeBuffer.ReadSpan" is the
/// framework call the copy used before, kept here as the measured reason it is not used.
/// </summary>
[Config(typeof(LoopbackBenchmarkConfig))]
public unsafe class GuestMemoryBenchmarks
{
    private const int Size = 1 << 20;
    private const int Page = 4096;
    private const ulong Gpa = 0x4000_0000;

    private SafeMappedRegionHandle _ram = null!;
    private GuestMemory _memory = null!;
    private byte[] _buffer = null!;

    [GlobalSetup]
    public void Setup()
    {
        using (Microsoft.Win32.SafeHandles.SafeFileHandle memfd = MemfdOf(2 * Size))
        {
            _ram = SafeMappedRegionHandle.MapShared(memfd, 2 * Size, out int errno) ?? throw new IOException($"mmap: {errno}");
        }

        new Span<byte>((void*)_ram.DangerousGetHandle(), 2 * Size).Fill(0x5a);
        _memory = new GuestMemory();
        _memory.SetRegions([new GuestMemoryRegion(Gpa, 2 * Size, 0x7f00_0000_0000, _ram, 0)]);
        _buffer = GC.AllocateUninitializedArray<byte>(Size, pinned: true);
    }

    [GlobalCleanup]
    public void Cleanup() => _memory.Dispose();

    [Benchmark(Baseline = true, Description = "block copy (memcpy)")]
    public void BlockCopy() => new ReadOnlySpan<byte>((void*)_ram.DangerousGetHandle(), Size).CopyTo(_buffer);

    [Benchmark(Description = "GuestMemory, one buffer")]
    public bool OneBuffer() => _memory.TryRead(Gpa, _buffer);

    [Benchmark(Description = "GuestMemory, 256 pages")]
    public bool Pages()
    {
        bool ok = true;
        for (int i = 0; i < Size / Page; i++)
        {
            // Every other page, as scattered page-cache pages would be.
            ok &= _memory.TryRead(Gpa + (ulong)(2 * i * Page), _buffer.AsSpan(i * Page, Page));
        }

        return ok;
    }

    [Benchmark(Description = "SafeBuffer.ReadSpan")]
    public void SafeBufferReadSpan() => _ram.ReadSpan<byte>(0, _buffer);

    private static Microsoft.Win32.SafeHandles.SafeFileHandle MemfdOf(long size)
    {
        int fd = Interop.MemfdCreate("bench-guest-ram", Interop.MFD_CLOEXEC);
        var handle = Interop.Own(fd);
        if (fd < 0 || Interop.FTruncate(handle, size) != 0)
        {
            throw new IOException($"memfd: {Marshal.GetLastPInvokeError()}");
        }

        return handle;
    }
}
