namespace VirtioFs.Protocol;

public abstract partial class FuseFileSystem
{
    /// <summary><c>FUSE_OPENDIR</c>: opens directory <see cref="FuseRequestContext.NodeId"/>.</summary>
    /// <param name="context">The request context.</param>
    /// <param name="args">Open flags.</param>
    /// <returns>The handle and flags, or an error.</returns>
    public virtual ValueTask<FuseResult<FuseOpenOut>> OpenDirAsync(FuseRequestContext context, FuseOpenIn args)
        => new(Errno.ENOSYS);

    /// <summary><c>FUSE_READDIR</c>: lists entries from offset <see cref="FuseReadIn.Offset"/> with <see cref="FuseDirectoryWriter.TryAdd"/>.</summary>
    /// <remarks>Offsets are the filesystem's own cookies: each entry carries the offset of the entry after it.
    /// Stop when <see cref="FuseDirectoryWriter.TryAdd"/> returns false; that entry is sent in the next call.</remarks>
    /// <param name="context">The request context.</param>
    /// <param name="args">Handle, offset and size.</param>
    /// <param name="writer">Where entries go; sized to the request.</param>
    /// <returns>The outcome.</returns>
    public virtual ValueTask<Errno> ReadDirAsync(FuseRequestContext context, FuseReadIn args, FuseDirectoryWriter writer) => NotImplemented;

    /// <summary><c>FUSE_READDIRPLUS</c>: lists entries with their attributes, with <see cref="FuseDirectoryWriter.TryAddPlus"/>.</summary>
    /// <remarks>Every entry that <see cref="FuseDirectoryWriter.TryAddPlus"/> accepts with a non-zero node id increments
    /// that node's lookup count; entries it refuses do not.</remarks>
    /// <param name="context">The request context.</param>
    /// <param name="args">Handle, offset and size.</param>
    /// <param name="writer">Where entries go; sized to the request.</param>
    /// <returns>The outcome.</returns>
    public virtual ValueTask<Errno> ReadDirPlusAsync(FuseRequestContext context, FuseReadIn args, FuseDirectoryWriter writer) => NotImplemented;

    /// <summary><c>FUSE_RELEASEDIR</c>: closes a directory handle.</summary>
    /// <param name="context">The request context.</param>
    /// <param name="args">The handle.</param>
    /// <returns>The outcome (ignored by the client).</returns>
    public virtual ValueTask<Errno> ReleaseDirAsync(FuseRequestContext context, FuseReleaseIn args) => new(Errno.Success);

    /// <summary><c>FUSE_FSYNCDIR</c>: persists a directory.</summary>
    /// <param name="context">The request context.</param>
    /// <param name="args">Handle and flags.</param>
    /// <returns>The outcome.</returns>
    public virtual ValueTask<Errno> FsyncDirAsync(FuseRequestContext context, FuseFsyncIn args) => NotImplemented;
}
