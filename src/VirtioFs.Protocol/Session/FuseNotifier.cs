using System.Buffers;
using System.Collections.Concurrent;
using System.Runtime.InteropServices;

namespace VirtioFs.Protocol;

/// <summary>
/// Server-initiated messages to the client (<c>fuse_out_header</c> with <c>unique</c> 0 and the notify code in
/// <c>error</c>). Each method checks that the negotiated minor version knows the notification and throws
/// <see cref="FuseProtocolException"/> otherwise, or before INIT.
/// </summary>
public sealed class FuseNotifier
{
    private readonly FuseSession _session;
    private readonly ConcurrentDictionary<ulong, TaskCompletionSource<byte[]>> _retrieves = new();
    private long _nextRetrieve;

    internal FuseNotifier(FuseSession session)
    {
        _session = session;
    }

    /// <summary><c>FUSE_NOTIFY_POLL</c> (7.11+): wakes a poller registered by <see cref="FuseFileSystem.PollAsync"/>.</summary>
    /// <param name="kernelHandle">The <see cref="FusePollIn.Kh"/> of the poll request.</param>
    /// <param name="cancellationToken">Stops the send.</param>
    /// <returns>A task that completes when the notification is sent.</returns>
    public ValueTask PollWakeupAsync(ulong kernelHandle, CancellationToken cancellationToken = default)
        => SendAsync(FuseNotifyCode.Poll, 11, new FuseNotifyPollWakeupOut { Kh = kernelHandle }, default, cancellationToken);

    /// <summary><c>FUSE_NOTIFY_INVAL_INODE</c> (7.12+): drops cached attributes and, for <paramref name="length"/> != 0, cached data.</summary>
    /// <param name="nodeId">The node.</param>
    /// <param name="offset">Start of the data range; negative to invalidate attributes only.</param>
    /// <param name="length">Length of the data range; 0 or negative means to the end of file.</param>
    /// <param name="cancellationToken">Stops the send.</param>
    /// <returns>A task that completes when the notification is sent.</returns>
    public ValueTask InvalidateInodeAsync(ulong nodeId, long offset, long length, CancellationToken cancellationToken = default)
        => SendAsync(FuseNotifyCode.InvalInode, 12, new FuseNotifyInvalInodeOut { Ino = nodeId, Off = offset, Len = length }, default, cancellationToken);

    /// <summary><c>FUSE_NOTIFY_INVAL_ENTRY</c> (7.12+; <see cref="FuseNotifyInvalEntryFlags.ExpireOnly"/> 7.38+): drops a cached name.</summary>
    /// <param name="parent">The directory.</param>
    /// <param name="name">The name (1 to 1024 bytes, no NUL).</param>
    /// <param name="flags">Invalidation flags.</param>
    /// <param name="cancellationToken">Stops the send.</param>
    /// <returns>A task that completes when the notification is sent.</returns>
    public ValueTask InvalidateEntryAsync(ulong parent, ReadOnlyMemory<byte> name, FuseNotifyInvalEntryFlags flags = FuseNotifyInvalEntryFlags.None, CancellationToken cancellationToken = default)
    {
        CheckName(name);
        uint minor = flags == FuseNotifyInvalEntryFlags.None ? 12u : 38u;
        var args = new FuseNotifyInvalEntryOut { Parent = parent, Namelen = (uint)name.Length, Flags = (uint)flags };
        return SendAsync(FuseNotifyCode.InvalEntry, minor, args, name, cancellationToken, nulTerminated: true);
    }

    /// <summary><c>FUSE_NOTIFY_DELETE</c> (7.18+): tells the client that <paramref name="name"/> in <paramref name="parent"/>, naming <paramref name="child"/>, was removed.</summary>
    /// <param name="parent">The directory.</param>
    /// <param name="child">The node the name pointed to.</param>
    /// <param name="name">The name (1 to 1024 bytes, no NUL).</param>
    /// <param name="cancellationToken">Stops the send.</param>
    /// <returns>A task that completes when the notification is sent.</returns>
    public ValueTask DeleteAsync(ulong parent, ulong child, ReadOnlyMemory<byte> name, CancellationToken cancellationToken = default)
    {
        CheckName(name);
        var args = new FuseNotifyDeleteOut { Parent = parent, Child = child, Namelen = (uint)name.Length };
        return SendAsync(FuseNotifyCode.Delete, 18, args, name, cancellationToken, nulTerminated: true);
    }

