using static VirtioFs.Dax.Tests.Fixture;

namespace VirtioFs.Dax.Tests;

/// <summary>
/// Eight threads read and write 32 files through a window 2x and 4x smaller than their working set, with background
/// reclaim running, against the in-memory peer. Each thread owns every eighth word of every file, so it knows exactly
/// what each of its reads must return; a range mapped to the wrong file, or reclaimed under a lease, shows up as a
/// wrong word or a recorded violation. Every acquisition is bounded, so a deadlock fails instead of hanging.
/// </summary>
public sealed class AllocatorStressTests
{
    private const int Files = 32;
    private const int RangesPerFile = 4;
    private const int Threads = 8;
    private const int OperationsPerThread = 1500;

    [Theory]
    [InlineData(2, false)]
    [InlineData(4, false)]
    [InlineData(2, true)]
    [InlineData(4, true)]
    public async Task EightThreadsThroughAnOversubscribedWindow(int oversubscription, bool leastRecentlyUsed)
    {
        DaxWindowGeometry geometry = Geometry(Files * RangesPerFile / oversubscription);
        var model = new ModelChannel(geometry, Files, RangesPerFile);
        var reclaim = new DaxReclaimOptions { RerunDelay = TimeSpan.FromMilliseconds(1) };
        IDaxReclaimPolicy policy = leastRecentlyUsed ? new DaxLeastRecentlyUsedReclaimPolicy(reclaim) : new DaxKernelReclaimPolicy(reclaim);
        var allocator = new DaxRangeAllocator(new DaxWindowOwnership(geometry), model, new DaxAllocatorOptions { ReclaimPolicy = policy });
        int wordsPerFile = RangesPerFile * model.WordsPerRange;
        var expected = new long[Files][];
        for (int f = 0; f < Files; f++)
        {
            expected[f] = Enumerable.Range(0, wordsPerFile).Select(w => ModelChannel.InitialWord(f, w)).ToArray();
        }

        Task[] workers = Enumerable.Range(0, Threads).Select(t => Task.Run(() => WorkAsync(t))).ToArray();
        await Task.WhenAll(workers).WaitAsync(TimeSpan.FromSeconds(60));

        // Every word of every file, read back through the window, is the last one written.
        for (int f = 0; f < Files; f++)
        {
            ulong node = ModelChannel.NodeOf(f);
            for (int w = 0; w < wordsPerFile; w++)
            {
                using DaxMappingLease lease = await allocator.AcquireAsync(node, (ulong)w * sizeof(long), false).Lease();
                Assert.Equal(expected[f][w], model.Read(lease, node, (ulong)w * sizeof(long)));
            }
        }

        await allocator.ShutdownAsync().AsTask().WaitAsync(Bound);
        Assert.Empty(model.Violations);
        allocator.AssertConsistent();
        Assert.Equal(allocator.TotalRanges, allocator.FreeRanges);
        DaxAllocatorCounters counters = allocator.Counters;
        Assert.Equal(counters.Allocations, counters.DirectReclaims + counters.BackgroundReclaims + counters.Evictions);
        Assert.True(counters.Allocations > allocator.TotalRanges, $"the window was never oversubscribed: {counters}");
        Assert.True(counters.DirectReclaims + counters.BackgroundReclaims > 0, counters.ToString());
        Assert.Equal(0, counters.Failures);

        async Task WorkAsync(int thread)
        {
            var random = new Random((thread * 7919) + oversubscription);
            for (int op = 0; op < OperationsPerThread; op++)
            {
                int file = random.Next(Files);
                int word = (random.Next(wordsPerFile / Threads) * Threads) + thread;
                bool write = random.Next(3) == 0;
                await UseAsync(file, word, write, op);
                if (random.Next(8) == 0)
                {
                    // Hold one lease while taking another: pinned ranges must be skipped, not waited on forever.
                    int other = random.Next(Files);
                    ulong node = ModelChannel.NodeOf(file);
                    DaxMappingLease outer = await allocator.AcquireAsync(node, (ulong)word * sizeof(long), false).Lease();
                    Interlocked.Increment(ref model.HeldLeases[outer.RangeIndex]);
                    try
                    {
                        await UseAsync(other, (random.Next(wordsPerFile / Threads) * Threads) + thread, write: false, op);
                        Assert.Equal(expected[file][word], model.Read(outer, node, (ulong)word * sizeof(long)));
                    }
                    finally
                    {
                        Interlocked.Decrement(ref model.HeldLeases[outer.RangeIndex]);
                        outer.Dispose();
                    }
                }
            }

            async Task UseAsync(int file, int word, bool write, int op)
            {
                ulong node = ModelChannel.NodeOf(file);
                ulong offset = (ulong)word * sizeof(long);
                DaxMappingLease lease = await allocator.AcquireAsync(node, offset, write).Lease();
                Interlocked.Increment(ref model.HeldLeases[lease.RangeIndex]);
                try
                {
                    if (write)
                    {
                        long value = ((long)thread << 56) | ((long)op << 20) | (uint)word;
                        model.Write(lease, node, offset, value);
                        expected[file][word] = value;
                    }
                    else
                    {
                        Assert.Equal(expected[file][word], model.Read(lease, node, offset));
                    }
                }
                finally
                {
                    Interlocked.Decrement(ref model.HeldLeases[lease.RangeIndex]);
                    lease.Dispose();
                }
            }
        }
    }
}
