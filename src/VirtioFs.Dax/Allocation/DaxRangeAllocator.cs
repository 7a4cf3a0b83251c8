using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using VirtioFs.Protocol;

namespace VirtioFs.Dax;

/// <summary>
/// The client side of DAX, as a guest driver does it: splits a window into fixed ranges, maps file ranges into them
/// on demand through an <see cref="IDaxMappingChannel"/>, pins them while in use and reclaims idle ones under
/// pressure by an <see cref="IDaxReclaimPolicy"/>.
/// </summary>
/// <remarks>
/// <para>Ranges come from a FIFO free list; mapped ones sit on a busy list that background reclaim walks oldest first.
/// When no range is free a caller reclaims an idle range of its own inode, else waits (cancellably) until one is
/// freed; a background worker keeps <see cref="IDaxReclaimPolicy.BackgroundThreshold"/> ranges free.</para>
/// <para>Locks: an acquisition of a mapped range takes only its inode's short lock; the lists take one allocator-wide
/// lock, held for a few pointer updates and never across a request.</para>
/// <para>Shutdown (<see cref="ShutdownAsync"/>) stops the background worker, then evicts every inode; after
/// <see cref="MarkDisconnected"/> nothing more is sent.</para>
/// </remarks>
public sealed partial class DaxRangeAllocator : IAsyncDisposable
{
    /// <summary>The most ranges a window may have (ranges are indexed by <see cref="int"/>).</summary>
    public const long MaxRanges = 1 << 28;

    private const int Running = 0;
    private const int Stopping = 1;

    private readonly DaxWindowOwnership _window;
    private readonly IDaxMappingChannel _channel;
    private readonly IDaxReclaimPolicy _policy;
    private readonly ILogger _logger;
    private readonly long _rangeSize;
    private readonly ConcurrentDictionary<ulong, DaxInode> _inodes = new();
    private readonly Func<ulong, DaxRangeAllocator, DaxInode> _createInode = static (nodeId, allocator) => new DaxInode(allocator, nodeId);
    private int _state;
    private volatile bool _disconnected;
    private TaskCompletionSource? _shutdown;

    private long _allocations;
    private long _upgrades;
    private long _waits;
    private long _directReclaims;
    private long _backgroundReclaims;
    private long _evictions;
    private long _failures;

    /// <summary>Creates an allocator over <paramref name="window"/> and claims it.</summary>
    /// <param name="window">The window; it must be unclaimed (or claimed by nobody else).</param>
    /// <param name="channel">Where mapping requests go.</param>
    /// <param name="options">Policy and tuning; null for the defaults.</param>
    /// <exception cref="DaxWindowOwnershipException">Another owner holds the window.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The window has more than <see cref="MaxRanges"/> ranges.</exception>
    public DaxRangeAllocator(DaxWindowOwnership window, IDaxMappingChannel channel, DaxAllocatorOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(window);
        ArgumentNullException.ThrowIfNull(channel);
        options ??= DaxAllocatorOptions.Default;
        DaxWindowGeometry geometry = window.Geometry;
        if (geometry.RangeCount > MaxRanges)
        {
            DaxThrowHelper.ThrowTooManyRanges(geometry.RangeCount);
        }

        _window = window;
        _channel = channel;
        _policy = options.ReclaimPolicy;
        _logger = options.Logger;
        Time = options.TimeProvider;
        RetryDelay = options.DirectReclaimRetryDelay;
        TracksAccess = _policy.TracksAccess;
        _rangeSize = geometry.RangeSize;
        RangeShift = System.Numerics.BitOperations.Log2((ulong)geometry.RangeSize);
        Slots = new RangeSlot[geometry.RangeCount];
        _threshold = Math.Clamp(_policy.BackgroundThreshold(geometry.RangeCount), 0, geometry.RangeCount);
        InitialiseLists();

        window.Claim(this);
        _worker = options.BackgroundReclaim ? Task.Run(BackgroundWorkerAsync) : Task.CompletedTask;
    }

    /// <summary>The window's shape.</summary>
    public DaxWindowGeometry Geometry => _window.Geometry;

    /// <summary>How many ranges the window has.</summary>
    public int TotalRanges => Slots.Length;

    /// <summary>How many ranges are on the free list.</summary>
    public int FreeRanges => Volatile.Read(ref _freeCount);

    /// <summary>How many ranges are mapped (on the busy list).</summary>
    public int BusyRanges => Volatile.Read(ref _busyCount);

    /// <summary>A snapshot of the counters.</summary>
    public DaxAllocatorCounters Counters => new(
        Interlocked.Read(ref _allocations),
        Interlocked.Read(ref _upgrades),
        Interlocked.Read(ref _waits),
        Interlocked.Read(ref _directReclaims),
        Interlocked.Read(ref _backgroundReclaims),
        Interlocked.Read(ref _evictions),
        Interlocked.Read(ref _failures));

    /// <summary>Whether <see cref="MarkDisconnected"/> was called.</summary>
    public bool IsDisconnected => _disconnected;

    internal RangeSlot[] Slots { get; }

    internal int RangeShift { get; }

    internal bool TracksAccess { get; }

    internal TimeProvider Time { get; }

    internal TimeSpan RetryDelay { get; }

    internal bool IsStopping => Volatile.Read(ref _state) != Running;

