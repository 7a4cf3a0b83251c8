namespace VirtioFs.Protocol;

public abstract partial class FuseFileSystem
{
    /// <summary><c>FUSE_LOOKUP</c>: looks up <paramref name="name"/> in directory <see cref="FuseRequestContext.NodeId"/>.</summary>
    /// <remarks>A successful reply increments the node's lookup count. A miss is common: answer <see cref="Errno.ENOENT"/>
    /// (or a success with node id 0 and an entry timeout, to cache the negative entry).</remarks>
    /// <param name="context">The request context.</param>
    /// <param name="name">The name, without its NUL terminator.</param>
    /// <returns>The entry, or an error.</returns>
    public virtual ValueTask<FuseResult<FuseEntryOut>> LookupAsync(FuseRequestContext context, ReadOnlyMemory<byte> name)
        => new(Errno.ENOSYS);

    /// <summary><c>FUSE_FORGET</c>: drops <paramref name="lookupCount"/> lookups of a node. Never answered.</summary>
    /// <param name="nodeId">The node.</param>
    /// <param name="lookupCount">How many lookups to drop.</param>
    public virtual void Forget(ulong nodeId, ulong lookupCount)
    {
    }

    /// <summary><c>FUSE_BATCH_FORGET</c>: drops lookups of several nodes. Never answered. The default calls <see cref="Forget"/> for each.</summary>
    /// <param name="nodes">The nodes and counts; valid only during the call.</param>
    public virtual void BatchForget(ReadOnlySpan<FuseForgetOne> nodes)
    {
        foreach (ref readonly FuseForgetOne node in nodes)
        {
            Forget(node.Nodeid, node.Nlookup);
        }
    }

    /// <summary><c>FUSE_GETATTR</c>: the attributes of <see cref="FuseRequestContext.NodeId"/>.</summary>
    /// <param name="context">The request context.</param>
    /// <param name="args">Flags and, with <c>FUSE_GETATTR_FH</c>, the file handle.</param>
    /// <returns>The attributes and their cache timeout, or an error.</returns>
    public virtual ValueTask<FuseResult<FuseAttrOut>> GetAttrAsync(FuseRequestContext context, FuseGetattrIn args)
        => new(Errno.ENOSYS);

    /// <summary><c>FUSE_SETATTR</c>: changes the attributes selected by <see cref="FuseSetattrIn.Valid"/> (<see cref="FuseSetAttrValid"/>).</summary>
    /// <param name="context">The request context.</param>
    /// <param name="args">What to change.</param>
    /// <returns>The resulting attributes, or an error.</returns>
    public virtual ValueTask<FuseResult<FuseAttrOut>> SetAttrAsync(FuseRequestContext context, FuseSetattrIn args)
        => new(Errno.ENOSYS);

    /// <summary><c>FUSE_STATX</c> (7.39+): extended attributes of a node.</summary>
    /// <param name="context">The request context.</param>
    /// <param name="args">The requested mask, flags and optional handle.</param>
    /// <returns>The statx reply, or an error.</returns>
    public virtual ValueTask<FuseResult<FuseStatxOut>> StatxAsync(FuseRequestContext context, FuseStatxIn args)
        => new(Errno.ENOSYS);

    /// <summary><c>FUSE_READLINK</c>: writes the target of symbolic link <see cref="FuseRequestContext.NodeId"/> into <paramref name="buffer"/>.</summary>
    /// <param name="context">The request context.</param>
    /// <param name="buffer">Room for the target (no NUL terminator is needed).</param>
    /// <returns>The number of bytes written, or an error (<see cref="Errno.ENAMETOOLONG"/> when it does not fit).</returns>
    public virtual ValueTask<FuseResult<int>> ReadLinkAsync(FuseRequestContext context, Memory<byte> buffer)
        => new(Errno.ENOSYS);

