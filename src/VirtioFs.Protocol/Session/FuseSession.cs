using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace VirtioFs.Protocol;

/// <summary>
/// Serves a <see cref="FuseFileSystem"/> over one or more <see cref="IFuseChannel"/>s: negotiates INIT, decodes and
/// validates each request, calls the filesystem, encodes the reply, and carries notifications (<see cref="Notifier"/>).
/// </summary>
/// <remarks>
/// <para>Each channel is served by <see cref="FuseSessionOptions.WorkersPerChannel"/> workers, each with its own request
/// and reply buffers, so no lock is shared by all workers on the request path and steady-state requests allocate nothing.</para>
/// <para>Malformed requests are answered with an errno (<see cref="Errno.EINVAL"/>, or <see cref="Errno.EIO"/> when the
/// request cannot be understood) or dropped when no reply is possible; nothing a client sends makes the session throw.
/// Exceptions from the filesystem are logged and answered with <see cref="Errno.EIO"/>.</para>
/// </remarks>
public sealed partial class FuseSession
{
    private readonly FuseFileSystem _fileSystem;
    private readonly FuseSessionOptions _options;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _stateLock = new();
    private readonly List<IFuseChannel> _channels = [];
    private readonly ConcurrentBag<FuseWorker> _spareWorkers = [];
    private readonly ConcurrentBag<FuseWorker> _spareChannelWorkers = [];
    private readonly TaskCompletionSource _pendingDrained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _pendingCount;
    private int _spareChannelWorkerCount;
    private readonly EarlyInterrupts _earlyInterrupts = new(capacity: 1024);
    private InFlightSlot[] _slots = [];
    private volatile FuseConnectionInfo? _connection;
    private int _destroyed;

    /// <summary>Creates a session.</summary>
    /// <param name="fileSystem">The filesystem to serve.</param>
    /// <param name="options">Negotiation and serving options; defaults when null. Not copied: do not change them while the session runs.</param>
    /// <param name="logger">Where errors, and at <see cref="LogLevel.Debug"/> every request and reply, are logged.</param>
    public FuseSession(FuseFileSystem fileSystem, FuseSessionOptions? options = null, ILogger<FuseSession>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(fileSystem);
        _fileSystem = fileSystem;
        _options = options ?? new FuseSessionOptions();
        _logger = logger ?? (ILogger)NullLogger.Instance;
        Notifier = new FuseNotifier(this);
    }

    /// <summary>The negotiated connection, or null before INIT completes.</summary>
    public FuseConnectionInfo? Connection => _connection;

    /// <summary>The options this session runs with.</summary>
    public FuseSessionOptions Options => _options;

    /// <summary>Sends notifications (invalidations, store, retrieve, poll wake-ups, …) to the client.</summary>
    public FuseNotifier Notifier { get; }

    /// <summary>Whether the client ended the session with <c>FUSE_DESTROY</c>.</summary>
    public bool IsDestroyed => Volatile.Read(ref _destroyed) != 0;

    /// <summary>Serves one channel until it closes, the client sends <c>DESTROY</c>, <see cref="Stop"/> is called or <paramref name="cancellationToken"/> fires.</summary>
    /// <param name="channel">The channel.</param>
    /// <param name="cancellationToken">Stops serving.</param>
    /// <returns>A task that completes when serving has ended.</returns>
    /// <exception cref="FuseChannelException">The channel failed.</exception>
    public Task RunAsync(IFuseChannel channel, CancellationToken cancellationToken = default)
        => RunAsync([channel], cancellationToken);

