using Microsoft.Win32.SafeHandles;
using VirtioFs.Protocol;

namespace VirtioFs.Transport.VhostUser;

/// <summary>What <see cref="VhostUserVring.TryReceive"/> found.</summary>
internal enum VringReceiveStatus
{
    /// <summary>A request was copied out.</summary>
    Received,

    /// <summary>Nothing to serve now (no chain available, or the ring is not running): wait.</summary>
    Idle,

    /// <summary>The guest broke the ring.</summary>
    Broken,
}

/// <summary>
/// One vring of a vhost-user device: what the VMM configured (size, addresses, base, kick/call/err eventfds, enable),
/// and, while it runs, the <see cref="SplitVirtqueue"/> attached to it.
/// </summary>
/// <remarks>
/// <para>Configuration is changed by the message thread only. The data path (<see cref="TryReceive"/>,
/// <see cref="Complete"/>) and <see cref="Attach"/>/<see cref="Detach"/> exclude each other by one lock per vring,
/// held for one pop or one push, so a detached queue is never touched again. Completions of chains popped before a
/// detach are dropped: the VMM took the ring back (<c>GET_VRING_BASE</c>) and its position with it.</para>
/// <para>Waiting (<see cref="Wait"/>) polls the kick eventfd and a private wake eventfd, which attach, detach and
/// channel shutdown signal.</para>
/// <para>A session that handled DESTROY takes no more chains from the ring: what the guest posts next is the next
/// mount's INIT, for the next session. A chain such a session's receiver popped anyway is handed over to the next
/// receiver.</para>
/// </remarks>
internal sealed class VhostUserVring : IDisposable
{
    private readonly Lock _lock = new();
    private readonly SafeFileHandle _wake = EventFd.Create();
    private SplitVirtqueue? _queue;
    private readonly ManualResetEventSlim _drained = new(initialState: true);
    private DescriptorChain? _handedOver;
    private int _epoch;
    private int _inFlight;
    private bool _stopping;
    private SafeFileHandle? _kick;
    private volatile SafeFileHandle? _call;
    private SafeFileHandle? _err;

    public VhostUserVring(int index) => Index = index;

    public int Index { get; }

    /// <summary>Queue size from <c>SET_VRING_NUM</c>, or 0.</summary>
    public int Size { get; set; }

    /// <summary>Ring addresses from <c>SET_VRING_ADDR</c>, or null.</summary>
    public VringAddress? Address { get; set; }

    /// <summary>The next available index to serve from <c>SET_VRING_BASE</c>.</summary>
    public ushort Base { get; set; }

    /// <summary>Enabled by <c>SET_VRING_ENABLE</c> (or from the start without protocol features).</summary>
    public bool Enabled { get; set; }

    /// <summary>Whether a kick eventfd was given since the ring last stopped.</summary>
    public bool HasKick => _kick is not null;

    /// <summary>Whether a queue is attached (the ring runs).</summary>
    public bool IsRunning
    {
        get
        {
            lock (_lock)
            {
                return _queue is not null;
            }
        }
    }

    /// <summary>Replaces the kick eventfd (the old one is closed).</summary>
    public void SetKick(SafeFileHandle? fd)
    {
        lock (_lock)
        {
            _kick?.Dispose();
            _kick = fd;
        }

        Wake();
    }

    /// <summary>Replaces the call eventfd; may happen while the ring runs (interrupt masking in the VMM). Null: never call.</summary>
    public void SetCall(SafeFileHandle? fd) => Interlocked.Exchange(ref _call, fd)?.Dispose();

    /// <summary>Replaces the err eventfd.</summary>
    public void SetErr(SafeFileHandle? fd)
    {
        lock (_lock)
        {
            _err?.Dispose();
            _err = fd;
        }
    }

    /// <summary>Starts the ring over <paramref name="memory"/> with its configuration.</summary>
    /// <exception cref="VirtqueueException">The size or an address is invalid for this memory.</exception>
    public void Attach(GuestMemory memory, bool indirect, bool eventIndex)
    {
        VringAddress address = Address ?? throw new InvalidOperationException("The ring has no address.");
        var queue = new SplitVirtqueue(memory, Size, address.Descriptor, address.Available, address.Used, indirect, eventIndex, Base);
        lock (_lock)
        {
            _queue?.Dispose();
            _queue = queue;
            _handedOver = null;
            _epoch++;
        }

        Wake();
    }

