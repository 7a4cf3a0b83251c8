using System.Text;
using Microsoft.Win32.SafeHandles;
using VirtioFs.Protocol;
using VirtioFs.Transport;

namespace VirtioFs.Integration.Tests;

/// <summary>FUSE_PASSTHROUGH: a file opened with a backing file is read and written by the kernel directly.</summary>
[Collection("kernel")]
public sealed class PassthroughTests
{
    /// <summary>One file, "data", backed by a host file; counts the READ/WRITE requests that still reach it.</summary>
    private sealed class BackedFileSystem(string hostPath) : FuseFileSystem
    {
        private const ulong FileNode = 2;
        private FuseConnectionInfo? _connection;
        private int _backingId;
        private int _dataRequests;
        private int _released;

        public int DataRequests => Volatile.Read(ref _dataRequests);

        public bool Released => Volatile.Read(ref _released) != 0;

        public override ValueTask<Errno> InitAsync(FuseConnectionInfo connection)
        {
            _connection = connection;
            return new(Errno.Success);
        }

        public override ValueTask<FuseResult<FuseEntryOut>> LookupAsync(FuseRequestContext context, ReadOnlyMemory<byte> name)
            => new(context.NodeId == FuseConstants.RootId && name.Span.SequenceEqual("data"u8)
                ? new FuseEntryOut { Nodeid = FileNode, Attr = Attributes(FileNode) }
                : Errno.ENOENT);

        public override ValueTask<FuseResult<FuseAttrOut>> GetAttrAsync(FuseRequestContext context, FuseGetattrIn args)
            => new(new FuseAttrOut { Attr = Attributes(context.NodeId) });

        public override ValueTask<FuseResult<FuseOpenOut>> OpenAsync(FuseRequestContext context, FuseOpenIn args)
        {
            IFusePassthrough passthrough = _connection?.Passthrough
                ?? throw new InvalidOperationException("Passthrough was not negotiated.");
            using SafeFileHandle backing = File.OpenHandle(hostPath, FileMode.Open, FileAccess.ReadWrite);
            _backingId = passthrough.RegisterBackingFile(backing);
            return new(new FuseOpenOut { Fh = 1, OpenFlags = (uint)FuseOpenOutFlags.Passthrough, BackingId = _backingId });
        }

        public override ValueTask<Errno> ReleaseAsync(FuseRequestContext context, FuseReleaseIn args)
        {
            _connection!.Passthrough!.UnregisterBackingFile(_backingId);
            Volatile.Write(ref _released, 1);
            return new(Errno.Success);
        }

        public override ValueTask<FuseResult<int>> ReadAsync(FuseRequestContext context, FuseReadIn args, Memory<byte> buffer)
        {
            Interlocked.Increment(ref _dataRequests);
            return new(Errno.EIO);
        }

        public override ValueTask<FuseResult<int>> WriteAsync(FuseRequestContext context, FuseWriteIn args, ReadOnlyMemory<byte> data)
        {
            Interlocked.Increment(ref _dataRequests);
            return new(Errno.EIO);
        }

        public override ValueTask<Errno> FlushAsync(FuseRequestContext context, FuseFlushIn args) => new(Errno.Success);

        public override ValueTask<FuseResult<FuseOpenOut>> OpenDirAsync(FuseRequestContext context, FuseOpenIn args) => new(new FuseOpenOut());

        public override ValueTask<Errno> ReadDirAsync(FuseRequestContext context, FuseReadIn args, FuseDirectoryWriter writer)
        {
            if (args.Offset == 0)
            {
                writer.TryAdd(FileNode, 1, FuseDirentType.Reg, "data"u8);
            }

            return new(Errno.Success);
        }

        private FuseAttr Attributes(ulong node) => node == FuseConstants.RootId
            ? new FuseAttr { Ino = node, Mode = FuseFileMode.Directory | 0x1ED, Nlink = 2 }
            : new FuseAttr { Ino = node, Mode = FuseFileMode.RegularFile | 0x1B6, Nlink = 1, Size = (ulong)new FileInfo(hostPath).Length };
    }

    [KernelFact]
    public async Task ReadsAndWritesGoToTheBackingFile()
    {
        KernelEnvironment.Require();

        // tmpfs: the backing file's filesystem must not be stacked (its stack depth stays below max_stack_depth 1).
        string host = Path.Combine("/dev/shm", "virtiofs-pt-" + Guid.NewGuid().ToString("N")[..8]);
        await File.WriteAllTextAsync(host, "backing file content\n");
        string mountPoint = MountedFileSystem.CreateMountPoint();
        var fs = new BackedFileSystem(host);
        var options = new FuseSessionOptions { WorkersPerChannel = 1, Capabilities = FuseSessionOptions.DefaultCapabilities | FuseInitFlags.Passthrough };
        using var stop = new CancellationTokenSource();
        Task run = FuseMount.RunAsync(fs, new FuseMountOptions(mountPoint) { Workers = 2 }, options, cancellationToken: stop.Token);
        try
        {
            await MountedFileSystem.WaitUntilReadyAsync(mountPoint, MountedFileSystem.ReadyTimeout);
            string path = Path.Combine(mountPoint, "data");

            string read = await Task.Run(() => File.ReadAllText(path)).WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Equal("backing file content\n", read);

            await Task.Run(() =>
            {
                using var stream = new FileStream(path, FileMode.Open, FileAccess.Write);
                stream.Position = 8;
                stream.Write("FILE"u8);
            }).WaitAsync(TimeSpan.FromSeconds(10));

            Assert.Equal("backing FILE content\n", await File.ReadAllTextAsync(host));
            Assert.Equal(0, fs.DataRequests);

            // RELEASE travels in the background after close: give it a moment.
            for (int i = 0; i < 100 && !fs.Released; i++)
            {
                await Task.Delay(50);
            }

            Assert.True(fs.Released);
        }
        finally
        {
            await stop.CancelAsync();
            await run.WaitAsync(MountedFileSystem.StopTimeout);
            MountedFileSystem.Cleanup(mountPoint);
            File.Delete(host);
        }
    }
}
