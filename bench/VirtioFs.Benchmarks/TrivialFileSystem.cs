using VirtioFs.Protocol;

namespace VirtioFs.Benchmarks;

/// <summary>
/// A filesystem that does no work, so that benchmarks measure the library (transport, session, codec) alone.
/// Every operation answers synchronously from constants and allocates nothing.
/// </summary>
public sealed class TrivialFileSystem : FuseFileSystem
{
    /// <summary>The node id LOOKUP hands out (the file the data benchmarks read and write).</summary>
    public const ulong FileNodeId = 2;

    /// <summary>The size the file reports.</summary>
    public const ulong FileSize = 1UL << 30;

    private static readonly FuseAttr FileAttr = new()
    {
        Ino = FileNodeId,
        Size = FileSize,
        Blocks = FileSize / 512,
        Mode = FuseFileMode.RegularFile | 0b110_100_100,
        Nlink = 1,
        Blksize = 4096,
    };

    private static readonly FuseAttr RootAttr = new()
    {
        Ino = FuseConstants.RootId,
        Mode = FuseFileMode.Directory | 0b111_101_101,
        Nlink = 2,
        Blksize = 4096,
    };

    private static readonly FuseAttrOut FileAttrOut = new() { AttrValid = 1, Attr = FileAttr };

    private static readonly FuseAttrOut RootAttrOut = new() { AttrValid = 1, Attr = RootAttr };

    private static readonly FuseEntryOut FileEntry = new()
    {
        Nodeid = FileNodeId,
        Generation = 1,
        EntryValid = 1,
        AttrValid = 1,
        Attr = FileAttr,
    };

    /// <inheritdoc />
    public override ValueTask<FuseResult<FuseAttrOut>> GetAttrAsync(FuseRequestContext context, FuseGetattrIn args)
        => new(context.NodeId == FuseConstants.RootId ? RootAttrOut : FileAttrOut);

    /// <inheritdoc />
    public override ValueTask<FuseResult<FuseEntryOut>> LookupAsync(FuseRequestContext context, ReadOnlyMemory<byte> name)
        => new(FileEntry);

    /// <inheritdoc />
    /// <remarks>Leaves the buffer as it is (its content is irrelevant here) and reports it filled.</remarks>
    public override ValueTask<FuseResult<int>> ReadAsync(FuseRequestContext context, FuseReadIn args, Memory<byte> buffer)
        => new(buffer.Length);

    /// <inheritdoc />
    public override ValueTask<FuseResult<int>> WriteAsync(FuseRequestContext context, FuseWriteIn args, ReadOnlyMemory<byte> data)
        => new(data.Length);
}
