namespace VirtioFs.Protocol;

public abstract partial class FuseFileSystem
{
    /// <summary><c>FUSE_STATFS</c>: filesystem statistics.</summary>
    /// <param name="context">The request context.</param>
    /// <returns>The statistics, or an error.</returns>
    public virtual ValueTask<FuseResult<FuseKstatfs>> StatFsAsync(FuseRequestContext context)
        => new(Errno.ENOSYS);

    /// <summary><c>FUSE_SYNCFS</c> (7.34+): persists the whole filesystem.</summary>
    /// <param name="context">The request context.</param>
    /// <returns>The outcome.</returns>
    public virtual ValueTask<Errno> SyncFsAsync(FuseRequestContext context) => NotImplemented;

    /// <summary><c>FUSE_ACCESS</c>: checks the caller's access (<c>R_OK</c>, <c>W_OK</c>, <c>X_OK</c>, <c>F_OK</c>).</summary>
    /// <remarks>Not sent when the filesystem is mounted with <c>default_permissions</c>.</remarks>
    /// <param name="context">The request context.</param>
    /// <param name="args">The access mask.</param>
    /// <returns>The outcome.</returns>
    public virtual ValueTask<Errno> AccessAsync(FuseRequestContext context, FuseAccessIn args) => NotImplemented;

    /// <summary><c>FUSE_SETUPMAPPING</c> (7.31+, virtio-fs DAX): maps a file range into the DAX window.</summary>
    /// <remarks>Usually served by a DAX component (<see cref="FuseSessionOptions.MappingServer"/>, for example
    /// <c>VirtioFs.Dax.DaxMappingServer</c>); when one is set, the session calls it instead of this method.</remarks>
    /// <param name="context">The request context.</param>
    /// <param name="args">Handle (<see cref="FuseConstants.SetupMappingFhNone"/>: resolve by node), file offset, length, flags and window offset.</param>
    /// <returns>The outcome.</returns>
    public virtual ValueTask<Errno> SetupMappingAsync(FuseRequestContext context, FuseSetupmappingIn args) => NotImplemented;

    /// <summary><c>FUSE_REMOVEMAPPING</c> (7.31+, virtio-fs DAX): removes window ranges.</summary>
    /// <remarks>Not called when <see cref="FuseSessionOptions.MappingServer"/> is set: that component serves it.</remarks>
    /// <param name="context">The request context.</param>
    /// <param name="ranges">The window ranges (already validated for count and body size).</param>
    /// <returns>The outcome.</returns>
    public virtual ValueTask<Errno> RemoveMappingAsync(FuseRequestContext context, FuseRemoveMappingList ranges) => NotImplemented;
}
