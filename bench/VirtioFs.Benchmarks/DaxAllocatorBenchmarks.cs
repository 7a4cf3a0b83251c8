using BenchmarkDotNet.Attributes;
using VirtioFs.Dax;
using VirtioFs.Protocol;

namespace VirtioFs.Benchmarks;

/// <summary>
/// The client-side DAX range allocator against a peer that answers at once, so that only the allocator's cost is
/// measured. "Pin": acquire and release a range that is already mapped (the hit path). "Map": every acquisition
/// needs a new range, so one range is reclaimed (REMOVEMAPPING) and set up again (SETUPMAPPING) per operation.
/// Each thread works on its own inode; "4 threads" splits the same number of operations over four threads.
/// </summary>
[Config(typeof(LoopbackBenchmarkConfig))]
[MemoryDiagnoser]
public class DaxAllocatorBenchmarks
{
    /// <summary>Operations per invocation.</summary>
    public const int Ops = 20_000;

    private const int Threads = 4;
    private const int RangesPerInode = 16;
    private const long RangeSize = 4096;

    private DaxRangeAllocator _allocator = null!;
    private DaxInode[] _inodes = null!;

    [GlobalSetup]
    public void Setup()
    {
        var geometry = new DaxWindowGeometry(Threads * RangesPerInode * RangeSize, RangeSize, mapAlignment: 12);
        _allocator = new DaxRangeAllocator(new DaxWindowOwnership(geometry), new InstantChannel(), new DaxAllocatorOptions { BackgroundReclaim = false });
        _inodes = [.. Enumerable.Range(1, Threads).Select(i => _allocator.GetInode((ulong)i))];
        foreach (DaxInode inode in _inodes)
        {
            for (int r = 0; r < RangesPerInode; r++)
            {
                Pin(inode, (ulong)r * RangeSize);
            }
        }
    }

    [GlobalCleanup]
    public void Cleanup() => _allocator.DisposeAsync().AsTask().GetAwaiter().GetResult();

    [Benchmark(Baseline = true, OperationsPerInvoke = Ops, Description = "Pin mapped range")]
    public void PinMapped() => PinLoop(_inodes[0], Ops);

    [Benchmark(OperationsPerInvoke = Ops, Description = "Pin mapped range, 4 threads")]
    public void PinMapped4() => Parallel.For(0, Threads, t => PinLoop(_inodes[t], Ops / Threads));

    [Benchmark(OperationsPerInvoke = Ops, Description = "Map (reclaim + setup)")]
    public void Map() => MapLoop(_inodes[0], Ops);

    [Benchmark(OperationsPerInvoke = Ops, Description = "Map (reclaim + setup), 4 threads")]
    public void Map4() => Parallel.For(0, Threads, t => MapLoop(_inodes[t], Ops / Threads));

    private static void PinLoop(DaxInode inode, int count)
    {
        for (int i = 0; i < count; i++)
        {
            Pin(inode, (ulong)(i % RangesPerInode) * RangeSize);
        }
    }

    private static void MapLoop(DaxInode inode, int count)
    {
        // Twice as many file ranges as the inode holds: every acquisition misses and reclaims the inode's oldest range.
        for (int i = 0; i < count; i++)
        {
            Pin(inode, (ulong)(i % (2 * RangesPerInode)) * RangeSize);
        }
    }

    private static void Pin(DaxInode inode, ulong offset)
    {
        ValueTask<FuseResult<DaxMappingLease>> acquisition = inode.AcquireAsync(offset, write: false);
        FuseResult<DaxMappingLease> result = acquisition.IsCompletedSuccessfully ? acquisition.Result : acquisition.AsTask().GetAwaiter().GetResult();
        if (!result.IsSuccess)
        {
            throw new InvalidOperationException($"acquire failed: {result.Error}");
        }

        result.Value.Dispose();
    }

    /// <summary>A peer that accepts every mapping request at once.</summary>
    private sealed class InstantChannel : IDaxMappingChannel
    {
        public ValueTask<Errno> SetupMappingAsync(ulong nodeId, ulong fileOffset, ulong length, ulong windowOffset, bool writable, CancellationToken cancellationToken)
            => new(Errno.Success);

        public ValueTask<Errno> RemoveMappingAsync(ulong nodeId, ReadOnlyMemory<DaxRemoval> ranges, CancellationToken cancellationToken)
            => new(Errno.Success);
    }
}
