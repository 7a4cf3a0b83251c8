using VirtioFs.Protocol;
using static VirtioFs.Transport.Tests.Session.SessionTestSupport;

namespace VirtioFs.Transport.Tests.Session;

/// <summary>A filesystem call that does not complete at once is set aside, so its worker goes on reading requests.</summary>
public sealed class SetAsideTests
{
    /// <summary>A READ that waits until a WRITE has come (as a SETLKW waits for an unlock), honouring cancellation.</summary>
    private sealed class ReadWaitsForWriteFs : FuseFileSystem
    {
        private readonly TaskCompletionSource<byte> _written = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _readsRunning;

        public TaskCompletionSource ReadEntered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public int ReadsRunningAtDestroy { get; private set; } = -1;

        public override async ValueTask<FuseResult<int>> ReadAsync(FuseRequestContext context, FuseReadIn args, Memory<byte> buffer)
        {
            Interlocked.Increment(ref _readsRunning);
            try
            {
                ReadEntered.TrySetResult();
                byte value = await _written.Task.WaitAsync(context.CancellationToken);
                buffer.Span[0] = value;
                return 1;
            }
            catch (OperationCanceledException)
            {
                return Errno.EINTR;
            }
            finally
            {
                Interlocked.Decrement(ref _readsRunning);
            }
        }

        public override ValueTask<FuseResult<int>> WriteAsync(FuseRequestContext context, FuseWriteIn args, ReadOnlyMemory<byte> data)
        {
            _written.TrySetResult(data.Span[0]);
            return new(data.Length);
        }

        public override void Destroy() => ReadsRunningAtDestroy = Volatile.Read(ref _readsRunning);
    }

    [Fact]
    public async Task AOneWorkerSessionServesTheRequestAWaitingCallNeeds()
    {
        var fs = new ReadWaitsForWriteFs();
        FuseLoopbackHost host = await StartAsync(fs, workers: 1);
        try
        {
            var data = new byte[1];
            Task<FuseResult<int>> read = host.Client.ReadAsync(2, 1, 0, data).AsTask();
            await fs.ReadEntered.Task.Bounded();
            FuseResult<int> written = await host.Client.WriteAsync(2, 1, 0, new byte[] { 42 }).Bounded();

            Assert.Equal(1, written.Value);
            Assert.Equal(1, (await read.Bounded()).Value);
            Assert.Equal(42, data[0]);
        }
        finally
        {
            // Bounded: were the worker stuck in the read, DESTROY would never be read either.
            await host.DisposeAsync().AsTask().Bounded();
        }
    }

    [Fact]
    public async Task TheSessionEndsAfterTheCallsSetAsideAndDestroysTheFileSystemLast()
    {
        var fs = new ReadWaitsForWriteFs();
        FuseLoopbackHost host = await StartAsync(fs, workers: 1);
        Task<FuseResult<int>> read = host.Client.ReadAsync(2, 1, 0, new byte[1]).AsTask();
        await fs.ReadEntered.Task.Bounded();

        host.Session.Stop();
        await host.Completion.Bounded();

        // Stop cancelled the read's token, its reply still went out, and the session waited for it before Destroy.
        Assert.Equal(Errno.EINTR, (await read.Bounded()).Error);
        Assert.Equal(0, fs.ReadsRunningAtDestroy);
        await host.DisposeAsync().AsTask().Bounded();
    }
}
