using System.Diagnostics;
using VirtioFs.Protocol;
using VirtioFs.Transport;

namespace VirtioFs.Dax.Tests.Client;

/// <summary>8 threads on 32 real files through a window smaller than the working set: reclaim on every path.</summary>
public sealed class FuseDaxClientStressTests
{
    private const long MiB = DaxClientHarness.MiB;
    private const int Files = 32;
    private const int Threads = 8;
    private const int FileLength = (int)(3 * MiB) + 4097; // two ranges per file: 64 ranges in the working set
    private const int OpsPerThread = 600;

    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    public async Task EveryReadMatchesTheModelWithTheWindowSmallerThanTheWorkingSet(int shrink)
    {
        long window = Files * 2 * 2 * MiB / shrink;
        await using DaxClientHarness h = await DaxClientHarness.StartAsync(window);
        byte[][] model = new byte[Files][];
        var files = new FuseDaxFile[Files];
        for (int f = 0; f < Files; f++)
        {
            model[f] = h.CreateFile($"s{f}", FileLength, seed: 100 + f);
            files[f] = await h.OpenAsync($"s{f}");
        }

        // Each thread owns one eighth of every file (some slices straddle a range boundary): its reads and writes there
        // are checked exactly, while all threads hit the same files, ranges and window at once.
        var stopwatch = Stopwatch.StartNew();
        long reads = 0;
        Task[] workers = [.. Enumerable.Range(0, Threads).Select(t => Task.Run(async () =>
        {
            var random = new Random(1000 + t);
            int slice = FileLength / Threads;
            int sliceStart = t * slice;
            byte[] buffer = new byte[256 * 1024];
            for (int i = 0; i < OpsPerThread; i++)
            {
                int f = random.Next(Files);
                int length = random.Next(1, Math.Min(buffer.Length, slice) + 1);
                int offset = sliceStart + random.Next(slice - length + 1);
                if (random.Next(3) == 0)
                {
                    random.NextBytes(buffer.AsSpan(0, length));
                    FuseResult<int> written = await files[f].WriteAsync(offset, buffer.AsMemory(0, length));
                    Assert.Equal(length, written.Value);
                    buffer.AsSpan(0, length).CopyTo(model[f].AsSpan(offset));
                }
                else
                {
                    FuseResult<int> read = await files[f].ReadAsync(offset, buffer.AsMemory(0, length));
                    Assert.True(read.IsSuccess, read.Error.ToString());
                    Assert.Equal(length, read.Value);
                    Assert.True(model[f].AsSpan(offset, length).SequenceEqual(buffer.AsSpan(0, length)), $"file {f} at {offset}+{length}");
                    Interlocked.Increment(ref reads);
                }
            }
        }))];
        await Task.WhenAll(workers).WaitAsync(TimeSpan.FromSeconds(60));

        DaxRangeAllocator allocator = h.Client.Allocator;
        DaxAllocatorCounters counters = allocator.Counters;
        Assert.True(counters.DirectReclaims + counters.BackgroundReclaims > 0, "the window never ran out");
        Assert.Equal(0, counters.Failures);
        Assert.Equal(allocator.TotalRanges, allocator.FreeRanges + allocator.BusyRanges);
        Assert.Equal(counters.Allocations - counters.DirectReclaims - counters.BackgroundReclaims - counters.Evictions, allocator.BusyRanges);
        Assert.Equal(allocator.BusyRanges, h.Server.MappingCount);
        Assert.Equal(counters.Allocations, h.Sent(FuseOpcode.SetupMapping) - counters.Upgrades);
        Assert.Equal(0, h.Sent(FuseOpcode.Read));
        Assert.Equal(0, h.Sent(FuseOpcode.Write));

        for (int f = 0; f < Files; f++)
        {
            await files[f].CloseAsync();
            Assert.Equal(Errno.Success, await h.Client.EvictAsync(files[f].NodeId));
            Assert.Equal(model[f], File.ReadAllBytes(h.Files.PathOf($"s{f}")));
        }

        Assert.Equal(0, h.Server.MappingCount);
        Assert.Equal(allocator.TotalRanges, allocator.FreeRanges);
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(30), $"took {stopwatch.Elapsed}");
    }
}
