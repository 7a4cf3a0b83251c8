using VirtioFs.Protocol;

namespace VirtioFs.Transport.VhostUser;

/// <summary>
/// One virtio-fs queue (hiprio or a request queue; virtio 1.x "File System Device") as an <see cref="IFuseChannel"/>
/// for one session: each descriptor chain is one request (its readable buffers: <c>fuse_in_header</c> and arguments)
/// and the room for its reply (its writable buffers). Every chain goes back to the guest, with the reply or with
/// length 0.
/// </summary>
/// <remarks>
/// <para>The channel lives as long as its session; the ring under it (<see cref="VhostUserVring"/>) may start and stop
/// meanwhile, and a receiver simply waits while it is stopped. Receivers take turns at the ring: popping is serial
/// anyway, and one waiter per kick source means a coalesced kick can never strand a receiver while chains wait.</para>
/// <para>Receiving blocks its thread (a <c>poll</c> on the kick eventfd), so the session serves the channel from
/// dedicated threads. A guest that breaks the ring ends the channel with <see cref="FuseChannelException"/> (the device
/// is lost, the process is not). Virtio-fs carries no notifications on these queues.</para>
/// </remarks>
internal sealed class VirtioFsQueueChannel : IFuseChannel
{
    private readonly VhostUserVring _vring;
    private readonly Func<bool>? _retired;
    private readonly Lock _receiveTurn = new();
    private volatile bool _shutdown;

    /// <param name="vring">The ring (not owned).</param>
    /// <param name="maxRequestSize">The request buffer size the session uses.</param>
    /// <param name="retired">Whether the session takes no more requests (it handled DESTROY; the ring's next chains are
    /// the next session's), or null.</param>
    public VirtioFsQueueChannel(VhostUserVring vring, int maxRequestSize, Func<bool>? retired = null)
    {
        ArgumentNullException.ThrowIfNull(vring);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRequestSize, FuseInHeader.Size);
        _vring = vring;
        _retired = retired;
        MaxRequestSize = maxRequestSize;
    }

    public int MaxRequestSize { get; }

    public bool ReceiveBlocksThread => true;

    public ValueTask<FuseChannelRequest> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        CancellationTokenRegistration wakeOnCancel = default;
        try
        {
            using (_receiveTurn.EnterScope())
            {
                while (!_shutdown)
                {
                    if (cancellationToken.IsCancellationRequested)
                    {
                        return ValueTask.FromCanceled<FuseChannelRequest>(cancellationToken);
                    }

                    switch (_vring.TryReceive(buffer.Span, _retired, out FuseChannelRequest request, out VirtqueueException? violation))
                    {
                        case VringReceiveStatus.Received:
                            return new(request);
                        case VringReceiveStatus.Broken:
                            return ValueTask.FromException<FuseChannelRequest>(Broken(violation!));
                        case VringReceiveStatus.Idle when cancellationToken.CanBeCanceled && wakeOnCancel == default:
                            // About to wait: the token ends the wait as Shutdown does, by waking the ring. Registered only
                            // now, so a busy queue pays nothing for it; the loop looks again before waiting.
                            wakeOnCancel = cancellationToken.UnsafeRegister(static vring => ((VhostUserVring)vring!).Wake(), _vring);
                            break;
                        default:
                            _vring.Wait();
                            break;
                    }
                }

                return new(FuseChannelRequest.EndOfStream);
            }
        }
        finally
        {
            wakeOnCancel.Dispose();
        }
    }

    public ValueTask CompleteAsync(FuseChannelRequest request, ReadOnlyMemory<byte> reply, CancellationToken cancellationToken)
        => _vring.Complete(request.Token, reply.Span) is { } violation ? ValueTask.FromException(Broken(violation)) : ValueTask.CompletedTask;

    public ValueTask SendNotificationAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken)
        => ValueTask.FromException(new FuseProtocolException("This virtio-fs queue cannot carry notifications.", Errno.ENOSYS));

    public void Shutdown()
    {
        _shutdown = true;
        _vring.Wake();
    }

    public ValueTask DisposeAsync()
    {
        Shutdown();
        return ValueTask.CompletedTask;
    }

    private FuseChannelException Broken(VirtqueueException violation)
        => new($"Virtqueue {_vring.Index} broken by the guest ({violation.Violation}): {violation.Message}", violation);
}