    /// <summary>
    /// Stops the ring: no more chains are taken, the requests in flight get up to <paramref name="drain"/> to be answered
    /// (their replies are the guest's, and the position returned counts them as served), then the queue is detached,
    /// and with <paramref name="closeKick"/> the kick eventfd closed too (<c>GET_VRING_BASE</c>; a disabled ring keeps
    /// it for when it is enabled again).
    /// </summary>
    /// <param name="closeKick">Whether the kick eventfd goes too.</param>
    /// <param name="drain">How long to wait for requests in flight; zero when the guest is gone (disconnect, reset).</param>
    /// <param name="abandoned">Requests still unanswered when the queue was detached (their replies are dropped).</param>
    /// <returns>The next available index to serve (the queue's, or the configured base when it never ran).</returns>
    public ushort Detach(bool closeKick, TimeSpan drain, out int abandoned)
    {
        bool wait = false;
        if (drain > TimeSpan.Zero)
        {
            lock (_lock)
            {
                // A broken ring delivers no reply any more: nothing to wait for.
                if (_queue is { IsBroken: false } && _inFlight > 0)
                {
                    _stopping = true;
                    _drained.Reset();
                    wait = true;
                }
            }
        }

        if (wait)
        {
            _drained.Wait(drain);
        }

        lock (_lock)
        {
            abandoned = _queue is null ? 0 : _inFlight;
            if (_queue is not null)
            {
                // A chain popped for the next session goes back empty rather than vanish with the position.
                if (_handedOver is { } handedOver)
                {
                    _ = _queue.TryComplete(handedOver, [], out _);
                }

                Base = _queue.LastAvailIndex;
                _queue.Dispose();
                _queue = null;
                _handedOver = null;
                _epoch++;
            }

            _inFlight = 0;
            _stopping = false;
            if (closeKick)
            {
                _kick?.Dispose();
                _kick = null;
            }
        }

        Wake();
        return Base;
    }

    /// <summary>Forgets the configuration (device reset): stops the ring and closes every descriptor.</summary>
    public void Reset()
    {
        Detach(closeKick: true, TimeSpan.Zero, out _);
        SetCall(null);
        SetErr(null);
        Size = 0;
        Address = null;
        Base = 0;
        Enabled = false;
    }

    /// <summary>Pops the next chain and copies its request into <paramref name="buffer"/>.</summary>
    /// <param name="buffer">Where the request goes.</param>
    /// <param name="retired">Whether the receiver's session takes no more requests (it handled DESTROY): then nothing is received.</param>
    /// <param name="request">The request received.</param>
    /// <param name="violation">How the guest broke the ring.</param>
    public VringReceiveStatus TryReceive(Span<byte> buffer, Func<bool>? retired, out FuseChannelRequest request, out VirtqueueException? violation)
    {
        request = default;
        violation = null;
        bool signal = false;
        try
        {
            lock (_lock)
            {
                SplitVirtqueue? queue = _queue;
                while (queue is not null && !_stopping)
                {
                    if (retired is not null && retired())
                    {
                        return VringReceiveStatus.Idle;
                    }

                    DescriptorChain? chain = _handedOver;
                    _handedOver = null;
                    VirtqueuePopStatus status = chain is null ? queue.TryPop(out chain) : VirtqueuePopStatus.Popped;
                    if (status == VirtqueuePopStatus.Popped && retired is not null && retired())
                    {
                        // DESTROY was handled while we popped: the guest may have posted this after seeing its reply.
                        _handedOver = chain;
                        return VringReceiveStatus.Idle;
                    }

                    switch (status)
                    {
                        case VirtqueuePopStatus.Popped:
                            if (chain!.ReadableLength < FuseInHeader.Size)
                            {
                                // Length 0 would read as end of stream, and the session could not even answer it.
                                if (queue.TryComplete(chain, [], out bool wants) == VirtqueuePushStatus.Broken)
                                {
                                    return Broken(queue, out violation);
                                }

                                signal |= wants;
                                continue;
                            }

                            if (queue.ReadRequest(chain, buffer) < 0)
                            {
                                return Broken(queue, out violation);
                            }

                            // A request longer than the buffer is reported at its true length: the session drops it
                            // (returning the chain with no reply) instead of parsing a truncated copy. A chain with no
                            // writable part is how Linux sends FORGET on the hiprio queue: the session serves no-reply
                            // requests whatever the room.
                            request = new FuseChannelRequest(
                                (int)Math.Min(chain.ReadableLength, int.MaxValue),
                                (int)Math.Min(chain.WritableLength, int.MaxValue),
                                MakeToken(chain));
                            _inFlight++;
                            return VringReceiveStatus.Received;
                        case VirtqueuePopStatus.Broken:
                            return Broken(queue, out violation);
                        default:
                            if (!queue.EnableNotifications())
                            {
                                return VringReceiveStatus.Idle;
                            }

                            queue.DisableNotifications();
                            break;
                    }
                }

                return VringReceiveStatus.Idle;
            }
        }
        finally
        {
            if (signal)
            {
                SignalCall();
            }
        }
    }

