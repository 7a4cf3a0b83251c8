using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using VirtioFs.Protocol;

namespace VirtioFs.Transport;

/// <summary>
/// The client end of a loopback pair: it plays the kernel. It sends typed requests (one method per opcode),
/// matches replies by request, runs any number of requests concurrently, can interrupt them, and receives
/// notifications. Filesystem authors unit-test with it: no kernel, no root, no mount.
/// </summary>
/// <remarks>
/// Replies are decoded into the same ABI structs the filesystem API uses; errors come back as
/// <see cref="Errno"/> values. A reply that breaks the protocol (wrong size, wrong unique) throws
/// <see cref="FuseProtocolException"/>. Requests are encoded in the layouts of the negotiated minor version.
/// </remarks>
public sealed partial class FuseLoopbackClient : IAsyncDisposable
{
    private const int DefaultReplyRoom = 64 * 1024;
    private readonly LoopbackPair _pair;
    private long _nextUnique;

    internal FuseLoopbackClient(LoopbackPair pair)
    {
        _pair = pair;
    }

    /// <summary>Raised (on the sending thread) with each request's unique and opcode just before it is queued, so tests can interrupt it.</summary>
    public event Action<ulong, FuseOpcode>? RequestSent;

    /// <summary>The credentials put in the header of every following request. Default: uid 0, gid 0, pid 1.</summary>
    public FuseCaller Caller { get; set; } = new(0, 0, 1);

    /// <summary>The protocol minor negotiated by <see cref="InitAsync"/> (45 before it).</summary>
    public uint ProtocolMinor { get; private set; } = FuseConstants.KernelMinorVersion;

    /// <summary>The capabilities negotiated by <see cref="InitAsync"/>.</summary>
    public FuseInitFlags NegotiatedFlags { get; private set; }

    /// <summary>Reads the next notification the server sent.</summary>
    /// <param name="cancellationToken">Stops the wait.</param>
    /// <returns>The notification.</returns>
    /// <exception cref="System.Threading.Channels.ChannelClosedException">The pair was closed.</exception>
    public ValueTask<FuseNotificationMessage> ReadNotificationAsync(CancellationToken cancellationToken = default)
        => _pair.Notifications.Reader.ReadAsync(cancellationToken);

    /// <summary>Sends a raw message and returns the raw reply, or null when the server answered nothing.</summary>
    /// <remarks>For tests of malformed input: the message is sent as is, whatever its header says.</remarks>
    /// <param name="message">The whole message.</param>
    /// <param name="replyRoom">The reply room the server is told about.</param>
    /// <returns>The reply, header included, or null.</returns>
    public async Task<byte[]?> SendRawAsync(ReadOnlyMemory<byte> message, int replyRoom = DefaultReplyRoom)
    {
        PendingRequest pending = _pair.Rent(message.Length, replyRoom);
        try
        {
            message.Span.CopyTo(pending.RequestBuffer);
            pending.Unique = message.Length >= 16 ? MemoryMarshal.Read<ulong>(message.Span.Slice(8)) : 0;
            int length = await Enqueue(pending, message.Length, replyRoom).ConfigureAwait(false);
            return length == 0 ? null : pending.ReplyBuffer.AsSpan(0, length).ToArray();
        }
        finally
        {
            _pair.Return(pending);
        }
    }

    /// <summary>Closes the pair: the server's channel reports end of stream.</summary>
    /// <returns>A completed task.</returns>
    public ValueTask DisposeAsync()
    {
        _pair.Close();
        return ValueTask.CompletedTask;
    }

    /// <summary>Starts a request: rents its buffers and writes its header; the caller writes the body after <see cref="FuseInHeader.Size"/>.</summary>
    private PendingRequest Begin(FuseOpcode opcode, ulong nodeId, int bodySize, int replyRoom, ulong unique = 0)
    {
        if (_pair.IsClosed)
        {
            throw new FuseChannelException("The loopback pair is closed.");
        }

        int length = FuseInHeader.Size + bodySize;
        if (length > _pair.MaxRequestSize)
        {
            throw new ArgumentOutOfRangeException(nameof(bodySize), $"A request of {length} bytes exceeds the server's maximum of {_pair.MaxRequestSize}.");
        }

        PendingRequest pending = _pair.Rent(length, FuseOutHeader.Size + replyRoom);
        pending.Unique = unique != 0 ? unique : (ulong)Interlocked.Add(ref _nextUnique, 2);
        FuseCaller caller = Caller;
        var header = new FuseInHeader
        {
            Len = (uint)length,
            Opcode = (uint)opcode,
            Unique = pending.Unique,
            Nodeid = nodeId,
            Uid = caller.Uid,
            Gid = caller.Gid,
            Pid = caller.Pid,
        };
        MemoryMarshal.Write(pending.RequestBuffer, in header);
        RequestSent?.Invoke(pending.Unique, opcode);
        return pending;
    }

    private static Span<byte> Body(PendingRequest pending) => pending.RequestBuffer.AsSpan(FuseInHeader.Size);

    private ValueTask<int> Enqueue(PendingRequest pending, int length, int replyRoom)
    {
        if (!_pair.Requests.TryEnqueue(new LoopbackMessage(pending.RequestBuffer, length, replyRoom, pending.Token)))
        {
            return ValueTask.FromException<int>(new FuseChannelException("The loopback pair is closed."));
        }

        return new ValueTask<int>(pending, pending.Version);
    }