    /// <summary>Serves several channels (for example cloned <c>/dev/fuse</c> descriptors or virtio request queues) as one session.</summary>
    /// <param name="channels">The channels; at least one.</param>
    /// <param name="cancellationToken">Stops serving.</param>
    /// <returns>A task that completes when serving has ended on every channel.</returns>
    /// <exception cref="FuseChannelException">A channel failed; the others were stopped.</exception>
    public async Task RunAsync(IReadOnlyList<IFuseChannel> channels, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(channels);
        if (channels.Count == 0)
        {
            ThrowHelper.ThrowArgument(nameof(channels), "At least one channel is needed.");
        }

        lock (_stateLock)
        {
            _channels.AddRange(channels);
        }

        using CancellationTokenRegistration registration = cancellationToken.Register(static s => ((FuseSession)s!).Stop(), this);
        var loops = new List<Task>(channels.Count * _options.WorkersPerChannel);
        foreach (IFuseChannel channel in channels)
        {
            for (int i = 0; i < _options.WorkersPerChannel; i++)
            {
                FuseWorker worker = CreateWorker(_options.RequestBufferSize, _options.ReplyBufferSize);
                loops.Add(channel.ReceiveBlocksThread ? StartBlockingWorker(channel, worker, loops.Count) : Task.Run(() => WorkerLoopAsync(channel, worker)));
            }
        }

        try
        {
            await Task.WhenAll(loops).ConfigureAwait(false);
        }
        finally
        {
            lock (_stateLock)
            {
                foreach (IFuseChannel channel in channels)
                {
                    _channels.Remove(channel);
                }
            }

            // Requests set aside still run (their tokens are cancelled): the filesystem is destroyed after them.
            Stop();
            if (Volatile.Read(ref _pendingCount) != 0)
            {
                await _pendingDrained.Task.ConfigureAwait(false);
            }

            EndSession();
        }
    }

    /// <summary>Stops serving: every channel is shut down and in-flight requests see their tokens cancelled.</summary>
    public void Stop()
    {
        if (_stop.IsCancellationRequested)
        {
            return;
        }

        _stop.Cancel();
        IFuseChannel[] channels;
        lock (_stateLock)
        {
            channels = [.. _channels];
        }

        foreach (IFuseChannel channel in channels)
        {
            channel.Shutdown();
        }

        foreach (InFlightSlot slot in Volatile.Read(ref _slots))
        {
            slot.CancelAll();
        }
    }

    /// <summary>
    /// Handles one request: the single entry point between transports and the protocol. Decodes
    /// <paramref name="request"/>, calls the filesystem, and writes the reply into <paramref name="reply"/>.
    /// </summary>
    /// <param name="request">One whole request message (header included).</param>
    /// <param name="reply">Room for the reply; its length bounds the reply (a larger one is answered with <see cref="Errno.ERANGE"/>).</param>
    /// <returns>The reply's length, or 0 when the request gets no reply.</returns>
    /// <exception cref="ArgumentException"><paramref name="reply"/> is shorter than a reply header (16 bytes).</exception>
    public async ValueTask<int> HandleRequestAsync(ReadOnlyMemory<byte> request, Memory<byte> reply)
    {
        if (reply.Length < FuseReplyWriter.HeaderSize)
        {
            ThrowHelper.ThrowArgument(nameof(reply), "The reply room must hold at least a 16-byte fuse_out_header.");
        }

        if (!_spareWorkers.TryTake(out FuseWorker? worker))
        {
            // The caller brings the buffers: this worker only needs its interrupt slot and directory writer.
            worker = CreateWorker(0, 0);
        }

        try
        {
            return await HandleAsync(worker, request, reply).ConfigureAwait(false);
        }
        finally
        {
            _spareWorkers.Add(worker);
        }
    }

    internal IFuseChannel? NotificationChannel
    {
        get
        {
            lock (_stateLock)
            {
                return _channels.Count > 0 ? _channels[0] : null;
            }
        }
    }

    private FuseWorker CreateWorker(int requestSize, int replySize)
    {
        var slot = new InFlightSlot();
        lock (_stateLock)
        {
            _slots = [.. _slots, slot];
        }

        return new FuseWorker(requestSize, replySize, slot);
    }

