using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using VirtioFs.Dax;
using VirtioFs.Protocol;
using VirtioFs.Transport.VhostUser;

namespace VirtioFs.Transport.Tests.VhostUser;

/// <summary>
/// The vhost-user DAX window behind a <see cref="DaxMappingServer"/> served over the loopback, with this test playing
/// the VMM on the other end of the back-end channel: it maps each received descriptor into a window of its own, as a
/// VMM maps it into the guest's shared memory region, and acks (or not, as each test says).
/// </summary>
public sealed class VhostUserDaxWindowTests : IAsyncLifetime
{
    private const ulong Node = 2;
    private const long MiB = 1024 * 1024;
    private const long WindowSize = 8 * MiB;
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(10);

    private readonly string _path = Path.Combine(Path.GetTempPath(), $"virtiofs-vhost-dax-{Guid.NewGuid():N}");
    private VhostUserDaxWindow _window = null!;
    private FuseLoopbackHost _host = null!;
    private TestVmmChannel _vmm = null!;

    public enum AckMode
    {
        Ack,
        Nack,
        Silent,
        WrongReply,
    }

    public async Task InitializeAsync()
    {
        byte[] content = new byte[4 * MiB];
        for (int i = 0; i < content.Length; i++)
        {
            content[i] = (byte)(i * 31 + (i >> 12));
        }

        await File.WriteAllBytesAsync(_path, content);
        _window = new VhostUserDaxWindow(WindowSize) { AckTimeout = TimeSpan.FromMilliseconds(300) };
        var server = new DaxMappingServer(_window, new HostFileProvider(_path));
        _host = await FuseLoopbackHost.StartAsync(new EmptyFs(), new FuseSessionOptions { MappingServer = server }).WaitAsync(Limit);
        _vmm = TestVmmChannel.Attach(_window, replyAck: true, sendFd: true);
    }

