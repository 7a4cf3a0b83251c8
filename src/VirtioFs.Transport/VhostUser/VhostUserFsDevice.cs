using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;
using VirtioFs.Protocol;

namespace VirtioFs.Transport.VhostUser;

/// <summary>
/// The virtio-fs device one VMM connection drives: answers the front-end's messages (features, memory table, vrings,
/// config), and runs a <see cref="FuseSession"/> over the queues while any of them runs.
/// </summary>
/// <remarks>
/// <para>Queue 0 is hiprio, queues 1..N the request queues; each is one channel of the session. A session starts when
/// the first ring starts and ends when every ring has stopped, on a device reset, on disconnect, or after the guest's
/// DESTROY (a new one then serves the next INIT). A session starts only after the previous one has ended, so a
/// factory may hand out sessions over one filesystem.</para>
/// <para>A guest that breaks a ring loses the device: the session ends, the failure is logged and reported, the
/// ring's err eventfd is signalled, and nothing is served until the rings are stopped (a guest reset).</para>
/// <para>Messages are handled on the connection's own thread. A request that is refused gets a non-zero ack when the
/// VMM asked for one (<c>NEED_REPLY</c>); otherwise the connection is closed, since the VMM could not learn of the
/// failure any other way.</para>
/// </remarks>
internal sealed partial class VhostUserFsDevice : IDisposable
{
    private readonly VhostUserSocket _socket;
    private readonly VhostUserFsOptions _options;
    private readonly Func<FuseSession> _sessionFactory;
    private readonly ILogger _logger;
    private readonly Action<string> _onBroken;
    private readonly VhostUserVring[] _vrings;
    private readonly GuestMemory _memory = new();
    private readonly Lock _sessionLock = new();
    private readonly ulong _offeredProtocolFeatures;
    private ulong _features;
    private ulong _protocolFeatures;
    private SafeFileHandle? _backendChannel;

    // Session state, under _sessionLock.
    private FuseSession? _session;
    private Task _sessionEnd = Task.CompletedTask;
    private bool _broken;
    private bool _closed;

    /// <param name="socket">The connection (owned).</param>
    /// <param name="options">The device's options.</param>
    /// <param name="sessionFactory">Makes the session for each device start.</param>
    /// <param name="logger">Where protocol errors and broken rings are logged.</param>
    /// <param name="onBroken">Told why, when the guest broke the device.</param>
    public VhostUserFsDevice(VhostUserSocket socket, VhostUserFsOptions options, Func<FuseSession> sessionFactory, ILogger logger, Action<string> onBroken)
    {
        _socket = socket;
        _options = options;
        _sessionFactory = sessionFactory;
        _logger = logger;
        _onBroken = onBroken;
        _offeredProtocolFeatures = VhostUserProtocol.OfferedProtocolFeatures | (options.DaxWindow is null ? 0 : VhostUserProtocol.ProtocolShmem);
        _vrings = new VhostUserVring[1 + options.RequestQueues];
        for (int i = 0; i < _vrings.Length; i++)
        {
            _vrings[i] = new VhostUserVring(i);
        }
    }

    /// <summary>How long a stopping ring waits for its requests in flight (a filesystem call stuck longer loses its reply).</summary>
    private static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(5);

    private enum Outcome
    {
        /// <summary>Done (a reply, if the request has one, was sent).</summary>
        Ok,

        /// <summary>Refused: a non-zero ack under NEED_REPLY, else the connection closes.</summary>
        Refused,

        /// <summary>The connection closes (after a non-zero ack under NEED_REPLY).</summary>
        Close,
    }

    private bool ProtocolFeaturesNegotiated => (_features & VhostUserProtocol.FeatureProtocolFeatures) != 0;

    /// <summary>Serves messages until the VMM disconnects or breaks the protocol, then stops everything.</summary>
    /// <returns>Whether a whole message came at all (a connection that sent none was no VMM).</returns>
    public bool Serve()
    {
        using var message = new VhostUserMessage();
        bool spoke = false;
        try
        {
            while (_socket.TryReceive(message))
            {
                spoke = true;
                if (!HandleMessage(message))
                {
                    break;
                }
            }
        }
        catch (VhostUserException ex)
        {
            Log.ConnectionFailed(_logger, ex.Message);
        }
        finally
        {
            Stop();
        }

        return spoke;
    }

    /// <summary>Ends the connection from another thread: <see cref="Serve"/> returns.</summary>
    public void Close() => _socket.Close();

