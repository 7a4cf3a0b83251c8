using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Win32.SafeHandles;
using VirtioFs.Protocol;
using VirtioFs.Transport.VhostUser;

namespace VirtioFs.Transport;

/// <summary>
/// A virtio-fs device backend: listens on a Unix socket for a VMM (QEMU's <c>vhost-user-fs-pci</c>, Cloud Hypervisor,
/// crosvm…) speaking vhost-user, and serves FUSE sessions to the guest over the device's virtqueues.
/// </summary>
/// <remarks>
/// <para>Queue 0 is the hiprio queue (FORGET, INTERRUPT), queues 1..<see cref="VhostUserFsOptions.RequestQueues"/>
/// the request queues, each a channel of the session, served by its own worker threads.</para>
/// <para>Each device start (and each remount after the guest's DESTROY) gets a fresh session from the factory, started
/// only after the previous one ended, so a factory may hand out sessions over one filesystem (which then keeps its
/// contents across guest reboots).</para>
/// <para>Everything the guest and the VMM send is checked: a VMM that breaks the protocol loses its connection, a guest
/// that breaks a virtqueue loses the device until it resets it (<see cref="DeviceBroken"/>); neither ends the process.</para>
/// <para>QEMU: <c>-object memory-backend-memfd,id=mem,size=1G,share=on -numa node,memdev=mem
/// -chardev socket,id=vfs,path=SOCKET -device vhost-user-fs-pci,chardev=vfs,tag=TAG</c>.</para>
/// </remarks>
public sealed partial class VhostUserFsBackend : IAsyncDisposable
{
    private readonly SafeFileHandle _listener;
    private readonly VhostUserFsOptions _options;
    private readonly Func<FuseSession> _sessionFactory;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private VhostUserFsDevice? _device;
    private bool _disposed;

    private VhostUserFsBackend(SafeFileHandle listener, VhostUserFsOptions options, Func<FuseSession> sessionFactory, ILogger logger)
    {
        _listener = listener;
        _options = options;
        _sessionFactory = sessionFactory;
        _logger = logger;
    }

    /// <summary>Raised (on a worker thread) when the guest broke the device; the argument says how.</summary>
    public event EventHandler<string>? DeviceBroken;

    /// <summary>The options the backend serves with.</summary>
    public VhostUserFsOptions Options => _options;

    /// <summary>
    /// Creates the socket and listens on it, so that a VMM can be started as soon as this returns. A stale socket file
    /// (nobody listening) is replaced.
    /// </summary>
    /// <param name="options">The socket, tag and queues.</param>
    /// <param name="sessionFactory">Makes a session (filesystem, options, logger) for each device start.</param>
    /// <param name="logger">Where connection events and protocol errors are logged.</param>
    /// <returns>The listening backend; <see cref="RunAsync"/> serves it.</returns>
    /// <exception cref="VhostUserException">The socket cannot be created there; the message names the cause.</exception>
    public static unsafe VhostUserFsBackend Listen(VhostUserFsOptions options, Func<FuseSession> sessionFactory, ILogger<VhostUserFsBackend>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(sessionFactory);
        string path = options.SocketPath;
        if (!Interop.TryMakeUnixAddress(path, out Interop.SockAddrUnix address))
        {
            throw new VhostUserException($"The socket path '{path}' does not fit a Unix socket address ({Interop.UnixPathMax - 1} bytes at most); choose a shorter one.", Errno.ENAMETOOLONG);
        }

        RemoveStaleSocket(path, &address);
        SafeFileHandle listener = NewSocket();
        try
        {
            if (Interop.Bind(listener, &address, (uint)sizeof(Interop.SockAddrUnix)) != 0)
            {
                Errno errno = Interop.LastErrno;
                throw new VhostUserException(errno switch
                {
                    Errno.ENOENT or Errno.ENOTDIR => $"Cannot create the socket '{path}': its directory does not exist.",
                    Errno.EACCES or Errno.EPERM or Errno.EROFS => $"Cannot create the socket '{path}': no permission to write its directory ({errno}).",
                    Errno.EADDRINUSE => $"Cannot create the socket '{path}': the path is in use.",
                    _ => $"Cannot create the socket '{path}': {errno}.",
                }, errno);
            }

            if (Interop.Listen(listener, 1) != 0)
            {
                throw new VhostUserException($"Cannot listen on '{path}': {Interop.LastErrno}.", Interop.LastErrno);
            }
        }
        catch
        {
            listener.Dispose();
            throw;
        }

        return new VhostUserFsBackend(listener, options, sessionFactory, (ILogger?)logger ?? NullLogger.Instance);
    }

