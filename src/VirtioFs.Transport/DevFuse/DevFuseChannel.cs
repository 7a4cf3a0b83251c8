using Microsoft.Win32.SafeHandles;
using VirtioFs.Protocol;

namespace VirtioFs.Transport;

/// <summary>
/// One <c>/dev/fuse</c> descriptor (the mount's, or a <c>FUSE_DEV_IOC_CLONE</c> of it) as an <see cref="IFuseChannel"/>.
/// The descriptor is non-blocking: an idle reader waits in its own epoll on it and on a shutdown eventfd, so
/// <see cref="Shutdown"/> wakes every waiting reader without unmounting. Each request is one <c>read</c>, each reply one <c>writev</c>.
/// </summary>
internal sealed unsafe class DevFuseChannel : IFuseChannel
{
    private const int DeviceTag = 1;
    private const int ShutdownTag = 2;
    private readonly SafeFileHandle _fd;
    private readonly SafeFileHandle _shutdown;
    private readonly SafeFileHandle _epoll;
    private readonly Action _unmounted;
    private int _closed;

    /// <param name="fd">The descriptor (owned).</param>
    /// <param name="shutdown">An eventfd shared by the mount's channels, readable once the mount shuts down (not owned).</param>
    /// <param name="maxRequestSize">The request buffer size the session uses.</param>
    /// <param name="unmounted">Called when the kernel reports the filesystem unmounted (<c>ENODEV</c>).</param>
    public DevFuseChannel(SafeFileHandle fd, SafeFileHandle shutdown, int maxRequestSize, Action unmounted)
    {
        _fd = fd;
        _shutdown = shutdown;
        MaxRequestSize = maxRequestSize;
        _unmounted = unmounted;
        Passthrough = new DevFusePassthrough(fd);
        _epoll = CreateEpoll(fd, shutdown);
    }

    public int MaxRequestSize { get; }

    public bool ReceiveBlocksThread => true;

    public IFusePassthrough? Passthrough { get; }

    /// <remarks>Blocks the calling thread in <c>poll</c> until a request or the shutdown arrives, as a libfuse worker does;
    /// the session runs each worker loop on its own thread-pool thread.</remarks>
    public ValueTask<FuseChannelRequest> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        fixed (byte* data = buffer.Span)
        {
            while (Volatile.Read(ref _closed) == 0 && !cancellationToken.IsCancellationRequested)
            {
                // Wait before reading: epoll_wait returns at once when a request is queued, and an idle worker does not
                // spend a read on EAGAIN (two system calls per request, plus the reply's writev).
                if (!WaitReadable())
                {
                    return new(FuseChannelRequest.EndOfStream);
                }

                nint n = Interop.Read(_fd, data, (nuint)buffer.Length);
                if (n > 0)
                {
                    return new(new FuseChannelRequest((int)n, int.MaxValue, 0));
                }

                Errno error = n == 0 ? Errno.ENODEV : Interop.LastErrno;
                switch (error)
                {
                    case Errno.EAGAIN:
                        // Another worker took the request: wait again.
                        break;
                    case Errno.EINTR:
                    case Errno.ENOENT:
                        // Interrupted, or a request aborted between poll and read: try again.
                        break;
                    case Errno.ENODEV:
                        _unmounted();
                        return new(FuseChannelRequest.EndOfStream);
                    default:
                        return ValueTask.FromException<FuseChannelRequest>(new FuseChannelException($"read(/dev/fuse) failed: {error}."));
                }
            }
        }

