using NSubstitute;
using NSubstitute.ExceptionExtensions;
using VirtioFs.Protocol;
using static VirtioFs.Dax.Tests.Fixture;

namespace VirtioFs.Dax.Tests;

public sealed class DaxRangeAllocatorTests
{
    [Fact]
    public void WindowHasOneOwner()
    {
        var window = new DaxWindowOwnership(Geometry(2));
        object first = new(), second = new();
        window.Claim(first);
        window.Claim(first);
        Assert.True(window.IsOwnedBy(first));
        Assert.Throws<DaxWindowOwnershipException>(() => window.Claim(second));
        Assert.Throws<DaxWindowOwnershipException>(() => window.Release(second));
        Assert.True(window.IsOwnedBy(first));
        window.Release(first);
        Assert.False(window.IsClaimed);
        Assert.Throws<DaxWindowOwnershipException>(() => window.Release(first));
        window.Claim(second);
        Assert.True(window.IsOwnedBy(second));
    }

    [Fact]
    public async Task AnAllocatorClaimsItsWindowUntilShutdown()
    {
        var window = new DaxWindowOwnership(Geometry(2));
        var allocator = new DaxRangeAllocator(window, SucceedingChannel(), Manual());
        Assert.True(window.IsOwnedBy(allocator));
        Assert.Throws<DaxWindowOwnershipException>(() => new DaxRangeAllocator(window, SucceedingChannel(), Manual()));
        await allocator.DisposeAsync();
        Assert.False(window.IsClaimed);
        await using var next = new DaxRangeAllocator(window, SucceedingChannel(), Manual());
        Assert.True(window.IsOwnedBy(next));
    }

    [Fact]
    public async Task MapsFromTheFreeListAndPinsMappedRangesSynchronously()
    {
        IDaxMappingChannel channel = SucceedingChannel();
        await using var allocator = new DaxRangeAllocator(new DaxWindowOwnership(Geometry(4)), channel, Manual());

        using (DaxMappingLease lease = await allocator.AcquireAsync(7, 3 * RangeBytes + 100, write: false).Lease())
        {
            Assert.Equal(0, lease.WindowOffset);
            Assert.Equal(3UL * RangeBytes, lease.FileOffset);
            Assert.Equal(RangeBytes, lease.Length);
            Assert.Equal(100, lease.WindowOffsetOf(3 * RangeBytes + 100));
            Assert.Throws<ArgumentOutOfRangeException>(() => lease.WindowOffsetOf(4 * RangeBytes));
        }

        await channel.Received(1).SetupMappingAsync(7, 3 * RangeBytes, RangeBytes, 0, false, Arg.Any<CancellationToken>());

        ValueTask<FuseResult<DaxMappingLease>> hit = allocator.AcquireAsync(7, 3 * RangeBytes, write: false);
        Assert.True(hit.IsCompletedSuccessfully);
        (await hit).Value.Dispose();

        DaxMappingLease second = await allocator.AcquireAsync(7, 0, write: true).Lease();
        Assert.Equal(RangeBytes, second.WindowOffset);
        second.Dispose();
        Assert.Equal(2, allocator.BusyRanges);
        Assert.Equal(2, allocator.FreeRanges);
        Assert.Equal(2, allocator.Counters.Allocations);
        allocator.AssertConsistent();
    }

    [Fact]
    public async Task FreedRangesGoToTheTailOfTheFreeList()
    {
        await using var allocator = new DaxRangeAllocator(new DaxWindowOwnership(Geometry(3)), SucceedingChannel(), Manual());
        (await allocator.AcquireAsync(1, 0, false).Lease()).Dispose();           // range 0
        (await allocator.AcquireAsync(1, RangeBytes, false).Lease()).Dispose();       // range 1
        Assert.Equal(Errno.Success, await allocator.EvictAsync(1));              // free list: 2, 0, 1

        DaxMappingLease a = await allocator.AcquireAsync(2, 0, false).Lease();
        DaxMappingLease b = await allocator.AcquireAsync(2, RangeBytes, false).Lease();
        DaxMappingLease c = await allocator.AcquireAsync(2, 2 * RangeBytes, false).Lease();
        Assert.Equal([2, 0, 1], new[] { a.RangeIndex, b.RangeIndex, c.RangeIndex });
    }

