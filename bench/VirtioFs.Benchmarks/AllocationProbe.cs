using System.Diagnostics.Tracing;
using System.Runtime.InteropServices;
using VirtioFs.Protocol;
using VirtioFs.Transport;

namespace VirtioFs.Benchmarks;

/// <summary>
/// <c>dotnet run -c Release --project bench/VirtioFs.Benchmarks -- --alloc-probe [requests]</c>: measures bytes allocated
/// per request in steady state (<see cref="GC.GetTotalAllocatedBytes(bool)"/>, all threads, before/after a run), for
/// (1) the whole loopback round trip (client + transport + session), and (2) the session alone, fed by a synchronous
/// in-memory channel with no loopback client; then (3) samples the types allocated during loopback round trips
/// (<c>GCAllocationTick</c> events, one per ~100 KB allocated) to say which component allocates.
/// </summary>
internal static class AllocationProbe
{
    private const int Warmup = 20_000;
    private const ulong FileHandle = 7;

    private enum Op
    {
        GetAttr,
        Lookup,
        Read4K,
        Read128K,
        Write128K,
    }

    public static int Run(ReadOnlySpan<string> args)
    {
        int requests = args.Length > 0 ? int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 100_000;
        Op[] ops = Enum.GetValues<Op>();

        Console.WriteLine($"Steady-state allocation, {requests:N0} requests after {Warmup:N0} warm-up requests (GC.GetTotalAllocatedBytes(precise: true)).");
        Console.WriteLine();
        Console.WriteLine($"{"Request",-14} {"Loopback B/req",15} {"2 streams B/req",16} {"Session only B/req",19}");
        foreach (Op op in ops)
        {
            double loopback = MeasureLoopback(op, requests, streams: 1);
            double twoStreams = MeasureLoopback(op, requests, streams: 2);
            double session = MeasureSessionOnly(op, requests);
            Console.WriteLine($"{op,-14} {loopback,15:F2} {twoStreams,16:F2} {session,19:F2}");
        }

        Console.WriteLine();
        Console.WriteLine("Sampled allocated types during loopback round trips (GCAllocationTick, ~1 sample per 100 KB):");
        foreach (Op op in ops)
        {
            Dictionary<string, int> samples = SampleLoopbackTypes(op, requests);
            string top = samples.Count == 0
                ? "(no samples: under 100 KB allocated)"
                : string.Join("; ", samples.OrderByDescending(p => p.Value).Take(6).Select(p => $"{p.Key} x{p.Value}"));
            Console.WriteLine($"  {op,-10} {top}");
        }

        return 0;
    }