    /// <summary>Returns a chain with its reply (or none). A chain of a queue since detached is dropped.</summary>
    /// <returns>Null, or the violation when the guest broke the ring meanwhile.</returns>
    public VirtqueueException? Complete(long token, ReadOnlySpan<byte> reply)
    {
        bool signal;
        lock (_lock)
        {
            SplitVirtqueue? queue = _queue;
            if (queue is null || (ushort)(token >> 48) != (ushort)_epoch)
            {
                return null;
            }

            DescriptorChain? chain = queue.ChainAt((ushort)token);
            if (chain is null || !chain.InFlight || chain.Generation != (int)(uint)(token >> 16))
            {
                throw new FuseChannelException($"Virtqueue {Index}: no chain in flight has token {token}.");
            }

            VirtqueuePushStatus status = queue.TryComplete(chain, reply, out signal);
            if (status == VirtqueuePushStatus.ReplyTooLarge)
            {
                // The session never builds a reply beyond the room it was given; should one come anyway, the guest
                // gets EIO for that request rather than a truncated reply or a lost chain.
                status = queue.TryComplete(chain, ErrorReply(reply, chain.WritableLength, stackalloc byte[FuseOutHeader.Size]), out signal);
            }

            // The chain is no longer in flight either way: a stop draining the ring must not wait for it.
            if (--_inFlight == 0 && _stopping)
            {
                _drained.Set();
            }

            if (status == VirtqueuePushStatus.Broken)
            {
                return Violation(queue);
            }
        }

        if (signal)
        {
            SignalCall();
        }

        return null;
    }

    /// <summary>
    /// Blocks until the guest kicks or the ring's state changes (<see cref="Wake"/>); returns at once when the ring has no
    /// kick eventfd but then only after a wake.
    /// </summary>
    public unsafe void Wait()
    {
        SafeFileHandle? kick;
        bool added = false;
        lock (_lock)
        {
            kick = _queue is not null ? _kick : null;
            kick?.DangerousAddRef(ref added);
        }

        try
        {
            bool wakeAdded = false;
            _wake.DangerousAddRef(ref wakeAdded);
            try
            {
                Interop.PollFd* fds = stackalloc Interop.PollFd[2];
                fds[0] = new Interop.PollFd { Fd = (int)_wake.DangerousGetHandle(), Events = Interop.POLLIN };
                fds[1] = new Interop.PollFd { Fd = kick is null ? -1 : (int)kick.DangerousGetHandle(), Events = Interop.POLLIN };
                int ready = Interop.Poll(fds, 2, -1);
                if (ready <= 0)
                {
                    return;
                }

                if ((fds[0].ReturnedEvents & Interop.POLLIN) != 0)
                {
                    EventFd.Drain(_wake);
                }

                if ((fds[1].ReturnedEvents & Interop.POLLIN) != 0)
                {
                    EventFd.Drain(kick!);
                }
            }
            finally
            {
                _wake.DangerousRelease();
            }
        }
        finally
        {
            if (added)
            {
                kick!.DangerousRelease();
            }
        }

        lock (_lock)
        {
            _queue?.DisableNotifications();
        }
    }

    /// <summary>Ends a <see cref="Wait"/> in progress (or the next one).</summary>
    public void Wake() => EventFd.Signal(_wake);

    /// <summary>Interrupts the guest: used buffers are ready.</summary>
    public void SignalCall()
    {
        if (_call is { } call)
        {
            try
            {
                EventFd.Signal(call);
            }
            catch (ObjectDisposedException)
            {
                // Replaced meanwhile: the VMM's new descriptor gets the next call.
            }
        }
    }

    /// <summary>When the guest broke this ring, tells the VMM (its err eventfd, shown by QEMU as "vhost vring error").</summary>
    public void SignalErrorIfBroken()
    {
        lock (_lock)
        {
            if (_queue is { IsBroken: true } && _err is { } err)
            {
                EventFd.Signal(err);
            }
        }
    }

    public void Dispose()
    {
        Reset();
        _wake.Dispose();
        _drained.Dispose();
    }

    /// <summary>A token names the queue's attach epoch (bits 48-63), the chain's pop count (16-47) and its head (0-15), so a stale completion is caught.</summary>
    private long MakeToken(DescriptorChain chain) => ((long)(ushort)_epoch << 48) | ((long)(uint)chain.Generation << 16) | chain.Head;

    private static VringReceiveStatus Broken(SplitVirtqueue queue, out VirtqueueException violation)
    {
        violation = Violation(queue);
        return VringReceiveStatus.Broken;
    }

    private static VirtqueueException Violation(SplitVirtqueue queue) => new(queue.Violation, queue.ViolationMessage ?? "The virtqueue is broken.");

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
            Unique = System.Runtime.InteropServices.MemoryMarshal.Read<FuseOutHeader>(reply).Unique,
        };
        System.Runtime.InteropServices.MemoryMarshal.Write(scratch, in header);
        return scratch;
    }
}
