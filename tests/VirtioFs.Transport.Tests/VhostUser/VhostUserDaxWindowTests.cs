using System.Buffers.Binary;
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
    private static readonly TimeSpan Limit = TestBackendChannel.Limit;

    private readonly string _path = Path.Combine(Path.GetTempPath(), $"virtiofs-vhost-dax-{Guid.NewGuid():N}");
    private VhostUserDaxWindow _window = null!;
    private FuseLoopbackHost _host = null!;
    private TestBackendChannel _vmm = null!;

    public async Task InitializeAsync()
    {
        byte[] content = new byte[4 * MiB];
        for (int i = 0; i < content.Length; i++)
        {
            content[i] = (byte)(i * 31 + (i >> 12));
        }

        await File.WriteAllBytesAsync(_path, content);
        _window = new VhostUserDaxWindow(TestBackendChannel.WindowSize) { AckTimeout = TimeSpan.FromMilliseconds(300) };
        var server = new DaxMappingServer(_window, new HostFileProvider(_path, Node));
        _host = await FuseLoopbackHost.StartAsync(new EmptyFs(), new FuseSessionOptions { MappingServer = server }).WaitAsync(Limit);
        _vmm = TestBackendChannel.Attach(_window, replyAck: true, sendFd: true);
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
    public async Task AVmmThatStopsReadingItsChannelCannotBlockMappingForever()
    {
        var window = new VhostUserDaxWindow(TestBackendChannel.WindowSize) { AckTimeout = TimeSpan.FromMilliseconds(300) };
        (SafeFileHandle backendEnd, SafeFileHandle vmmEnd) = SocketPair();
        using (vmmEnd)
        {
            // Without REPLY_ACK nothing waits for the VMM, so its socket buffer fills when it reads nothing.
            window.Attach(new VhostUserSocket(backendEnd), replyAck: false, sendFd: true);
            using SafeFileHandle file = File.OpenHandle(_path, FileMode.Open, FileAccess.Read);
            var reference = new DaxFileReference(Node, FuseFileMode.RegularFile | 0x1A4, file, isWritable: false);
            Task<Errno> mapping = Task.Run(() =>
            {
                for (int i = 0; i < 1_000_000; i++)
                {
                    Errno result = window.Map(i % 4 * 2 * MiB, 2 * MiB, reference, 0, writable: false);
                    if (result != Errno.Success)
                    {
                        return result;
                    }
                }

                return Errno.Success;
            });

            Assert.Equal(Errno.EIO, await mapping.WaitAsync(Limit));
            await Task.Run(window.Detach).WaitAsync(Limit);
        }
    }

    private static unsafe (SafeFileHandle, SafeFileHandle) SocketPair()
    {
        int* fds = stackalloc int[2];
        Assert.Equal(0, Interop.SocketPair(Interop.AF_UNIX, Interop.SOCK_STREAM | Interop.SOCK_CLOEXEC, 0, fds));
        return (Interop.Own(fds[0]), Interop.Own(fds[1]));
    }

    [Fact]
    public async Task NothingIsSentToAVmmThatCannotTakeDescriptors()
    {
        _vmm.Dispose();
        _vmm = TestBackendChannel.Attach(_window, replyAck: true, sendFd: false);
        Assert.Equal(Errno.ENODEV, await SetupAsync(foffset: 0, len: 2 * MiB, moffset: 0, writable: false));
        Assert.Empty(_vmm.Received);
    }

    [Fact]
    public async Task WithoutReplyAckAMapIsSentAndTakenAsDone()
    {
        _vmm.Dispose();
        _vmm = TestBackendChannel.Attach(_window, replyAck: false, sendFd: true);
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

    [Fact]
    public async Task AGuestSetupMappingOverTheVirtqueueBecomesAShmemMapOnTheChannelTheVmmGave()
    {
        var window = new VhostUserDaxWindow(TestBackendChannel.WindowSize);
        var server = new DaxMappingServer(window, new HostFileProvider(_path, Node));
        await using TestBackend backend = TestBackend.Start(daxWindow: window, sessionOptions: () => new FuseSessionOptions { MappingServer = server });
        using TestVmm vmm = backend.Connect();

        // What QEMU with SHMEM does: negotiate it, read the region's size, hand over the back-end channel.
        const ulong Protocol = TestVmm.AllProtocolFeatures | VhostUserProtocol.ProtocolShmem;
        Assert.Equal(Protocol, vmm.Get(VhostUserRequest.GetProtocolFeatures));
        Assert.Equal(0ul, vmm.Request(VhostUserRequest.SetProtocolFeatures, TestVmm.U64(Protocol)));
        Assert.Equal(0ul, vmm.Request(VhostUserRequest.SetFeatures, TestVmm.U64(TestVmm.AllFeatures)));
        vmm.Send(VhostUserRequest.GetShmemConfig);
        byte[] config = vmm.ReceiveReply(VhostUserRequest.GetShmemConfig);
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(config));
        Assert.Equal((ulong)TestBackendChannel.WindowSize, BinaryPrimitives.ReadUInt64LittleEndian(config.AsSpan(8)));
        (SafeFileHandle backendEnd, TestBackendChannel channel) = TestBackendChannel.Create();
        using (channel)
        {
            using (backendEnd)
            {
                Assert.Equal(0ul, vmm.Request(VhostUserRequest.SetBackendReqFd, default, [backendEnd]));
            }

            vmm.SetMemTable();
            for (int queue = 0; queue < vmm.QueueCount; queue++)
            {
                vmm.StartQueue(queue);
            }

            FuseWire.InitOn(vmm, 1, 1);
            var args = new FuseSetupmappingIn { Fh = FuseConstants.SetupMappingFhNone, Foffset = (ulong)(2 * MiB), Len = (ulong)(2 * MiB), Moffset = (ulong)(6 * MiB), Flags = (ulong)FuseSetupMappingFlags.Read };
            FuseWire.AssertOk(vmm.Roundtrip(1, FuseWire.Request(FuseOpcode.SetupMapping, 2, Node, args), FuseOutHeader.Size), 2, FuseOutHeader.Size);

            ShmemRequest map = Assert.Single(channel.Received);
            Assert.Equal(VhostUserBackendRequest.ShmemMap, map.Request);
            Assert.True(map.HadFd);
            Assert.Equal((ulong)(6 * MiB), map.Mapping.ShmOffset);
            byte[] expected = new byte[4096];
            using (SafeFileHandle file = File.OpenHandle(_path))
            {
                RandomAccess.Read(file, expected, 2 * MiB);
            }

            Assert.Equal(expected, channel.WindowBytes(6 * MiB, 4096));

            // The guest unmounts: DESTROY unmaps the whole window through the same channel.
            FuseWire.AssertOk(vmm.Roundtrip(1, FuseWire.Bare(FuseOpcode.Destroy, 3), FuseOutHeader.Size), 3, FuseOutHeader.Size);
            await backend.FileSystem.WaitDestroyedAsync();
            await channel.WaitForAsync(2);
            Assert.Equal(VhostUserBackendRequest.ShmemUnmap, channel.Received[1].Request);
            Assert.Empty(window.Mappings);
        }
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
}
