using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading.Channels;
using VirtioFs.Protocol;

namespace VirtioFs.Transport;

/// <summary>
/// The state two ends of a loopback pair share: the request queue (client → server), the table of pending
/// client requests (indexed by the token the server hands back), and the notification queue (server → client).
/// </summary>
internal sealed class LoopbackPair
{
    private readonly Lock _pendingLock = new();
    private readonly Stack<PendingRequest> _free = new();

    // Grown copy-on-write under the lock and read without it: server workers look requests up on every reply.
    private PendingRequest[] _table = [];
    private int _closed;

    public LoopbackPair(int maxRequestSize)
    {
        MaxRequestSize = maxRequestSize;
    }

    public int MaxRequestSize { get; }

    public LoopbackQueue Requests { get; } = new();

    public Channel<FuseNotificationMessage> Notifications { get; } = Channel.CreateUnbounded<FuseNotificationMessage>();

    public bool IsClosed => Volatile.Read(ref _closed) != 0;

    public PendingRequest Rent(int requestSize, int replySize)
    {
        PendingRequest pending;
        lock (_pendingLock)
        {
            if (!_free.TryPop(out pending!))
            {
                pending = new PendingRequest(_table.Length);
                Volatile.Write(ref _table, [.. _table, pending]);
            }
        }

        pending.Prepare(requestSize, replySize);
        return pending;
    }

    public void Return(PendingRequest pending)
    {
        lock (_pendingLock)
        {
            _free.Push(pending);
        }
    }

    public PendingRequest? Find(long token)
    {
        PendingRequest[] table = Volatile.Read(ref _table);
        return (ulong)token < (ulong)table.Length ? table[(int)token] : null;
    }

    /// <summary>Closes both directions; requests no server worker took are failed.</summary>
    public void Close()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return;
        }

        foreach (LoopbackMessage orphan in Requests.Close())
        {
            Find(orphan.Token)?.Fail(new FuseChannelException("The loopback channel was shut down before the request was served."));
        }

        Notifications.Writer.TryComplete();
    }
}

/// <summary>The server end of a loopback pair.</summary>
internal sealed class LoopbackServerChannel(LoopbackPair pair) : IFuseChannel
{
    public int MaxRequestSize => pair.MaxRequestSize;

    /// <remarks>The wait is ended by <see cref="Shutdown"/>; the token is checked only on entry, so that waiting allocates nothing.</remarks>
    public ValueTask<FuseChannelRequest> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<FuseChannelRequest>(cancellationToken);
        }

        ValueTask<LoopbackMessage> next = pair.Requests.DequeueAsync(buffer);
        return next.IsCompletedSuccessfully ? new(ToRequest(next.Result)) : AwaitAsync(next);
    }

    public ValueTask CompleteAsync(FuseChannelRequest request, ReadOnlyMemory<byte> reply, CancellationToken cancellationToken)
    {
        PendingRequest? pending = pair.Find(request.Token);
        if (pending is null)
        {
            return ValueTask.FromException(new FuseChannelException($"Loopback: no pending request has token {request.Token}."));
        }

        ReadOnlySpan<byte> span = reply.Span;
        if (span.Length >= FuseOutHeader.Size && MemoryMarshal.Read<FuseOutHeader>(span).Unique != pending.Unique)
        {
            pending.Fail(new FuseProtocolException($"Loopback: the reply's unique does not match request {pending.Unique}.", Errno.EPROTO));
        }
        else
        {
            pending.Complete(span);
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask SendNotificationAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken)
    {
        if (message.Length < FuseOutHeader.Size)
        {
            return ValueTask.FromException(new ArgumentException("A notification needs a whole fuse_out_header.", nameof(message)));
        }

        FuseOutHeader header = MemoryMarshal.Read<FuseOutHeader>(message.Span);
        var notification = new FuseNotificationMessage((FuseNotifyCode)header.Error, message.Slice(FuseOutHeader.Size).ToArray());
        return pair.Notifications.Writer.TryWrite(notification)
            ? ValueTask.CompletedTask
            : ValueTask.FromException(new FuseChannelException("The loopback channel is closed."));
    }

    public void Shutdown() => pair.Close();

    public ValueTask DisposeAsync()
    {
        pair.Close();
        return ValueTask.CompletedTask;
    }

    private static FuseChannelRequest ToRequest(LoopbackMessage message)
        => message.Buffer is null ? FuseChannelRequest.EndOfStream : new FuseChannelRequest(message.Length, message.ReplyCapacity, message.Token);

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private static async ValueTask<FuseChannelRequest> AwaitAsync(ValueTask<LoopbackMessage> next)
        => ToRequest(await next.ConfigureAwait(false));
}

/// <summary>A notification the server sent: its code and body (the bytes after <c>fuse_out_header</c>).</summary>
/// <param name="Code">The notify code.</param>
/// <param name="Body">The notification's body.</param>
public sealed record FuseNotificationMessage(FuseNotifyCode Code, byte[] Body);
