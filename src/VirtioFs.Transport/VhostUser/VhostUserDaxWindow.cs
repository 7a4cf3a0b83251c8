using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using VirtioFs.Dax;
using VirtioFs.Protocol;
using VirtioFs.Transport.VhostUser;

namespace VirtioFs.Transport;

/// <summary>
/// The DAX window of a <see cref="VhostUserFsBackend"/>: the VMM's virtio shared memory region 0 ("cache"), into which
/// the VMM maps file ranges when asked with the back-end requests <c>SHMEM_MAP</c>/<c>SHMEM_UNMAP</c> (vhost-user.rst,
/// <c>VHOST_USER_PROTOCOL_F_SHMEM</c>). Give it to a <see cref="DaxMappingServer"/> set as the sessions'
/// <see cref="FuseSessionOptions.MappingServer"/>.
/// </summary>
/// <remarks>
/// <para>Requests go out only to a VMM that negotiated <c>SHMEM</c>, <c>BACKEND_REQ</c> and (for maps)
/// <c>BACKEND_SEND_FD</c>, and gave us its channel; otherwise mapping fails with <see cref="Errno.ENODEV"/>. Under
/// <c>REPLY_ACK</c> each request waits for the VMM's ack, at most <see cref="AckTimeout"/>; a VMM that does not ack in
/// time or answers anything but an ack loses the channel (a late ack could otherwise be taken for the next request's).
/// A send that cannot go out within <see cref="AckTimeout"/> (a VMM that reads nothing) loses it too.</para>
/// <para>The specification lets a VMM unmap only whole mappings, so this window remembers what it mapped: an unmap
/// covering whole mappings sends one request per mapping, an unmapped range needs none, and a range that cuts a
/// mapping is refused with <see cref="Errno.EINVAL"/> (Linux guests map and unmap whole ranges). When the VMM
/// disconnects its mappings go with it.</para>
/// </remarks>
public sealed partial class VhostUserDaxWindow : IDaxWindow
{
    private readonly Lock _lock = new();
    // What the VMM has mapped, by window offset; disjoint, so ends are sorted too (binary search, no scan).
    private readonly SortedList<long, (long Length, bool Writable)> _mapped = [];

    // The ack of each request is read into this one message, under _lock.
    private readonly VhostUserMessage _ack = new();
    private readonly ILogger _logger;
    private VhostUserSocket? _channel;
    private bool _replyAck;
    private bool _sendFd;

    /// <summary>Creates a window of <paramref name="size"/> bytes.</summary>
    /// <param name="size">The window's size: a positive multiple of <paramref name="rangeSize"/>.</param>
    /// <param name="rangeSize">The range size guests split it into. Default 2 MiB.</param>
    /// <param name="logger">Where refused and failed requests are logged.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is invalid.</exception>
    public VhostUserDaxWindow(long size, long rangeSize = DaxWindowGeometry.DefaultRangeSize, ILogger<VhostUserDaxWindow>? logger = null)
    {
        if (size <= 0 || size % rangeSize != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(size), size, $"The window size must be a positive multiple of the range size ({rangeSize} bytes).");
        }