    private async Task WorkerLoopAsync(IFuseChannel channel, FuseWorker worker)
    {
        CancellationToken stop = _stop.Token;
        try
        {
            for (FuseWorker? current = worker; current is not null && !stop.IsCancellationRequested;)
            {
                current = await ServeOneAsync(channel, current, stop).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (IsEndOfLoop(ex, stop))
        {
        }
    }

    /// <summary>A worker on its own thread, for channels whose receive blocks the thread (as libfuse's workers do).</summary>
    private Task StartBlockingWorker(IFuseChannel channel, FuseWorker worker, int index)
    {
        var completion = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            CancellationToken stop = _stop.Token;
            try
            {
                for (FuseWorker? current = worker; current is not null && !stop.IsCancellationRequested;)
                {
                    ValueTask<FuseWorker?> served = ServeOneAsync(channel, current, stop);
                    current = served.IsCompletedSuccessfully ? served.Result : served.AsTask().GetAwaiter().GetResult();
                }

                completion.SetResult();
            }
            catch (Exception ex) when (IsEndOfLoop(ex, stop))
            {
                completion.SetResult();
            }
            catch (Exception ex)
            {
                completion.SetException(ex);
            }
        })
        {
            IsBackground = true,
            Name = $"fuse-worker-{index}",
        };
        thread.Start();
        return completion.Task;
    }

    /// <summary>
    /// Receives, handles and completes one request. Returns the worker to serve the next request with: this one, or a
    /// spare one when the filesystem call did not complete at once and was set aside to finish on its own; null at end
    /// of stream or after DESTROY.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<FuseWorker?> ServeOneAsync(IFuseChannel channel, FuseWorker worker, CancellationToken stop)
    {
        FuseChannelRequest received = await channel.ReceiveAsync(worker.Request, stop).ConfigureAwait(false);
        if (received.IsEndOfStream)
        {
            // The connection is gone (closed, unmounted, aborted): stop every worker and cancel what is in flight.
            Stop();
            return null;
        }

        int room = Math.Min(received.ReplyCapacity, worker.Reply.Length);
        bool fits = room >= FuseReplyWriter.HeaderSize;
        ValueTask<int> handled = new(0);
        if (received.Length <= worker.Request.Length && (fits || IsNoReply(worker.Request.AsSpan(0, received.Length))))
        {
            // FORGET and BATCH_FORGET come without reply room over virtio-fs (out-only chains on the hiprio queue):
            // whatever the session would answer for a malformed one goes to the worker's own buffer and is never sent.
            handled = HandleAsync(worker, worker.Request.AsMemory(0, received.Length), fits ? worker.Reply.AsMemory(0, room) : worker.Reply);
        }
        else
        {
            Log.RequestDropped(_logger, received.Length, received.ReplyCapacity);
        }

        if (!handled.IsCompleted && TrySetAside())
        {
            _ = CompleteSetAsideAsync(channel, worker, received, handled);
            return RentChannelWorker();
        }

        int length = await handled.ConfigureAwait(false);
        return await CompleteAsync(channel, worker, received, fits ? length : 0).ConfigureAwait(false) ? worker : null;
    }

    /// <summary>Whether <paramref name="request"/> carries an opcode that is never answered (FORGET, BATCH_FORGET, INTERRUPT, …).</summary>
    private static bool IsNoReply(ReadOnlySpan<byte> request)
        => request.Length >= FuseInHeader.Size
            && FuseOpcodeTable.Get(BinaryPrimitives.ReadUInt32LittleEndian(request.Slice(FuseRequestParser.OpcodeOffset))) is { NoReply: true };

    /// <summary>Sends the reply; false when the session is over (DESTROY handled).</summary>
    private async ValueTask<bool> CompleteAsync(IFuseChannel channel, FuseWorker worker, FuseChannelRequest received, int length)
    {
        await channel.CompleteAsync(received, worker.Reply.AsMemory(0, length), CancellationToken.None).ConfigureAwait(false);
        if (IsDestroyed)
        {
            Stop();
            return false;
        }

        return true;
    }

