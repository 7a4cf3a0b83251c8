using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using Perfolizer.Horology;
using VirtioFs.Protocol;
using VirtioFs.Transport;

namespace VirtioFs.Benchmarks;

/// <summary>
/// Request round trips over the in-process loopback (client → queue → session worker → filesystem → reply → client)
/// against <see cref="TrivialFileSystem"/>, so that only the library's own cost is measured.
/// </summary>
/// <remarks>
/// <para>Each benchmark invocation runs <see cref="Ops"/> requests (<c>OperationsPerInvoke</c>), so Mean and
/// Allocated are per request and the per-invocation cost of the harness (one async state machine, one
/// <c>Task.WhenAll</c>) is amortised to well under a byte per request.</para>
/// <para>"Sequential": one request stream, each request awaited before the next. "2 clients": the same number of
/// requests split over two concurrent request streams on the same host (the session runs 2 workers).</para>
/// </remarks>
[Config(typeof(LoopbackBenchmarkConfig))]
[MemoryDiagnoser]
public class LoopbackBenchmarks
{
    /// <summary>Requests per invocation.</summary>
    public const int Ops = 10_000;

    private const int Small = 4 * 1024;
    private const int Large = 128 * 1024;
    private const ulong FileHandle = 7;

    private readonly byte[][] _readBuffers = [new byte[Large], new byte[Large]];
    private readonly byte[][] _writeBuffers = [new byte[Large], new byte[Large]];
    private FuseLoopbackHost _host = null!;
    private FuseLoopbackClient _client = null!;

    [GlobalSetup]
    public void Setup()
    {
        var options = new FuseSessionOptions { WorkersPerChannel = 2 };
        _host = FuseLoopbackHost.StartAsync(new TrivialFileSystem(), options).GetAwaiter().GetResult();
        _client = _host.Client;
        foreach (byte[] buffer in _writeBuffers)
        {
            Random.Shared.NextBytes(buffer);
        }
    }

    [GlobalCleanup]
    public void Cleanup() => _host.DisposeAsync().AsTask().GetAwaiter().GetResult();

    // ---- single client, sequential ----

    [Benchmark(Baseline = true, OperationsPerInvoke = Ops, Description = "GETATTR")]
    public Task GetAttr() => GetAttrLoop(Ops);

    [Benchmark(OperationsPerInvoke = Ops, Description = "LOOKUP")]
    public Task Lookup() => LookupLoop(Ops);

    [Benchmark(OperationsPerInvoke = Ops, Description = "READ 4 KiB")]
    public Task Read4K() => ReadLoop(Ops, _readBuffers[0].AsMemory(0, Small));

    [Benchmark(OperationsPerInvoke = Ops, Description = "READ 128 KiB")]
    public Task Read128K() => ReadLoop(Ops, _readBuffers[0]);

    [Benchmark(OperationsPerInvoke = Ops, Description = "WRITE 128 KiB")]
    public Task Write128K() => WriteLoop(Ops, _writeBuffers[0]);

    // ---- two concurrent request streams on the same host ----

    [Benchmark(OperationsPerInvoke = Ops, Description = "GETATTR, 2 clients")]
    public Task GetAttr2Clients() => Task.WhenAll(GetAttrLoop(Ops / 2), GetAttrLoop(Ops / 2));

    [Benchmark(OperationsPerInvoke = Ops, Description = "LOOKUP, 2 clients")]
    public Task Lookup2Clients() => Task.WhenAll(LookupLoop(Ops / 2), LookupLoop(Ops / 2));

    [Benchmark(OperationsPerInvoke = Ops, Description = "READ 4 KiB, 2 clients")]
    public Task Read4K2Clients() => Task.WhenAll(
        ReadLoop(Ops / 2, _readBuffers[0].AsMemory(0, Small)),
        ReadLoop(Ops / 2, _readBuffers[1].AsMemory(0, Small)));

    [Benchmark(OperationsPerInvoke = Ops, Description = "READ 128 KiB, 2 clients")]
    public Task Read128K2Clients() => Task.WhenAll(ReadLoop(Ops / 2, _readBuffers[0]), ReadLoop(Ops / 2, _readBuffers[1]));

    [Benchmark(OperationsPerInvoke = Ops, Description = "WRITE 128 KiB, 2 clients")]
    public Task Write128K2Clients() => Task.WhenAll(WriteLoop(Ops / 2, _writeBuffers[0]), WriteLoop(Ops / 2, _writeBuffers[1]));

    // ---- request streams ----

    private async Task GetAttrLoop(int count)
    {
        for (int i = 0; i < count; i++)
        {
            FuseResult<FuseAttrOut> result = await _client.GetAttrAsync(TrivialFileSystem.FileNodeId).ConfigureAwait(false);
            if (!result.IsSuccess)
            {
                Fail("GETATTR", result.Error);
            }
        }
    }

    private async Task LookupLoop(int count)
    {
        for (int i = 0; i < count; i++)
        {
            FuseResult<FuseEntryOut> result = await _client.LookupAsync(FuseConstants.RootId, "bench.dat"u8).ConfigureAwait(false);
            if (!result.IsSuccess)
            {
                Fail("LOOKUP", result.Error);
            }
        }
    }

    private async Task ReadLoop(int count, Memory<byte> destination)
    {
        for (int i = 0; i < count; i++)
        {
            FuseResult<int> result = await _client.ReadAsync(TrivialFileSystem.FileNodeId, FileHandle, (ulong)i * (ulong)destination.Length, destination).ConfigureAwait(false);
            if (!result.IsSuccess || result.Value != destination.Length)
            {
                Fail("READ", result.Error);
            }
        }
    }

    private async Task WriteLoop(int count, ReadOnlyMemory<byte> data)
    {
        for (int i = 0; i < count; i++)
        {
            FuseResult<int> result = await _client.WriteAsync(TrivialFileSystem.FileNodeId, FileHandle, (ulong)i * (ulong)data.Length, data).ConfigureAwait(false);
            if (!result.IsSuccess || result.Value != data.Length)
            {
                Fail("WRITE", result.Error);
            }
        }
    }

    private static void Fail(string operation, Errno error)
        => throw new InvalidOperationException($"{operation} failed: {error}.");
}

/// <summary>
/// A short job (3 warmup and 12 measured iterations of ~500 ms, one launch) so that the whole <c>*Loopback*</c> filter
/// finishes in about two minutes on 2 cores; the summary shows Mean (per request), Ratio to the GETATTR baseline and Allocated.
/// </summary>
public class LoopbackBenchmarkConfig : ManualConfig
{
    public LoopbackBenchmarkConfig()
    {
        AddJob(Job.Default
            .WithId("Short")
            .WithLaunchCount(1)
            .WithWarmupCount(3)
            .WithIterationCount(12)
            .WithIterationTime(TimeInterval.FromMilliseconds(500)));
        AddDiagnoser(MemoryDiagnoser.Default);
        AddColumn(StatisticColumn.Median);
        HideColumns(Column.AllocRatio); // the baseline allocates nothing, so the ratio would be NA everywhere
        WithOrderer(new BenchmarkDotNet.Order.DefaultOrderer(BenchmarkDotNet.Order.SummaryOrderPolicy.Declared));
        SummaryStyle = BenchmarkDotNet.Reports.SummaryStyle.Default.WithRatioStyle(RatioStyle.Value);
    }
}
