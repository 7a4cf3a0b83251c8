using VirtioFs.Dax;
using VirtioFs.Protocol;

namespace VirtioFs.Transport;

/// <summary>
/// Reads and writes files of a loopback session through a DAX window, as a guest does through its virtio-fs cache
/// window: a <see cref="DaxRangeAllocator"/> maps file ranges into an <see cref="InProcessDaxWindow"/> (the same window
/// the server's <see cref="DaxMappingServer"/> maps into) over <see cref="FuseLoopbackMappingChannel"/>, and
/// <see cref="FuseDaxFile"/> copies straight between the caller's buffers and the window.
/// </summary>
/// <remarks>
/// <para>Life of a node, as in the kernel: <see cref="OpenAsync(string, bool, ulong, CancellationToken)"/> looks it up
/// and opens it; <see cref="FuseDaxFile.CloseAsync"/> sends <c>RELEASE</c> but leaves the window mappings (they belong
/// to the inode, not the handle); <see cref="EvictAsync"/> removes the node's mappings (batched <c>REMOVEMAPPING</c>)
/// and then sends <c>FORGET</c>. Disposing the client shuts the allocator down, which removes every mapping; it
/// disposes neither the loopback client nor the window.</para>
/// <para>The client must be the only writer of the files it maps while it maps them: a file shrunk behind its back
/// leaves window pages past the end of the file, and touching one kills the process.</para>
/// </remarks>
public sealed class FuseDaxClient : IAsyncDisposable
{
    private const uint OpenReadOnly = 0;
    private const uint OpenReadWrite = 2;

    private readonly Dictionary<ulong, DaxNodeState> _nodes = [];
    private readonly Lock _nodesLock = new();

    /// <summary>Creates a client and claims the window for its allocator.</summary>
    /// <param name="client">The loopback client; its session must serve mappings into <paramref name="window"/>.</param>
    /// <param name="window">The window the server maps into.</param>
    /// <param name="maxWrite">The negotiated <c>max_write</c> (<see cref="FuseInitOut.MaxWrite"/>): the largest
    /// <c>WRITE</c> extending writes are split into.</param>
    /// <param name="allocatorOptions">Reclaim policy and tuning of the allocator; null for the defaults.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxWrite"/> is 0.</exception>
    public FuseDaxClient(FuseLoopbackClient client, InProcessDaxWindow window, uint maxWrite, DaxAllocatorOptions? allocatorOptions = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(window);
        ArgumentOutOfRangeException.ThrowIfZero(maxWrite);
        Client = client;
        Window = window;
        MaxWrite = (int)Math.Min(maxWrite, int.MaxValue);
        Allocator = new DaxRangeAllocator(new DaxWindowOwnership(window.Geometry), new FuseLoopbackMappingChannel(client), allocatorOptions);
    }

    /// <summary>The loopback client requests go through.</summary>
    public FuseLoopbackClient Client { get; }

    /// <summary>The window data is copied through.</summary>
    public InProcessDaxWindow Window { get; }

    /// <summary>The allocator of the window's ranges (for its counters and state).</summary>
    public DaxRangeAllocator Allocator { get; }

    /// <summary>The largest <c>WRITE</c> sent.</summary>
    public int MaxWrite { get; }

    internal long RangeSize => Window.Geometry.RangeSize;

    /// <summary>Looks <paramref name="name"/> up in <paramref name="parent"/> (<c>LOOKUP</c>) and opens it (<c>OPEN</c>).</summary>
    /// <param name="name">The file's name.</param>
    /// <param name="writable">Whether to open it for reading and writing (else read-only).</param>
    /// <param name="parent">The directory; the root by default.</param>
    /// <param name="cancellationToken">Cancels waits of this client (requests once sent are answered anyway).</param>
    /// <returns>The open file, or the error of <c>LOOKUP</c>/<c>OPEN</c>; <see cref="Errno.EISDIR"/> for a directory,
    /// <see cref="Errno.EINVAL"/> for another non-regular file.</returns>
    public async ValueTask<FuseResult<FuseDaxFile>> OpenAsync(string name, bool writable = true, ulong parent = FuseConstants.RootId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(name);
        cancellationToken.ThrowIfCancellationRequested();
        FuseResult<FuseEntryOut> entry = await Client.LookupAsync(parent, name).ConfigureAwait(false);
        if (!entry.IsSuccess)
        {
            return entry.Error;
        }

        DaxNodeState state = Track(entry.Value.Nodeid, lookups: 1);
        return await OpenTrackedAsync(state, entry.Value.Attr, writable).ConfigureAwait(false);
    }

