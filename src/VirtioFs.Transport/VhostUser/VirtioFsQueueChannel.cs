using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using VirtioFs.Protocol;

namespace VirtioFs.Transport.VhostUser;

/// <summary>
/// One virtio-fs queue (hiprio or a request queue; virtio 1.x "File System Device") as an <see cref="IFuseChannel"/>:
/// each descriptor chain is one request (its readable buffers: <c>fuse_in_header</c> and arguments) and the room for
/// its reply (its writable buffers). Every chain goes back to the guest, with the reply or with length 0.
/// </summary>
/// <remarks>
/// <para>Receivers take turns at the ring (a one-slot semaphore): popping is serial anyway, and one waiter per
/// kick source means a coalesced kick can never strand a receiver while chains are waiting.</para>
/// <para>A guest that breaks the ring ends the channel with <see cref="FuseChannelException"/> (the device is lost,
/// the process is not). Virtio-fs carries no notifications on these queues.</para>
/// </remarks>
internal sealed class VirtioFsQueueChannel : IFuseChannel
{
    private readonly SplitVirtqueue _queue;
    private readonly IVirtqueueNotifier _notifier;
    private readonly SemaphoreSlim _receiveTurn = new(1, 1);
    private readonly CancellationTokenSource _shutdown = new();

    /// <param name="queue">The queue (not owned).</param>
    /// <param name="notifier">The queue's kick and call doorbells.</param>
    /// <param name="maxRequestSize">The request buffer size the session uses.</param>
    public VirtioFsQueueChannel(SplitVirtqueue queue, IVirtqueueNotifier notifier, int maxRequestSize)
    {
        ArgumentNullException.ThrowIfNull(queue);
        ArgumentNullException.ThrowIfNull(notifier);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRequestSize, FuseInHeader.Size);
        _queue = queue;
        _notifier = notifier;
        MaxRequestSize = maxRequestSize;
    }

    public int MaxRequestSize { get; }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<FuseChannelRequest> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        CancellationToken shutdown = _shutdown.Token;

        // No token on this wait: a shutdown reaches the receivers queued here through the turn itself (the holder's
        // kick wait is cancelled, it ends and releases the turn, and each next holder finds shutdown set and does the
        // same). A wait with a token costs several allocations per receive when the turn is taken; this costs one.
        await _receiveTurn.WaitAsync().ConfigureAwait(false);
        try
        {
            while (!shutdown.IsCancellationRequested)
            {
                VirtqueuePopStatus status = _queue.TryPop(out DescriptorChain? chain);
                if (status == VirtqueuePopStatus.Popped)
                {
                    if (TryAccept(chain!, buffer.Span, out FuseChannelRequest request))
                    {
                        return request;
                    }

                    continue;
                }

                if (status == VirtqueuePopStatus.Broken)
                {
                    throw Broken();
                }

                if (_queue.EnableNotifications())
                {
                    _queue.DisableNotifications();
                    continue;
                }

                try
                {
                    await _notifier.WaitForKickAsync(shutdown).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (shutdown.IsCancellationRequested)
                {
                    break;
                }

                _queue.DisableNotifications();
            }

            return FuseChannelRequest.EndOfStream;
        }
        finally
        {
            _receiveTurn.Release();
        }
    }

    public ValueTask CompleteAsync(FuseChannelRequest request, ReadOnlyMemory<byte> reply, CancellationToken cancellationToken)
    {
        DescriptorChain chain = FindChain(request.Token);
        ReadOnlySpan<byte> span = reply.Span;
        VirtqueuePushStatus status = _queue.TryComplete(chain, span, out bool signal);
        if (status == VirtqueuePushStatus.ReplyTooLarge)
        {
            // The session never builds a reply beyond ReplyCapacity; should one come anyway, the guest gets EIO for
            // that request rather than a truncated reply or a lost chain.
            // (When the chain has no room even for that header, ErrorReply is empty and the chain goes back unused.)
            status = _queue.TryComplete(chain, ErrorReply(span, chain.WritableLength, stackalloc byte[FuseOutHeader.Size]), out signal);
        }

        if (status == VirtqueuePushStatus.Broken)
        {
            return ValueTask.FromException(Broken());
        }

        if (signal)
        {
            _notifier.SignalCall();
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask SendNotificationAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken)
        => ValueTask.FromException(new FuseProtocolException("This virtio-fs queue cannot carry notifications.", Errno.ENOSYS));

    public void Shutdown() => _shutdown.Cancel();

    public ValueTask DisposeAsync()
    {
        Shutdown();
        return ValueTask.CompletedTask;
    }

    /// <summary>A token names the head (low 16 bits) and the head's pop count, so a stale completion is caught.</summary>
    private static long MakeToken(DescriptorChain chain) => ((long)(uint)chain.Generation << 16) | chain.Head;

    /// <summary>
    /// Copies the chain's request into <paramref name="buffer"/>; false when the chain cannot hold a FUSE request at
    /// all (shorter than <c>fuse_in_header</c>), in which case it was returned empty at once.
    /// </summary>
    private bool TryAccept(DescriptorChain chain, Span<byte> buffer, out FuseChannelRequest request)
    {
        request = default;
        if (chain.ReadableLength < FuseInHeader.Size)
        {
            // Length 0 would read as end of stream, and the session could not even answer it: give it back unused.
            CompleteEmpty(chain);
            return false;
        }

        int copied = _queue.ReadRequest(chain, buffer);
        if (copied < 0)
        {
            throw Broken();
        }

        // A request longer than the buffer is reported at its true length: the session drops it (completing it
        // with no reply) instead of parsing a truncated copy.
        int length = (int)Math.Min(chain.ReadableLength, int.MaxValue);
        // A chain with no writable part is how Linux sends FORGET/BATCH_FORGET (out-only, hiprio queue): the session
        // serves no-reply requests whatever the room, and drops the others when the room cannot hold a reply header.
        int capacity = (int)Math.Min(chain.WritableLength, int.MaxValue);
        request = new FuseChannelRequest(length, capacity, MakeToken(chain));
        return true;
    }

    private void CompleteEmpty(DescriptorChain chain)
    {
        if (_queue.TryComplete(chain, [], out bool signal) == VirtqueuePushStatus.Broken)
        {
            throw Broken();
        }

        if (signal)
        {
            _notifier.SignalCall();
        }
    }

    private DescriptorChain FindChain(long token)
    {
        DescriptorChain? chain = token >= 0 ? _queue.ChainAt((ushort)token) : null;
        if (chain is null || !chain.InFlight || chain.Generation != (int)(uint)(token >> 16))
        {
            throw new FuseChannelException($"Virtqueue: no chain in flight has token {token}.");
        }

        return chain;
    }

    /// <summary>An out header carrying EIO for the request the oversized reply answered, or nothing when even that does not fit.</summary>
    private static ReadOnlySpan<byte> ErrorReply(ReadOnlySpan<byte> reply, ulong capacity, Span<byte> scratch)
    {
        if (capacity < FuseOutHeader.Size || reply.Length < FuseOutHeader.Size)
        {
            return [];
        }

        var header = new FuseOutHeader
        {
            Len = FuseOutHeader.Size,
            Error = -(int)Errno.EIO,
            Unique = MemoryMarshal.Read<FuseOutHeader>(reply).Unique,
        };
        MemoryMarshal.Write(scratch, in header);
        return scratch;
    }

    private FuseChannelException Broken()
    {
        var inner = new VirtqueueException(_queue.Violation, _queue.ViolationMessage ?? "The virtqueue is broken.");
        return new FuseChannelException($"Virtqueue broken by the guest: {inner.Message}", inner);
    }
}
