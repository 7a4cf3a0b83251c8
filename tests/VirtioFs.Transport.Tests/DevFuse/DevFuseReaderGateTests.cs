using System.Diagnostics;
using VirtioFs.Transport;

namespace VirtioFs.Transport.Tests.DevFuse;

/// <summary>
/// The /dev/fuse reader gate: one worker reads at a time, the others park (most recent first) and are handed the read
/// only when the reader keeps its request past the delay; closing releases everyone.
/// </summary>
public sealed class DevFuseReaderGateTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task AWorkerEntersAtOnceWhenNobodyReadsAndAgainAfterLeaving()
    {
        using var gate = new DevFuseReaderGate(TimeSpan.FromSeconds(10));
        var worker = new DevFuseReaderGate.Waiter();

        await EnterAsync(gate, worker);
        gate.Exit();
        await EnterAsync(gate, worker);

        Assert.Equal(0, gate.ParkedCount);
    }

    [Fact]
    public async Task ASecondWorkerParksAndIsHandedTheReadOnlyAfterTheReaderKeptItsRequestForTheDelay()
    {
        TimeSpan delay = TimeSpan.FromMilliseconds(150);
        using var gate = new DevFuseReaderGate(delay);
        await EnterAsync(gate, new DevFuseReaderGate.Waiter());

        Task second = Task.Run(() => gate.Enter(new DevFuseReaderGate.Waiter()));
        await WaitUntilAsync(() => gate.ParkedCount == 1);

        // The reader is still in read: nothing to hand over, however long it waits there.
        await Task.Delay(delay * 2);
        Assert.False(second.IsCompleted);

        // The reader took a request and is busy with it: after the delay the parked worker reads in its place.
        var busy = Stopwatch.StartNew();
        gate.Exit();
        await second.WaitAsync(Limit);
        Assert.True(busy.Elapsed >= delay, $"handed over after {busy.Elapsed.TotalMilliseconds} ms, before the {delay.TotalMilliseconds} ms delay");
        Assert.Equal(0, gate.ParkedCount);
    }

    [Fact]
    public async Task AReaderBackInTimeKeepsTheReadAndTheParkedWorkerStaysParked()
    {
        TimeSpan delay = TimeSpan.FromMilliseconds(300);
        using var gate = new DevFuseReaderGate(delay);
        var reader = new DevFuseReaderGate.Waiter();
        await EnterAsync(gate, reader);
        Task parked = Task.Run(() => gate.Enter(new DevFuseReaderGate.Waiter()));
        await WaitUntilAsync(() => gate.ParkedCount == 1);

        // A quick request: the reader leaves and comes straight back, as a worker serving small requests does.
        for (int i = 0; i < 100; i++)
        {
            gate.Exit();
            await EnterAsync(gate, reader);
        }

        await Task.Delay(delay * 2);
        Assert.False(parked.IsCompleted);
        Assert.Equal(1, gate.ParkedCount);
    }

    [Fact]
    public async Task TheMostRecentlyParkedWorkerIsHandedTheReadFirst()
    {
        using var gate = new DevFuseReaderGate(TimeSpan.FromMilliseconds(20));
        await EnterAsync(gate, new DevFuseReaderGate.Waiter());
        Task older = Task.Run(() => gate.Enter(new DevFuseReaderGate.Waiter()));
        await WaitUntilAsync(() => gate.ParkedCount == 1);
        Task newer = Task.Run(() => gate.Enter(new DevFuseReaderGate.Waiter()));
        await WaitUntilAsync(() => gate.ParkedCount == 2);

        gate.Exit();

        await newer.WaitAsync(Limit);
        Assert.False(older.IsCompleted);
        Assert.Equal(1, gate.ParkedCount);

        // The newer one took a request too and keeps it: the older one is next.
        gate.Exit();
        await older.WaitAsync(Limit);
        Assert.Equal(0, gate.ParkedCount);
    }

    [Fact]
    public async Task HandOverWakesTheMostRecentlyParkedWorkerAtOnceButOnlyWhenNobodyReads()
    {
        using var gate = new DevFuseReaderGate(TimeSpan.FromSeconds(30));
        var reader = new DevFuseReaderGate.Waiter();
        await EnterAsync(gate, reader);
        Task older = Task.Run(() => gate.Enter(new DevFuseReaderGate.Waiter()));
        await WaitUntilAsync(() => gate.ParkedCount == 1);
        Task newer = Task.Run(() => gate.Enter(new DevFuseReaderGate.Waiter()));
        await WaitUntilAsync(() => gate.ParkedCount == 2);

        // Somebody reads: nothing to hand over.
        gate.HandOver();
        Assert.Equal(2, gate.ParkedCount);

        // The reader took a request and saw more queued behind it: the newest parked worker reads now, not in 30 s.
        gate.Exit();
        gate.HandOver();
        await newer.WaitAsync(Limit);
        Assert.False(older.IsCompleted);
        Assert.Equal(1, gate.ParkedCount);
    }

    [Fact]
    public async Task CloseReleasesEveryParkedWorkerAndNobodyParksAfterIt()
    {
        using var gate = new DevFuseReaderGate(TimeSpan.FromSeconds(10));
        await EnterAsync(gate, new DevFuseReaderGate.Waiter());
        Task[] parked = [Task.Run(() => gate.Enter(new DevFuseReaderGate.Waiter())), Task.Run(() => gate.Enter(new DevFuseReaderGate.Waiter()))];
        await WaitUntilAsync(() => gate.ParkedCount == 2);

        gate.Close();

        await Task.WhenAll(parked).WaitAsync(Limit);
        await EnterAsync(gate, new DevFuseReaderGate.Waiter());
        Assert.Equal(0, gate.ParkedCount);
    }

    [Fact]
    public void ANonPositiveDelayIsRefused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new DevFuseReaderGate(TimeSpan.Zero));
    }

    private static Task EnterAsync(DevFuseReaderGate gate, DevFuseReaderGate.Waiter worker)
        => Task.Run(() => gate.Enter(worker)).WaitAsync(Limit);

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var waited = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(waited.Elapsed < Limit, "the condition did not hold in time");
            await Task.Delay(5);
        }
    }
}
