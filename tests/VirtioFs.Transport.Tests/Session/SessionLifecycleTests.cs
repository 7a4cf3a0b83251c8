using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Runtime.InteropServices;
using System.Text;
using VirtioFs.Protocol;
using static VirtioFs.Transport.Tests.Session.SessionTestSupport;

namespace VirtioFs.Transport.Tests.Session;

/// <summary>DESTROY, channel close, concurrency, several channels and metrics.</summary>
public sealed class SessionLifecycleTests
{
    /// <summary>LOOKUP "n{i}" answers node i (after yielding and a short delay); "missing" answers ENOENT.</summary>
    internal sealed class CountingFs : FuseFileSystem
    {
        private int _destroyed;
        private int _concurrent;
        private int _maxConcurrent;

        public int DestroyCount => Volatile.Read(ref _destroyed);

        public int MaxConcurrent => Volatile.Read(ref _maxConcurrent);

        public ConcurrentBag<ulong> Uniques { get; } = [];

        public override async ValueTask<FuseResult<FuseEntryOut>> LookupAsync(FuseRequestContext context, ReadOnlyMemory<byte> name)
        {
            string text = Encoding.UTF8.GetString(name.Span);
            Uniques.Add(context.Unique);
            int now = Interlocked.Increment(ref _concurrent);
            int max;
            while (now > (max = Volatile.Read(ref _maxConcurrent)) && Interlocked.CompareExchange(ref _maxConcurrent, now, max) != max)
            {
            }

            try
            {
                await Task.Yield();
                await Task.Delay(5);
            }
            finally
            {
                Interlocked.Decrement(ref _concurrent);
            }

            if (text.StartsWith('n') && ulong.TryParse(text.AsSpan(1), out ulong id))
            {
                return new FuseEntryOut { Nodeid = id, Attr = new FuseAttr { Ino = id, Mode = FuseFileMode.RegularFile | 0x1A4 } };
            }

            return Errno.ENOENT;
        }

        public override void Destroy() => Interlocked.Increment(ref _destroyed);
    }

    [Fact]
    public async Task DestroyCallsDestroyOnceAndEndsRun()
    {
        var fs = new CountingFs();
        await using FuseLoopbackHost host = await StartAsync(fs, workers: 4);

        Assert.Equal(Errno.Success, await host.Client.DestroyAsync().Bounded());
        await host.Completion.Bounded();

        Assert.True(host.Session.IsDestroyed);
        Assert.Equal(1, fs.DestroyCount);

        // Once the session has ended the pair is closed: a new request fails on the client side.
        Assert.Throws<FuseChannelException>(() => { _ = host.Client.LookupAsync(1, "n1"); });

        await host.DisposeAsync();
        Assert.Equal(1, fs.DestroyCount);
    }

    [Fact]
    public async Task ClosingTheClientEndsRunAndCallsDestroyOnce()
    {
        var fs = new CountingFs();
        await using FuseLoopbackHost host = await StartAsync(fs, workers: 2);
        Assert.Equal(5ul, (await host.Client.LookupAsync(1, "n5").Bounded()).Value.Nodeid);

        await host.Client.DisposeAsync();
        await host.Completion.Bounded();

        Assert.Equal(1, fs.DestroyCount);
        Assert.True(host.Session.IsDestroyed);
        await Assert.ThrowsAsync<FuseChannelException>(async () => await host.Client.LookupAsync(1, "n1"));

        await host.DisposeAsync();
        Assert.Equal(1, fs.DestroyCount);
    }

    [Fact]
    public async Task ClosingBeforeInitDoesNotCallDestroy()
    {
        var fs = new CountingFs();
        var session = new FuseSession(fs, new FuseSessionOptions { WorkersPerChannel = 2 });
        (IFuseChannel server, FuseLoopbackClient client) = FuseLoopback.CreatePair();
        Task run = session.RunAsync(server);

        await client.DisposeAsync();
        await run.Bounded();

        Assert.Equal(0, fs.DestroyCount);
        Assert.False(session.IsDestroyed);
    }