        return new(FuseChannelRequest.EndOfStream);
    }

    public ValueTask CompleteAsync(FuseChannelRequest request, ReadOnlyMemory<byte> reply, CancellationToken cancellationToken)
    {
        if (reply.IsEmpty)
        {
            return ValueTask.CompletedTask;
        }

        Errno error = WriteMessage(reply.Span);

        // ENOENT: the request was interrupted or aborted meanwhile; ENODEV: unmounted. Both are expected.
        return error is Errno.Success or Errno.ENOENT or Errno.ENODEV
            ? ValueTask.CompletedTask
            : ValueTask.FromException(new FuseChannelException($"writev(/dev/fuse) of a reply failed: {error}."));
    }

    public ValueTask SendNotificationAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken)
    {
        Errno error = WriteMessage(message.Span);
        return error == Errno.Success
            ? ValueTask.CompletedTask
            : ValueTask.FromException(new FuseProtocolException($"The kernel rejected the notification: {error}.", error));
    }

    /// <summary>Stops this channel and, through the shared eventfd, wakes every reader of the mount.</summary>
    public void Shutdown()
    {
        if (Interlocked.Exchange(ref _closed, 1) == 0 && !_shutdown.IsClosed)
        {
            ulong one = 1;
            _ = Interop.Write(_shutdown, (byte*)&one, sizeof(ulong));
        }
    }

    public ValueTask DisposeAsync()
    {
        Shutdown();
        _epoll.Dispose();
        _fd.Dispose();
        return ValueTask.CompletedTask;
    }

    private Errno WriteMessage(ReadOnlySpan<byte> message)
    {
        fixed (byte* data = message)
        {
            var iov = new Interop.IoVec { Base = data, Length = (nuint)message.Length };
            while (true)
            {
                nint n = Interop.WriteV(_fd, &iov, 1);
                if (n >= 0)
                {
                    return Errno.Success;
                }

                Errno error = Interop.LastErrno;
                if (error != Errno.EINTR && error != Errno.EAGAIN)
                {
                    return error;
                }
            }
        }
    }

    /// <summary>
    /// Waits until the device is readable; false once the shutdown eventfd fired. The device is registered with
    /// <c>EPOLLEXCLUSIVE</c>, but the kernel wakes the FUSE request queue without a poll key, which epoll cannot treat
    /// as exclusive: every idle worker wakes for each request and all but one find nothing to read.
    /// </summary>
    private bool WaitReadable()
    {
        int size = Interop.EpollEventSize;
        byte* events = stackalloc byte[2 * 16];
        while (true)
        {
            int n = Interop.EpollWait(_epoll, events, 2, -1);
            if (n < 0)
            {
                if (Interop.LastErrno == Errno.EINTR)
                {
                    continue;
                }

                return false;
            }

            for (int i = 0; i < n; i++)
            {
                if (*(int*)(events + (i * size) + Interop.EpollDataOffset) == ShutdownTag)
                {
                    return false;
                }
            }

            // The device is readable, or in error (unmounted, aborted): the read that follows reports which.
            return Volatile.Read(ref _closed) == 0;
        }
    }

    private static SafeFileHandle CreateEpoll(SafeFileHandle device, SafeFileHandle shutdown)
    {
        int fd = Interop.EpollCreate1(Interop.EPOLL_CLOEXEC);
        if (fd < 0)
        {
            throw new FuseChannelException($"epoll_create1 failed: {Interop.LastErrno}.");
        }

        SafeFileHandle epoll = Interop.Own(fd);
        Add(epoll, device, Interop.EPOLLIN | Interop.EPOLLEXCLUSIVE, DeviceTag);
        Add(epoll, shutdown, Interop.EPOLLIN, ShutdownTag);
        return epoll;

        static void Add(SafeFileHandle epoll, SafeFileHandle target, uint events, int tag)
        {
            byte* record = stackalloc byte[16];
            new Span<byte>(record, 16).Clear();
            *(uint*)record = events;
            *(int*)(record + Interop.EpollDataOffset) = tag;
            if (Interop.EpollCtl(epoll, Interop.EPOLL_CTL_ADD, (int)target.DangerousGetHandle(), record) != 0)
            {
                Errno error = Interop.LastErrno;
                epoll.Dispose();
                throw new FuseChannelException($"epoll_ctl failed: {error}.");
            }
        }
    }
}
