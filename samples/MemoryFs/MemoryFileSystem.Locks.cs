using VirtioFs.Protocol;

namespace VirtioFs.Samples.MemoryFs;

// Byte-range locks: GETLK, SETLK, SETLKW. POSIX (fcntl) and BSD (flock) locks live in separate tables, as on Linux.
public sealed partial class MemoryFileSystem
{
    public override ValueTask<FuseResult<FuseFileLock>> GetLkAsync(FuseRequestContext context, FuseLkIn args)
    {
        RangeLockTable? table = FindLockTable(context.NodeId, args, out RangeLock request, out Errno error);
        if (table is null)
        {
            return new(error);
        }

        // No conflict: the tested lock comes back as F_UNLCK.
        FuseFileLock reply = table.FindConflict(request) is { } held
            ? new FuseFileLock { Start = held.Start, End = held.End, Type = held.Type, Pid = held.Pid }
            : args.Lk with { Type = LockType.Unlock };
        return new(reply);
    }

    public override ValueTask<Errno> SetLkAsync(FuseRequestContext context, FuseLkIn args, bool wait)
    {
        RangeLockTable? table = FindLockTable(context.NodeId, args, out RangeLock request, out Errno error);
        return table is null ? new(error) : table.SetAsync(request, wait, context.CancellationToken);
    }

    /// <summary>
    /// The table a lock request is about, and the request itself. A flock request becomes a whole-file lock owned by
    /// its open file description (the kernel sends that as the owner).
    /// </summary>
    private RangeLockTable? FindLockTable(ulong nodeId, in FuseLkIn args, out RangeLock request, out Errno error)
    {
        bool flock = ((FuseLockFlags)args.LkFlags).HasFlag(FuseLockFlags.Flock);
        FuseFileLock lk = args.Lk;
        request = flock
            ? new RangeLock(args.Owner, lk.Pid, lk.Type, 0, LockType.OffsetMax)
            : new RangeLock(args.Owner, lk.Pid, lk.Type, lk.Start, lk.End);
        if (lk.Type > LockType.Unlock || request.Start > request.End)
        {
            error = Errno.EINVAL;
            return null;
        }

        using (EnterRead())
        {
            return FindNode(nodeId, out error)?.GetLocks(flock);
        }
    }
}
