using System.Buffers;
using VirtioFs.Protocol;

namespace VirtioFs.Dax;

/// <summary>
/// One inode's view of the DAX window: which of its file ranges are mapped where. Obtained from
/// <see cref="DaxRangeAllocator.GetInode"/>; after <see cref="EvictAsync"/> it is dead (acquisitions answer
/// <see cref="Errno.ESTALE"/>) and the allocator hands out a fresh one for the same node.
/// </summary>
/// <remarks>
/// Two locks: a short one over the index and pins (the only lock on the hit path, and never held across an await),
/// and an asynchronous one that serialises what changes this inode's mappings on the wire (setup, upgrade, reclaim,
/// eviction), because those wait for the peer. Order: mapping lock, then index lock, then the allocator's list lock.
/// </remarks>
public sealed class DaxInode
{
    private readonly DaxRangeAllocator _allocator;
    private readonly Lock _sync = new();
    private readonly SemaphoreSlim _mutate = new(1, 1);
    private int _root = -1;
    private int _count;
    private bool _evicted;

    internal DaxInode(DaxRangeAllocator allocator, ulong nodeId)
    {
        _allocator = allocator;
        NodeId = nodeId;
    }

    /// <summary>The node id.</summary>
    public ulong NodeId { get; }

    /// <summary>How many ranges this inode has mapped.</summary>
    public int MappedRanges => Volatile.Read(ref _count);

    /// <summary>Whether the inode was evicted.</summary>
    public bool IsEvicted => Volatile.Read(ref _evicted);

    /// <summary>
    /// Pins the range holding <paramref name="fileOffset"/>, mapping it first when needed: from the free list, else by
    /// reclaiming an idle range of this inode, else by waiting until a range is freed. A read-only mapping acquired for
    /// writing is upgraded in place. An already mapped range is pinned synchronously, without allocating.
    /// </summary>
    /// <param name="fileOffset">Any offset in the file; the range holding it is mapped.</param>
    /// <param name="write">Whether the caller writes (the mapping must be writable).</param>
    /// <param name="cancellationToken">Cancels a wait for a free range or the inode's mapping lock.</param>
    /// <returns>The lease, or the error of the mapping request; <see cref="Errno.ENOTCONN"/> once the allocator shuts
    /// down or is disconnected, <see cref="Errno.ESTALE"/> after eviction.</returns>
    /// <exception cref="OperationCanceledException">The token fired while waiting; nothing was mapped for the caller.</exception>
    public ValueTask<FuseResult<DaxMappingLease>> AcquireAsync(ulong fileOffset, bool write, CancellationToken cancellationToken = default)
    {
        ulong key = fileOffset >> _allocator.RangeShift;
        RangeSlot[] slots = _allocator.Slots;
        lock (_sync)
        {
            if (!_evicted)
            {
                int range = RangeIndex.Find(slots, _root, key);
                if (range >= 0 && (!write || slots[range].Writable))
                {
                    return new(PinLocked(range));
                }
            }
        }

        return AcquireSlowAsync(key, write, cancellationToken);
    }