    /// <summary>Counts one more request set aside, unless <see cref="FuseSessionOptions.MaxPendingRequests"/> are already.</summary>
    private bool TrySetAside()
    {
        if (Volatile.Read(ref _pendingCount) >= _options.MaxPendingRequests)
        {
            return false;
        }

        Interlocked.Increment(ref _pendingCount);
        return true;
    }

    /// <summary>Finishes a request set aside: waits for the filesystem, sends the reply and gives the buffers back.</summary>
    private async Task CompleteSetAsideAsync(IFuseChannel channel, FuseWorker worker, FuseChannelRequest received, ValueTask<int> handled)
    {
        CancellationToken stop = _stop.Token;
        try
        {
            await CompleteAsync(channel, worker, received, await handled.ConfigureAwait(false)).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsEndOfLoop(ex, stop))
        {
        }
        catch (Exception ex)
        {
            // Anything else is a bug of ours; the request's caller has lost its reply, so end the session loudly.
            Log.ChannelFailed(_logger, ex);
            Stop();
        }
        finally
        {
            ReturnChannelWorker(worker);
            if (Interlocked.Decrement(ref _pendingCount) == 0 && _stop.IsCancellationRequested)
            {
                _pendingDrained.TrySetResult();
            }
        }
    }

    /// <summary>A worker with channel-sized buffers for a loop whose own worker was set aside with its request.</summary>
    private FuseWorker RentChannelWorker()
    {
        if (_spareChannelWorkers.TryTake(out FuseWorker? spare))
        {
            Interlocked.Decrement(ref _spareChannelWorkerCount);
            return spare;
        }

        return CreateWorker(_options.RequestBufferSize, _options.ReplyBufferSize);
    }

    /// <summary>Keeps a few spare workers for the next burst; the buffers of the others go back to the GC.</summary>
    private void ReturnChannelWorker(FuseWorker worker)
    {
        if (Interlocked.Increment(ref _spareChannelWorkerCount) <= _options.WorkersPerChannel)
        {
            _spareChannelWorkers.Add(worker);
            return;
        }

        Interlocked.Decrement(ref _spareChannelWorkerCount);
        lock (_stateLock)
        {
            _slots = Array.FindAll(_slots, slot => slot != worker.Slot);
        }
    }

    /// <summary>Whether a loop's exception just ends it (a cancellation after stop); a channel failure is logged and stops the session first.</summary>
    private bool IsEndOfLoop(Exception ex, CancellationToken stop)
    {
        if (ex is not (FuseChannelException or OperationCanceledException))
        {
            return false;
        }

        if (stop.IsCancellationRequested)
        {
            return true;
        }

        Log.ChannelFailed(_logger, ex);
        Stop();
        return false;
    }

    private void EndSession()
    {
        Stop();
        if (_connection is not null && Interlocked.Exchange(ref _destroyed, 1) == 0)
        {
            CallDestroy();
        }
    }

    private void CallDestroy()
    {
        try
        {
            // Mappings go first: the filesystem may close the files they map.
            _options.MappingServer?.Reset();
        }
        catch (Exception ex)
        {
            Log.FileSystemThrew(_logger, "DESTROY (mapping reset)", 0, ex);
        }

        try
        {
            _fileSystem.Destroy();
        }
        catch (Exception ex)
        {
            Log.FileSystemThrew(_logger, "DESTROY", 0, ex);
        }
    }

    /// <summary>A worker's private state: buffers, the directory writer and its interrupt slot.</summary>
    private sealed class FuseWorker(int requestSize, int replySize, InFlightSlot slot)
    {
        public byte[] Request { get; } = GC.AllocateUninitializedArray<byte>(requestSize, pinned: true);

        public byte[] Reply { get; } = GC.AllocateUninitializedArray<byte>(replySize, pinned: true);

        public FuseDirectoryWriter Directory { get; } = new();

        public InFlightSlot Slot { get; } = slot;
    }
}
