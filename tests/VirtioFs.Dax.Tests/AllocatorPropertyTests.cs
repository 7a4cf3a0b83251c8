using VirtioFs.Protocol;
using static VirtioFs.Dax.Tests.Fixture;

namespace VirtioFs.Dax.Tests;

/// <summary>
/// Randomised properties over seeded operation sequences (FsCheck is not available from this project's package feed,
/// so the generator is a seeded <see cref="Random"/>; a failure names its seed, which replays it exactly).
/// </summary>
public sealed class AllocatorPropertyTests
{
    private const int Files = 5;
    private const int RangesPerFile = 8;

    public static TheoryData<int> Seeds()
    {
        var seeds = new TheoryData<int>();
        for (int seed = 1; seed <= 60; seed++)
        {
            seeds.Add(seed);
        }

        return seeds;
    }

    /// <summary>
    /// After every step: no window range is owned by two inodes, free + busy = total, the peer's window shows exactly
    /// what the allocator believes, no held range was removed or remapped, reads return what was written, a waiter
    /// wakes once a range frees, a cancelled waiter leaves nothing behind, and eviction leaves no range of its node.
    /// </summary>
    [Theory]
    [MemberData(nameof(Seeds))]
    public async Task RandomOperationsKeepTheInvariants(int seed)
    {
        var random = new Random(seed);
        DaxWindowGeometry geometry = Geometry(random.Next(1, 10));
        var model = new ModelChannel(geometry, Files, RangesPerFile);
        var reclaim = new DaxReclaimOptions { Chunk = random.Next(1, 4) };
        IDaxReclaimPolicy policy = random.Next(3) switch
        {
            0 => new DaxKernelReclaimPolicy(reclaim),
            1 => new DaxLeastRecentlyUsedReclaimPolicy(reclaim),
            _ => new CarelessPolicy(new Random(seed)),
        };
        var allocator = new DaxRangeAllocator(new DaxWindowOwnership(geometry), model, Manual(policy));
        var held = new List<(DaxMappingLease Lease, ulong Node)>();
        var expected = new Dictionary<(int File, int Word), long>();

        try
        {
            for (int step = 0; step < 150; step++)
            {
                string what;
                switch (random.Next(10))
                {
                    case <= 5:
                        what = await AcquireAndUse(cancel: false);
                        break;
                    case 6:
                        what = "release";
                        if (held.Count > 0)
                        {
                            Release(random.Next(held.Count));
                        }

                        break;
                    case 7:
                        int file = random.Next(Files);
                        ulong node = ModelChannel.NodeOf(file);
                        bool pinned = held.Exists(h => h.Node == node);
                        Errno evicted = await allocator.EvictAsync(node).AsTask().WaitAsync(Bound);
                        Assert.Equal(pinned ? Errno.EBUSY : Errno.Success, evicted);
                        if (!pinned)
                        {
                            Assert.Equal(0, allocator.GetInode(node).MappedRanges);
                            for (int range = 0; range < geometry.RangeCount; range++)
                            {
                                Assert.NotEqual(node, model.MappingOf(range)?.NodeId);
                            }
                        }

                        what = $"evict {node}";
                        break;
                    case 8:
                        await allocator.RunBackgroundPassAsync(CancellationToken.None).WaitAsync(Bound);
                        what = "background pass";
                        break;
                    default:
                        what = await AcquireAndUse(cancel: true);
                        break;
                }

                AssertAgreement($"seed {seed}, step {step} ({what})");
            }
        }
        finally
        {
            while (held.Count > 0)
            {
                Release(0);
            }

            await allocator.ShutdownAsync().AsTask().WaitAsync(Bound);
        }

        Assert.Equal(allocator.TotalRanges, allocator.FreeRanges);
        DaxAllocatorCounters counters = allocator.Counters;
        Assert.Equal(counters.Allocations, counters.DirectReclaims + counters.BackgroundReclaims + counters.Evictions);
        for (int range = 0; range < geometry.RangeCount; range++)
        {
            Assert.Null(model.MappingOf(range));
        }

        Assert.Empty(model.Violations);

        async Task<string> AcquireAndUse(bool cancel)
        {
            int file = random.Next(Files);
            ulong node = ModelChannel.NodeOf(file);
            int word = random.Next(RangesPerFile * model.WordsPerRange);
            ulong offset = (ulong)word * sizeof(long);
            bool write = random.Next(2) == 0;
            using var cancellation = new CancellationTokenSource();
            ValueTask<FuseResult<DaxMappingLease>> acquisition = allocator.AcquireAsync(node, offset, write, cancellation.Token);
            if (!acquisition.IsCompleted)
            {
                if (cancel)
                {
                    // A cancelled waiter must leave the lists and indexes as they were.
                    await cancellation.CancelAsync();
                    await Assert.ThrowsAnyAsync<OperationCanceledException>(() => acquisition.AsTask().WaitAsync(Bound));
                    return $"cancelled wait for {node}@{offset}";
                }

                // It waits: free ranges (release everything, then reclaim); the waiter must wake.
                while (held.Count > 0)
                {
                    Release(0);
                }

                await allocator.RunBackgroundPassAsync(CancellationToken.None).WaitAsync(Bound);
            }

            DaxMappingLease lease = await acquisition.Lease();
            Assert.Equal(write, write && lease.Writable);
            Interlocked.Increment(ref model.HeldLeases[lease.RangeIndex]);
            if (write)
            {
                long value = random.NextInt64();
                model.Write(lease, node, offset, value);
                expected[(file, word)] = value;
            }
            else
            {
                long want = expected.TryGetValue((file, word), out long written) ? written : ModelChannel.InitialWord(file, word);
                Assert.Equal(want, model.Read(lease, node, offset));
            }

            held.Add((lease, node));
            if (held.Count > 3 || random.Next(2) == 0)
            {
                Release(held.Count - 1);
            }

            return $"{(write ? "write" : "read")} {node}@{offset}";
        }

        void Release(int index)
        {
            (DaxMappingLease lease, _) = held[index];
            held.RemoveAt(index);
            Interlocked.Decrement(ref model.HeldLeases[lease.RangeIndex]);
            lease.Dispose();
        }

        void AssertAgreement(string where)
        {
            string? problem = allocator.FindInconsistency();
            Assert.True(problem is null, $"{where}: {problem}");
            Assert.True(model.Violations.IsEmpty, $"{where}: {string.Join("; ", model.Violations)}");
            for (int range = 0; range < allocator.TotalRanges; range++)
            {
                ref RangeSlot slot = ref allocator.Slots[range];
                ModelChannel.Mapping? shown = model.MappingOf(range);
                if (slot.List == RangeList.Busy)
                {
                    Assert.True(shown is { } m && m.NodeId == slot.NodeId && m.FileOffset == slot.FileKey * (ulong)RangeBytes && m.Writable == slot.Writable, $"{where}: range {range} shows {shown}");
                }
                else
                {
                    Assert.True(shown is null, $"{where}: free range {range} still shows {shown}");
                }

                Assert.True(slot.Pins == model.HeldLeases[range], $"{where}: range {range} has {slot.Pins} pins, the test holds {model.HeldLeases[range]}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void TheIndexAgreesWithASortedModel(int seed)
    {
        var random = new Random(seed);
        const int capacity = 64;
        var slots = new RangeSlot[capacity];
        var free = new Stack<int>(Enumerable.Range(0, capacity));
        var model = new SortedDictionary<ulong, int>();
        int root = -1;
        for (int i = 0; i < capacity; i++)
        {
            slots[i].Priority = random.Next();
            slots[i].Left = slots[i].Right = -1;
        }

        for (int step = 0; step < 500; step++)
        {
            ulong key = (ulong)random.Next(100);
            if (model.TryGetValue(key, out int existing))
            {
                Assert.Equal(existing, RangeIndex.Find(slots, root, key));
                if (random.Next(2) == 0)
                {
                    root = RangeIndex.Remove(slots, root, key);
                    model.Remove(key);
                    free.Push(existing);
                }
            }
            else
            {
                Assert.Equal(-1, RangeIndex.Find(slots, root, key));
                if (free.Count > 0)
                {
                    int node = free.Pop();
                    slots[node].FileKey = key;
                    root = RangeIndex.Insert(slots, root, node);
                    model[key] = node;
                }
            }

            var inOrder = new int[capacity];
            int count = RangeIndex.CopyInOrder(slots, root, inOrder, 0);
            Assert.Equal(model.Values, inOrder.Take(count));
        }
    }

    /// <summary>Picks any candidate, pinned or not: the allocator itself must never reclaim a pinned range.</summary>
    private sealed class CarelessPolicy(Random random) : IDaxReclaimPolicy
    {
        public int BackgroundChunk => 2;

        public TimeSpan BackgroundRerunDelay => TimeSpan.FromMilliseconds(1);

        public bool TracksAccess => false;

        public long BackgroundThreshold(long totalRanges) => 1;

        public int SelectVictim(DaxReclaimCandidates candidates)
        {
            int pick = random.Next(candidates.Count);
            foreach (DaxRangeInfo range in candidates)
            {
                if (pick-- == 0)
                {
                    return range.Index;
                }
            }

            return -1;
        }
    }
}