    public void Dispose()
    {
        Stop();
        _socket.Dispose();
        foreach (VhostUserVring vring in _vrings)
        {
            vring.Dispose();
        }
    }

    /// <summary>Handles one message; false when the connection must close.</summary>
    private bool HandleMessage(VhostUserMessage message)
    {
        VhostUserHeader header = message.Header;
        VhostUserRequest request = message.Request;
        Log.Message(_logger, request, header.Size, message.Fds.Count);
        if ((header.Flags & VhostUserProtocol.FlagVersionMask) != VhostUserProtocol.Version || (header.Flags & VhostUserProtocol.FlagReply) != 0)
        {
            Log.Refused(_logger, request, $"flags 0x{header.Flags:x}: not a version-1 request");
            return false;
        }

        Outcome outcome;
        string? reason = Validate(message);
        if (reason is not null)
        {
            // A request with a reply of its own cannot be refused by an ack: the front-end waits for that reply.
            outcome = VhostUserProtocol.HasReply(request) ? Outcome.Close : Outcome.Refused;
        }
        else
        {
            outcome = Handle(message, out reason);
        }

        bool needReply = (header.Flags & VhostUserProtocol.FlagNeedReply) != 0 && !VhostUserProtocol.HasReply(request);
        if (outcome != Outcome.Ok)
        {
            Log.Refused(_logger, request, reason ?? "refused");
        }

        if (needReply)
        {
            Ack(request, outcome == Outcome.Ok ? 0ul : 1ul);
        }

        return outcome == Outcome.Ok || (outcome == Outcome.Refused && (needReply || VhostUserProtocol.HasReply(request)));
    }

    /// <summary>The shape checks every request passes first: payload size and descriptor count.</summary>
    private static string? Validate(VhostUserMessage message)
    {
        if (message.FdsTruncated)
        {
            return "more file descriptors than one message may carry";
        }

        int expected = VhostUserProtocol.PayloadSize(message.Request);
        if (expected >= 0 && message.Header.Size != expected)
        {
            return $"payload of {message.Header.Size} bytes, expected {expected}";
        }

        (int min, int max) = ExpectedFds(message);
        return message.Fds.Count < min || message.Fds.Count > max
            ? $"{message.Fds.Count} file descriptor(s), expected {(min == max ? min.ToString() : $"{min} to {max}")}"
            : null;
    }

    private static (int Min, int Max) ExpectedFds(VhostUserMessage message)
    {
        switch (message.Request)
        {
            case VhostUserRequest.SetMemTable:
                int regions = message.Header.Size >= 4 ? (int)Math.Min(BinaryPrimitives.ReadUInt32LittleEndian(message.Body), int.MaxValue) : 0;
                return (regions, regions);
            case VhostUserRequest.AddMemReg:
            case VhostUserRequest.SetBackendReqFd:
                return (1, 1);
            case VhostUserRequest.RemMemReg:
                // Some front-ends send the region's descriptor along; it is not needed.
                return (0, 1);
            case VhostUserRequest.SetVringKick:
            case VhostUserRequest.SetVringCall:
            case VhostUserRequest.SetVringErr:
                int fds = (BinaryPrimitives.ReadUInt64LittleEndian(message.Body) & VhostUserProtocol.VringNoFd) != 0 ? 0 : 1;
                return (fds, fds);
            default:
                return (0, 0);
        }
    }

