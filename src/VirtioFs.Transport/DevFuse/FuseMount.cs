using System.Diagnostics;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;
using VirtioFs.Protocol;

namespace VirtioFs.Transport;

/// <summary>
/// A filesystem mounted through the kernel's <c>/dev/fuse</c>: the mount itself (by <c>mount(2)</c> when root, else through
/// <c>fusermount3</c>) and one <see cref="IFuseChannel"/> per worker (the mount's descriptor and its
/// <c>FUSE_DEV_IOC_CLONE</c>s). Serve <see cref="Channels"/> with a <see cref="FuseSession"/> whose
/// <see cref="FuseSessionOptions.WorkersPerChannel"/> is 1, or use <see cref="RunAsync"/>.
/// </summary>
public sealed partial class FuseMount : IAsyncDisposable
{
    /// <summary><c>_IOR(229, 0, uint32_t)</c>.</summary>
    internal const uint DevIocClone = 0x8004E500;

    private readonly SafeFileHandle? _fusermountSocket;
    private readonly FuseMountOptions _options;
    /// <summary>How long a worker may keep a request before a parked one reads in its place (see <see cref="DevFuseReaderGate"/>):
    /// long enough that the watcher's ticks cost nothing measurable, short against a blocked request.</summary>
    private static readonly TimeSpan ReaderHandOverDelay = TimeSpan.FromMilliseconds(10);

    private readonly List<DevFuseChannel> _channels = [];
    private readonly DevFuseReaderGate? _gate;
    private int _unmounted;
    private int _detached;

    private FuseMount(FuseMountOptions options, SafeFileHandle? fusermountSocket)
    {
        _options = options;
        _fusermountSocket = fusermountSocket;
        _gate = options.Workers > 1 && options.ParkIdleWorkers ? new DevFuseReaderGate(ReaderHandOverDelay) : null;
    }

    /// <summary>The mount point.</summary>
    public string MountPoint => _options.MountPoint;

    /// <summary>The channels, one per worker.</summary>
    public IReadOnlyList<IFuseChannel> Channels => _channels;

    /// <summary>Whether the filesystem was unmounted (by <see cref="Unmount"/> or from outside: the kernel reported <c>ENODEV</c>).</summary>
    public bool IsUnmounted => Volatile.Read(ref _unmounted) != 0;

