using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace VirtioFs.Transport.VhostUser;

/// <summary>One received vhost-user message: header, payload and the descriptors that came with it (owned by the message).</summary>
internal sealed class VhostUserMessage : IDisposable
{
    public VhostUserHeader Header;

    public byte[] Payload { get; } = new byte[VhostUserProtocol.MaxPayloadSize];

    public List<SafeFileHandle> Fds { get; } = [];

    /// <summary>Whether more descriptors were sent than we accept in one message (they were closed by the kernel).</summary>
    public bool FdsTruncated { get; set; }

    public VhostUserRequest Request => (VhostUserRequest)Header.Request;

    public ReadOnlySpan<byte> Body => Payload.AsSpan(0, (int)Header.Size);

    /// <summary>Takes descriptor <paramref name="index"/>: the caller owns it from now on.</summary>
    public SafeFileHandle TakeFd(int index)
    {
        SafeFileHandle fd = Fds[index];
        Fds[index] = new SafeFileHandle();
        return fd;
    }

    /// <summary>Closes the descriptors nobody took, ready for the next message.</summary>
    public void Clear()
    {
        foreach (SafeFileHandle fd in Fds)
        {
            fd.Dispose();
        }

        Fds.Clear();
        FdsTruncated = false;
    }

    public void Dispose() => Clear();
}

/// <summary>
/// A connected vhost-user stream socket (<c>AF_UNIX</c>, <c>SOCK_STREAM</c>): blocking message reads and writes with
/// <c>SCM_RIGHTS</c> descriptors. Used by one reader thread and one writer at a time; <see cref="Close"/> (from any
/// thread) ends a blocked read.
/// </summary>
internal sealed unsafe class VhostUserSocket : IDisposable
{
    private readonly SafeFileHandle _fd;

    public VhostUserSocket(SafeFileHandle fd) => _fd = fd;

    /// <summary>The descriptor (for tests that need to reach the raw socket).</summary>
    public SafeFileHandle Handle => _fd;

    /// <summary>Reads one whole message.</summary>
    /// <returns>False at end of stream (the peer closed, or <see cref="Close"/> was called).</returns>
    /// <exception cref="VhostUserException">A socket error, a truncated message or a payload larger than we accept.</exception>
    public bool TryReceive(VhostUserMessage message)
    {
        message.Clear();
        VhostUserHeader header;
        int got;
        try
        {
            got = ReceiveAll(new Span<byte>(&header, VhostUserProtocol.HeaderSize), message, allowEof: true);
        }
        catch (ObjectDisposedException)
        {
            // Disposed by another thread between two messages: the same as a close.
            return false;
        }

        if (got == 0)
        {
            return false;
        }

        if (header.Size > VhostUserProtocol.MaxPayloadSize)
        {
            // The stream cannot be resynchronised past a payload we will not read.
            throw new VhostUserException($"vhost-user: request {header.Request} announces a payload of {header.Size} bytes, more than {VhostUserProtocol.MaxPayloadSize}.");
        }

        message.Header = header;
        if (header.Size != 0)
        {
            ReceiveAll(message.Payload.AsSpan(0, (int)header.Size), message, allowEof: false);
        }

        return true;
    }

    /// <summary>Sends one message (header, payload, and descriptors as <c>SCM_RIGHTS</c>).</summary>
    /// <exception cref="VhostUserException">The send failed (the peer is gone).</exception>
    public void Send(uint request, uint flags, ReadOnlySpan<byte> payload, ReadOnlySpan<SafeHandle> fds = default)
    {
        if (fds.Length > VhostUserProtocol.MaxMessageFds)
        {
            throw new ArgumentOutOfRangeException(nameof(fds), "At most 8 descriptors travel with one message.");
        }

        var header = new VhostUserHeader { Request = request, Flags = flags, Size = (uint)payload.Length };
        byte* control = stackalloc byte[Interop.CmsgHeaderSize + (4 * VhostUserProtocol.MaxMessageFds)];
        Span<bool> added = stackalloc bool[fds.Length];
        try
        {
            for (int i = 0; i < fds.Length; i++)
            {
                fds[i].DangerousAddRef(ref added[i]);
                ((int*)(control + Interop.CmsgHeaderSize))[i] = (int)fds[i].DangerousGetHandle();
            }

            int controlLength = fds.IsEmpty ? 0 : Interop.CmsgHeaderSize + (4 * fds.Length);
            *(nuint*)control = (nuint)controlLength;
            *(int*)(control + 8) = Interop.SOL_SOCKET;
            *(int*)(control + 12) = Interop.SCM_RIGHTS;
            fixed (byte* body = payload)
            {
                Interop.IoVec* iov = stackalloc Interop.IoVec[2];
                iov[0] = new Interop.IoVec { Base = &header, Length = VhostUserProtocol.HeaderSize };
                iov[1] = new Interop.IoVec { Base = body, Length = (nuint)payload.Length };
                var msg = new Interop.MsgHdr { Iov = iov, IovLength = payload.IsEmpty ? 1u : 2u, Control = fds.IsEmpty ? null : control, ControlLength = (nuint)controlLength };
                long total = VhostUserProtocol.HeaderSize + payload.Length;
                long sent = SendOnce(&msg);

                // The descriptors went with the first byte; a short write (a full socket buffer) sends the rest plainly.
                while (sent < total)
                {
                    AdvanceIov(ref msg, sent);
                    msg.Control = null;
                    msg.ControlLength = 0;
                    total -= sent;
                    sent = SendOnce(&msg);
                }
            }
        }
        finally
        {
            for (int i = 0; i < fds.Length; i++)
            {
                if (added[i])
                {
                    fds[i].DangerousRelease();
                }
            }
        }
    }