    [Fact]
    public async Task RequestsAfterDestroyAreAnsweredEio()
    {
        // HandleRequestAsync has no channel to close, so what the session itself answers after DESTROY is visible.
        var fs = new CountingFs();
        var session = new FuseSession(fs);
        byte[] reply = new byte[4096];

        var initIn = new FuseInitIn { Major = 7, Minor = 45, Flags = (uint)FuseInitFlags.AsyncRead };
        byte[] init = Request(FuseOpcode.Init, 2, 0, MemoryMarshal.AsBytes(new ReadOnlySpan<FuseInitIn>(in initIn)).ToArray());
        int length = await session.HandleRequestAsync(init, reply).Bounded();
        Assert.Equal(0, Error(reply, length, 2));
        Assert.NotNull(session.Connection);

        length = await session.HandleRequestAsync(Request(FuseOpcode.Lookup, 4, 1, "n9\0"u8.ToArray()), reply).Bounded();
        Assert.Equal(0, Error(reply, length, 4));
        Assert.Equal(9ul, MemoryMarshal.Read<FuseEntryOut>(reply.AsSpan(FuseOutHeader.Size)).Nodeid);

        length = await session.HandleRequestAsync(Request(FuseOpcode.Destroy, 6, 0, []), reply).Bounded();
        Assert.Equal(0, Error(reply, length, 6));
        Assert.True(session.IsDestroyed);
        Assert.Equal(1, fs.DestroyCount);

        length = await session.HandleRequestAsync(Request(FuseOpcode.Lookup, 8, 1, "n9\0"u8.ToArray()), reply).Bounded();
        Assert.Equal(-(int)Errno.EIO, Error(reply, length, 8));

        // A second DESTROY is refused the same way and does not call the filesystem again.
        length = await session.HandleRequestAsync(Request(FuseOpcode.Destroy, 10, 0, []), reply).Bounded();
        Assert.Equal(-(int)Errno.EIO, Error(reply, length, 10));
        Assert.Equal(1, fs.DestroyCount);

        // FORGET gets no reply at all.
        length = await session.HandleRequestAsync(Request(FuseOpcode.Forget, 12, 9, new byte[8]), reply).Bounded();
        Assert.Equal(0, length);
    }

    [Theory]
    [InlineData(0, 2, 4)] // each worker waits for its own request: at most one per worker
    [InlineData(16, 5, 20)] // workers set slow requests aside and go on reading: up to workers + 16
    public async Task ConcurrentRequestsAreMatchedByUnique(int maxPending, int leastConcurrent, int mostConcurrent)
    {
        var fs = new CountingFs();
        await using FuseLoopbackHost host = await FuseLoopbackHost
            .StartAsync(fs, new FuseSessionOptions { WorkersPerChannel = 4, MaxPendingRequests = maxPending })
            .WaitAsync(WaitLimit);

        Task<FuseResult<FuseEntryOut>>[] lookups = Enumerable.Range(1, 64)
            .Select(i => host.Client.LookupAsync(1, $"n{i}").AsTask())
            .ToArray();
        FuseResult<FuseEntryOut>[] results = await Task.WhenAll(lookups).Bounded();

        for (int i = 0; i < results.Length; i++)
        {
            Assert.True(results[i].IsSuccess);
            Assert.Equal((ulong)(i + 1), results[i].Value.Nodeid);
            Assert.Equal((ulong)(i + 1), results[i].Value.Attr.Ino);
        }

        Assert.Equal(64, fs.Uniques.Distinct().Count());
        Assert.InRange(fs.MaxConcurrent, leastConcurrent, mostConcurrent);
    }

