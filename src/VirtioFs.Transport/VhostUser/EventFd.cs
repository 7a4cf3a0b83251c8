using Microsoft.Win32.SafeHandles;

namespace VirtioFs.Transport.VhostUser;

/// <summary>Eventfd doorbells: kick, call and err descriptors of vrings, and private wake-ups of waiting workers.</summary>
internal static unsafe class EventFd
{
    /// <summary>A new eventfd (close-on-exec, non-blocking).</summary>
    /// <exception cref="VhostUserException">The system refused one.</exception>
    public static SafeFileHandle Create()
    {
        int fd = Interop.EventFd(0, Interop.EFD_CLOEXEC | Interop.EFD_NONBLOCK);
        if (fd < 0)
        {
            throw new VhostUserException($"eventfd failed: {Interop.LastErrno}.", Interop.LastErrno);
        }

        return Interop.Own(fd);
    }

    /// <summary>Adds one to the counter; false when the descriptor refused it (closed by the peer, not an eventfd).</summary>
    public static bool Signal(SafeFileHandle fd)
    {
        ulong one = 1;
        while (true)
        {
            if (Interop.Write(fd, (byte*)&one, sizeof(ulong)) == sizeof(ulong))
            {
                return true;
            }

            // EAGAIN: the counter is at its maximum, so the reader is woken anyway.
            if (Interop.LastErrno != Protocol.Errno.EINTR)
            {
                return Interop.LastErrno == Protocol.Errno.EAGAIN;
            }
        }
    }

    /// <summary>Resets the counter of a descriptor that <c>poll</c> reported readable.</summary>
    public static void Drain(SafeFileHandle fd)
    {
        ulong value;
        while (Interop.Read(fd, (byte*)&value, sizeof(ulong)) < 0 && Interop.LastErrno == Protocol.Errno.EINTR)
        {
        }
    }
}