    /// <summary>
    /// Bounds every later receive and send: one that waits longer (a peer that does not answer, or reads nothing while
    /// the socket buffer is full) fails with <see cref="VhostUserException"/>.
    /// </summary>
    /// <param name="timeout">At least 1 ms.</param>
    public void SetTimeouts(TimeSpan timeout)
    {
        long microseconds = Math.Max(1000, (long)(timeout.Ticks / 10));
        var value = new Interop.TimeVal { Seconds = microseconds / 1_000_000, Microseconds = microseconds % 1_000_000 };
        if (Interop.SetSockOpt(_fd, Interop.SOL_SOCKET, Interop.SO_RCVTIMEO, &value, (uint)sizeof(Interop.TimeVal)) != 0
            || Interop.SetSockOpt(_fd, Interop.SOL_SOCKET, Interop.SO_SNDTIMEO, &value, (uint)sizeof(Interop.TimeVal)) != 0)
        {
            throw new VhostUserException($"vhost-user: setting a socket timeout failed: {Interop.LastErrno}.", Interop.LastErrno);
        }
    }

    /// <summary>Ends the connection in both directions; a blocked <see cref="TryReceive"/> returns false.</summary>
    public void Close() => _ = Interop.Shutdown(_fd, Interop.SHUT_RDWR);

    public void Dispose()
    {
        Close();
        _fd.Dispose();
    }

    private long SendOnce(Interop.MsgHdr* msg)
    {
        while (true)
        {
            nint sent = Interop.SendMsg(_fd, msg, Interop.MSG_NOSIGNAL);
            if (sent >= 0)
            {
                return sent;
            }

            if (Interop.LastErrno != Protocol.Errno.EINTR)
            {
                throw new VhostUserException($"vhost-user: sending a message failed: {Interop.LastErrno}.");
            }
        }
    }

    private static void AdvanceIov(ref Interop.MsgHdr msg, long count)
    {
        while (count > 0 && msg.IovLength > 0)
        {
            long take = Math.Min(count, (long)msg.Iov->Length);
            msg.Iov->Base = (byte*)msg.Iov->Base + take;
            msg.Iov->Length -= (nuint)take;
            count -= take;
            if (msg.Iov->Length == 0)
            {
                msg.Iov++;
                msg.IovLength--;
            }
        }
    }

    /// <summary>Fills <paramref name="buffer"/>, collecting descriptors; returns 0 only at a clean end of stream before any byte.</summary>
    private int ReceiveAll(Span<byte> buffer, VhostUserMessage message, bool allowEof)
    {
        int total = 0;
        byte* control = stackalloc byte[Interop.CmsgHeaderSize + (4 * VhostUserProtocol.MaxMessageFds)];
        fixed (byte* start = buffer)
        {
            while (total < buffer.Length)
            {
                var iov = new Interop.IoVec { Base = start + total, Length = (nuint)(buffer.Length - total) };
                var msg = new Interop.MsgHdr
                {
                    Iov = &iov,
                    IovLength = 1,
                    Control = control,
                    ControlLength = (nuint)(Interop.CmsgHeaderSize + (4 * VhostUserProtocol.MaxMessageFds)),
                };
                nint got = Interop.RecvMsg(_fd, &msg, Interop.MSG_CMSG_CLOEXEC);
                if (got < 0)
                {
                    Protocol.Errno errno = Interop.LastErrno;
                    if (errno == Protocol.Errno.EINTR)
                    {
                        continue;
                    }

                    if ((errno is Protocol.Errno.ECONNRESET or Protocol.Errno.EINVAL or Protocol.Errno.ENOTCONN) && total == 0 && allowEof)
                    {
                        return 0;
                    }

                    throw new VhostUserException($"vhost-user: receiving a message failed: {errno}.");
                }

                message.FdsTruncated |= Interop.TakeRightsDescriptors(&msg, message.Fds);
                if (got == 0)
                {
                    if (total == 0 && allowEof)
                    {
                        return 0;
                    }

                    throw new VhostUserException("vhost-user: the connection ended inside a message.");
                }

                total += (int)got;
            }
        }

        return total;
    }
}