    /// <summary>
    /// Listens, reports it, and serves until the VMM disconnects (or, with <see cref="VhostUserFsOptions.Reconnect"/>,
    /// until <paramref name="cancellationToken"/> fires); the socket file is removed at the end.
    /// </summary>
    /// <param name="options">The socket, tag and queues.</param>
    /// <param name="sessionFactory">Makes a session for each device start.</param>
    /// <param name="logger">Where connection events and protocol errors are logged.</param>
    /// <param name="listening">Called once the socket listens (a VMM may connect from then on).</param>
    /// <param name="cancellationToken">Ends serving.</param>
    /// <returns>A task that completes when serving has ended.</returns>
    /// <exception cref="VhostUserException">The socket cannot be created, or accepting failed.</exception>
    public static async Task ServeAsync(
        VhostUserFsOptions options, Func<FuseSession> sessionFactory, ILogger<VhostUserFsBackend>? logger = null, Action? listening = null, CancellationToken cancellationToken = default)
    {
        await using VhostUserFsBackend backend = Listen(options, sessionFactory, logger);
        listening?.Invoke();
        await backend.RunAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Serves VMM connections one at a time: returns when the VMM disconnects, or, with
    /// <see cref="VhostUserFsOptions.Reconnect"/>, waits for the next until <paramref name="cancellationToken"/> fires.
    /// A connection that closes before sending a whole message is not a VMM and does not end serving.
    /// </summary>
    /// <param name="cancellationToken">Ends serving: the current connection is closed and its session stopped.</param>
    /// <returns>A task that completes when serving has ended.</returns>
    /// <exception cref="VhostUserException">Accepting a connection failed.</exception>
    public Task RunAsync(CancellationToken cancellationToken = default)
    {
        var completion = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            using CancellationTokenRegistration registration = cancellationToken.Register(static s => ((VhostUserFsBackend)s!).Stop(), this);
            try
            {
                Serve(cancellationToken);
                completion.SetResult();
            }
            catch (Exception ex)
            {
                completion.SetException(ex);
            }
        })
        {
            IsBackground = true,
            Name = "vhost-user",
        };
        thread.Start();
        return completion.Task;
    }

    /// <summary>Stops serving, closes the socket and removes its file.</summary>
    /// <returns>A task that completes once the socket is closed.</returns>
    public ValueTask DisposeAsync()
    {
        Stop();
        _listener.Dispose();
        return ValueTask.CompletedTask;
    }

    private unsafe void Serve(CancellationToken cancellationToken)
    {
        while (!IsStopped && !cancellationToken.IsCancellationRequested)
        {
            int fd = Interop.Accept4(_listener, null, null, Interop.SOCK_CLOEXEC);
            if (fd < 0)
            {
                Errno errno = Interop.LastErrno;
                if (errno == Errno.EINTR || errno == Errno.ECONNABORTED)
                {
                    continue;
                }

                if (IsStopped || cancellationToken.IsCancellationRequested)
                {
                    return;
                }

                throw new VhostUserException($"Accepting a VMM connection on '{_options.SocketPath}' failed: {errno}.", errno);
            }

            var socket = new VhostUserSocket(Interop.Own(fd));
            VhostUserFsDevice device;
            try
            {
                device = new VhostUserFsDevice(socket, _options, _sessionFactory, _logger, RaiseDeviceBroken);
            }
            catch
            {
                // Out of descriptors for the rings' eventfds, say: this connection is lost, nothing is leaked.
                socket.Dispose();
                throw;
            }

            lock (_lock)
            {
                if (_disposed)
                {
                    device.Dispose();
                    return;
                }

                _device = device;
            }

            Log.Connected(_logger, _options.SocketPath);
            bool spoke;
            try
            {
                spoke = device.Serve();
            }
            finally
            {
                lock (_lock)
                {
                    _device = null;
                }

                device.Dispose();
                Log.Disconnected(_logger);
            }

            // A connection that ended before its first message was no VMM (another backend's Listen probing whether
            // this socket is live, say): keep waiting for the VMM.
            if (spoke && !_options.Reconnect)
            {
                return;
            }
        }
    }

    private bool IsStopped
    {
        get
        {
            lock (_lock)
            {
                return _disposed;
            }
        }
    }

    private void Stop()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _device?.Close();
        }

        // Wakes a blocked accept (it fails with EINVAL), then frees the name for the next backend.
        try
        {
            _ = Interop.Shutdown(_listener, Interop.SHUT_RDWR);
        }
        catch (ObjectDisposedException)
        {
            // Disposed meanwhile: nothing is listening any more.
        }

        try
        {
            File.Delete(_options.SocketPath);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    /// <summary>Tells the user the guest broke the device; a handler that throws is logged, never lets the backend fail.</summary>
    private void RaiseDeviceBroken(string reason)
    {
        try
        {
            DeviceBroken?.Invoke(this, reason);
        }
        catch (Exception ex)
        {
            Log.HandlerThrew(_logger, ex);
        }
    }

    private static SafeFileHandle NewSocket()
    {
        int fd = Interop.Socket(Interop.AF_UNIX, Interop.SOCK_STREAM | Interop.SOCK_CLOEXEC, 0);
        return fd < 0 ? throw new VhostUserException($"Cannot create a Unix socket: {Interop.LastErrno}.", Interop.LastErrno) : Interop.Own(fd);
    }

    /// <summary>Removes a socket file nobody listens on; refuses a live socket or a file that is not a socket.</summary>
    private static unsafe void RemoveStaleSocket(string path, Interop.SockAddrUnix* address)
    {
        uint mode = Interop.LStatMode(path, out Errno errno);
        if (errno == Errno.ENOENT)
        {
            return;
        }

        if (errno != Errno.Success || (mode & Interop.S_IFMT) != Interop.S_IFSOCK)
        {
            throw new VhostUserException(
                errno == Errno.Success
                    ? $"Cannot create the socket '{path}': a file that is not a socket is there; remove it or choose another path."
                    : $"Cannot create the socket '{path}': {errno}.",
                errno == Errno.Success ? Errno.EEXIST : errno);
        }

        using SafeFileHandle probe = NewSocket();
        if (Interop.Connect(probe, address, (uint)sizeof(Interop.SockAddrUnix)) == 0)
        {
            throw new VhostUserException($"Cannot create the socket '{path}': another backend is listening there.", Errno.EADDRINUSE);
        }

        File.Delete(path);
    }

    private static partial class Log
    {
        [LoggerMessage(311, LogLevel.Information, "vhost-user: a VMM connected on {Path}")]
        public static partial void Connected(ILogger logger, string path);

        [LoggerMessage(312, LogLevel.Information, "vhost-user: the VMM disconnected")]
        public static partial void Disconnected(ILogger logger);

        [LoggerMessage(313, LogLevel.Error, "vhost-user: a DeviceBroken handler threw")]
        public static partial void HandlerThrew(ILogger logger, Exception exception);
    }
}