    /// <summary>The inode state of <paramref name="nodeId"/>, created on first use. Keep it to skip the lookup.</summary>
    /// <param name="nodeId">The node id.</param>
    /// <returns>The live (not evicted) inode state.</returns>
    public DaxInode GetInode(ulong nodeId) => _inodes.GetOrAdd(nodeId, _createInode, this);

    /// <summary>Pins the range of node <paramref name="nodeId"/> that holds <paramref name="fileOffset"/>; see <see cref="DaxInode.AcquireAsync"/>.</summary>
    /// <param name="nodeId">The node id.</param>
    /// <param name="fileOffset">Any offset in the file.</param>
    /// <param name="write">Whether the caller writes.</param>
    /// <param name="cancellationToken">Cancels a wait.</param>
    /// <returns>The lease or the error.</returns>
    public ValueTask<FuseResult<DaxMappingLease>> AcquireAsync(ulong nodeId, ulong fileOffset, bool write, CancellationToken cancellationToken = default)
        => GetInode(nodeId).AcquireAsync(fileOffset, write, cancellationToken);

    /// <summary>Evicts node <paramref name="nodeId"/>'s mappings, if it has any; see <see cref="DaxInode.EvictAsync"/>.</summary>
    /// <param name="nodeId">The node id.</param>
    /// <param name="cancellationToken">Cancels the wait for the inode's mapping lock.</param>
    /// <returns><see cref="Errno.Success"/> or <see cref="Errno.EBUSY"/>.</returns>
    public ValueTask<Errno> EvictAsync(ulong nodeId, CancellationToken cancellationToken = default)
        => _inodes.TryGetValue(nodeId, out DaxInode? inode) ? inode.EvictAsync(cancellationToken) : new(Errno.Success);

    /// <summary>Records that the peer is gone: from now on no request is sent; new mappings answer
    /// <see cref="Errno.ENOTCONN"/> and reclaimed ranges are freed locally.</summary>
    public void MarkDisconnected() => _disconnected = true;

    /// <summary>
    /// Stops the allocator: new acquisitions answer <see cref="Errno.ENOTCONN"/>, waiters wake with it, the background
    /// worker stops, then every inode is evicted (removals are sent unless disconnected) and the window released. An
    /// inode with pinned ranges is left mapped and logged. Calling it again waits for the first call.
    /// </summary>
    /// <returns>A task that completes when the allocator has stopped.</returns>
    public async ValueTask ShutdownAsync()
    {
        var mine = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        TaskCompletionSource? first = Interlocked.CompareExchange(ref _shutdown, mine, null);
        if (first is not null)
        {
            await first.Task.ConfigureAwait(false);
            return;
        }

        try
        {
            Volatile.Write(ref _state, Stopping);
            await StopBackgroundWorkerAsync().ConfigureAwait(false);
            WakeAllWaiters();
            foreach (DaxInode inode in _inodes.Values)
            {
                if (await inode.EvictAsync().ConfigureAwait(false) == Errno.EBUSY)
                {
                    AllocatorLog.PinnedAtShutdown(_logger, inode.NodeId);
                }
            }

            _window.Release(this);
            mine.SetResult();
        }
        catch (Exception exception)
        {
            mine.SetException(exception);
            throw;
        }
    }

    /// <summary>Same as <see cref="ShutdownAsync"/>.</summary>
    /// <returns>A task that completes when the allocator has stopped.</returns>
    public ValueTask DisposeAsync() => ShutdownAsync();

    internal DaxMappingLease Lease(int range, ulong key, bool writable)
        => new(this, range, key << RangeShift, range * _rangeSize, _rangeSize, writable);

    internal void Unpin(int range)
    {
        // Someone waiting for a range may now find it reclaimable: let the worker look.
        if (Interlocked.Decrement(ref Slots[range].Pins) == 0 && _waiterCount != 0)
        {
            KickBackground();
        }
    }

    internal void Forget(DaxInode inode) => _inodes.TryRemove(new KeyValuePair<ulong, DaxInode>(inode.NodeId, inode));

    internal int SelectVictim(ReadOnlySpan<int> inodeRanges)
        => _policy.SelectVictim(DaxReclaimCandidates.FromIndices(Slots, inodeRanges, _rangeSize));

    internal void CountDirectReclaim() => Interlocked.Increment(ref _directReclaims);

    internal void CountEvictions(int count) => Interlocked.Add(ref _evictions, count);

    /// <summary>Sends <c>SETUPMAPPING</c> of file range <paramref name="key"/> into <paramref name="range"/>; a success
    /// counts as an upgrade of a read-only mapping when <paramref name="upgrade"/>, else as a new mapping.</summary>
    internal async ValueTask<Errno> SetupAsync(ulong nodeId, ulong key, int range, bool write, bool upgrade, CancellationToken cancellationToken)
    {
        if (_disconnected)
        {
            return Errno.ENOTCONN;
        }

        Errno error;
        try
        {
            error = await _channel.SetupMappingAsync(nodeId, key << RangeShift, (ulong)_rangeSize, (ulong)(range * _rangeSize), write, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch
        {
            Interlocked.Increment(ref _failures);
            throw;
        }

        if (error != Errno.Success)
        {
            Interlocked.Increment(ref _failures);
        }
        else
        {
            Interlocked.Increment(ref upgrade ? ref _upgrades : ref _allocations);
        }

        return error;
    }
}
