using VirtioFs.Protocol;

namespace VirtioFs.Samples.MemoryFs;

// Whole-filesystem operations: STATFS, SYNCFS, ACCESS.
public sealed partial class MemoryFileSystem
{
    private const uint FragmentSize = 4096;

    // Inode numbers are 64-bit and never reused; report a large, fixed inode budget so tools see free inodes.
    private const ulong MaxFiles = 1UL << 32;

    public override ValueTask<FuseResult<FuseKstatfs>> StatFsAsync(FuseRequestContext context)
    {
        const long BlocksPerChunk = SparseFileData.ChunkSize / FragmentSize;
        using (EnterRead())
        {
            var stats = new FuseKstatfs
            {
                Bsize = FragmentSize,
                Frsize = FragmentSize,
                Namelen = PathLimits.NameMax,
                Blocks = (ulong)(_usage.CapacityChunks * BlocksPerChunk),
                Bfree = (ulong)(_usage.FreeChunks * BlocksPerChunk),
                Bavail = (ulong)(_usage.FreeChunks * BlocksPerChunk),
                Files = MaxFiles,
                Ffree = MaxFiles - (ulong)_nodes.Count,
            };
            return new(stats);
        }
    }

    public override ValueTask<Errno> SyncFsAsync(FuseRequestContext context) => new(Errno.Success);

    public override ValueTask<Errno> AccessAsync(FuseRequestContext context, FuseAccessIn args)
        => new(Access(context, args.Mask));

    /// <summary>
    /// access(2) against the mode bits: the owner's, the group's (primary or supplementary) or the others' class.
    /// Root may do anything except execute a non-directory that nobody may execute.
    /// </summary>
    private Errno Access(FuseRequestContext context, uint mask)
    {
        if ((mask & ~AccessMode.All) != 0)
        {
            return Errno.EINVAL;
        }

        using (EnterRead())
        {
            MemoryNode? node = FindNode(context.NodeId, out Errno error);
            if (node is null || mask == 0)
            {
                return error; // mask 0 is F_OK: existence only
            }

            if (context.Uid == 0)
            {
                bool executeDenied = (mask & AccessMode.Execute) != 0 && !node.IsDirectory && (node.Mode & ModeBits.AnyExecute) == 0;
                return executeDenied ? Errno.EACCES : Errno.Success;
            }

            int shift = context.Uid == node.Uid ? 6 : InGroup(context, node.Gid) ? 3 : 0;
            uint granted = (node.Mode >> shift) & AccessMode.All;
            return (mask & ~granted) == 0 ? Errno.Success : Errno.EACCES;
        }
    }
}