    /// <summary>Mounts.</summary>
    /// <param name="options">Where and how.</param>
    /// <param name="maxRequestSize">The session's request buffer size (<see cref="FuseSessionOptions.RequestBufferSize"/>).</param>
    /// <returns>The mount; dispose it to unmount.</returns>
    /// <exception cref="FuseMountException">The mount failed; the message names the cause and the fix.</exception>
    public static FuseMount Mount(FuseMountOptions options, int maxRequestSize = FuseSessionOptions.MaxWriteLimit + 4096)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!Directory.Exists(options.MountPoint))
        {
            throw new FuseMountException(
                File.Exists(options.MountPoint)
                    ? $"The mount point {options.MountPoint} is not a directory: mount on a directory."
                    : $"The mount point {options.MountPoint} does not exist: create it first (mkdir -p {options.MountPoint}).",
                Errno.ENOTDIR);
        }

        SafeFileHandle? socket = null;
        SafeFileHandle device = options.UseFusermount || Interop.GetEUid() != 0 ? MountWithFusermount(options, out socket) : MountAsRoot(options);

        // Mounted from here on: a failure must not leave behind a mount that nobody serves (every access to it would
        // hang), so it unmounts and closes every descriptor, as disposing does.
        var mount = new FuseMount(options, socket);
        try
        {
            FuseConnectionControl control = FuseConnectionControl.Find(options.MountPoint);
            mount.AddChannel(device, control, maxRequestSize);
            for (int i = 1; i < options.Workers; i++)
            {
                mount.AddChannel(Clone(device), control, maxRequestSize);
            }

            return mount;
        }
        catch
        {
            if (mount._channels.Count == 0)
            {
                device.Dispose();
            }

            try
            {
                mount.Close();
            }
            catch (FuseMountException)
            {
                // The failure that stopped the mount is the one to report.
            }

            throw;
        }
    }

    /// <summary>Mounts, serves <paramref name="fileSystem"/> until the filesystem is unmounted (from outside, or when
    /// <paramref name="cancellationToken"/> fires, which unmounts it), then cleans up.</summary>
    /// <param name="fileSystem">The filesystem.</param>
    /// <param name="options">Where and how to mount.</param>
    /// <param name="sessionOptions">Session options; <see cref="FuseSessionOptions.WorkersPerChannel"/> should be 1 (the mount has one channel per worker). Defaults when null.</param>
    /// <param name="logger">The session's logger.</param>
    /// <param name="onMounted">Called once the filesystem is mounted, with the session (for notifications).</param>
    /// <param name="cancellationToken">Unmounts and stops.</param>
    /// <returns>A task that completes when the filesystem is unmounted and the session has ended.</returns>
    /// <exception cref="FuseMountException">The mount failed.</exception>
    public static async Task RunAsync(
        FuseFileSystem fileSystem,
        FuseMountOptions options,
        FuseSessionOptions? sessionOptions = null,
        ILogger<FuseSession>? logger = null,
        Action<FuseSession>? onMounted = null,
        CancellationToken cancellationToken = default)
    {
        sessionOptions ??= new FuseSessionOptions { WorkersPerChannel = 1 };
        await using FuseMount mount = Mount(options, sessionOptions.RequestBufferSize);
        var session = new FuseSession(fileSystem, sessionOptions, logger);
        onMounted?.Invoke(session);
        using CancellationTokenRegistration registration = cancellationToken.Register(static m => ((FuseMount)m!).Unmount(), mount);
        await session.RunAsync(mount.Channels, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Unmounts (lazily with <see cref="FuseMountOptions.LazyUnmount"/>) and ends the connection, so the session's
    /// channels end even while a lazily detached mount is still in use (its open files then get <c>ENOTCONN</c>). Idempotent.</summary>
    /// <exception cref="FuseMountException">The kernel refused (for example <c>EBUSY</c> without lazy unmount).</exception>
    public void Unmount()
    {
        // The connection may already have ended (ENODEV after an outside unmount, or an abort) while the mount point is
        // still attached, so unmount once regardless; EINVAL then just means it is gone.
        if (Interlocked.Exchange(ref _detached, 1) != 0)
        {
            return;
        }

        try
        {
            if (_fusermountSocket is not null)
            {
                RunFusermount(["-u", .. _options.LazyUnmount ? new[] { "-z" } : [], "--", MountPoint]);
            }
            else if (Interop.Umount2(MountPoint, _options.LazyUnmount ? Interop.MNT_DETACH : 0) != 0)
            {
                Errno error = Interop.LastErrno;
                if (error is not (Errno.EINVAL or Errno.ENOENT))
                {
                    throw new FuseMountException($"umount2({MountPoint}) failed: {error}{(error == Errno.EBUSY ? "; the filesystem is in use: close what uses it or enable LazyUnmount" : string.Empty)}.", error);
                }
            }
        }
        catch
        {
            Volatile.Write(ref _detached, 0);
            throw;
        }

        Volatile.Write(ref _unmounted, 1);
        foreach (DevFuseChannel channel in _channels)
        {
            channel.Shutdown();
        }
    }

    /// <summary>Unmounts if still mounted and closes every descriptor.</summary>
    /// <returns>A completed task.</returns>
    public ValueTask DisposeAsync()
    {
        Close();
        return ValueTask.CompletedTask;
    }

    private void Close()
    {
        try
        {
            Unmount();
        }
        finally
        {
            foreach (DevFuseChannel channel in _channels)
            {
                channel.Dispose();
            }

            _gate?.Dispose();
            _fusermountSocket?.Dispose();
        }
    }

    private void AddChannel(SafeFileHandle fd, FuseConnectionControl control, int maxRequestSize)
        => _channels.Add(new DevFuseChannel(fd, control, maxRequestSize, () => Volatile.Write(ref _unmounted, 1), _gate));

    private static SafeFileHandle OpenDevice()
    {
        int fd = Interop.Open("/dev/fuse", Interop.O_RDWR | Interop.O_CLOEXEC, 0);
        if (fd >= 0)
        {
            return Interop.Own(fd);
        }

        Errno error = Interop.LastErrno;
        throw error switch
        {
            Errno.ENOENT or Errno.ENODEV or Errno.ENXIO => new FuseMountException("/dev/fuse is missing: load the fuse module (modprobe fuse), or pass the device into the container (--device /dev/fuse).", error),
            Errno.EACCES or Errno.EPERM => new FuseMountException("No permission to open /dev/fuse: run as root, or make the device accessible (mode 0666, as the fuse3 package sets it).", error),
            _ => new FuseMountException($"open(/dev/fuse) failed: {error}.", error),
        };
    }

    private static unsafe SafeFileHandle Clone(SafeFileHandle device)
    {
        SafeFileHandle clone = OpenDevice();
        uint original = (uint)device.DangerousGetHandle();
        if (Interop.Ioctl(clone, DevIocClone, &original) != 0)
        {
            Errno error = Interop.LastErrno;
            clone.Dispose();
            throw new FuseMountException($"FUSE_DEV_IOC_CLONE failed: {error}; use Workers = 1 on this kernel.", error);
        }

        return clone;
    }

    private static SafeFileHandle MountAsRoot(FuseMountOptions options)
    {
        SafeFileHandle device = OpenDevice();
        var data = new StringBuilder();
        data.Append("fd=").Append(device.DangerousGetHandle()).Append(",rootmode=40000")
            .Append(",user_id=").Append(Interop.GetUid()).Append(",group_id=").Append(Interop.GetGid());
        AppendCommonOptions(data, options, forFusermount: false);
        nuint flags = (options.ReadOnly ? 1u : 0) | (options.NoSuid ? 2u : 0) | (options.NoDev ? 4u : 0)
            | (options.NoExec ? 8u : 0) | (options.NoAtime ? 1024u : 0);
        string type = options.Subtype is null ? "fuse" : "fuse." + options.Subtype;
        if (Interop.Mount(options.FileSystemName, options.MountPoint, type, flags, data.ToString()) != 0)
        {
            Errno error = Interop.LastErrno;
            device.Dispose();
            throw error switch
            {
                Errno.EPERM or Errno.EACCES => new FuseMountException("mount(2) was refused: it needs root (CAP_SYS_ADMIN). Run as root, or set UseFusermount to mount through fusermount3.", error),
                Errno.ENODEV => new FuseMountException("The kernel has no fuse filesystem type: load the fuse module (modprobe fuse).", error),
                _ => new FuseMountException($"mount(2) of {options.MountPoint} failed: {error}.", error),
            };
        }

        return device;
    }

    private static void AppendCommonOptions(StringBuilder data, FuseMountOptions options, bool forFusermount)
    {
        void Add(string option) => data.Append(data.Length == 0 ? string.Empty : ",").Append(option);
        if (forFusermount)
        {
            Add("fsname=" + options.FileSystemName);
            if (options.Subtype is not null)
            {
                Add("subtype=" + options.Subtype);
            }

            Add(options.NoSuid ? "nosuid" : "suid");
            Add(options.NoDev ? "nodev" : "dev");
            if (options.ReadOnly)
            {
                Add("ro");
            }

            if (options.NoExec)
            {
                Add("noexec");
            }

            if (options.NoAtime)
            {
                Add("noatime");
            }
        }

        if (options.DefaultPermissions)
        {
            Add("default_permissions");
        }

        if (options.AllowOther)
        {
            Add("allow_other");
        }

        if (options.MaxRead is uint maxRead)
        {
            Add("max_read=" + maxRead);
        }

        foreach (string extra in options.ExtraOptions)
        {
            Add(extra);
        }
    }
}