    /// <summary>Bytes per request over the loopback: client, queue, session and the trivial filesystem.</summary>
    private static double MeasureLoopback(Op op, int requests, int streams)
    {
        FuseLoopbackHost host = FuseLoopbackHost.StartAsync(new TrivialFileSystem(), new FuseSessionOptions { WorkersPerChannel = 2 }).GetAwaiter().GetResult();
        try
        {
            var loops = Enumerable.Range(0, streams).Select(_ => new RequestStream(host.Client, op)).ToArray();
            RunStreams(loops, Warmup);
            long before = GC.GetTotalAllocatedBytes(precise: true);
            RunStreams(loops, requests);
            long after = GC.GetTotalAllocatedBytes(precise: true);
            return (after - before) / (double)requests;
        }
        finally
        {
            host.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    private static Dictionary<string, int> SampleLoopbackTypes(Op op, int requests)
    {
        FuseLoopbackHost host = FuseLoopbackHost.StartAsync(new TrivialFileSystem(), new FuseSessionOptions { WorkersPerChannel = 2 }).GetAwaiter().GetResult();
        try
        {
            var loops = new[] { new RequestStream(host.Client, op) };
            RunStreams(loops, Warmup);
            using var sampler = new AllocationSampler();
            RunStreams(loops, requests);
            Thread.Sleep(500); // let the event dispatcher drain
            return sampler.Snapshot();
        }
        finally
        {
            host.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    private static void RunStreams(RequestStream[] streams, int requests)
    {
        int each = requests / streams.Length;
        Task[] tasks = new Task[streams.Length];
        for (int i = 0; i < streams.Length; i++)
        {
            tasks[i] = streams[i].RunAsync(each);
        }

        Task.WaitAll(tasks);
    }

    /// <summary>Bytes per request in the session alone: a synchronous in-memory channel feeds one worker prebuilt requests.</summary>
    private static double MeasureSessionOnly(Op op, int requests)
    {
        var options = new FuseSessionOptions { WorkersPerChannel = 1 };
        var session = new FuseSession(new TrivialFileSystem(), options);
        var channel = new ReplayChannel(options.RequestBufferSize, BuildRequest(op), Warmup, requests);
        session.RunAsync(channel).GetAwaiter().GetResult();
        if (channel.Failures != 0)
        {
            throw new InvalidOperationException($"{op}: {channel.Failures} requests were not answered with success.");
        }

        return (channel.AfterBytes - channel.BeforeBytes) / (double)requests;
    }

    private static byte[] BuildRequest(Op op)
    {
        (FuseOpcode opcode, ulong node, byte[] body) = op switch
        {
            Op.GetAttr => (FuseOpcode.GetAttr, TrivialFileSystem.FileNodeId, Bytes(new FuseGetattrIn())),
            Op.Lookup => (FuseOpcode.Lookup, FuseConstants.RootId, "bench.dat\0"u8.ToArray()),
            Op.Read4K => (FuseOpcode.Read, TrivialFileSystem.FileNodeId, Bytes(new FuseReadIn { Fh = FileHandle, Size = 4096 })),
            Op.Read128K => (FuseOpcode.Read, TrivialFileSystem.FileNodeId, Bytes(new FuseReadIn { Fh = FileHandle, Size = 128 * 1024 })),
            Op.Write128K => (FuseOpcode.Write, TrivialFileSystem.FileNodeId, [.. Bytes(new FuseWriteIn { Fh = FileHandle, Size = 128 * 1024 }), .. new byte[128 * 1024]]),
            _ => throw new ArgumentOutOfRangeException(nameof(op)),
        };
        return Message(opcode, node, body);
    }

    internal static byte[] Message(FuseOpcode opcode, ulong node, byte[] body)
    {
        var header = new FuseInHeader { Len = (uint)(FuseInHeader.Size + body.Length), Opcode = (uint)opcode, Unique = 0, Nodeid = node, Pid = 1 };
        return [.. Bytes(header), .. body];
    }

    internal static byte[] Bytes<T>(T value)
        where T : unmanaged
        => MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in value)).ToArray();

    /// <summary>One request stream over the loopback client; its buffers are allocated once.</summary>
    private sealed class RequestStream(FuseLoopbackClient client, Op op)
    {
        private readonly byte[] _buffer = new byte[128 * 1024];

        public async Task RunAsync(int count)
        {
            for (int i = 0; i < count; i++)
            {
                bool ok = op switch
                {
                    Op.GetAttr => (await client.GetAttrAsync(TrivialFileSystem.FileNodeId).ConfigureAwait(false)).IsSuccess,
                    Op.Lookup => (await client.LookupAsync(FuseConstants.RootId, "bench.dat"u8).ConfigureAwait(false)).IsSuccess,
                    Op.Read4K => (await client.ReadAsync(TrivialFileSystem.FileNodeId, FileHandle, 0, _buffer.AsMemory(0, 4096)).ConfigureAwait(false)).IsSuccess,
                    Op.Read128K => (await client.ReadAsync(TrivialFileSystem.FileNodeId, FileHandle, 0, _buffer).ConfigureAwait(false)).IsSuccess,
                    Op.Write128K => (await client.WriteAsync(TrivialFileSystem.FileNodeId, FileHandle, 0, _buffer).ConfigureAwait(false)).IsSuccess,
                    _ => false,
                };
                if (!ok)
                {
                    throw new InvalidOperationException($"{op} failed.");
                }
            }
        }
    }

    /// <summary>
    /// A synchronous server channel: INIT first, then the same request over and over (each with a fresh unique),
    /// replies checked and dropped. Records the allocation counter after the warm-up and after the measured requests.
    /// </summary>
    private sealed class ReplayChannel(int maxRequestSize, byte[] request, int warmup, int measured) : IFuseChannel
    {
        private static readonly byte[] Init = Message(FuseOpcode.Init, 0, Bytes(new FuseInitIn
        {
            Major = FuseConstants.KernelVersion,
            Minor = FuseConstants.KernelMinorVersion,
            MaxReadahead = 128 * 1024,
            Flags = unchecked((uint)FuseSessionOptions.DefaultCapabilities),
            Flags2 = (uint)((ulong)FuseSessionOptions.DefaultCapabilities >> 32),
        }));

        private long _received;

        public int MaxRequestSize => maxRequestSize;

        public long BeforeBytes { get; private set; }

        public long AfterBytes { get; private set; }

        public int Failures { get; private set; }

        public ValueTask<FuseChannelRequest> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken)
        {
            long n = _received++;
            if (n == 0)
            {
                Init.CopyTo(buffer);
                WriteUnique(buffer.Span, 2);
                return new(new FuseChannelRequest(Init.Length, 4096, 0));
            }

            if (n == 1 + warmup)
            {
                BeforeBytes = GC.GetTotalAllocatedBytes(precise: true);
            }
            else if (n == 1 + warmup + measured)
            {
                AfterBytes = GC.GetTotalAllocatedBytes(precise: true);
                return new(FuseChannelRequest.EndOfStream);
            }

            request.CopyTo(buffer);
            WriteUnique(buffer.Span, (ulong)(n + 1) * 2);
            return new(new FuseChannelRequest(request.Length, FuseSessionOptions.MaxWriteLimit + 4096, n));
        }

        public ValueTask CompleteAsync(FuseChannelRequest request, ReadOnlyMemory<byte> reply, CancellationToken cancellationToken)
        {
            if (reply.Length < FuseOutHeader.Size || MemoryMarshal.Read<FuseOutHeader>(reply.Span).Error != 0)
            {
                Failures++;
            }

            return ValueTask.CompletedTask;
        }

        public ValueTask SendNotificationAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public void Shutdown()
        {
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;

        private static void WriteUnique(Span<byte> message, ulong unique) => MemoryMarshal.Write(message.Slice(8), in unique);
    }

    /// <summary>Counts the types reported by the runtime's <c>GCAllocationTick</c> events (one per ~100 KB allocated).</summary>
    private sealed class AllocationSampler : EventListener
    {
        private readonly Dictionary<string, int> _counts = [];
        private volatile bool _enabled;

        public AllocationSampler()
        {
            _enabled = true;
        }

        public Dictionary<string, int> Snapshot()
        {
            _enabled = false;
            lock (_counts)
            {
                return new Dictionary<string, int>(_counts);
            }
        }

        protected override void OnEventSourceCreated(EventSource eventSource)
        {
            if (eventSource.Name == "Microsoft-Windows-DotNETRuntime")
            {
                EnableEvents(eventSource, EventLevel.Verbose, (EventKeywords)0x1); // GC keyword
            }
        }

        protected override void OnEventWritten(EventWrittenEventArgs eventData)
        {
            if (!_enabled || eventData.EventName is null || !eventData.EventName.StartsWith("GCAllocationTick", StringComparison.Ordinal) || eventData.PayloadNames is null || eventData.Payload is null)
            {
                return;
            }

            int index = eventData.PayloadNames.IndexOf("TypeName");
            string type = index >= 0 ? eventData.Payload[index]?.ToString() ?? "?" : "?";
            lock (_counts)
            {
                _counts[type] = _counts.GetValueOrDefault(type) + 1;
            }
        }
    }
}