    [Fact]
    public async Task NeedsAFreeRangeThenAnIdleRangeOfTheSameInodeThenWaits()
    {
        IDaxMappingChannel channel = SucceedingChannel();
        var removals = RecordRemovals(channel);
        await using var allocator = new DaxRangeAllocator(new DaxWindowOwnership(Geometry(2)), channel, Manual());
        (await allocator.AcquireAsync(1, 0, false).Lease()).Dispose();
        (await allocator.AcquireAsync(1, RangeBytes, false).Lease()).Dispose();
        Assert.Equal(0, allocator.FreeRanges);

        // Direct reclaim: node 1's first idle range in file order (range 0) is removed and reused.
        DaxMappingLease reused = await allocator.AcquireAsync(1, 5 * RangeBytes, false).Lease();
        Assert.Equal(0, reused.RangeIndex);
        Received.InOrder(() =>
        {
            channel.RemoveMappingAsync(1, Arg.Any<ReadOnlyMemory<DaxRemoval>>(), Arg.Any<CancellationToken>());
            channel.SetupMappingAsync(1, 5 * RangeBytes, RangeBytes, 0, false, Arg.Any<CancellationToken>());
        });
        Assert.Equal([new DaxRemoval(0, RangeBytes)], Assert.Single(removals).Ranges);
        reused.Dispose();
        Assert.Equal(1, allocator.Counters.DirectReclaims);

        // Node 2 has nothing to reclaim from: it waits until a range is freed.
        Task<FuseResult<DaxMappingLease>> waiting = allocator.AcquireAsync(2, 0, false).AsTask();
        await WaitUntil(() => allocator.Counters.Waits == 1);
        Assert.False(waiting.IsCompleted);
        Assert.Equal(Errno.Success, await allocator.EvictAsync(1));
        DaxMappingLease woken = await new ValueTask<FuseResult<DaxMappingLease>>(waiting).Lease();
        Assert.Equal(2UL, allocator.GetInode(2).NodeId);
        woken.Dispose();
        Assert.Equal(new DaxAllocatorCounters(Allocations: 4, Upgrades: 0, Waits: 1, DirectReclaims: 1, BackgroundReclaims: 0, Evictions: 2, Failures: 0), allocator.Counters);
        allocator.AssertConsistent();
    }

    [Fact]
    public async Task DirectReclaimSkipsPinnedRangesAndRetriesWhenAllArePinned()
    {
        await using var allocator = new DaxRangeAllocator(new DaxWindowOwnership(Geometry(2)), SucceedingChannel(), Manual());
        DaxMappingLease first = await allocator.AcquireAsync(1, 0, false).Lease();
        DaxMappingLease second = await allocator.AcquireAsync(1, RangeBytes, false).Lease();

        Task<FuseResult<DaxMappingLease>> pending = allocator.AcquireAsync(1, 2 * RangeBytes, false).AsTask();
        await WaitUntil(() => allocator.Counters.Waits >= 1);
        Assert.False(pending.IsCompleted);

        second.Dispose();
        DaxMappingLease third = await new ValueTask<FuseResult<DaxMappingLease>>(pending).Lease();
        Assert.Equal(1, third.RangeIndex);
        Assert.Equal(0, first.RangeIndex);
        first.Dispose();
        third.Dispose();
        allocator.AssertConsistent();
    }