    [Fact]
    public async Task OneSessionServesTwoChannels()
    {
        var fs = new CountingFs();
        var session = new FuseSession(fs, new FuseSessionOptions { WorkersPerChannel = 2 });
        (IFuseChannel server1, FuseLoopbackClient client1) = FuseLoopback.CreatePair();
        (IFuseChannel server2, FuseLoopbackClient client2) = FuseLoopback.CreatePair();
        Task run = session.RunAsync([server1, server2]);

        Assert.True((await client1.InitAsync().Bounded()).IsSuccess);
        Assert.NotNull(session.Connection);

        Task<FuseResult<FuseEntryOut>>[] first = Enumerable.Range(1, 8).Select(i => client1.LookupAsync(1, $"n{i}").AsTask()).ToArray();
        Task<FuseResult<FuseEntryOut>>[] second = Enumerable.Range(100, 8).Select(i => client2.LookupAsync(1, $"n{i}").AsTask()).ToArray();
        FuseResult<FuseEntryOut>[] r1 = await Task.WhenAll(first).Bounded();
        FuseResult<FuseEntryOut>[] r2 = await Task.WhenAll(second).Bounded();

        Assert.Equal(Enumerable.Range(1, 8).Select(i => (ulong)i), r1.Select(r => r.Value.Nodeid));
        Assert.Equal(Enumerable.Range(100, 8).Select(i => (ulong)i), r2.Select(r => r.Value.Nodeid));
        Assert.Equal(Errno.ENOENT, (await client2.LookupAsync(1, "missing").Bounded()).Error);

        // DESTROY on one channel stops the whole session.
        Assert.Equal(Errno.Success, await client2.DestroyAsync().Bounded());
        await run.Bounded();
        Assert.Equal(1, fs.DestroyCount);
        Assert.Throws<FuseChannelException>(() => { _ = client1.LookupAsync(1, "n1"); });
        await client1.DisposeAsync();
        await client2.DisposeAsync();
    }

    [Fact]
    public async Task RequestsBeforeInitAreAnsweredEio()
    {
        var fs = new CountingFs();
        var session = new FuseSession(fs, new FuseSessionOptions { WorkersPerChannel = 1 });
        (IFuseChannel server, FuseLoopbackClient client) = FuseLoopback.CreatePair();
        Task run = session.RunAsync(server);

        Assert.Equal(Errno.EIO, (await client.LookupAsync(1, "n1").Bounded()).Error);
        Assert.True((await client.InitAsync().Bounded()).IsSuccess);
        Assert.Equal(1ul, (await client.LookupAsync(1, "n1").Bounded()).Value.Nodeid);

        await client.DisposeAsync();
        await run.Bounded();
    }

    private static byte[] Request(FuseOpcode opcode, ulong unique, ulong nodeId, byte[] body)
    {
        byte[] message = new byte[FuseInHeader.Size + body.Length];
        var header = new FuseInHeader { Len = (uint)message.Length, Opcode = (uint)opcode, Unique = unique, Nodeid = nodeId, Uid = 1, Gid = 2, Pid = 3 };
        MemoryMarshal.Write(message, in header);
        body.CopyTo(message, FuseInHeader.Size);
        return message;
    }

    /// <summary>Checks the reply header and returns its error field.</summary>
    private static int Error(byte[] reply, int length, ulong unique)
    {
        Assert.True(length >= FuseOutHeader.Size, $"reply of {length} bytes");
        Assert.Equal((uint)length, BinaryPrimitives.ReadUInt32LittleEndian(reply));
        Assert.Equal(unique, BinaryPrimitives.ReadUInt64LittleEndian(reply.AsSpan(8)));
        return BinaryPrimitives.ReadInt32LittleEndian(reply.AsSpan(4));
    }
}

[CollectionDefinition(SessionMetricsTests.Collection, DisableParallelization = true)]
public sealed class SessionMetricsCollection
{
}

/// <summary>Metrics of the session. The instruments are process-wide, so these tests run with nothing else in parallel.</summary>
[Collection(Collection)]
public sealed class SessionMetricsTests
{
    public const string Collection = "VirtioFs session metrics (not parallel)";

