using System.Buffers;
using VirtioFs.Protocol;

namespace VirtioFs.Dax;

/// <summary>Background reclaim and the sending of <c>REMOVEMAPPING</c>.</summary>
public sealed partial class DaxRangeAllocator
{
    private readonly SemaphoreSlim _kick = new(0);
    private readonly CancellationTokenSource _stopWorker = new();
    private readonly Task _worker;
    private int _kickPending;

    /// <summary>Whether background reclaim should run: below the threshold, or someone waits and nothing is free
    /// (even under a policy whose threshold is 0, a waiter must not starve).</summary>
    private bool NeedsReclaim
        => Volatile.Read(ref _freeCount) < _threshold || (_waiterCount != 0 && Volatile.Read(ref _freeCount) == 0);

    /// <summary>One background pass: frees up to the policy's chunk of idle ranges, oldest busy first.</summary>
    /// <returns>How many ranges were freed.</returns>
    internal async Task<int> RunBackgroundPassAsync(CancellationToken cancellationToken)
    {
        int chunk = Math.Max(_policy.BackgroundChunk, 1);
        int freed = 0;

        // Each attempt either frees a range or finds the policy's choice changed since it was made; bound the attempts
        // so that a choice that keeps changing under us cannot hold the worker.
        for (int attempt = 0; freed < chunk && attempt < 2 * chunk; attempt++)
        {
            int victim;
            DaxInode? owner;
            ulong key;
            lock (_listLock)
            {
                if (_busyCount == 0)
                {
                    break;
                }

                victim = _policy.SelectVictim(DaxReclaimCandidates.FromList(Slots, _busyHead, _busyCount, _rangeSize));
                if (victim < 0)
                {
                    break;
                }

                if ((uint)victim >= (uint)Slots.Length || Slots[victim].List != RangeList.Busy)
                {
                    DaxThrowHelper.ThrowPolicyChoseNonCandidate(victim);
                }

                RotateBusyLocked(victim);
                owner = Slots[victim].Owner;
                key = Slots[victim].FileKey;
            }

            if (owner is not null && await owner.TryReclaimAsync(victim, key, cancellationToken).ConfigureAwait(false))
            {
                freed++;
                Interlocked.Increment(ref _backgroundReclaims);
            }
        }

        return freed;
    }

    internal ValueTask SendRemovalAsync(ulong nodeId, int range)
    {
        int[] one = ArrayPool<int>.Shared.Rent(1);
        one[0] = range;
        return SendAndReturnAsync(nodeId, one);

        async ValueTask SendAndReturnAsync(ulong nodeId, int[] ranges)
        {
            try
            {
                await SendRemovalsAsync(nodeId, ranges, 1).ConfigureAwait(false);
            }
            finally
            {
                ArrayPool<int>.Shared.Return(ranges);
            }
        }
    }

    /// <summary>Sends <c>REMOVEMAPPING</c> for <paramref name="count"/> ranges in batches of at most
    /// <see cref="FuseConstants.RemoveMappingMaxEntries"/>. A failure is logged, not fatal: the next setup of those window
    /// offsets replaces whatever is left. Not cancellable: the ranges are already out of their inode.</summary>
    internal async ValueTask SendRemovalsAsync(ulong nodeId, int[] ranges, int count)
    {
        if (_disconnected || count == 0)
        {
            return;
        }

        DaxRemoval[] batch = ArrayPool<DaxRemoval>.Shared.Rent(Math.Min(count, FuseConstants.RemoveMappingMaxEntries));
        try
        {
            for (int start = 0; start < count; start += FuseConstants.RemoveMappingMaxEntries)
            {
                int length = Math.Min(count - start, FuseConstants.RemoveMappingMaxEntries);
                for (int i = 0; i < length; i++)
                {
                    batch[i] = new DaxRemoval((ulong)(ranges[start + i] * _rangeSize), (ulong)_rangeSize);
                }

                Errno error;
                try
                {
                    error = await _channel.RemoveMappingAsync(nodeId, batch.AsMemory(0, length), CancellationToken.None).ConfigureAwait(false);
                }
                catch (Exception exception)
                {
                    Interlocked.Increment(ref _failures);
                    AllocatorLog.RemoveThrew(_logger, nodeId, exception);
                    return;
                }

                if (error != Errno.Success)
                {
                    Interlocked.Increment(ref _failures);
                    AllocatorLog.RemoveFailed(_logger, nodeId, length, error);
                }
            }
        }
        finally
        {
            ArrayPool<DaxRemoval>.Shared.Return(batch);
        }
    }

    private void KickBackground()
    {
        if (_worker.IsCompleted) // no worker (background reclaim off) or stopped
        {
            return;
        }

        if (Interlocked.Exchange(ref _kickPending, 1) == 0)
        {
            _kick.Release();
        }
    }

    private async Task BackgroundWorkerAsync()
    {
        CancellationToken stop = _stopWorker.Token;
        try
        {
            while (true)
            {
                await _kick.WaitAsync(stop).ConfigureAwait(false);
                Volatile.Write(ref _kickPending, 0);
                while (NeedsReclaim)
                {
                    try
                    {
                        await RunBackgroundPassAsync(stop).ConfigureAwait(false);
                    }
                    catch (Exception exception) when (exception is not OperationCanceledException)
                    {
                        AllocatorLog.BackgroundFailed(_logger, exception);
                    }

                    if (!NeedsReclaim)
                    {
                        break;
                    }

                    await Task.Delay(_policy.BackgroundRerunDelay, Time, stop).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Shutdown.
        }
    }

    private async Task StopBackgroundWorkerAsync()
    {
        await _stopWorker.CancelAsync().ConfigureAwait(false);
        await _worker.ConfigureAwait(false);
    }
}