    [Fact]
    public async Task UpgradesAReadOnlyMappingInPlace()
    {
        IDaxMappingChannel channel = SucceedingChannel();
        await using var allocator = new DaxRangeAllocator(new DaxWindowOwnership(Geometry(4)), channel, Manual());
        (await allocator.AcquireAsync(1, RangeBytes, write: false).Lease()).Dispose();
        DaxMappingLease writable = await allocator.AcquireAsync(1, RangeBytes, write: true).Lease();
        Assert.True(writable.Writable);
        Assert.Equal(0, writable.RangeIndex);
        writable.Dispose();

        ValueTask<FuseResult<DaxMappingLease>> again = allocator.AcquireAsync(1, RangeBytes, write: true);
        Assert.True(again.IsCompletedSuccessfully);
        (await again).Value.Dispose();

        Received.InOrder(() =>
        {
            channel.SetupMappingAsync(1, RangeBytes, RangeBytes, 0, false, Arg.Any<CancellationToken>());
            channel.SetupMappingAsync(1, RangeBytes, RangeBytes, 0, true, Arg.Any<CancellationToken>());
        });
        await channel.ReceivedWithAnyArgs(2).SetupMappingAsync(default, default, default, default, default, default);
        Assert.Equal(1, allocator.Counters.Upgrades);
        Assert.Equal(1, allocator.Counters.Allocations);
    }

    [Fact]
    public async Task AFailedUpgradeLeavesTheMappingReadOnly()
    {
        IDaxMappingChannel channel = SucceedingChannel();
        await using var allocator = new DaxRangeAllocator(new DaxWindowOwnership(Geometry(2)), channel, Manual());
        (await allocator.AcquireAsync(1, 0, write: false).Lease()).Dispose();
        channel.SetupMappingAsync(1, 0, RangeBytes, 0, true, Arg.Any<CancellationToken>()).Returns(new ValueTask<Errno>(Errno.EROFS));

        FuseResult<DaxMappingLease> refused = await allocator.AcquireAsync(1, 0, write: true);
        Assert.Equal(Errno.EROFS, refused.Error);
        ValueTask<FuseResult<DaxMappingLease>> read = allocator.AcquireAsync(1, 0, write: false);
        Assert.True(read.IsCompletedSuccessfully);
        DaxMappingLease readLease = (await read).Value;
        Assert.False(readLease.Writable);
        readLease.Dispose();
        Assert.Equal(1, allocator.Counters.Failures);
        Assert.Equal(0, allocator.Counters.Upgrades);
    }

    [Fact]
    public async Task SetupIsDoubleCheckedUnderTheInodeLock()
    {
        var gate = new TaskCompletionSource<Errno>(TaskCreationOptions.RunContinuationsAsynchronously);
        IDaxMappingChannel channel = SucceedingChannel();
        channel.SetupMappingAsync(Arg.Is(1UL), Arg.Is(0UL), Arg.Is((ulong)RangeBytes), Arg.Any<ulong>(), false, Arg.Any<CancellationToken>()).Returns(new ValueTask<Errno>(gate.Task));
        await using var allocator = new DaxRangeAllocator(new DaxWindowOwnership(Geometry(4)), channel, Manual());

        Task<FuseResult<DaxMappingLease>> first = allocator.AcquireAsync(1, 0, false).AsTask();
        Task<FuseResult<DaxMappingLease>> second = allocator.AcquireAsync(1, 0, false).AsTask();

        // Both took a free range before the inode's lock; only the first sent a setup.
        await WaitUntil(() => allocator.FreeRanges == 2);
        await channel.ReceivedWithAnyArgs(1).SetupMappingAsync(default, default, default, default, default, default);
        gate.SetResult(Errno.Success);

        DaxMappingLease a = await new ValueTask<FuseResult<DaxMappingLease>>(first).Lease();
        DaxMappingLease b = await new ValueTask<FuseResult<DaxMappingLease>>(second).Lease();
        Assert.Equal(a.WindowOffset, b.WindowOffset);
        await channel.ReceivedWithAnyArgs(1).SetupMappingAsync(default, default, default, default, default, default);
        Assert.Equal(3, allocator.FreeRanges);
        Assert.Equal(1, allocator.Counters.Allocations);
        a.Dispose();
        b.Dispose();
        allocator.AssertConsistent();
    }

