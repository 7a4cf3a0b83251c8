using VirtioFs.Protocol;
using static VirtioFs.Transport.Tests.Session.SessionTestSupport;

namespace VirtioFs.Transport.Tests.Session;

/// <summary>FUSE_INTERRUPT and session shutdown cancel the token of an in-flight request.</summary>
public sealed class InterruptTests
{
    /// <summary>A filesystem whose READ waits until its request is cancelled, then answers EINTR.</summary>
    private sealed class BlockingReadFs : FuseFileSystem
    {
        private int _destroyed;

        public TaskCompletionSource<ulong> Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource<bool> Cancelled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public int DestroyCount => Volatile.Read(ref _destroyed);

        public override async ValueTask<FuseResult<int>> ReadAsync(FuseRequestContext context, FuseReadIn args, Memory<byte> buffer)
        {
            Entered.TrySetResult(context.Unique);
            try
            {
                await Task.Delay(Timeout.Infinite, context.CancellationToken);
                Cancelled.TrySetResult(false);
                return 0;
            }
            catch (OperationCanceledException)
            {
                Cancelled.TrySetResult(context.CancellationToken.IsCancellationRequested);
                return Errno.EINTR;
            }
        }

        private int _lookups;

        public int Lookups => Volatile.Read(ref _lookups);

        public override ValueTask<FuseResult<FuseEntryOut>> LookupAsync(FuseRequestContext context, ReadOnlyMemory<byte> name)
        {
            Interlocked.Increment(ref _lookups);
            return new(new FuseEntryOut { Nodeid = 2, Attr = new FuseAttr { Ino = 2, Mode = FuseFileMode.RegularFile | 0x1A4 } });
        }

        public override void Destroy() => Interlocked.Increment(ref _destroyed);
    }

    /// <summary>Starts a READ (which the filesystem blocks) and returns it with its unique.</summary>
    private static async Task<(Task<FuseResult<int>> Read, ulong Unique)> StartReadAsync(FuseLoopbackClient client)
    {
        var readUnique = new TaskCompletionSource<ulong>(TaskCreationOptions.RunContinuationsAsynchronously);
        client.RequestSent += (unique, opcode) =>
        {
            if (opcode == FuseOpcode.Read)
            {
                readUnique.TrySetResult(unique);
            }
        };

        Task<FuseResult<int>> read = client.ReadAsync(2, 1, 0, new byte[16]).AsTask();
        return (read, await readUnique.Task.Bounded());
    }

    [Fact]
    public async Task InterruptCancelsTheInFlightRequest()
    {
        var fs = new BlockingReadFs();
        await using FuseLoopbackHost host = await StartAsync(fs, workers: 2);
        (Task<FuseResult<int>> read, ulong unique) = await StartReadAsync(host.Client);
        Assert.Equal(unique, await fs.Entered.Task.Bounded());
        Assert.False(read.IsCompleted);

        Errno interrupt = await host.Client.InterruptAsync(unique).Bounded();

        Assert.Equal(Errno.Success, interrupt);
        Assert.Equal(Errno.EINTR, (await read.Bounded()).Error);
        Assert.True(await fs.Cancelled.Task.Bounded());

        // The worker is free again and the session still serves.
        Assert.Equal(2ul, (await host.Client.LookupAsync(1, "a").Bounded()).Value.Nodeid);
    }

    [Fact]
    public async Task AnInterruptThatArrivesFirstAnswersItsRequestEintrWithoutTheFileSystem()
    {
        var fs = new BlockingReadFs();
        await using FuseLoopbackHost host = await StartAsync(fs, workers: 2);
        ulong lookupUnique = 0;
        host.Client.RequestSent += (unique, opcode) =>
        {
            if (opcode == FuseOpcode.Lookup)
            {
                lookupUnique = unique;
            }
        };
        Assert.True((await host.Client.LookupAsync(1, "a").Bounded()).IsSuccess);
        int lookups = fs.Lookups;
        ulong first = lookupUnique;

        // Interrupts of a completed request and of the client's next request: neither is answered.
        Assert.Equal(Errno.Success, await host.Client.InterruptAsync(first).Bounded());
        Assert.Equal(Errno.Success, await host.Client.InterruptAsync(first + 2).Bounded());

        Assert.Equal(Errno.EINTR, (await host.Client.LookupAsync(1, "a").Bounded()).Error);
        Assert.Equal(first + 2, lookupUnique);
        Assert.Equal(lookups, fs.Lookups);
        Assert.True((await host.Client.LookupAsync(1, "a").Bounded()).IsSuccess);
    }