        Geometry = new DaxWindowGeometry(size, rangeSize, mapAlignment: 12);
        _logger = (ILogger?)logger ?? NullLogger.Instance;
    }

    /// <inheritdoc />
    public DaxWindowGeometry Geometry { get; }

    /// <summary>How long to wait for the VMM's ack of each request (and for room to send one); 1 ms to 1 hour, default 10 s.</summary>
    public TimeSpan AckTimeout
    {
        get;
        init
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, TimeSpan.FromMilliseconds(1));
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, TimeSpan.FromHours(1));
            field = value;
        }
    } = TimeSpan.FromSeconds(10);

    /// <summary>The window ranges mapped now, by window offset (for diagnostics).</summary>
    public IReadOnlyList<(long WindowOffset, long Length, bool Writable)> Mappings
    {
        get
        {
            lock (_lock)
            {
                return [.. _mapped.Select(m => (m.Key, m.Value.Length, m.Value.Writable))];
            }
        }
    }

    /// <inheritdoc />
    public Errno Map(long windowOffset, long length, DaxFileReference file, long fileOffset, bool writable)
    {
        ArgumentNullException.ThrowIfNull(file);
        lock (_lock)
        {
            if (_channel is null || !_sendFd)
            {
                return Refuse("SHMEM_MAP", windowOffset, "the VMM did not negotiate SHMEM, BACKEND_REQ and BACKEND_SEND_FD, or gave no channel", Errno.ENODEV);
            }

            // Replacing: whole mappings under the range go first (read-only to writable upgrades land here).
            Errno removed = UnmapLocked(windowOffset, length);
            if (removed != Errno.Success)
            {
                return removed;
            }

            var mapping = new VhostUserShmemMapping
            {
                FileOffset = (ulong)fileOffset,
                ShmOffset = (ulong)windowOffset,
                Length = (ulong)length,
                Flags = writable ? VhostUserProtocol.ShmemMapWritable : 0,
            };
            Errno result = SendLocked(VhostUserBackendRequest.ShmemMap, mapping, file.Handle);
            if (result == Errno.Success)
            {
                _mapped[windowOffset] = (length, writable);
            }

            return result;
        }
    }

    /// <inheritdoc />
    public Errno Unmap(long windowOffset, long length)
    {
        lock (_lock)
        {
            return UnmapLocked(windowOffset, length);
        }
    }

    /// <inheritdoc />
    public void UnmapAll()
    {
        lock (_lock)
        {
            // A failure has been logged (and closed the channel); the mappings are forgotten either way: the VMM drops
            // them on reset.
            for (int i = 0; i < _mapped.Count && _channel is not null; i++)
            {
                _ = SendUnmapLocked(_mapped.Keys[i], _mapped.Values[i].Length);
            }

            _mapped.Clear();
        }
    }

    /// <summary>Takes the VMM's back-end channel (<c>SET_BACKEND_REQ_FD</c>) and what it negotiated.</summary>
    /// <exception cref="VhostUserException">The descriptor is not a socket (the channel is not taken).</exception>
    internal void Attach(VhostUserSocket channel, bool replyAck, bool sendFd)
    {
        channel.SetTimeouts(AckTimeout);
        lock (_lock)
        {
            _channel?.Dispose();
            _channel = channel;
            _replyAck = replyAck;
            _sendFd = sendFd;
        }
    }

    /// <summary>The VMM is gone (or reset its device): its channel is closed and its mappings forgotten.</summary>
    internal void Detach()
    {
        lock (_lock)
        {
            _channel?.Dispose();
            _channel = null;
            _mapped.Clear();
        }
    }

    /// <summary>Unmaps every whole mapping inside the range; refuses a range that cuts one, before sending anything.</summary>
    private Errno UnmapLocked(long windowOffset, long length)
    {
        long end = windowOffset + length;
        int first = FirstEndingAfter(windowOffset);
        for (int i = first; i < _mapped.Count && _mapped.Keys[i] < end; i++)
        {
            long offset = _mapped.Keys[i], mappedLength = _mapped.Values[i].Length;
            if (offset < windowOffset || offset + mappedLength > end)
            {
                return Refuse("SHMEM_UNMAP", windowOffset, $"the range cuts the mapping at 0x{offset:x}+0x{mappedLength:x}, which the VMM can only unmap whole", Errno.EINVAL);
            }
        }

        while (first < _mapped.Count && _mapped.Keys[first] < end)
        {
            if (_channel is null)
            {
                return Refuse("SHMEM_UNMAP", _mapped.Keys[first], "the VMM gave no channel", Errno.ENODEV);
            }

            Errno result = SendUnmapLocked(_mapped.Keys[first], _mapped.Values[first].Length);
            if (result != Errno.Success)
            {
                return result;
            }

            _mapped.RemoveAt(first);
        }

        return Errno.Success;
    }

    private Errno SendUnmapLocked(long offset, long length)
        => SendLocked(VhostUserBackendRequest.ShmemUnmap, new VhostUserShmemMapping { ShmOffset = (ulong)offset, Length = (ulong)length }, null);

    /// <summary>The index of the first mapping whose end is past <paramref name="offset"/>.</summary>
    private int FirstEndingAfter(long offset)
    {
        int lo = 0, hi = _mapped.Count;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (_mapped.Keys[mid] + _mapped.Values[mid].Length <= offset)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }

        return lo;
    }

    /// <summary>Sends one request and, under REPLY_ACK, waits for its ack; a broken exchange closes the channel.</summary>
    private Errno SendLocked(VhostUserBackendRequest request, in VhostUserShmemMapping mapping, SafeHandle? fd)
    {
        VhostUserSocket channel = _channel!;
        uint flags = VhostUserProtocol.Version | (_replyAck ? VhostUserProtocol.FlagNeedReply : 0);
        try
        {
            ReadOnlySpan<byte> payload = MemoryMarshal.AsBytes(new ReadOnlySpan<VhostUserShmemMapping>(in mapping));
            if (fd is null)
            {
                channel.Send((uint)request, flags, payload);
            }
            else
            {
                channel.Send((uint)request, flags, payload, [fd]);
            }

            if (!_replyAck)
            {
                return Errno.Success;
            }

            VhostUserMessage reply = _ack;
            if (!channel.TryReceive(reply))
            {
                throw new VhostUserException("the VMM closed the channel");
            }

            if (reply.Header.Request != (uint)request || (reply.Header.Flags & VhostUserProtocol.FlagReply) == 0 || reply.Header.Size != sizeof(ulong))
            {
                throw new VhostUserException($"the VMM answered request {reply.Header.Request} (flags 0x{reply.Header.Flags:x}, {reply.Header.Size} bytes) instead of an ack");
            }

            ulong status = BinaryPrimitives.ReadUInt64LittleEndian(reply.Body);
            return status == 0 ? Errno.Success : Refuse(request.ToString(), (long)mapping.ShmOffset, $"the VMM refused it ({status})", Errno.EIO);
        }
        catch (VhostUserException ex)
        {
            _channel = null;
            channel.Dispose();
            return Refuse(request.ToString(), (long)mapping.ShmOffset, $"{ex.Message}; the back-end channel is closed", Errno.EIO);
        }
    }

    private Errno Refuse(string request, long windowOffset, string reason, Errno errno)
    {
        Log.Failed(_logger, request, windowOffset, reason);
        return errno;
    }

    private static partial class Log
    {
        [LoggerMessage(321, LogLevel.Warning, "vhost-user DAX: {Request} at window offset 0x{Offset:x} failed: {Reason}")]
        public static partial void Failed(ILogger logger, string request, long offset, string reason);
    }
}