    private Outcome Handle(VhostUserMessage message, out string? reason)
    {
        reason = null;
        ReadOnlySpan<byte> body = message.Body;
        switch (message.Request)
        {
            case VhostUserRequest.GetFeatures:
                ReplyU64(message.Request, VhostUserProtocol.OfferedFeatures);
                return Outcome.Ok;
            case VhostUserRequest.SetFeatures:
                return SetFeatures(ReadU64(body), ref _features, VhostUserProtocol.OfferedFeatures, "feature", out reason);
            case VhostUserRequest.GetProtocolFeatures:
                ReplyU64(message.Request, _offeredProtocolFeatures);
                return Outcome.Ok;
            case VhostUserRequest.SetProtocolFeatures:
                return SetFeatures(ReadU64(body), ref _protocolFeatures, _offeredProtocolFeatures, "protocol feature", out reason);
            case VhostUserRequest.SetOwner:
                return Outcome.Ok;
            case VhostUserRequest.ResetOwner:
            case VhostUserRequest.ResetDevice:
                ResetDevice();
                return Outcome.Ok;
            case VhostUserRequest.GetQueueNum:
                ReplyU64(message.Request, (ulong)_vrings.Length);
                return Outcome.Ok;
            case VhostUserRequest.GetMaxMemSlots:
                ReplyU64(message.Request, (ulong)_options.MaxMemorySlots);
                return Outcome.Ok;
            case VhostUserRequest.SetMemTable:
                return SetMemTable(message, out reason);
            case VhostUserRequest.AddMemReg:
                return AddMemoryRegion(message, out reason);
            case VhostUserRequest.RemMemReg:
                return RemoveMemoryRegion(MemoryMarshal.Read<VhostUserMemoryRegion>(body[8..]), out reason);
            case VhostUserRequest.SetVringNum:
                return SetVringNum(MemoryMarshal.Read<VringState>(body), out reason);
            case VhostUserRequest.SetVringAddr:
                return SetVringAddr(MemoryMarshal.Read<VringAddress>(body), out reason);
            case VhostUserRequest.SetVringBase:
                return SetVringBase(MemoryMarshal.Read<VringState>(body), out reason);
            case VhostUserRequest.GetVringBase:
                return GetVringBase(MemoryMarshal.Read<VringState>(body), out reason);
            case VhostUserRequest.SetVringKick:
            case VhostUserRequest.SetVringCall:
            case VhostUserRequest.SetVringErr:
                return SetVringFd(message, out reason);
            case VhostUserRequest.SetVringEnable:
                return SetVringEnable(MemoryMarshal.Read<VringState>(body), out reason);
            case VhostUserRequest.GetConfig:
                return GetConfig(message.Request, body, out reason);
            case VhostUserRequest.SetConfig:
                reason = "the virtio-fs config space is read-only";
                return Outcome.Refused;
            case VhostUserRequest.SetBackendReqFd:
                return SetBackendChannel(message.TakeFd(0), out reason);
            case VhostUserRequest.GetShmemConfig:
                GetShmemConfig();
                return Outcome.Ok;
            default:
                if (Enum.IsDefined(message.Request))
                {
                    reason = $"{message.Request} is not supported by this device";
                    return Outcome.Refused;
                }

                reason = $"unknown request {(uint)message.Request}";
                return Outcome.Close;
        }
    }

    private static Outcome SetFeatures(ulong value, ref ulong negotiated, ulong offered, string what, out string? reason)
    {
        if ((value & ~offered) != 0)
        {
            reason = $"{what} bits 0x{value & ~offered:x} were never offered";
            return Outcome.Close;
        }

        negotiated = value;
        reason = null;
        return Outcome.Ok;
    }

    /// <summary>The channel for back-end requests: the DAX window's, when there is one (the only requests we send).</summary>
    private Outcome SetBackendChannel(SafeFileHandle fd, out string? reason)
    {
        reason = null;
        if (_options.DaxWindow is { } window)
        {
            const ulong Needed = VhostUserProtocol.ProtocolShmem | VhostUserProtocol.ProtocolBackendSendFd;
            var channel = new VhostUserSocket(fd);
            try
            {
                window.Attach(channel, (_protocolFeatures & VhostUserProtocol.ProtocolReplyAck) != 0, (_protocolFeatures & Needed) == Needed);
            }
            catch (VhostUserException ex)
            {
                // Not a socket (setting its ack timeout failed): the VMM's mistake, refused like any other.
                channel.Dispose();
                reason = $"the back-end channel is not a socket: {ex.Message}";
                return Outcome.Refused;
            }

            return Outcome.Ok;
        }

        Interlocked.Exchange(ref _backendChannel, fd)?.Dispose();
        return Outcome.Ok;
    }

    /// <summary><c>{ u32 nregions; u32 padding; u64 memory_sizes[8]; }</c>: the DAX window as region 0, or no region.</summary>
    private void GetShmemConfig()
    {
        Span<byte> reply = stackalloc byte[VhostUserProtocol.ShmemConfigSize];
        reply.Clear();
        if (_options.DaxWindow is { } window)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(reply, 1);
            BinaryPrimitives.WriteUInt64LittleEndian(reply[8..], (ulong)window.Geometry.WindowSize);
        }

