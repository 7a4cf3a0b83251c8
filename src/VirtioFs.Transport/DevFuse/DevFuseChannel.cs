using System.Diagnostics;
using Microsoft.Win32.SafeHandles;
using VirtioFs.Protocol;

namespace VirtioFs.Transport;

/// <summary>
/// One <c>/dev/fuse</c> descriptor (the mount's, or a <c>FUSE_DEV_IOC_CLONE</c> of it) as an <see cref="IFuseChannel"/>.
/// Each request is one blocking <c>read</c>, each reply one <c>writev</c>. Blocking readers wait in the kernel's request
/// queue exclusively, so one request wakes one idle worker (as in libfuse); with
/// <see cref="FuseMountOptions.ParkIdleWorkers"/> a <see cref="DevFuseReaderGate"/> lets only one of them wait there at a
/// time. <see cref="Shutdown"/> wakes them by aborting the connection through the fuse control filesystem, and
/// unmounting wakes them with <c>ENODEV</c>.
/// </summary>
internal sealed unsafe class DevFuseChannel : IFuseChannel
{
    /// <summary>A request that kept its worker longer than this (200 µs) counts as blocking for the reader gate.</summary>
    private static readonly long SlowRequestTicks = Stopwatch.Frequency / 5000;

    private readonly SafeFileHandle _fd;
    private readonly FuseConnectionControl _control;
    private readonly Action _unmounted;
    private readonly DevFuseReaderGate? _gate;
    private readonly DevFuseReaderGate.Waiter _waiter = new();
    private int _closed;
    private long _receivedAt;
    private int _queuedStreak;

    /// <param name="fd">The descriptor (owned).</param>
    /// <param name="control">The mount's connection control, shared by its channels.</param>
    /// <param name="maxRequestSize">The request buffer size the session uses.</param>
    /// <param name="unmounted">Called when the kernel reports the connection gone (<c>ENODEV</c>, <c>ECONNABORTED</c>).</param>
    /// <param name="gate">The mount's reader gate when it has several workers, else null.</param>
    public DevFuseChannel(SafeFileHandle fd, FuseConnectionControl control, int maxRequestSize, Action unmounted, DevFuseReaderGate? gate = null)
    {
        _fd = fd;
        _control = control;
        _gate = gate;
        MaxRequestSize = maxRequestSize;
        _unmounted = unmounted;
        Passthrough = new DevFusePassthrough(fd);
    }

    public int MaxRequestSize { get; }

    public bool ReceiveBlocksThread => true;

    public IFusePassthrough? Passthrough { get; }

    /// <remarks>Blocks the calling thread in <c>read</c> until a request arrives or the connection ends, as a libfuse
    /// worker does; the session runs each such worker on its own thread.</remarks>
    public ValueTask<FuseChannelRequest> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        if (_gate is null)
        {
            return Receive(buffer.Span, cancellationToken);
        }

        // How long the previous request kept this worker (filesystem call and reply): a slow one says requests block.
        bool slow = Stopwatch.GetTimestamp() - _receivedAt > SlowRequestTicks;
        ValueTask<FuseChannelRequest> received;
        _gate.Enter(_waiter);
        try
        {
            received = Receive(buffer.Span, cancellationToken);
        }
        finally
        {
            _gate.Exit();
        }

        // More requests queued behind this one, and either they block or this worker found a queue twice running (it
        // cannot keep up): another worker reads now rather than when the gate's watcher notices. A worker that keeps
        // up with quick requests keeps them: one warm thread takes them faster than two.
        _receivedAt = Stopwatch.GetTimestamp();
        if (_gate.ParkedCount > 0 && received.IsCompletedSuccessfully && !received.Result.IsEndOfStream)
        {
            if (!RequestQueued())
            {
                _queuedStreak = 0;
            }
            else if (slow || ++_queuedStreak >= 2)
            {
                _queuedStreak = 0;
                _gate.HandOver();
            }
        }

        return received;
    }

    /// <summary>Whether the kernel has a request waiting (a <c>poll</c> that does not wait).</summary>
    private bool RequestQueued()
    {
        var poll = new Interop.PollFd { Fd = (int)_fd.DangerousGetHandle(), Events = Interop.POLLIN };
        return Interop.Poll(&poll, 1, 0) > 0 && (poll.ReturnedEvents & Interop.POLLIN) != 0;
    }

    private ValueTask<FuseChannelRequest> Receive(Span<byte> buffer, CancellationToken cancellationToken)
    {
        fixed (byte* data = buffer)
        {
            while (Volatile.Read(ref _closed) == 0 && !cancellationToken.IsCancellationRequested)
            {
                nint n = Interop.Read(_fd, data, (nuint)buffer.Length);
                if (n > 0)
                {
                    // A request read while shutting down cannot be served: the abort fails it for its caller.
                    return Volatile.Read(ref _closed) == 0 ? new(new FuseChannelRequest((int)n, int.MaxValue, 0)) : new(FuseChannelRequest.EndOfStream);
                }

                Errno error = n == 0 ? Errno.ENODEV : Interop.LastErrno;
                switch (error)
                {
                    case Errno.EINTR:
                    case Errno.EAGAIN:
                    case Errno.ENOENT:
                        // Interrupted, or a request aborted before we could take it: read again.
                        break;
                    case Errno.ENODEV:
                    case Errno.ECONNABORTED:
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

        // ENOENT: the request was interrupted or aborted meanwhile; ENODEV/ECONNABORTED: the connection is gone. All expected.
        return error is Errno.Success or Errno.ENOENT or Errno.ENODEV or Errno.ECONNABORTED
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

    /// <summary>Stops this channel and ends the connection, which wakes every worker blocked in <c>read</c>.</summary>
    public void Shutdown()
    {
        if (Interlocked.Exchange(ref _closed, 1) == 0)
        {
            _control.Abort();
            _gate?.Close();
        }
    }

    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>Shuts down and closes the descriptor (all of it is synchronous).</summary>
    public void Dispose()
    {
        Shutdown();
        _fd.Dispose();
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
}