    [Fact]
    public async Task EvictionBatchesRemovalsUpToTheMaximum()
    {
        const int ranges = 2 * FuseConstants.RemoveMappingMaxEntries + 88;
        var sizes = new List<int>();
        var offsets = new HashSet<ulong>();
        IDaxMappingChannel channel = SucceedingChannel();
        channel.RemoveMappingAsync(9, Arg.Do<ReadOnlyMemory<DaxRemoval>>(r =>
        {
            sizes.Add(r.Length);
            foreach (DaxRemoval removal in r.Span)
            {
                Assert.Equal((ulong)RangeBytes, removal.Length);
                Assert.True(offsets.Add(removal.WindowOffset));
            }
        }), Arg.Any<CancellationToken>()).Returns(new ValueTask<Errno>(Errno.Success));
        await using var allocator = new DaxRangeAllocator(new DaxWindowOwnership(Geometry(ranges)), channel, Manual());
        for (ulong i = 0; i < ranges; i++)
        {
            (await allocator.AcquireAsync(9, i * RangeBytes, false).Lease()).Dispose();
        }

        Assert.Equal(Errno.Success, await allocator.EvictAsync(9));
        Assert.Equal([FuseConstants.RemoveMappingMaxEntries, FuseConstants.RemoveMappingMaxEntries, 88], sizes);
        Assert.Equal(ranges, offsets.Count);
        Assert.Equal(ranges, allocator.FreeRanges);
        Assert.Equal(ranges, allocator.Counters.Evictions);
        Assert.Equal(0, allocator.LiveInodes);
        allocator.AssertConsistent();
    }

    [Fact]
    public async Task RemovingFromAnOffsetFreesOnlyRangesWhollyPastItAndWaitsOutTheirPins()
    {
        IDaxMappingChannel channel = SucceedingChannel();
        List<(ulong NodeId, DaxRemoval[] Ranges)> removals = RecordRemovals(channel);
        await using var allocator = new DaxRangeAllocator(new DaxWindowOwnership(Geometry(8)), channel, Manual());
        DaxInode inode = allocator.GetInode(5);
        for (ulong i = 0; i < 6; i++)
        {
            (await inode.AcquireAsync(i * RangeBytes, false).Lease()).Dispose();
        }

        DaxMappingLease pinned = await inode.AcquireAsync(5 * RangeBytes, false).Lease();
        ValueTask<int> removing = inode.RemoveMappingsFromAsync((3 * RangeBytes) + 1);
        await Task.Delay(20);
        Assert.False(removing.IsCompleted); // range 5 is pinned
        pinned.Dispose();
        Assert.Equal(2, await removing.AsTask().WaitAsync(Bound)); // ranges 4 and 5; range 3 holds the new end
        Assert.Equal(4, inode.MappedRanges);
        Assert.Equal([2], removals.Select(r => r.Ranges.Length));
        Assert.Equal(0, await inode.RemoveMappingsFromAsync(4 * RangeBytes));
        Assert.Equal(4, await inode.RemoveMappingsFromAsync(0));
        Assert.Equal(8, allocator.FreeRanges);
        Assert.Equal(6, allocator.Counters.Evictions);
        allocator.AssertConsistent();
    }

    [Fact]
    public async Task EvictionRefusesWhileARangeIsPinned()
    {
        IDaxMappingChannel channel = SucceedingChannel();
        await using var allocator = new DaxRangeAllocator(new DaxWindowOwnership(Geometry(4)), channel, Manual());
        DaxInode inode = allocator.GetInode(3);
        (await inode.AcquireAsync(0, false).Lease()).Dispose();
        DaxMappingLease pinned = await inode.AcquireAsync(RangeBytes, false).Lease();

        Assert.Equal(Errno.EBUSY, await inode.EvictAsync());
        Assert.Equal(2, inode.MappedRanges);
        await channel.DidNotReceiveWithAnyArgs().RemoveMappingAsync(default, default, default);

        pinned.Dispose();
        Assert.Equal(Errno.Success, await inode.EvictAsync());
        Assert.True(inode.IsEvicted);
        Assert.Equal(Errno.ESTALE, (await inode.AcquireAsync(0, false)).Error);
        Assert.NotSame(inode, allocator.GetInode(3));
        Assert.Equal(Errno.Success, await inode.EvictAsync());
    }