        Reply(VhostUserRequest.GetShmemConfig, reply);
    }

    private Outcome SetVringNum(VringState state, out string? reason)
    {
        if (!TryGetStoppedVring(state.Index, out VhostUserVring? vring, out reason))
        {
            return Outcome.Refused;
        }

        if (state.Num == 0 || state.Num > VirtqLayout.MaxQueueSize || (state.Num & (state.Num - 1)) != 0)
        {
            reason = $"queue size {state.Num} is not a power of two in 1..{VirtqLayout.MaxQueueSize}";
            return Outcome.Refused;
        }

        vring.Size = (int)state.Num;
        return Outcome.Ok;
    }

    private Outcome SetVringAddr(VringAddress address, out string? reason)
    {
        if (!TryGetStoppedVring(address.Index, out VhostUserVring? vring, out reason))
        {
            return Outcome.Refused;
        }

        if (address.Flags != 0)
        {
            reason = $"vring address flags 0x{address.Flags:x} (dirty logging is not offered)";
            return Outcome.Refused;
        }

        vring.Address = address;
        return Outcome.Ok;
    }

    private Outcome SetVringBase(VringState state, out string? reason)
    {
        if (!TryGetStoppedVring(state.Index, out VhostUserVring? vring, out reason))
        {
            return Outcome.Refused;
        }

        if (state.Num > ushort.MaxValue)
        {
            reason = $"vring base {state.Num} is not a 16-bit index";
            return Outcome.Refused;
        }

        vring.Base = (ushort)state.Num;
        return Outcome.Ok;
    }

    private Outcome GetVringBase(VringState state, out string? reason)
    {
        if (!TryGetVring(state.Index, out VhostUserVring? vring, out reason))
        {
            // The front-end waits for a reply we cannot give.
            return Outcome.Close;
        }

        ushort next = StopVring(vring, closeKick: true);
        var reply = new VringState { Index = state.Index, Num = next };
        Reply(VhostUserRequest.GetVringBase, MemoryMarshal.AsBytes(new ReadOnlySpan<VringState>(in reply)));
        return Outcome.Ok;
    }

    private Outcome SetVringFd(VhostUserMessage message, out string? reason)
    {
        ulong value = ReadU64(message.Body);
        bool noFd = (value & VhostUserProtocol.VringNoFd) != 0;
        if ((value & ~(VhostUserProtocol.VringIndexMask | VhostUserProtocol.VringNoFd)) != 0)
        {
            reason = $"vring descriptor payload 0x{value:x} has unknown bits";
            return Outcome.Refused;
        }

        if (!TryGetVring((uint)(value & VhostUserProtocol.VringIndexMask), out VhostUserVring? vring, out reason))
        {
            return Outcome.Refused;
        }

        SafeFileHandle? fd = noFd ? null : message.TakeFd(0);
        switch (message.Request)
        {
            case VhostUserRequest.SetVringKick:
                if (fd is null)
                {
                    reason = "polling rings (no kick descriptor) are not supported";
                    return Outcome.Refused;
                }

                vring.SetKick(fd);
                return TryStart(vring, out reason);
            case VhostUserRequest.SetVringCall:
                vring.SetCall(fd);
                return Outcome.Ok;
            default:
                vring.SetErr(fd);
                return Outcome.Ok;
        }
    }

    private Outcome SetVringEnable(VringState state, out string? reason)
    {
        if (!TryGetVring(state.Index, out VhostUserVring? vring, out reason))
        {
            return Outcome.Refused;
        }

        if (!ProtocolFeaturesNegotiated || state.Num > 1)
        {
            reason = !ProtocolFeaturesNegotiated ? "SET_VRING_ENABLE without VHOST_USER_F_PROTOCOL_FEATURES" : $"enable value {state.Num}";
            return Outcome.Refused;
        }

        vring.Enabled = state.Num == 1;
        if (vring.Enabled)
        {
            return TryStart(vring, out reason);
        }

        StopVring(vring, closeKick: false);
        return Outcome.Ok;
    }

    /// <summary>Stops a ring after its requests in flight are answered (or <see cref="DrainTimeout"/> passed).</summary>
    private ushort StopVring(VhostUserVring vring, bool closeKick)
    {
        ushort next = vring.Detach(closeKick, DrainTimeout, out int abandoned);
        if (abandoned != 0)
        {
            Log.RequestsAbandoned(_logger, vring.Index, abandoned, DrainTimeout.TotalSeconds);
        }

        UpdateSession();
        return next;
    }

    private Outcome GetConfig(VhostUserRequest request, ReadOnlySpan<byte> body, out string? reason)
    {
        reason = null;
        if (body.Length >= VhostUserConfigHeader.Size)
        {
            VhostUserConfigHeader config = MemoryMarshal.Read<VhostUserConfigHeader>(body);
            if (body.Length == VhostUserConfigHeader.Size + config.Length && config.Length <= VhostUserProtocol.MaxConfigSize
                && config.Offset <= VhostUserProtocol.FsConfigSize && config.Length <= VhostUserProtocol.FsConfigSize - config.Offset)
            {
                Span<byte> space = stackalloc byte[VhostUserProtocol.FsConfigSize];
                space.Clear();
                Encoding.UTF8.GetBytes(_options.Tag, space[..VhostUserProtocol.FsTagSize]);
                BinaryPrimitives.WriteUInt32LittleEndian(space[VhostUserProtocol.FsTagSize..], (uint)_options.RequestQueues);
                Span<byte> reply = stackalloc byte[VhostUserConfigHeader.Size + (int)config.Length];
                body[..VhostUserConfigHeader.Size].CopyTo(reply);
                space.Slice((int)config.Offset, (int)config.Length).CopyTo(reply[VhostUserConfigHeader.Size..]);
                Reply(request, reply);
                return Outcome.Ok;
            }
        }

        // The specification's error reply: an empty payload.
        reason = $"config read of {body.Length} bytes outside the {VhostUserProtocol.FsConfigSize}-byte virtio-fs config";
        Reply(request, []);
        return Outcome.Refused;
    }

    /// <summary>Starts <paramref name="vring"/> when it has everything it needs; a ring that cannot start is refused.</summary>
    private Outcome TryStart(VhostUserVring vring, out string? reason)
    {
        reason = null;
        bool enabled = vring.Enabled || !ProtocolFeaturesNegotiated;
        if (!vring.HasKick || vring.Size == 0 || vring.Address is null || !enabled || vring.IsRunning || _memory.Table.Regions.Count == 0)
        {
            return Outcome.Ok;
        }

        try
        {
            vring.Attach(_memory, (_features & VhostUserProtocol.FeatureIndirectDescriptors) != 0, (_features & VhostUserProtocol.FeatureEventIndex) != 0);
        }
        catch (VirtqueueException ex)
        {
            reason = $"vring {vring.Index} cannot start: {ex.Message}";
            return Outcome.Refused;
        }

        Log.VringStarted(_logger, vring.Index, vring.Size);
        UpdateSession();
        return Outcome.Ok;
    }

    private bool TryGetVring(uint index, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out VhostUserVring? vring, out string? reason)
    {
        if (index >= (uint)_vrings.Length)
        {
            vring = null;
            reason = $"vring {index} does not exist (the device has {_vrings.Length})";
            return false;
        }

        vring = _vrings[index];
        reason = null;
        return true;
    }

    private bool TryGetStoppedVring(uint index, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out VhostUserVring? vring, out string? reason)
    {
        if (!TryGetVring(index, out vring, out reason))
        {
            return false;
        }

        if (vring.IsRunning)
        {
            reason = $"vring {index} is running";
            return false;
        }

        return true;
    }

    /// <summary>Device reset: every ring stops and forgets its configuration, the virtio features are forgotten.</summary>
    private void ResetDevice()
    {
        foreach (VhostUserVring vring in _vrings)
        {
            vring.Reset();
        }

        _features = 0;
        UpdateSession();
    }

    /// <summary>Disconnect: stops the session and the rings, waits for the session to end, unmaps guest memory.</summary>
    private void Stop()
    {
        lock (_sessionLock)
        {
            if (_closed)
            {
                return;
            }

            _closed = true;
        }

        // The VMM's mappings went with it: nothing is sent for them when the session ends.
        _options.DaxWindow?.Detach();

        foreach (VhostUserVring vring in _vrings)
        {
            vring.Reset();
        }

        // A session run never faults (its failures break the device instead).
        UpdateSession().GetAwaiter().GetResult();

        _memory.Dispose();
        Interlocked.Exchange(ref _backendChannel, null)?.Dispose();
    }

    private void ReplyU64(VhostUserRequest request, ulong value)
    {
        Span<byte> payload = stackalloc byte[sizeof(ulong)];
        BinaryPrimitives.WriteUInt64LittleEndian(payload, value);
        Reply(request, payload);
    }

    private void Ack(VhostUserRequest request, ulong status) => ReplyU64(request, status);

    private void Reply(VhostUserRequest request, ReadOnlySpan<byte> payload)
        => _socket.Send((uint)request, VhostUserProtocol.Version | VhostUserProtocol.FlagReply, payload);

    private static ulong ReadU64(ReadOnlySpan<byte> body) => BinaryPrimitives.ReadUInt64LittleEndian(body);
}