    private ValueTask<int> Send(PendingRequest pending)
    {
        int length = (int)MemoryMarshal.Read<FuseInHeader>(pending.RequestBuffer).Len;
        return Enqueue(pending, length, pending.ReplyBuffer.Length);
    }

    /// <summary>Sends and decodes a reply made of a struct (or its first <paramref name="minimumSize"/> bytes, for compat layouts).</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<FuseResult<T>> CallAsync<T>(PendingRequest pending, int minimumSize = -1)
        where T : unmanaged
    {
        try
        {
            int length = await Send(pending).ConfigureAwait(false);
            Errno error = ReadStatus(pending, length, out ReadOnlySpan<byte> payload);
            if (error != Errno.Success)
            {
                return error;
            }

            int full = Unsafe.SizeOf<T>();
            int needed = minimumSize >= 0 ? minimumSize : full;
            if (payload.Length < needed || payload.Length > full)
            {
                throw new FuseProtocolException($"Reply of {payload.Length} bytes where {typeof(T).Name} ({needed}..{full} bytes) was expected.", Errno.EPROTO);
            }

            T value = default;
            payload.CopyTo(MemoryMarshal.AsBytes(new Span<T>(ref value)));
            return value;
        }
        finally
        {
            _pair.Return(pending);
        }
    }

    /// <summary>Sends and decodes a reply that carries only a status.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<Errno> CallStatusAsync(PendingRequest pending)
    {
        try
        {
            int length = await Send(pending).ConfigureAwait(false);
            Errno error = ReadStatus(pending, length, out ReadOnlySpan<byte> payload);
            if (error == Errno.Success && !payload.IsEmpty)
            {
                throw new FuseProtocolException($"Reply carries {payload.Length} unexpected bytes.", Errno.EPROTO);
            }

            return error;
        }
        finally
        {
            _pair.Return(pending);
        }
    }

    /// <summary>Sends and copies a data reply into <paramref name="destination"/>.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<FuseResult<int>> CallDataAsync(PendingRequest pending, Memory<byte> destination)
    {
        try
        {
            int length = await Send(pending).ConfigureAwait(false);
            Errno error = ReadStatus(pending, length, out ReadOnlySpan<byte> payload);
            if (error != Errno.Success)
            {
                return error;
            }

            if (payload.Length > destination.Length)
            {
                throw new FuseProtocolException($"Data reply of {payload.Length} bytes exceeds the {destination.Length} requested.", Errno.EPROTO);
            }

            payload.CopyTo(destination.Span);
            return payload.Length;
        }
        finally
        {
            _pair.Return(pending);
        }
    }

    /// <summary>Sends a request that gets no reply and waits until the server has consumed it.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask CallNoReplyAsync(PendingRequest pending)
    {
        try
        {
            int length = await Send(pending).ConfigureAwait(false);
            if (length != 0)
            {
                throw new FuseProtocolException("The server answered a request that takes no reply.", Errno.EPROTO);
            }
        }
        finally
        {
            _pair.Return(pending);
        }
    }

    private static Errno ReadStatus(PendingRequest pending, int length, out ReadOnlySpan<byte> payload)
    {
        if (length < FuseOutHeader.Size)
        {
            throw new FuseProtocolException("The server sent no reply to a request that needs one.", Errno.EPROTO);
        }

        ReadOnlySpan<byte> reply = pending.ReplyBuffer.AsSpan(0, length);
        FuseOutHeader header = MemoryMarshal.Read<FuseOutHeader>(reply);
        if (header.Len != (uint)length)
        {
            throw new FuseProtocolException($"Reply header says {header.Len} bytes, {length} arrived.", Errno.EPROTO);
        }

        if (header.Error > 0 || header.Error <= -512)
        {
            throw new FuseProtocolException($"Reply carries invalid error {header.Error}.", Errno.EPROTO);
        }

        payload = reply.Slice(FuseOutHeader.Size);
        if (header.Error != 0 && !payload.IsEmpty)
        {
            throw new FuseProtocolException("An error reply carries a body.", Errno.EPROTO);
        }

        return (Errno)(-header.Error);
    }

    private static int NameSize(string name) => Encoding.UTF8.GetByteCount(name) + 1;

    /// <summary>Writes <paramref name="name"/> as UTF-8 plus NUL at <paramref name="offset"/>; returns the offset after it.</summary>
    private static int WriteName(Span<byte> body, int offset, string name)
    {
        int written = Encoding.UTF8.GetBytes(name, body.Slice(offset));
        body[offset + written] = 0;
        return offset + written + 1;
    }

    private static void WriteArgs<T>(Span<byte> body, in T args, int size)
        where T : unmanaged
        => MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in args)).Slice(0, size).CopyTo(body);

    private static void WriteArgs<T>(Span<byte> body, in T args)
        where T : unmanaged
        => WriteArgs(body, in args, Unsafe.SizeOf<T>());
}

/// <summary>The credentials a <see cref="FuseLoopbackClient"/> puts in request headers.</summary>
/// <param name="Uid">The caller's user id.</param>
/// <param name="Gid">The caller's group id.</param>
/// <param name="Pid">The caller's process id.</param>
public readonly record struct FuseCaller(uint Uid, uint Gid, uint Pid);