    [Fact]
    public async Task ShutdownWakesWaitersEvictsEverythingAndThenRefuses()
    {
        IDaxMappingChannel channel = SucceedingChannel();
        var window = new DaxWindowOwnership(Geometry(2));
        var allocator = new DaxRangeAllocator(window, channel, new DaxAllocatorOptions());
        (await allocator.AcquireAsync(1, 0, false).Lease()).Dispose();
        (await allocator.AcquireAsync(1, RangeBytes, false).Lease()).Dispose();
        DaxMappingLease held = await allocator.AcquireAsync(2, 0, false).Lease();
        Task<FuseResult<DaxMappingLease>> waiting = allocator.AcquireAsync(3, 0, false).AsTask();

        await allocator.ShutdownAsync().AsTask().WaitAsync(Bound);
        FuseResult<DaxMappingLease> woken = await waiting.WaitAsync(Bound);
        Assert.True(woken.IsSuccess || woken.Error == Errno.ENOTCONN, woken.ToString());
        if (woken.IsSuccess)
        {
            woken.Value.Dispose();
        }

        Assert.Equal(Errno.ENOTCONN, (await allocator.AcquireAsync(4, 0, false)).Error);
        Assert.False(window.IsClaimed);
        await allocator.ShutdownAsync();
        held.Dispose();
        Assert.Equal(allocator.Counters.Allocations, allocator.Counters.DirectReclaims + allocator.Counters.BackgroundReclaims + allocator.Counters.Evictions + allocator.BusyRanges);
    }

    [Fact]
    public async Task OnceDisconnectedNothingIsSent()
    {
        IDaxMappingChannel channel = SucceedingChannel();
        var allocator = new DaxRangeAllocator(new DaxWindowOwnership(Geometry(4)), channel, Manual());
        (await allocator.AcquireAsync(1, 0, false).Lease()).Dispose();
        channel.ClearReceivedCalls();

        allocator.MarkDisconnected();
        Assert.Equal(Errno.ENOTCONN, (await allocator.AcquireAsync(1, RangeBytes, false)).Error);
        await allocator.DisposeAsync();

        Assert.Empty(channel.ReceivedCalls());
        Assert.Equal(4, allocator.FreeRanges);
        Assert.Equal(0, allocator.Counters.Failures);
    }

    [Fact]
    public async Task FailedSetupsAreCountedAndGiveTheRangeBack()
    {
        IDaxMappingChannel channel = SucceedingChannel();
        channel.SetupMappingAsync(1, Arg.Any<ulong>(), Arg.Any<ulong>(), Arg.Any<ulong>(), Arg.Any<bool>(), Arg.Any<CancellationToken>()).Returns(new ValueTask<Errno>(Errno.EIO));
        channel.SetupMappingAsync(2, Arg.Any<ulong>(), Arg.Any<ulong>(), Arg.Any<ulong>(), Arg.Any<bool>(), Arg.Any<CancellationToken>()).Throws(new FuseChannelException("gone"));
        await using var allocator = new DaxRangeAllocator(new DaxWindowOwnership(Geometry(2)), channel, Manual());

        Assert.Equal(Errno.EIO, (await allocator.AcquireAsync(1, 0, false)).Error);
        await Assert.ThrowsAsync<FuseChannelException>(async () => await allocator.AcquireAsync(2, 0, false));
        Assert.Equal(2, allocator.FreeRanges);
        Assert.Equal(new DaxAllocatorCounters(0, 0, 0, 0, 0, 0, Failures: 2), allocator.Counters);
        allocator.AssertConsistent();
    }

