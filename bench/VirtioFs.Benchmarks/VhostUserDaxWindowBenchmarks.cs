using BenchmarkDotNet.Attributes;
using Microsoft.Win32.SafeHandles;
using VirtioFs.Dax;
using VirtioFs.Protocol;
using VirtioFs.Transport;
using VirtioFs.Transport.VhostUser;

namespace VirtioFs.Benchmarks;

/// <summary>
/// Re-mapping one range of a vhost-user DAX window (a read-only to writable upgrade: SHMEM_UNMAP then SHMEM_MAP on the
/// back-end channel) while 8,192 other ranges are mapped (a 16 GiB window of 2 MiB ranges, full). The VMM's end only
/// reads the messages (no REPLY_ACK), so the figures are the window's own bookkeeping plus two <c>sendmsg</c> calls.
/// The baseline re-maps the window's first range, the other row its last: a window that scanned its mappings from the
/// start would pay for all 8,191 others there.
/// </summary>
[Config(typeof(LoopbackBenchmarkConfig))]
public unsafe class VhostUserDaxWindowBenchmarks
{
    private const long Range = 2 << 20;
    private const int Ranges = 8192;

    private VhostUserDaxWindow _window = null!;
    private DaxFileReference _file = null!;
    private VhostUserSocket _vmmEnd = null!;
    private Thread _drain = null!;
    private bool _writable;

    [GlobalSetup]
    public void Setup()
    {
        int* fds = stackalloc int[2];
        if (Interop.SocketPair(Interop.AF_UNIX, Interop.SOCK_STREAM | Interop.SOCK_CLOEXEC, 0, fds) != 0)
        {
            throw new IOException("socketpair failed");
        }

        _window = new VhostUserDaxWindow(Ranges * Range);
        _window.Attach(new VhostUserSocket(Interop.Own(fds[0])), replyAck: false, sendFd: true);
        _vmmEnd = new VhostUserSocket(Interop.Own(fds[1]));
        _drain = new Thread(() =>
        {
            using var message = new VhostUserMessage();
            while (_vmmEnd.TryReceive(message))
            {
            }
        }) { IsBackground = true };
        _drain.Start();

        string path = Path.GetTempFileName();
        using (SafeFileHandle file = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite))
        {
            _file = new DaxFileReference(2, FuseFileMode.RegularFile | 0x1A4, file, isWritable: true);
        }

        File.Delete(path);
        for (int i = 0; i < Ranges; i++)
        {
            Check(_window.Map(i * Range, Range, _file, 0, writable: false));
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _window.Detach();
        _vmmEnd.Dispose();
        _drain.Join();
    }

    [Benchmark(Baseline = true, Description = "re-map the first of 8,192 ranges")]
    public void RemapFirst() => Remap(0);

    [Benchmark(Description = "re-map the last of 8,192 ranges")]
    public void RemapLast() => Remap((Ranges - 1) * Range);

    private void Remap(long offset)
    {
        _writable = !_writable;
        Check(_window.Map(offset, Range, _file, 0, _writable));
    }

    private static void Check(Errno error)
    {
        if (error != Errno.Success)
        {
            throw new IOException($"map failed: {error}");
        }
    }
}
