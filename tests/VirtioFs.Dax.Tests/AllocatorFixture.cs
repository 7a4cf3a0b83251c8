using NSubstitute;
using VirtioFs.Protocol;

namespace VirtioFs.Dax.Tests;

internal static class Fixture
{
    public const long RangeBytes = 4096;

    public static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    public static DaxWindowGeometry Geometry(int ranges) => new(ranges * RangeBytes, RangeBytes, mapAlignment: 12);

    public static DaxAllocatorOptions Manual(IDaxReclaimPolicy? policy = null) => new()
    {
        BackgroundReclaim = false,
        ReclaimPolicy = policy ?? DaxKernelReclaimPolicy.Default,
        TimeProvider = new CountingTimeProvider(),
    };

    /// <summary>A substitute channel that answers every request with success.</summary>
    public static IDaxMappingChannel SucceedingChannel()
    {
        IDaxMappingChannel channel = Substitute.For<IDaxMappingChannel>();
        channel.SetupMappingAsync(default, default, default, default, default, default).ReturnsForAnyArgs(new ValueTask<Errno>(Errno.Success));
        channel.RemoveMappingAsync(default, default, default).ReturnsForAnyArgs(new ValueTask<Errno>(Errno.Success));
        return channel;
    }

    /// <summary>Copies every REMOVEMAPPING as it is made (the allocator reuses its buffer after the call).</summary>
    public static List<(ulong NodeId, DaxRemoval[] Ranges)> RecordRemovals(IDaxMappingChannel channel)
    {
        var removals = new List<(ulong, DaxRemoval[])>();
        channel.WhenForAnyArgs(c => c.RemoveMappingAsync(default, default, default))
            .Do(call => { lock (removals) { removals.Add(((ulong)call[0], ((ReadOnlyMemory<DaxRemoval>)call[1]).ToArray())); } });
        return removals;
    }

    public static async Task<DaxMappingLease> Lease(this ValueTask<FuseResult<DaxMappingLease>> acquisition)
    {
        FuseResult<DaxMappingLease> result = await acquisition.AsTask().WaitAsync(Bound);
        Assert.True(result.IsSuccess, $"acquisition failed with {result.Error}");
        return result.Value;
    }

    public static void AssertConsistent(this DaxRangeAllocator allocator)
    {
        string? problem = allocator.FindInconsistency();
        Assert.True(problem is null, problem);
    }
}