    public async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        _vmm.Dispose();
        File.Delete(_path);
    }

    [Fact]
    public async Task SetupMappingSendsShmemMapWithTheFileAndTheVmmSeesItsBytes()
    {
        Assert.Equal(Errno.Success, await SetupAsync(foffset: 2 * MiB, len: 2 * MiB, moffset: 4 * MiB, writable: false));

        ShmemRequest request = Assert.Single(_vmm.Received);
        Assert.Equal(VhostUserBackendRequest.ShmemMap, request.Request);
        Assert.Equal(VhostUserProtocol.Version | VhostUserProtocol.FlagNeedReply, request.Flags);
        Assert.Equal(0ul, request.Mapping.ShmId);
        Assert.Equal((ulong)(2 * MiB), request.Mapping.FileOffset);
        Assert.Equal((ulong)(4 * MiB), request.Mapping.ShmOffset);
        Assert.Equal((ulong)(2 * MiB), request.Mapping.Length);
        Assert.Equal(0ul, request.Mapping.Flags);
        Assert.True(request.HadFd);

        // The VMM's window now shows the file from offset 2 MiB.
        byte[] expected = new byte[4096];
        using (SafeFileHandle file = File.OpenHandle(_path))
        {
            RandomAccess.Read(file, expected, 2 * MiB + 8192);
        }

        Assert.Equal(expected, _vmm.WindowBytes(4 * MiB + 8192, 4096));
        Assert.Equal([(4 * MiB, 2 * MiB, false)], _window.Mappings);
    }

    [Fact]
    public async Task AWritableMappingWritesThroughToTheHostFile()
    {
        Assert.Equal(Errno.Success, await SetupAsync(foffset: 0, len: 2 * MiB, moffset: 0, writable: true));
        Assert.Equal(VhostUserProtocol.ShmemMapWritable, Assert.Single(_vmm.Received).Mapping.Flags);

        _vmm.WriteWindow(100, "written by the guest"u8);
        using SafeFileHandle file = File.OpenHandle(_path);
        byte[] read = new byte[20];
        RandomAccess.Read(file, read, 100);
        Assert.Equal("written by the guest"u8.ToArray(), read);
    }

    [Fact]
    public async Task RemappingAMappedRangeUnmapsItWholeFirst()
    {
        Assert.Equal(Errno.Success, await SetupAsync(foffset: 0, len: 2 * MiB, moffset: 2 * MiB, writable: false));
        Assert.Equal(Errno.Success, await SetupAsync(foffset: 0, len: 2 * MiB, moffset: 2 * MiB, writable: true));

        Assert.Equal(
            [VhostUserBackendRequest.ShmemMap, VhostUserBackendRequest.ShmemUnmap, VhostUserBackendRequest.ShmemMap],
            _vmm.Received.Select(r => r.Request));
        ShmemRequest unmap = _vmm.Received[1];
        Assert.Equal((ulong)(2 * MiB), unmap.Mapping.ShmOffset);
        Assert.Equal((ulong)(2 * MiB), unmap.Mapping.Length);
        Assert.False(unmap.HadFd);
        Assert.Equal([(2 * MiB, 2 * MiB, true)], _window.Mappings);
    }

    [Fact]
    public async Task RemoveMappingSendsOneUnmapPerMappingAndNothingForUnmappedRanges()
    {
        Assert.Equal(Errno.Success, await SetupAsync(foffset: 0, len: 2 * MiB, moffset: 0, writable: false));
        Assert.Equal(Errno.Success, await SetupAsync(foffset: 2 * MiB, len: 2 * MiB, moffset: 2 * MiB, writable: false));

        Assert.Equal(Errno.Success, await _host.Client.RemoveMappingAsync(Node, [new FuseRemovemappingOne { Moffset = 0, Len = (ulong)(8 * MiB) }]).AsTask().WaitAsync(Limit));

        Assert.Equal(4, _vmm.Received.Count);
        Assert.All(_vmm.Received.Skip(2), r => Assert.Equal(VhostUserBackendRequest.ShmemUnmap, r.Request));
        Assert.Equal([0ul, (ulong)(2 * MiB)], _vmm.Received.Skip(2).Select(r => r.Mapping.ShmOffset).Order());
        Assert.Empty(_window.Mappings);
        Assert.Equal(0, _vmm.WindowProtectionMapped(0, 4 * MiB));

        // Nothing mapped there any more: succeeds without a message.
        Assert.Equal(Errno.Success, await _host.Client.RemoveMappingAsync(Node, [new FuseRemovemappingOne { Moffset = 0, Len = (ulong)(2 * MiB) }]).AsTask().WaitAsync(Limit));
        Assert.Equal(4, _vmm.Received.Count);
    }

    [Fact]
    public async Task AnUnmapThatCutsAMappingIsRefusedWithNothingSent()
    {
        Assert.Equal(Errno.Success, await SetupAsync(foffset: 0, len: 4 * MiB, moffset: 0, writable: false));
        Assert.Equal(Errno.EINVAL, _window.Unmap(0, 2 * MiB));
        Assert.Single(_vmm.Received);
        Assert.Equal([(0L, 4 * MiB, false)], _window.Mappings);
    }

    [Theory]
    [InlineData(AckMode.Nack, true)]
    [InlineData(AckMode.Silent, false)]
    [InlineData(AckMode.WrongReply, false)]
    public async Task AMapTheVmmDoesNotAckFailsWithEio(AckMode mode, bool channelSurvives)
    {
        _vmm.Mode = mode;
        Assert.Equal(Errno.EIO, await SetupAsync(foffset: 0, len: 2 * MiB, moffset: 0, writable: false));
        Assert.Empty(_window.Mappings);

        // A nack leaves the exchange in step; silence or a stray message closes the channel for good.
        _vmm.Mode = AckMode.Ack;
        Assert.Equal(channelSurvives ? Errno.Success : Errno.ENODEV, await SetupAsync(foffset: 0, len: 2 * MiB, moffset: 2 * MiB, writable: false));
        Assert.Equal(channelSurvives ? 2 : 1, _vmm.Received.Count);
    }

    [Fact]
    public async Task NothingIsSentToAVmmThatCannotTakeDescriptors()
    {
        _vmm.Dispose();
        _vmm = TestVmmChannel.Attach(_window, replyAck: true, sendFd: false);
        Assert.Equal(Errno.ENODEV, await SetupAsync(foffset: 0, len: 2 * MiB, moffset: 0, writable: false));
        Assert.Empty(_vmm.Received);
    }

    [Fact]
    public async Task WithoutReplyAckAMapIsSentAndTakenAsDone()
    {
        _vmm.Dispose();
        _vmm = TestVmmChannel.Attach(_window, replyAck: false, sendFd: true);
        Assert.Equal(Errno.Success, await SetupAsync(foffset: 0, len: 2 * MiB, moffset: 0, writable: false));
        ShmemRequest request = await _vmm.WaitForAsync(1);
        Assert.Equal(VhostUserProtocol.Version, request.Flags);
    }

    [Fact]
    public async Task TheSessionEndUnmapsEverythingAndADetachedWindowForgetsItsMappings()
    {
        Assert.Equal(Errno.Success, await SetupAsync(foffset: 0, len: 2 * MiB, moffset: 0, writable: false));
        Assert.Equal(Errno.Success, await SetupAsync(foffset: 0, len: 2 * MiB, moffset: 6 * MiB, writable: false));
        _window.UnmapAll();
        Assert.Equal(2, _vmm.Received.Count(r => r.Request == VhostUserBackendRequest.ShmemUnmap));
        Assert.Empty(_window.Mappings);

        Assert.Equal(Errno.Success, await SetupAsync(foffset: 0, len: 2 * MiB, moffset: 0, writable: false));
        _window.Detach();
        Assert.Empty(_window.Mappings);
        int sent = _vmm.Received.Count;
        _window.UnmapAll();
        Assert.Equal(sent, _vmm.Received.Count);
    }

    [Fact]
    public void WindowOptionsAreValidated()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new VhostUserDaxWindow(3 * MiB));
        Assert.Throws<ArgumentOutOfRangeException>(() => new VhostUserDaxWindow(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new VhostUserDaxWindow(2 * MiB) { AckTimeout = TimeSpan.Zero });
        Assert.Equal(12, new VhostUserDaxWindow(2 * MiB).Geometry.MapAlignment);
    }

    private Task<Errno> SetupAsync(long foffset, long len, long moffset, bool writable)
        => _host.Client.SetupMappingAsync(Node, new FuseSetupmappingIn
        {
            Fh = FuseConstants.SetupMappingFhNone,
            Foffset = (ulong)foffset,
            Len = (ulong)len,
            Moffset = (ulong)moffset,
            Flags = (ulong)(FuseSetupMappingFlags.Read | (writable ? FuseSetupMappingFlags.Write : 0)),
        }).AsTask().WaitAsync(Limit);

    private sealed class EmptyFs : FuseFileSystem
    {
    }

    /// <summary>Node 2 is the test file.</summary>
    private sealed class HostFileProvider(string path) : IDaxFileProvider
    {
        public ValueTask<FuseResult<DaxFileReference>> OpenForMappingAsync(FuseRequestContext context, ulong nodeId, ulong? fileHandle, bool writable)
        {
            if (nodeId != Node)
            {
                return new(Errno.ENOENT);
            }

            SafeFileHandle handle = File.OpenHandle(path, FileMode.Open, writable ? FileAccess.ReadWrite : FileAccess.Read);
            return new(new DaxFileReference(nodeId, FuseFileMode.RegularFile | 0x1A4, handle, writable));
        }
    }

    internal readonly record struct ShmemRequest(VhostUserBackendRequest Request, uint Flags, VhostUserShmemMapping Mapping, bool HadFd);

    /// <summary>The VMM's end of a back-end channel: a socket pair, a thread answering requests, and a window it maps into.</summary>
    private sealed class TestVmmChannel : IDisposable
    {
        private readonly VhostUserSocket _socket;
        private readonly SafeMappedRegionHandle _window;
        private readonly Thread _thread;
        private readonly ConcurrentQueue<ShmemRequest> _received = new();
        private readonly SemaphoreSlim _arrived = new(0);

        private TestVmmChannel(VhostUserSocket socket)
        {
            _socket = socket;
            _window = SafeMappedRegionHandle.Reserve(WindowSize, out int errno) ?? throw new IOException($"reserve failed: {errno}");
            _thread = new Thread(Serve) { IsBackground = true, Name = "test-vmm-backend-channel" };
            _thread.Start();
        }

        public volatile AckMode Mode = AckMode.Ack;

        public List<ShmemRequest> Received => [.. _received];

        public static unsafe TestVmmChannel Attach(VhostUserDaxWindow window, bool replyAck, bool sendFd)
        {
            int* fds = stackalloc int[2];
            Assert.Equal(0, Interop.SocketPair(Interop.AF_UNIX, Interop.SOCK_STREAM | Interop.SOCK_CLOEXEC, 0, fds));
            window.Attach(new VhostUserSocket(Interop.Own(fds[0])), replyAck, sendFd);
            return new TestVmmChannel(new VhostUserSocket(Interop.Own(fds[1])));
        }

        public async Task<ShmemRequest> WaitForAsync(int count)
        {
            while (_received.Count < count)
            {
                Assert.True(await _arrived.WaitAsync(Limit), "the VMM received nothing");
            }

            return _received.ElementAt(count - 1);
        }

        public unsafe byte[] WindowBytes(long offset, int length) => new ReadOnlySpan<byte>((byte*)_window.DangerousGetHandle() + offset, length).ToArray();

        public unsafe void WriteWindow(long offset, ReadOnlySpan<byte> bytes) => bytes.CopyTo(new Span<byte>((byte*)_window.DangerousGetHandle() + offset, bytes.Length));

        /// <summary>How many bytes of the window range are mapped to a file (from /proc/self/maps: anything not "---p").</summary>
        public long WindowProtectionMapped(long offset, long length)
        {
            long start = _window.DangerousGetHandle() + offset, end = start + length, mapped = 0;
            foreach (string line in File.ReadLines("/proc/self/maps"))
            {
                string[] parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                string[] range = parts[0].Split('-');
                long from = Convert.ToInt64(range[0], 16), to = Convert.ToInt64(range[1], 16);
                if (to > start && from < end && parts[1] != "---p")
                {
                    mapped += Math.Min(to, end) - Math.Max(from, start);
                }
            }

            return mapped;
        }

        public void Dispose()
        {
            _socket.Close();
            Assert.True(_thread.Join(Limit), "the test VMM's channel thread did not end");
            _socket.Dispose();
            _window.Dispose();
        }

        private void Serve()
        {
            using var message = new VhostUserMessage();
            try
            {
                while (_socket.TryReceive(message))
                {
                    var mapping = MemoryMarshal.Read<VhostUserShmemMapping>(message.Body);
                    var request = (VhostUserBackendRequest)message.Header.Request;
                    bool hadFd = message.Fds.Count == 1;
                    if (request == VhostUserBackendRequest.ShmemMap && hadFd)
                    {
                        using SafeFileHandle fd = message.TakeFd(0);
                        Place(mapping, fd);
                    }
                    else if (request == VhostUserBackendRequest.ShmemUnmap)
                    {
                        Place(mapping, null);
                    }

                    _received.Enqueue(new ShmemRequest(request, message.Header.Flags, mapping, hadFd));
                    _arrived.Release();
                    if ((message.Header.Flags & VhostUserProtocol.FlagNeedReply) != 0)
                    {
                        Answer(message.Header.Request);
                    }
                }
            }
            catch (VhostUserException)
            {
                // The window closed the channel.
            }
        }

        private void Answer(uint request)
        {
            Span<byte> status = stackalloc byte[8];
            switch (Mode)
            {
                case AckMode.Ack:
                    _socket.Send(request, VhostUserProtocol.Version | VhostUserProtocol.FlagReply, status);
                    break;
                case AckMode.Nack:
                    BinaryPrimitives.WriteUInt64LittleEndian(status, 1);
                    _socket.Send(request, VhostUserProtocol.Version | VhostUserProtocol.FlagReply, status);
                    break;
                case AckMode.WrongReply:
                    _socket.Send(request + 1, VhostUserProtocol.Version | VhostUserProtocol.FlagReply, status);
                    break;
            }
        }

        /// <summary>Maps (or, with no file, unmaps) a range of the VMM's window, as a VMM does for SHMEM_MAP/SHMEM_UNMAP.</summary>
        private unsafe void Place(in VhostUserShmemMapping mapping, SafeFileHandle? fd)
        {
            if (mapping.ShmOffset > WindowSize || mapping.Length > WindowSize - mapping.ShmOffset)
            {
                return;
            }

            void* at = (byte*)_window.DangerousGetHandle() + mapping.ShmOffset;
            void* placed = fd is null
                ? Interop.MMap(at, (nuint)mapping.Length, Interop.PROT_NONE, Interop.MAP_PRIVATE | Interop.MAP_ANONYMOUS | Interop.MAP_NORESERVE | Interop.MAP_FIXED, -1, 0)
                : Interop.MMap(
                    at,
                    (nuint)mapping.Length,
                    Interop.PROT_READ | ((mapping.Flags & VhostUserProtocol.ShmemMapWritable) != 0 ? Interop.PROT_WRITE : 0),
                    Interop.MAP_SHARED | Interop.MAP_FIXED,
                    (int)fd.DangerousGetHandle(),
                    (long)mapping.FileOffset);
            Assert.True(placed == at, $"mmap into the test VMM's window failed: {Marshal.GetLastPInvokeError()}");
        }
    }
}
