using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using VirtioFs.Protocol;

namespace VirtioFs.Dax.Tests.Serving;

/// <summary>A host handle that records when it is really closed.</summary>
internal sealed class TestHandle : SafeHandle
{
    public TestHandle()
        : base(IntPtr.Zero, ownsHandle: true)
    {
        SetHandle(1);
    }

    public bool Released { get; private set; }

    public override bool IsInvalid => false;

    protected override bool ReleaseHandle()
    {
        Released = true;
        return true;
    }
}

/// <summary>A window that records its calls; <see cref="FailNextMap"/> makes the next map fail with that errno.</summary>
internal sealed class RecordingWindow(DaxWindowGeometry geometry) : IDaxWindow
{
    public DaxWindowGeometry Geometry { get; } = geometry;

    public ConcurrentQueue<string> Calls { get; } = new();

    public Errno FailNextMap { get; set; }

    public Errno Map(long windowOffset, long length, DaxFileReference file, long fileOffset, bool writable)
    {
        Assert.False(file.IsReleased);
        Errno fail = FailNextMap;
        FailNextMap = Errno.Success;
        Calls.Enqueue($"map {windowOffset:x}+{length:x} node {file.NodeId} @{fileOffset:x} {(writable ? "rw" : "ro")}{(fail == Errno.Success ? "" : " failed")}");
        return fail;
    }

    public Errno Unmap(long windowOffset, long length)
    {
        Calls.Enqueue($"unmap {windowOffset:x}+{length:x}");
        return Errno.Success;
    }

    public void UnmapAll() => Calls.Enqueue("unmap all");
}

/// <summary>
/// The filesystem's side: nodes 2 (regular file), 3 (regular file), 4 (directory), 5 (regular file nobody may write);
/// 6 is stale. Handle 100 is an open handle of node 2 (read-write), 101 one of node 3 (read-only).
/// </summary>
internal sealed class TestFileProvider : IDaxFileProvider
{
    public const ulong File = 2, OtherFile = 3, Directory = 4, ReadOnlyFile = 5, Stale = 6;
    public const ulong FileHandle = 100, OtherReadOnlyHandle = 101;

    public ConcurrentDictionary<ulong, TestHandle> Handles { get; } = new();

    public int Calls;

    /// <summary>When set, opening waits for it (to race with a reset).</summary>
    public TaskCompletionSource? Gate { get; set; }

    public async ValueTask<FuseResult<DaxFileReference>> OpenForMappingAsync(FuseRequestContext context, ulong nodeId, ulong? fileHandle, bool writable)
    {
        Interlocked.Increment(ref Calls);
        if (Gate is { } gate)
        {
            await gate.Task;
        }

        bool handleWritable = true;
        if (fileHandle is { } fh)
        {
            switch (fh)
            {
                case FileHandle:
                    nodeId = File;
                    break;
                case OtherReadOnlyHandle:
                    nodeId = OtherFile;
                    handleWritable = false;
                    break;
                default:
                    return Errno.EBADF;
            }
        }

        switch (nodeId)
        {
            case File or OtherFile:
                return Reference(nodeId, FuseFileMode.RegularFile | 0x1A4, handleWritable);
            case Directory:
                return Reference(nodeId, FuseFileMode.Directory | 0x1ED, true);
            case ReadOnlyFile:
                return writable ? Errno.EACCES : Reference(nodeId, FuseFileMode.RegularFile | 0x124, false);
            case Stale:
                return Errno.ESTALE;
            default:
                return Errno.ENOENT;
        }
    }

    private DaxFileReference Reference(ulong nodeId, uint mode, bool writable)
    {
        var handle = new TestHandle();
        Handles[nodeId] = handle;
        var reference = new DaxFileReference(nodeId, mode, handle, writable);

        // The filesystem drops its own hold at once, as if the file were RELEASEd: only the references keep it open.
        handle.Dispose();
        return reference;
    }
}

/// <summary>A filesystem with nothing: mapping requests never reach it once a mapping server is configured.</summary>
internal sealed class EmptyFs : FuseFileSystem
{
}