    [Fact]
    public async Task AnInterruptRacingWithTheStartOfItsRequestIsNeverLost()
    {
        // Each interrupt is sent the moment its READ is, so across many rounds and several concurrent callers it lands
        // before, while and after a worker starts the request. A lost one leaves its READ blocked for ever.
        var fs = new BlockingReadFs();
        await using FuseLoopbackHost host = await StartAsync(fs, workers: 2);
        var sent = new System.Collections.Concurrent.ConcurrentDictionary<int, ulong>();
        host.Client.RequestSent += (unique, opcode) =>
        {
            if (opcode == FuseOpcode.Read)
            {
                sent[Environment.CurrentManagedThreadId] = unique;
            }
        };

        async Task<int> CallerAsync()
        {
            await Task.Yield();
            int interrupted = 0;
            for (int round = 0; round < 500; round++)
            {
                // RequestSent runs synchronously inside ReadAsync, so this thread's entry is this READ's unique.
                Task<FuseResult<int>> read = host.Client.ReadAsync(2, 1, 0, new byte[16]).AsTask();
                Assert.Equal(Errno.Success, await host.Client.InterruptAsync(sent[Environment.CurrentManagedThreadId]).Bounded());
                interrupted += (await read.Bounded()).Error == Errno.EINTR ? 1 : 0;
            }

            return interrupted;
        }

        int[] interrupted = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(CallerAsync)));
        Assert.All(interrupted, count => Assert.Equal(500, count));
    }

    [Fact]
    public async Task InterruptOnlyCancelsTheMatchingRequest()
    {
        var fs = new BlockingReadFs();
        await using FuseLoopbackHost host = await StartAsync(fs, workers: 3);
        (Task<FuseResult<int>> read, ulong unique) = await StartReadAsync(host.Client);
        await fs.Entered.Task.Bounded();

        // A unique far from any in flight: remembered, not answered, and the read keeps waiting.
        Assert.Equal(Errno.Success, await host.Client.InterruptAsync(unique + 1_000_000).Bounded());
        await Task.Delay(50);
        Assert.False(read.IsCompleted);
        Assert.False(fs.Cancelled.Task.IsCompleted);

        Assert.Equal(Errno.Success, await host.Client.InterruptAsync(unique).Bounded());
        Assert.Equal(Errno.EINTR, (await read.Bounded()).Error);
    }

    [Fact]
    public async Task StopCancelsInFlightTokens()
    {
        var fs = new BlockingReadFs();
        await using FuseLoopbackHost host = await StartAsync(fs, workers: 2);

        Task<FuseResult<int>> read = host.Client.ReadAsync(2, 1, 0, new byte[16]).AsTask();
        await fs.Entered.Task.Bounded();

        host.Session.Stop();

        Assert.True(await fs.Cancelled.Task.Bounded());
        Assert.Equal(Errno.EINTR, (await read.Bounded()).Error);
        await host.Completion.Bounded();

        // The session ended after INIT, so the filesystem was told once.
        Assert.Equal(1, fs.DestroyCount);
        Assert.True(host.Session.IsDestroyed);
    }

    [Fact]
    public async Task RunCancellationTokenStopsLikeStop()
    {
        var fs = new BlockingReadFs();
        var session = new FuseSession(fs, new FuseSessionOptions { WorkersPerChannel = 2 });
        (IFuseChannel server, FuseLoopbackClient client) = FuseLoopback.CreatePair();
        using var cts = new CancellationTokenSource();
        Task run = session.RunAsync(server, cts.Token);
        Assert.True((await client.InitAsync().Bounded()).IsSuccess);

        Task<FuseResult<int>> read = client.ReadAsync(2, 1, 0, new byte[16]).AsTask();
        await fs.Entered.Task.Bounded();
        await cts.CancelAsync();

        Assert.True(await fs.Cancelled.Task.Bounded());
        Assert.Equal(Errno.EINTR, (await read.Bounded()).Error);
        await run.Bounded();
        Assert.Equal(1, fs.DestroyCount);
        await client.DisposeAsync();
    }
}
