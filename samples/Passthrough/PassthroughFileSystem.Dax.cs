using Microsoft.Win32.SafeHandles;
using VirtioFs.Dax;
using VirtioFs.Protocol;

namespace VirtioFs.Samples.Passthrough;

/// <summary>DAX: which host file a guest's <c>SETUPMAPPING</c> maps (the sample serves with <c>--dax-window</c>).</summary>
public sealed unsafe partial class PassthroughFileSystem : IDaxFileProvider
{
    /// <inheritdoc/>
    /// <remarks>
    /// The mapping gets a descriptor of its own, opened under the caller's credentials (so the host's permission check
    /// is the caller's), that lives as long as the mapping whatever the client closes. Only regular files are mapped:
    /// anything else is refused before it is opened (opening a FIFO would block).
    /// </remarks>
    public ValueTask<FuseResult<DaxFileReference>> OpenForMappingAsync(FuseRequestContext context, ulong nodeId, ulong? fileHandle, bool writable)
    {
        Inode? inode = Node(nodeId);
        if (inode is null)
        {
            return new(Errno.ESTALE);
        }

        if (fileHandle is { } fh)
        {
            FileHandle? handle = Handle(fh);
            if (handle is null || handle.Inode != inode)
            {
                return new(Errno.EBADF);
            }

            int access = handle.Flags & Interop.O_ACCMODE;
            if (writable ? access == Interop.O_RDONLY : access == Interop.O_WRONLY)
            {
                return new(Errno.EACCES);
            }
        }

        if (writable && _options.ReadOnly)
        {
            return new(Errno.EROFS);
        }

        FuseStatx st;
        Errno error = StatInode(inode.PathFd, &st);
        if (error != Errno.Success)
        {
            return new(error);
        }

        if ((st.Mode & FuseFileMode.TypeMask) != FuseFileMode.RegularFile)
        {
            return new(Errno.EINVAL);
        }

        int fd;
        using (CallerCredentials.Scope scope = _credentials.Enter(context))
        {
            fd = Reopen(inode, writable ? Interop.O_RDWR : Interop.O_RDONLY);
        }

        if (fd < 0)
        {
            return new(Interop.LastErrno);
        }

        SafeFileHandle file = Interop.Own(fd);
        return new(new DaxFileReference(nodeId, st.Mode, file, isWritable: writable));
    }
}