    [Fact]
    public async Task MetricsCountRequestsErrorsAndDurations()
    {
        // The instruments are process-wide: this class runs alone (see the collection), so counts are exact.
        var requests = new ConcurrentDictionary<string, long>();
        var errors = new ConcurrentDictionary<string, long>();
        var durations = new ConcurrentDictionary<string, int>();
        double negativeDuration = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == FuseSessionMetrics.MeterName)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            string opcode = Opcode(tags);
            ConcurrentDictionary<string, long>? target = instrument.Name switch
            {
                "virtiofs.fuse.requests" => requests,
                "virtiofs.fuse.errors" => errors,
                _ => null,
            };
            target?.AddOrUpdate(opcode, value, (_, old) => old + value);
        });
        listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) =>
        {
            if (instrument.Name != "virtiofs.fuse.request.duration")
            {
                return;
            }

            if (value < 0)
            {
                negativeDuration = value;
            }

            durations.AddOrUpdate(Opcode(tags), 1, (_, old) => old + 1);
        });
        listener.Start();

        var fs = new SessionLifecycleTests.CountingFs();
        await using FuseLoopbackHost host = await StartAsync(fs, workers: 2);
        for (int i = 0; i < 3; i++)
        {
            Assert.True((await host.Client.LookupAsync(1, $"n{i + 1}").Bounded()).IsSuccess);
        }

        Assert.Equal(Errno.ENOENT, (await host.Client.LookupAsync(1, "missing").Bounded()).Error);
        Assert.Equal(Errno.ENOSYS, (await host.Client.GetAttrAsync(1).Bounded()).Error);
        await host.Client.ForgetAsync(1, 1).Bounded();

        listener.RecordObservableInstruments();
        Assert.Equal(4, requests.GetValueOrDefault("LOOKUP"));
        Assert.Equal(1, errors.GetValueOrDefault("LOOKUP"));
        Assert.Equal(1, requests.GetValueOrDefault("GETATTR"));
        Assert.Equal(1, errors.GetValueOrDefault("GETATTR"));
        Assert.Equal(1, requests.GetValueOrDefault("FORGET"));
        Assert.Equal(0, errors.GetValueOrDefault("FORGET"));
        Assert.Equal(4, durations.GetValueOrDefault("LOOKUP"));
        Assert.Equal(1, durations.GetValueOrDefault("GETATTR"));
        Assert.Equal(0, negativeDuration);
    }

    [Fact]
    public async Task SuccessfulRequestsAreNotCountedAsErrors()
    {
                long bmapErrors = 0, bmapRequests = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == FuseSessionMetrics.MeterName)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            if (Opcode(tags) != "BMAP")
            {
                return;
            }

            if (instrument.Name == "virtiofs.fuse.errors")
            {
                Interlocked.Add(ref bmapErrors, value);
            }
            else
            {
                Interlocked.Add(ref bmapRequests, value);
            }
        });
        listener.Start();

        await using FuseLoopbackHost host = await StartAsync(new BmapFs(), workers: 1);
        for (int i = 0; i < 5; i++)
        {
            Assert.Equal(7ul, (await host.Client.BmapAsync(1, 1, 512).Bounded()).Value);
        }

        Assert.Equal(5, Interlocked.Read(ref bmapRequests));
        Assert.Equal(0, Interlocked.Read(ref bmapErrors));
    }

    private sealed class BmapFs : FuseFileSystem
    {
        public override ValueTask<FuseResult<ulong>> BmapAsync(FuseRequestContext context, FuseBmapIn args) => new(7ul);
    }

    private static string Opcode(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        foreach (KeyValuePair<string, object?> tag in tags)
        {
            if (tag.Key == "fuse.opcode")
            {
                return tag.Value as string ?? "";
            }
        }

        return "";
    }
}
