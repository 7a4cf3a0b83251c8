using VirtioFs.Protocol;

namespace VirtioFs.Protocol.Tests.Session;

/// <summary>The set of interrupts that arrived before their request started.</summary>
public sealed class EarlyInterruptsTests
{
    [Fact]
    public void AnInterruptIsTakenOnce()
    {
        var early = new EarlyInterrupts(capacity: 4);
        early.Add(10);
        early.Add(10);

        Assert.True(early.TryTake(10));
        Assert.False(early.TryTake(10));
        Assert.False(early.TryTake(12));
    }

    [Fact]
    public void TakenEntriesDoNotCountAgainstTheCapacity()
    {
        // One interrupt waits while many others come and are taken at once (they hit requests in flight).
        var early = new EarlyInterrupts(capacity: 2);
        early.Add(10);
        for (ulong unique = 100; unique < 200; unique += 2)
        {
            early.Add(unique);
            Assert.True(early.TryTake(unique));
        }

        Assert.True(early.TryTake(10));
    }

    [Fact]
    public void PastTheCapacityTheOldestWaitingEntryIsDropped()
    {
        var early = new EarlyInterrupts(capacity: 2);
        early.Add(2);
        early.Add(4);
        early.Add(6);

        Assert.False(early.TryTake(2));
        Assert.True(early.TryTake(4));
        Assert.True(early.TryTake(6));
    }
}