    /// <summary><c>FUSE_SYMLINK</c>: creates symbolic link <paramref name="name"/> to <paramref name="target"/>.</summary>
    /// <param name="context">The request context (the parent directory and the creator's credentials).</param>
    /// <param name="name">The new link's name.</param>
    /// <param name="target">The link's content.</param>
    /// <returns>The new entry, or an error.</returns>
    public virtual ValueTask<FuseResult<FuseEntryOut>> SymlinkAsync(FuseRequestContext context, ReadOnlyMemory<byte> name, ReadOnlyMemory<byte> target)
        => new(Errno.ENOSYS);

    /// <summary><c>FUSE_MKNOD</c>: creates a regular file, device node, fifo or socket.</summary>
    /// <param name="context">The request context.</param>
    /// <param name="args">Mode (type and permissions), device number and umask.</param>
    /// <param name="name">The new node's name.</param>
    /// <returns>The new entry, or an error.</returns>
    public virtual ValueTask<FuseResult<FuseEntryOut>> MkNodAsync(FuseRequestContext context, FuseMknodIn args, ReadOnlyMemory<byte> name)
        => new(Errno.ENOSYS);

    /// <summary><c>FUSE_MKDIR</c>: creates a directory.</summary>
    /// <param name="context">The request context.</param>
    /// <param name="args">Mode and umask.</param>
    /// <param name="name">The new directory's name.</param>
    /// <returns>The new entry, or an error.</returns>
    public virtual ValueTask<FuseResult<FuseEntryOut>> MkDirAsync(FuseRequestContext context, FuseMkdirIn args, ReadOnlyMemory<byte> name)
        => new(Errno.ENOSYS);

    /// <summary><c>FUSE_UNLINK</c>: removes a non-directory name.</summary>
    /// <param name="context">The request context.</param>
    /// <param name="name">The name to remove.</param>
    /// <returns>The outcome.</returns>
    public virtual ValueTask<Errno> UnlinkAsync(FuseRequestContext context, ReadOnlyMemory<byte> name) => NotImplemented;

    /// <summary><c>FUSE_RMDIR</c>: removes an empty directory.</summary>
    /// <param name="context">The request context.</param>
    /// <param name="name">The directory's name.</param>
    /// <returns>The outcome.</returns>
    public virtual ValueTask<Errno> RmDirAsync(FuseRequestContext context, ReadOnlyMemory<byte> name) => NotImplemented;

    /// <summary><c>FUSE_RENAME</c> and <c>FUSE_RENAME2</c>: renames <paramref name="name"/> in <see cref="FuseRequestContext.NodeId"/>
    /// to <paramref name="newName"/> in <paramref name="newParent"/>.</summary>
    /// <param name="context">The request context.</param>
    /// <param name="newParent">The destination directory.</param>
    /// <param name="name">The source name.</param>
    /// <param name="newName">The destination name.</param>
    /// <param name="flags"><see cref="FuseRenameFlags.NoReplace"/>, <see cref="FuseRenameFlags.Exchange"/>, <see cref="FuseRenameFlags.Whiteout"/> (always none for <c>FUSE_RENAME</c>).</param>
    /// <returns>The outcome.</returns>
    public virtual ValueTask<Errno> RenameAsync(FuseRequestContext context, ulong newParent, ReadOnlyMemory<byte> name, ReadOnlyMemory<byte> newName, FuseRenameFlags flags)
        => NotImplemented;

    /// <summary><c>FUSE_LINK</c>: creates hard link <paramref name="newName"/> in <see cref="FuseRequestContext.NodeId"/> to node <paramref name="nodeId"/>.</summary>
    /// <param name="context">The request context.</param>
    /// <param name="nodeId">The existing node.</param>
    /// <param name="newName">The new name.</param>
    /// <returns>The entry of the linked node (its lookup count is incremented), or an error.</returns>
    public virtual ValueTask<FuseResult<FuseEntryOut>> LinkAsync(FuseRequestContext context, ulong nodeId, ReadOnlyMemory<byte> newName)
        => new(Errno.ENOSYS);
}