    /// <summary>
    /// Removes all of this inode's mappings, batching <c>REMOVEMAPPING</c> up to
    /// <see cref="FuseConstants.RemoveMappingMaxEntries"/> entries per request, and frees the ranges. Call it before
    /// the inode's <c>FORGET</c>. Evicting twice is harmless.
    /// </summary>
    /// <param name="cancellationToken">Cancels the wait for the inode's mapping lock (not the requests once sent).</param>
    /// <returns><see cref="Errno.Success"/>, or <see cref="Errno.EBUSY"/> (and nothing removed) while a range is pinned.</returns>
    public async ValueTask<Errno> EvictAsync(CancellationToken cancellationToken = default)
    {
        await _mutate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await EvictLockedAsync().ConfigureAwait(false);
        }
        finally
        {
            _mutate.Release();
        }
    }

    /// <summary>
    /// Removes the mappings of every range that lies wholly at or after <paramref name="fileOffset"/> (rounded up to the
    /// range size), batching <c>REMOVEMAPPING</c>, and frees the ranges: what a truncation to <paramref name="fileOffset"/>
    /// does before it shrinks the file, so that no window page maps file pages the host is about to drop. The range
    /// holding the new end stays mapped (a mapping may extend past the end of the file; readers stop at the size).
    /// Short pins on the affected ranges are waited out (the wait retries every
    /// <see cref="DaxAllocatorOptions.DirectReclaimRetryDelay"/>); new acquisitions for this inode wait meanwhile.
    /// </summary>
    /// <param name="fileOffset">The new end of the file.</param>
    /// <param name="cancellationToken">Cancels the wait for the mapping lock or for pins to drain.</param>
    /// <returns>How many ranges were removed; 0 after eviction.</returns>
    /// <exception cref="OperationCanceledException">The token fired; nothing was removed by this call.</exception>
    public async ValueTask<int> RemoveMappingsFromAsync(ulong fileOffset, CancellationToken cancellationToken = default)
    {
        int shift = _allocator.RangeShift;
        ulong firstKey = (fileOffset >> shift) + ((fileOffset & ((1UL << shift) - 1)) != 0 ? 1UL : 0UL);
        while (true)
        {
            await _mutate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                int removed = await RemoveFromLockedAsync(firstKey).ConfigureAwait(false);
                if (removed >= 0)
                {
                    return removed;
                }
            }
            finally
            {
                _mutate.Release();
            }

            // A range beyond the new end is pinned by a read or write in progress: wait it out.
            await Task.Delay(_allocator.RetryDelay, _allocator.Time, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Background reclaim of one range chosen under the list lock; re-checked here because the range may have
    /// been pinned, reclaimed or reused since.</summary>
    internal async ValueTask<bool> TryReclaimAsync(int range, ulong key, CancellationToken cancellationToken)
    {
        await _mutate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            RangeSlot[] slots = _allocator.Slots;
            lock (_sync)
            {
                ref RangeSlot slot = ref slots[range];
                if (_evicted || slot.Owner != this || slot.FileKey != key || Volatile.Read(ref slot.Pins) != 0)
                {
                    return false;
                }

                UnlinkLocked(range);
            }

            await _allocator.SendRemovalAsync(NodeId, range).ConfigureAwait(false);
            _allocator.MoveBusyToFree(range);
            return true;
        }
        finally
        {
            _mutate.Release();
        }
    }

    /// <summary>Appends this inode's ranges in file order, for invariant checks.</summary>
    internal int CopyRanges(Span<int> destination)
    {
        lock (_sync)
        {
            return RangeIndex.CopyInOrder(_allocator.Slots, _root, destination, 0);
        }
    }

    private DaxMappingLease PinLocked(int range)
    {
        ref RangeSlot slot = ref _allocator.Slots[range];
        Interlocked.Increment(ref slot.Pins);
        if (_allocator.TracksAccess)
        {
            slot.LastAccess = _allocator.Time.GetTimestamp();
        }

        return _allocator.Lease(range, slot.FileKey, slot.Writable);
    }

    private async ValueTask<FuseResult<DaxMappingLease>> AcquireSlowAsync(ulong key, bool write, CancellationToken cancellationToken)
    {
        DaxRangeAllocator allocator = _allocator;
        RangeSlot[] slots = allocator.Slots;
        int spare = -1;
        try
        {
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (allocator.IsStopping)
                {
                    return Errno.ENOTCONN;
                }

                // Take a free range before the mapping lock so that setup under it is short; the lookup under the
                // lock below decides whether it is needed after all (the double check).
                if (spare < 0 && !IsMapped(key))
                {
                    spare = allocator.TakeFree();
                }

                bool hasOwnRanges;
                await _mutate.WaitAsync(cancellationToken).ConfigureAwait(false);
                try
                {
                    if (allocator.IsStopping)
                    {
                        return Errno.ENOTCONN;
                    }

                    int range;
                    lock (_sync)
                    {
                        if (_evicted)
                        {
                            return Errno.ESTALE;
                        }

                        range = RangeIndex.Find(slots, _root, key);
                        if (range >= 0 && (!write || slots[range].Writable))
                        {
                            return PinLocked(range);
                        }
                    }

                    if (range >= 0)
                    {
                        return await UpgradeLockedAsync(range, key, cancellationToken).ConfigureAwait(false);
                    }

                    if (spare < 0)
                    {
                        spare = allocator.TakeFree();
                    }

                    if (spare < 0)
                    {
                        spare = await DirectReclaimLockedAsync().ConfigureAwait(false);
                    }

                    if (spare >= 0)
                    {
                        int chosen = spare;
                        spare = -1;
                        return await MapLockedAsync(chosen, key, write, cancellationToken).ConfigureAwait(false);
                    }

                    hasOwnRanges = Volatile.Read(ref _count) > 0;
                }
                finally
                {
                    _mutate.Release();
                }

                // With own ranges all pinned, retry direct reclaim shortly; otherwise only a freed range helps.
                await allocator.WaitForFreeRangeAsync(hasOwnRanges ? allocator.RetryDelay : Timeout.InfiniteTimeSpan, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            if (spare >= 0)
            {
                allocator.ReturnToFree(spare);
            }
        }
    }

    private bool IsMapped(ulong key)
    {
        lock (_sync)
        {
            return RangeIndex.Find(_allocator.Slots, _root, key) >= 0;
        }
    }

    private async ValueTask<FuseResult<DaxMappingLease>> MapLockedAsync(int range, ulong key, bool write, CancellationToken cancellationToken)
    {
        DaxRangeAllocator allocator = _allocator;
        Errno error;
        try
        {
            error = await allocator.SetupAsync(NodeId, key, range, write, upgrade: false, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            allocator.ReturnToFree(range);
            throw;
        }

        if (error != Errno.Success)
        {
            allocator.ReturnToFree(range);
            return error;
        }

        DaxMappingLease lease;
        lock (_sync)
        {
            ref RangeSlot slot = ref allocator.Slots[range];
            slot.Owner = this;
            slot.NodeId = NodeId;
            slot.FileKey = key;
            slot.Writable = write;
            slot.LastAccess = allocator.Time.GetTimestamp();
            Volatile.Write(ref slot.Pins, 1);
            _root = RangeIndex.Insert(allocator.Slots, _root, range);
            _count++;
            lease = allocator.Lease(range, key, write);
        }

        allocator.AddToBusy(range);
        return lease;
    }

    private async ValueTask<FuseResult<DaxMappingLease>> UpgradeLockedAsync(int range, ulong key, CancellationToken cancellationToken)
    {
        // Holding the mapping lock keeps the range ours while the request is out: reclaim needs that lock too.
        Errno error = await _allocator.SetupAsync(NodeId, key, range, write: true, upgrade: true, cancellationToken).ConfigureAwait(false);
        if (error != Errno.Success)
        {
            return error;
        }

        lock (_sync)
        {
            _allocator.Slots[range].Writable = true;
            return PinLocked(range);
        }
    }

    private async ValueTask<int> DirectReclaimLockedAsync()
    {
        int victim;
        lock (_sync)
        {
            if (_count == 0)
            {
                return -1;
            }

            int[] candidates = ArrayPool<int>.Shared.Rent(_count);
            try
            {
                int count = RangeIndex.CopyInOrder(_allocator.Slots, _root, candidates, 0);
                victim = _allocator.SelectVictim(candidates.AsSpan(0, count));
            }
            finally
            {
                ArrayPool<int>.Shared.Return(candidates);
            }

            if (victim < 0)
            {
                return -1;
            }

            ref RangeSlot slot = ref _allocator.Slots[victim];
            if (slot.Owner != this)
            {
                DaxThrowHelper.ThrowPolicyChoseNonCandidate(victim);
            }

            if (Volatile.Read(ref slot.Pins) != 0)
            {
                return -1;
            }

            UnlinkLocked(victim);
        }

        _allocator.DetachFromBusy(victim);
        await _allocator.SendRemovalAsync(NodeId, victim).ConfigureAwait(false);
        _allocator.CountDirectReclaim();
        return victim;
    }

    private async ValueTask<Errno> EvictLockedAsync()
    {
        int[] ranges;
        int count;
        lock (_sync)
        {
            if (_evicted)
            {
                return Errno.Success;
            }

            int[]? collected = CollectUnpinnedLocked(0, out count);
            if (collected is null)
            {
                return Errno.EBUSY;
            }

            ranges = collected;
            for (int i = 0; i < count; i++)
            {
                _allocator.Slots[ranges[i]].Owner = null;
            }

            _root = -1;
            Volatile.Write(ref _count, 0);
            Volatile.Write(ref _evicted, true);
        }

        _allocator.Forget(this);
        await RemoveAndFreeAsync(ranges, count).ConfigureAwait(false);
        return Errno.Success;
    }

    /// <summary>Removes the ranges with file keys from <paramref name="firstKey"/>; -1 (and nothing removed) while one is pinned.</summary>
    private async ValueTask<int> RemoveFromLockedAsync(ulong firstKey)
    {
        int[] ranges;
        int count;
        lock (_sync)
        {
            if (_evicted || _count == 0)
            {
                return 0;
            }

            int[]? collected = CollectUnpinnedLocked(firstKey, out count);
            if (collected is null)
            {
                return -1;
            }

            ranges = collected;
            for (int i = 0; i < count; i++)
            {
                UnlinkLocked(ranges[i]);
            }
        }

        await RemoveAndFreeAsync(ranges, count).ConfigureAwait(false);
        return count;
    }

    /// <summary>This inode's ranges with file keys from <paramref name="firstKey"/>, in file order, in a pooled array;
    /// null (nothing rented) while one of them is pinned.</summary>
    private int[]? CollectUnpinnedLocked(ulong firstKey, out int count)
    {
        RangeSlot[] slots = _allocator.Slots;
        int[] ranges = ArrayPool<int>.Shared.Rent(Math.Max(_count, 1));
        int all = RangeIndex.CopyInOrder(slots, _root, ranges, 0);
        count = 0;
        for (int i = 0; i < all; i++)
        {
            ref RangeSlot slot = ref slots[ranges[i]];
            if (slot.FileKey < firstKey)
            {
                continue;
            }

            if (Volatile.Read(ref slot.Pins) != 0)
            {
                ArrayPool<int>.Shared.Return(ranges);
                return null;
            }

            ranges[count++] = ranges[i];
        }

        return ranges;
    }

    /// <summary>Sends <c>REMOVEMAPPING</c> for ranges already taken out of this inode, frees them and returns the
    /// pooled array.</summary>
    private async ValueTask RemoveAndFreeAsync(int[] ranges, int count)
    {
        try
        {
            await _allocator.SendRemovalsAsync(NodeId, ranges, count).ConfigureAwait(false);
            _allocator.MoveBusyToFree(ranges.AsSpan(0, count));
            _allocator.CountEvictions(count);
        }
        finally
        {
            ArrayPool<int>.Shared.Return(ranges);
        }
    }

    private void UnlinkLocked(int range)
    {
        ref RangeSlot slot = ref _allocator.Slots[range];
        _root = RangeIndex.Remove(_allocator.Slots, _root, slot.FileKey);
        slot.Owner = null;
        Volatile.Write(ref _count, _count - 1);
    }
}