    /// <summary>Opens a node the caller already looked up (<c>GETATTR</c>, then <c>OPEN</c>). The caller keeps its
    /// lookup count: <see cref="EvictAsync"/> forgets only lookups this client made.</summary>
    /// <param name="nodeId">The node.</param>
    /// <param name="writable">Whether to open it for reading and writing (else read-only).</param>
    /// <param name="cancellationToken">Cancels waits of this client.</param>
    /// <returns>The open file or the error, as for <see cref="OpenAsync(string, bool, ulong, CancellationToken)"/>.</returns>
    public async ValueTask<FuseResult<FuseDaxFile>> OpenAsync(ulong nodeId, bool writable = true, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        FuseResult<FuseAttrOut> attr = await Client.GetAttrAsync(nodeId).ConfigureAwait(false);
        if (!attr.IsSuccess)
        {
            return attr.Error;
        }

        DaxNodeState state = Track(nodeId, lookups: 0);
        return await OpenTrackedAsync(state, attr.Value.Attr, writable).ConfigureAwait(false);
    }

    /// <summary>
    /// Evicts a node: removes all its window mappings (batched <c>REMOVEMAPPING</c>), then sends <c>FORGET</c> for the
    /// lookups this client made. Like the kernel, only a node without open files is evicted.
    /// </summary>
    /// <param name="nodeId">The node.</param>
    /// <param name="cancellationToken">Cancels the wait for the node's mapping lock.</param>
    /// <returns><see cref="Errno.Success"/> (also for a node this client does not know), or <see cref="Errno.EBUSY"/>
    /// while the node has open files or a pinned range.</returns>
    public async ValueTask<Errno> EvictAsync(ulong nodeId, CancellationToken cancellationToken = default)
    {
        DaxNodeState? state;
        lock (_nodesLock)
        {
            if (!_nodes.TryGetValue(nodeId, out state))
            {
                return Errno.Success;
            }

            if (state.OpenFiles != 0)
            {
                return Errno.EBUSY;
            }
        }

        Errno error = await state.Inode.EvictAsync(cancellationToken).ConfigureAwait(false);
        if (error != Errno.Success)
        {
            return error;
        }

        ulong lookups;
        lock (_nodesLock)
        {
            if (state.OpenFiles != 0)
            {
                // Opened again meanwhile: its mappings are gone, the node stays.
                return Errno.Success;
            }

            _nodes.Remove(nodeId);
            lookups = state.Lookups;
        }

        if (lookups != 0)
        {
            await Client.ForgetAsync(nodeId, lookups).ConfigureAwait(false);
        }

        return Errno.Success;
    }

    /// <summary>Shuts the allocator down: removes every mapping and releases the window. Open files can no longer be
    /// read or written through the window afterwards (they answer <see cref="Errno.ENOTCONN"/>).</summary>
    /// <returns>A task that completes when the allocator has stopped.</returns>
    public ValueTask DisposeAsync() => Allocator.DisposeAsync();

    internal void OnClosed(DaxNodeState state)
    {
        lock (_nodesLock)
        {
            state.OpenFiles--;
        }
    }

    private DaxNodeState Track(ulong nodeId, ulong lookups)
    {
        lock (_nodesLock)
        {
            if (!_nodes.TryGetValue(nodeId, out DaxNodeState? state))
            {
                state = new DaxNodeState(nodeId, Allocator.GetInode(nodeId));
                _nodes.Add(nodeId, state);
            }
            else if (state.Inode.IsEvicted)
            {
                state.Inode = Allocator.GetInode(nodeId);
            }

            state.Lookups += lookups;
            state.OpenFiles++; // held while opening, so that an eviction does not race the OPEN
            return state;
        }
    }

    private async ValueTask<FuseResult<FuseDaxFile>> OpenTrackedAsync(DaxNodeState state, FuseAttr attr, bool writable)
    {
        bool opened = false;
        try
        {
            uint type = attr.Mode & FuseFileMode.TypeMask;
            if (type != FuseFileMode.RegularFile)
            {
                return type == FuseFileMode.Directory ? Errno.EISDIR : Errno.EINVAL;
            }

            FuseResult<FuseOpenOut> open = await Client.OpenAsync(state.NodeId, writable ? OpenReadWrite : OpenReadOnly).ConfigureAwait(false);
            if (!open.IsSuccess)
            {
                return open.Error;
            }

            lock (_nodesLock)
            {
                // The first opener takes the server's size; later ones keep what this client knows (its own writes).
                if (state.OpenFiles == 1)
                {
                    state.Size = (long)attr.Size;
                }
            }

            opened = true;
            return new FuseDaxFile(this, state, open.Value.Fh, writable);
        }
        finally
        {
            if (!opened)
            {
                OnClosed(state);
            }
        }
    }
}
