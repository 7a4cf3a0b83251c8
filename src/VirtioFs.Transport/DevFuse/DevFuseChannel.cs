using Microsoft.Win32.SafeHandles;
using VirtioFs.Protocol;

namespace VirtioFs.Transport;

/// <summary>
/// One <c>/dev/fuse</c> descriptor (the mount's, or a <c>FUSE_DEV_IOC_CLONE</c> of it) as an <see cref="IFuseChannel"/>.
/// The descriptor is non-blocking: a reader polls it together with a shutdown eventfd, so <see cref="Shutdown"/>
/// wakes every waiting reader. Each request is one <c>read</c>, each reply one <c>writev</c>.
/// </summary>
internal sealed unsafe class DevFuseChannel : IFuseChannel
{
    private readonly SafeFileHandle _fd;
    private readonly SafeFileHandle _shutdown;
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
                nint n = Interop.Read(_fd, data, (nuint)buffer.Length);
                if (n > 0)
                {
                    return new(new FuseChannelRequest((int)n, int.MaxValue, 0));
                }

                Errno error = n == 0 ? Errno.ENODEV : Interop.LastErrno;
                switch (error)
                {
                    case Errno.EAGAIN:
                        if (!WaitReadable())
                        {
                            return new(FuseChannelRequest.EndOfStream);
                        }

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

    /// <summary>Waits until the device is readable; false once the shutdown eventfd fired or the device hung up.</summary>
    private bool WaitReadable()
    {
        bool addedFd = false, addedShutdown = false;
        try
        {
            _fd.DangerousAddRef(ref addedFd);
            _shutdown.DangerousAddRef(ref addedShutdown);
            Interop.PollFd* fds = stackalloc Interop.PollFd[2];
            fds[0] = new Interop.PollFd { Fd = (int)_fd.DangerousGetHandle(), Events = Interop.POLLIN };
            fds[1] = new Interop.PollFd { Fd = (int)_shutdown.DangerousGetHandle(), Events = Interop.POLLIN };
            while (true)
            {
                int n = Interop.Poll(fds, 2, -1);
                if (n < 0 && Interop.LastErrno == Errno.EINTR)
                {
                    continue;
                }

                if (n < 0 || fds[1].Revents != 0 || Volatile.Read(ref _closed) != 0)
                {
                    return false;
                }

                // POLLERR on /dev/fuse means the connection was aborted or unmounted: read reports it as ENODEV.
                return true;
            }
        }
        finally
        {
            if (addedShutdown)
            {
                _shutdown.DangerousRelease();
            }

            if (addedFd)
            {
                _fd.DangerousRelease();
            }
        }
    }
}