    /// <summary><c>FUSE_NOTIFY_STORE</c> (7.15+): puts data into the client's page cache for a node.</summary>
    /// <param name="nodeId">The node.</param>
    /// <param name="offset">Where the data goes.</param>
    /// <param name="data">The data.</param>
    /// <param name="cancellationToken">Stops the send.</param>
    /// <returns>A task that completes when the notification is sent.</returns>
    public ValueTask StoreAsync(ulong nodeId, ulong offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
    {
        var args = new FuseNotifyStoreOut { Nodeid = nodeId, Offset = offset, Size = (uint)data.Length };
        return SendAsync(FuseNotifyCode.Store, 15, args, data, cancellationToken);
    }

    /// <summary>
    /// <c>FUSE_NOTIFY_RETRIEVE</c> (7.15+): asks the client for the data of a node it holds in its cache; the client
    /// answers with a <c>NOTIFY_REPLY</c> request, whose data this returns (possibly shorter than asked, or empty).
    /// </summary>
    /// <param name="nodeId">The node.</param>
    /// <param name="offset">Where the range starts.</param>
    /// <param name="size">How many bytes to retrieve.</param>
    /// <param name="cancellationToken">Stops waiting for the reply.</param>
    /// <returns>The cached data the client sent back.</returns>
    public async Task<byte[]> RetrieveAsync(ulong nodeId, ulong offset, uint size, CancellationToken cancellationToken = default)
    {
        ulong id = (ulong)Interlocked.Increment(ref _nextRetrieve);
        var completion = new TaskCompletionSource<byte[]>(TaskCreationOptions.RunContinuationsAsynchronously);
        _retrieves[id] = completion;
        try
        {
            var args = new FuseNotifyRetrieveOut { NotifyUnique = id, Nodeid = nodeId, Offset = offset, Size = size };
            await SendAsync(FuseNotifyCode.Retrieve, 15, args, default, cancellationToken).ConfigureAwait(false);
            return await completion.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _retrieves.TryRemove(id, out _);
        }
    }

    /// <summary><c>FUSE_NOTIFY_RESEND</c> (7.40+, with <see cref="FuseInitFlags.HasResend"/>): asks the client to send every pending request again.</summary>
    /// <param name="cancellationToken">Stops the send.</param>
    /// <returns>A task that completes when the notification is sent.</returns>
    /// <exception cref="FuseProtocolException">The client did not negotiate <see cref="FuseInitFlags.HasResend"/>.</exception>
    public ValueTask ResendAsync(CancellationToken cancellationToken = default)
    {
        if (_session.Connection is { } connection && (connection.Flags & FuseInitFlags.HasResend) == 0)
        {
            ThrowHelper.ThrowProtocol("Cannot send Resend: the client did not negotiate FUSE_HAS_RESEND.", Errno.ENOSYS);
        }

        return SendHeaderOnlyAsync(FuseNotifyCode.Resend, 40, cancellationToken);
    }

    /// <summary><c>FUSE_NOTIFY_INC_EPOCH</c> (7.44+): invalidates every cached entry at once by advancing the client's epoch.</summary>
    /// <param name="cancellationToken">Stops the send.</param>
    /// <returns>A task that completes when the notification is sent.</returns>
    public ValueTask IncrementEpochAsync(CancellationToken cancellationToken = default)
        => SendHeaderOnlyAsync(FuseNotifyCode.IncEpoch, 44, cancellationToken);

    /// <summary><c>FUSE_NOTIFY_PRUNE</c> (7.45+): asks the client to forget the given nodes if they are unused.</summary>
    /// <param name="nodeIds">The nodes.</param>
    /// <param name="cancellationToken">Stops the send.</param>
    /// <returns>A task that completes when the notification is sent.</returns>
    public ValueTask PruneAsync(ReadOnlyMemory<ulong> nodeIds, CancellationToken cancellationToken = default)
    {
        var args = new FuseNotifyPruneOut { Count = (uint)nodeIds.Length };
        return SendAsync(FuseNotifyCode.Prune, 45, args, MemoryMarshal.AsBytes(nodeIds.Span).ToArray(), cancellationToken);
    }

    internal void CompleteRetrieve(ulong notifyUnique, FuseNotifyRetrieveIn args, ReadOnlySpan<byte> data)
    {
        if (!_retrieves.TryRemove(notifyUnique, out TaskCompletionSource<byte[]>? completion))
        {
            return;
        }

        int length = (int)Math.Min(args.Size, (uint)data.Length);
        completion.TrySetResult(data.Slice(0, length).ToArray());
    }

    private static void CheckName(ReadOnlyMemory<byte> name)
    {
        if (name.IsEmpty || name.Length > FuseDirectoryWriter.MaxNameLength || name.Span.Contains((byte)0))
        {
            ThrowHelper.ThrowArgument(nameof(name), "A name must be 1 to 1024 bytes long and contain no NUL.");
        }
    }

    private IFuseChannel Prepare(FuseNotifyCode code, uint minor)
    {
        FuseConnectionInfo connection = _session.Connection
            ?? throw new FuseProtocolException($"Cannot send {code}: the session is not initialized.", Errno.ENOTCONN);
        if (connection.ProtocolMinor < minor)
        {
            ThrowHelper.ThrowProtocol($"Cannot send {code}: it needs protocol 7.{minor} and the client speaks 7.{connection.ProtocolMinor}.", Errno.ENOSYS);
        }

        return _session.NotificationChannel
            ?? throw new FuseProtocolException($"Cannot send {code}: the session has no running channel.", Errno.ENOTCONN);
    }

    private ValueTask SendHeaderOnlyAsync(FuseNotifyCode code, uint minor, CancellationToken cancellationToken)
        => SendAsync(code, minor, default(EmptyArgs), default, cancellationToken, argsSize: 0);

    private async ValueTask SendAsync<T>(FuseNotifyCode code, uint minor, T args, ReadOnlyMemory<byte> tail, CancellationToken cancellationToken, bool nulTerminated = false, int argsSize = -1)
        where T : unmanaged
    {
        IFuseChannel channel = Prepare(code, minor);
        int size = argsSize >= 0 ? argsSize : System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
        int length = FuseOutHeader.Size + size + tail.Length + (nulTerminated ? 1 : 0);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            Span<byte> message = buffer.AsSpan(0, length);
            message.Clear();
            var header = new FuseOutHeader { Len = (uint)length, Error = (int)code, Unique = 0 };
            MemoryMarshal.Write(message, in header);
            MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in args)).Slice(0, size).CopyTo(message.Slice(FuseOutHeader.Size));
            tail.Span.CopyTo(message.Slice(FuseOutHeader.Size + size));
            await channel.SendNotificationAsync(buffer.AsMemory(0, length), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    [StructLayout(LayoutKind.Sequential, Size = 1)]
    private readonly struct EmptyArgs;
}
