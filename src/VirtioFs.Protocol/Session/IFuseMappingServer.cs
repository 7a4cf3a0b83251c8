namespace VirtioFs.Protocol;

/// <summary>
/// Serves virtio-fs DAX mappings (<c>FUSE_SETUPMAPPING</c>/<c>FUSE_REMOVEMAPPING</c>) for a session, in place of the
/// filesystem's <see cref="FuseFileSystem.SetupMappingAsync"/>/<see cref="FuseFileSystem.RemoveMappingAsync"/>.
/// Set it with <see cref="FuseSessionOptions.MappingServer"/>; the <c>VirtioFs.Dax</c> package implements it over a window.
/// </summary>
/// <remarks>
/// <para>The session has checked the body sizes before a call: <c>SETUPMAPPING</c> is exactly 40 bytes, and
/// <c>REMOVEMAPPING</c> carries 1 to <see cref="FuseConstants.RemoveMappingMaxEntries"/> entries filling its body exactly.
/// Everything else (alignment, bounds, flags, the node) is the implementation's to check.</para>
/// <para>Calls come concurrently from several workers: implementations must be thread-safe.</para>
/// </remarks>
public interface IFuseMappingServer
{
    /// <summary>log2 of the byte alignment that mapping offsets and lengths must honour, sent as <c>map_alignment</c>
    /// in the INIT reply when the client offers <see cref="FuseInitFlags.MapAlignment"/>: 0 to 21. Must not change.</summary>
    int MapAlignment { get; }

    /// <summary><c>FUSE_SETUPMAPPING</c>: maps a file range into the window, replacing whatever the window range held.</summary>
    /// <param name="context">The request context (<see cref="FuseRequestContext.NodeId"/> is the file).</param>
    /// <param name="args">Handle (<see cref="FuseConstants.SetupMappingFhNone"/>: resolve by node), file offset, length, flags and window offset.</param>
    /// <returns>The outcome.</returns>
    ValueTask<Errno> SetupMappingAsync(FuseRequestContext context, FuseSetupmappingIn args);

    /// <summary><c>FUSE_REMOVEMAPPING</c>: unmaps window ranges.</summary>
    /// <param name="context">The request context.</param>
    /// <param name="ranges">The window ranges; valid only during the call.</param>
    /// <returns>The outcome.</returns>
    ValueTask<Errno> RemoveMappingAsync(FuseRequestContext context, FuseRemoveMappingList ranges);

    /// <summary>Unmaps everything, without waiting for <c>REMOVEMAPPING</c>. The session calls it once when it ends
    /// (<c>DESTROY</c> or the channel closing after INIT); a transport calls it on a device reset.</summary>
    void Reset();
}