    [Fact]
    public async Task AFailedRemovalIsCountedButTheRangeIsStillFreed()
    {
        IDaxMappingChannel channel = SucceedingChannel();
        channel.RemoveMappingAsync(default, default, default).ReturnsForAnyArgs(new ValueTask<Errno>(Errno.EIO));
        await using var allocator = new DaxRangeAllocator(new DaxWindowOwnership(Geometry(2)), channel, Manual());
        (await allocator.AcquireAsync(1, 0, false).Lease()).Dispose();
        Assert.Equal(Errno.Success, await allocator.EvictAsync(1));
        Assert.Equal(2, allocator.FreeRanges);
        Assert.Equal(1, allocator.Counters.Failures);
        Assert.Equal(1, allocator.Counters.Evictions);
    }

    [Fact]
    public async Task ACancelledWaiterLeavesNoTraceAndTheNextWaiterGetsTheRange()
    {
        await using var allocator = new DaxRangeAllocator(new DaxWindowOwnership(Geometry(1)), SucceedingChannel(), Manual());
        (await allocator.AcquireAsync(1, 0, false).Lease()).Dispose();
        using var cancel = new CancellationTokenSource();
        Task<FuseResult<DaxMappingLease>> cancelled = allocator.AcquireAsync(2, 0, false, cancel.Token).AsTask();
        Task<FuseResult<DaxMappingLease>> patient = allocator.AcquireAsync(3, 0, false).AsTask();
        await WaitUntil(() => allocator.Counters.Waits == 2);

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled.WaitAsync(Bound));
        Assert.Equal(Errno.Success, await allocator.EvictAsync(1));
        DaxMappingLease lease = await new ValueTask<FuseResult<DaxMappingLease>>(patient).Lease();
        Assert.Equal(0, lease.RangeIndex);
        lease.Dispose();
        Assert.Equal(0, allocator.GetInode(2).MappedRanges);
        allocator.AssertConsistent();
    }

    [Fact]
    public async Task BackgroundPassFreesTheOldestIdleRangesUpToTheChunk()
    {
        IDaxMappingChannel channel = SucceedingChannel();
        var policy = new DaxKernelReclaimPolicy(new DaxReclaimOptions { Chunk = 2 });
        await using var allocator = new DaxRangeAllocator(new DaxWindowOwnership(Geometry(4)), channel, Manual(policy));
        DaxMappingLease oldest = await allocator.AcquireAsync(1, 0, false).Lease();   // range 0, pinned
        for (ulong node = 2; node <= 4; node++)
        {
            (await allocator.AcquireAsync(node, 0, false).Lease()).Dispose();          // ranges 1..3
        }

        var removals = RecordRemovals(channel);
        Assert.Equal(2, await allocator.RunBackgroundPassAsync(CancellationToken.None));
        Assert.Equal([(2UL, RangeBytes), (3UL, 2 * RangeBytes)], removals.Select(r => (r.NodeId, (long)Assert.Single(r.Ranges).WindowOffset)));
        Assert.Equal(1, allocator.GetInode(1).MappedRanges);
        Assert.Equal(2, allocator.Counters.BackgroundReclaims);

        oldest.Dispose();
        Assert.Equal(2, await allocator.RunBackgroundPassAsync(CancellationToken.None));
        Assert.Equal(4, allocator.FreeRanges);
        Assert.Equal(0, await allocator.RunBackgroundPassAsync(CancellationToken.None));
        Assert.Equal(4, allocator.Counters.BackgroundReclaims);
        allocator.AssertConsistent();
    }

    [Fact]
    public async Task TheWorkerKeepsTheThresholdFree()
    {
        var policy = new DaxKernelReclaimPolicy(new DaxReclaimOptions { ThresholdPercent = 50, RerunDelay = TimeSpan.FromMilliseconds(1) });
        await using var allocator = new DaxRangeAllocator(new DaxWindowOwnership(Geometry(10)), SucceedingChannel(), new DaxAllocatorOptions { ReclaimPolicy = policy });
        for (ulong i = 0; i < 6; i++)
        {
            (await allocator.AcquireAsync(1, i * RangeBytes, false).Lease()).Dispose();
        }

        await WaitUntil(() => allocator.FreeRanges >= 5);
        Assert.True(allocator.Counters.BackgroundReclaims >= 1);
        allocator.AssertConsistent();
    }

    [Fact]
    public async Task LeastRecentlyUsedPolicyGoesByAccessNotByMapping()
    {
        async Task<ulong> VictimAsync(IDaxReclaimPolicy policy)
        {
            IDaxMappingChannel channel = SucceedingChannel();
            await using var allocator = new DaxRangeAllocator(new DaxWindowOwnership(Geometry(3)), channel, Manual(policy));
            for (ulong node = 1; node <= 3; node++)
            {
                (await allocator.AcquireAsync(node, 0, false).Lease()).Dispose();
            }

            (await allocator.AcquireAsync(1, 0, false).Lease()).Dispose();   // node 1 mapped first, used last
            channel.ClearReceivedCalls();
            var one = new DaxReclaimOptions { Chunk = 1 };
            Assert.Equal(1, await allocator.RunBackgroundPassAsync(CancellationToken.None));
            return (ulong)channel.ReceivedCalls().Single().GetArguments()[0]!;
        }

        Assert.Equal(1UL, await VictimAsync(new DaxKernelReclaimPolicy(new DaxReclaimOptions { Chunk = 1 })));
        Assert.Equal(2UL, await VictimAsync(new DaxLeastRecentlyUsedReclaimPolicy(new DaxReclaimOptions { Chunk = 1 })));
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(4, 1)]
    [InlineData(5, 1)]
    [InlineData(10, 2)]
    [InlineData(32768, 6553)]
    public void KernelThresholdIsTwentyPercentAndAtLeastOne(long total, long expected)
        => Assert.Equal(expected, DaxKernelReclaimPolicy.Default.BackgroundThreshold(total));

    [Fact]
    public void OptionsRejectValuesOutsideTheirRules()
    {
        Assert.Contains("0 to 100", Assert.Throws<ArgumentOutOfRangeException>(() => new DaxReclaimOptions { ThresholdPercent = 101 }).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new DaxReclaimOptions { ThresholdPercent = -1 });
        Assert.Contains("at least 1", Assert.Throws<ArgumentOutOfRangeException>(() => new DaxReclaimOptions { Chunk = 0 }).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new DaxReclaimOptions { Chunk = DaxReclaimOptions.MaxChunk + 1 });
        Assert.Contains("1 ms", Assert.Throws<ArgumentOutOfRangeException>(() => new DaxReclaimOptions { RerunDelay = TimeSpan.Zero }).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new DaxReclaimOptions { RerunDelay = TimeSpan.FromMinutes(2) });
        Assert.Contains("100 µs", Assert.Throws<ArgumentOutOfRangeException>(() => new DaxAllocatorOptions { DirectReclaimRetryDelay = TimeSpan.Zero }).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new DaxAllocatorOptions { DirectReclaimRetryDelay = TimeSpan.FromMinutes(1) });
        Assert.Throws<ArgumentNullException>(() => new DaxAllocatorOptions { ReclaimPolicy = null! });
        Assert.Throws<ArgumentNullException>(() => new DaxAllocatorOptions { TimeProvider = null! });

        var defaults = new DaxReclaimOptions();
        Assert.Equal((20, 10, TimeSpan.FromMilliseconds(10)), (defaults.ThresholdPercent, defaults.Chunk, defaults.RerunDelay));
        Assert.Equal(TimeSpan.FromMilliseconds(1), new DaxAllocatorOptions().DirectReclaimRetryDelay);
    }

    [Fact]
    public void ADefaultLeaseIsInert()
    {
        DaxMappingLease lease = default;
        Assert.False(lease.IsValid);
        lease.Dispose();
    }

    /// <summary>Polls a condition that another thread makes true; the bound only keeps a broken build from hanging.</summary>
    internal static async Task WaitUntil(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Bound;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not reached in time");
            await Task.Delay(1);
        }
    }
}
