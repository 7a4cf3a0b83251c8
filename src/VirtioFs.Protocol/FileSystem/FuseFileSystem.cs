namespace VirtioFs.Protocol;

/// <summary>
/// The low-level, inode-based filesystem API, in the spirit of libfuse's lowlevel API: one virtual
/// method per FUSE operation, each answering <see cref="Errno.ENOSYS"/> until overridden.
/// </summary>
/// <remarks>
/// <para><b>Nodes and lookup counts.</b> Every successful reply that hands the client a node
/// (<c>LOOKUP</c>, <c>MKNOD</c>, <c>MKDIR</c>, <c>SYMLINK</c>, <c>LINK</c>, <c>CREATE</c>, <c>TMPFILE</c>, and every
/// entry actually written by <c>READDIRPLUS</c> with a non-zero node id) increments that node's lookup count
/// by one. The client gives the counts back with <see cref="Forget"/> and <see cref="BatchForget"/>; a node must
/// stay resolvable by its id until its count drops to zero, even when it has been unlinked. Node id
/// <see cref="FuseConstants.RootId"/> is the root; it is never looked up and never forgotten. When the
/// client unmounts, outstanding counts are implicitly dropped (see <see cref="Destroy"/>).</para>
/// <para><b>Buffers.</b> Names, data and the <see cref="FuseRequestContext.Extensions"/> passed to an
/// operation point into the session's request buffer, and output buffers point into its reply buffer:
/// both are valid only until the returned task completes. Copy what you keep.</para>
/// <para><b>Errors.</b> Return an <see cref="Errno"/>; do not throw for expected failures. An exception
/// escaping an operation is logged and answered with <see cref="Errno.EIO"/>.</para>
/// <para><b>Concurrency.</b> Operations are called concurrently from several workers; implementations
/// must be thread-safe. <see cref="FuseRequestContext.CancellationToken"/> is cancelled when the client
/// interrupts the request.</para>
/// </remarks>
public abstract partial class FuseFileSystem
{
    /// <summary>A completed task answering <see cref="Errno.ENOSYS"/>.</summary>
    protected static ValueTask<Errno> NotImplemented => new(Errno.ENOSYS);

    /// <summary>
    /// Called once the INIT handshake has negotiated the connection, before any other operation.
    /// Returning an error fails the handshake with that error.
    /// </summary>
    /// <param name="connection">The negotiated protocol version, capabilities and limits.</param>
    /// <returns><see cref="Errno.Success"/> to accept the connection.</returns>
    public virtual ValueTask<Errno> InitAsync(FuseConnectionInfo connection) => new(Errno.Success);

    /// <summary>
    /// Called when the client ends the session (<c>FUSE_DESTROY</c>, or the channel closing).
    /// All lookup counts are dropped; file handles are not released individually.
    /// </summary>
    public virtual void Destroy()
    {
    }
}
