using VirtioFs.Protocol;

namespace VirtioFs.Samples.Passthrough;

public sealed unsafe partial class PassthroughFileSystem
{
    private const int W_OK = 2;

    /// <inheritdoc/>
    public override ValueTask<FuseResult<FuseKstatfs>> StatFsAsync(FuseRequestContext context)
    {
        Inode? inode = Node(context.NodeId) ?? _inodes.Root;
        Interop.StatFs st;
        if (Interop.FstatFs(inode.PathFd, &st) != 0)
        {
            return new(Interop.LastErrno);
        }

        return new(new FuseKstatfs
        {
            Blocks = st.Blocks,
            Bfree = st.BlocksFree,
            Bavail = st.BlocksAvailable,
            Files = st.Files,
            Ffree = st.FilesFree,
            Bsize = (uint)st.BlockSize,
            Namelen = (uint)st.NameLength,
            Frsize = (uint)st.FragmentSize,
        });
    }

    /// <inheritdoc/>
    public override ValueTask<Errno> SyncFsAsync(FuseRequestContext context)
        => new(Interop.SyncFs(_rootDirectory) == 0 ? Errno.Success : Interop.LastErrno);

    /// <inheritdoc/>
    public override ValueTask<Errno> AccessAsync(FuseRequestContext context, FuseAccessIn args)
    {
        Inode? inode = Node(context.NodeId);
        if (inode is null)
        {
            return new(Errno.ESTALE);
        }

        if (_options.ReadOnly && (args.Mask & W_OK) != 0)
        {
            return new(Errno.EROFS);
        }

        byte empty = 0;
        using CallerCredentials.Scope scope = _credentials.Enter(context);

        // AT_EACCESS: check with the thread's (the caller's) effective credentials, not the process's real ids.
        int rc = Interop.FaccessAt(inode.PathFd, &empty, (int)args.Mask, Interop.AT_EACCESS | Interop.AT_EMPTY_PATH);
        return new(rc == 0 ? Errno.Success : Interop.LastErrno);
    }
}
