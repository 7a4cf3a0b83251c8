using System.Diagnostics;
using VirtioFs.Protocol;
using VirtioFs.Samples.MemoryFs;
using VirtioFs.Transport;

namespace VirtioFs.Integration.Tests;

/// <summary>
/// A filesystem mounted through <c>/dev/fuse</c> in this process on a fresh directory under /tmp, served by
/// <see cref="FuseMount.RunAsync"/> on a background task. Disposing unmounts (cancels the run), waits for the run to end
/// and removes the directory; a mount that is somehow still there is detached, so no test leaves one behind.
/// </summary>
public sealed class MountedFileSystem : IAsyncDisposable
{
    public static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(10);
    public static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(10);

    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource<FuseSession> _mounted = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _disposed;

    private MountedFileSystem(FuseFileSystem fileSystem, string mountPoint)
    {
        FileSystem = fileSystem;
        MountPoint = mountPoint;
    }

    /// <summary>The mount point (absolute).</summary>
    public string MountPoint { get; }

    /// <summary>The filesystem being served.</summary>
    public FuseFileSystem FileSystem { get; }

    /// <summary>The session serving it (for notifications).</summary>
    public FuseSession Session { get; private set; } = null!;

    /// <summary>The run: completes when the filesystem is unmounted and the session has ended.</summary>
    public Task RunTask { get; private set; } = Task.CompletedTask;

    /// <summary>The session options every mount here uses.</summary>
    public static FuseSessionOptions CreateSessionOptions() => new()
    {
        WorkersPerChannel = 1,
        Capabilities = FuseSessionOptions.DefaultCapabilities | FuseInitFlags.PosixLocks | FuseInitFlags.FlockLocks
            | FuseInitFlags.DoReaddirplus | FuseInitFlags.ReaddirplusAuto | FuseInitFlags.AtomicOTrunc | FuseInitFlags.HandleKillprivV2,
    };

    /// <summary>A MemoryFs owned by this process's uid and gid.</summary>
    public static MemoryFileSystem CreateMemoryFileSystem(TimeSpan? attributeTimeout = null, TimeSpan? entryTimeout = null)
        => new(Native.GetUid(), Native.GetGid(), attributeTimeout, entryTimeout, TimeProvider.System);

    /// <summary>Creates a unique empty directory under /tmp.</summary>
    public static string CreateMountPoint()
    {
        string path = Path.Combine("/tmp", "virtiofs-it-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(path);
        return path;
    }

    /// <summary>Mounts <paramref name="fileSystem"/> (a fresh MemoryFs when null) and waits until the mount answers.</summary>
    public static async Task<MountedFileSystem> StartAsync(FuseFileSystem? fileSystem = null, bool useFusermount = false, int workers = 4, bool parkIdleWorkers = false)
    {
        KernelEnvironment.Require();
        var mounted = new MountedFileSystem(fileSystem ?? CreateMemoryFileSystem(), CreateMountPoint());
        var options = new FuseMountOptions(mounted.MountPoint)
        {
            FileSystemName = "virtiofs-it",
            Subtype = "virtiofs-it",
            Workers = workers,
            ParkIdleWorkers = parkIdleWorkers,
            UseFusermount = useFusermount,
        };
        try
        {
            mounted.RunTask = Task.Run(() => FuseMount.RunAsync(
                mounted.FileSystem,
                options,
                CreateSessionOptions(),
                logger: null,
                onMounted: session => mounted._mounted.TrySetResult(session),
                mounted._stop.Token));
            Task first = await Task.WhenAny(mounted._mounted.Task, mounted.RunTask).WaitAsync(ReadyTimeout);
            if (first == mounted.RunTask)
            {
                await mounted.RunTask; // throws the mount failure
                throw new InvalidOperationException("FuseMount.RunAsync ended before the filesystem was mounted.");
            }

            mounted.Session = await mounted._mounted.Task;
            await WaitUntilReadyAsync(mounted.MountPoint, ReadyTimeout);
            return mounted;
        }
        catch
        {
            try
            {
                await mounted.DisposeAsync();
            }
            catch (Exception)
            {
                // The mount failure matters more than how the cleanup went.
            }

            throw;
        }
    }

    /// <summary>Polls /proc/self/mountinfo for <paramref name="mountPoint"/>, then lists it (which waits for INIT).</summary>
    public static async Task WaitUntilReadyAsync(string mountPoint, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (!IsMounted(mountPoint))
        {
            if (clock.Elapsed > timeout)
            {
                throw new TimeoutException($"{mountPoint} did not appear in /proc/self/mountinfo within {timeout.TotalSeconds} s.");
            }

            await Task.Delay(20);
        }

        TimeSpan left = timeout - clock.Elapsed;
        await Task.Run(() => Directory.GetFiles(mountPoint)).WaitAsync(left > TimeSpan.Zero ? left : TimeSpan.FromMilliseconds(1));
    }

    /// <summary>Whether a mount sits on <paramref name="path"/> (field 5 of /proc/self/mountinfo).</summary>
    public static bool IsMounted(string path)
    {
        foreach (string line in File.ReadLines("/proc/self/mountinfo"))
        {
            string[] fields = line.Split(' ');
            if (fields.Length > 4 && fields[4] == path)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Detaches every mount on <paramref name="path"/> (best effort) and removes the directory.</summary>
    public static void Cleanup(string path)
    {
        for (int i = 0; i < 8 && IsMounted(path); i++)
        {
            _ = Native.LazyUnmount(path);
        }

        try
        {
            Directory.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    /// <summary>A request context as the session would build it, to call the filesystem directly behind the kernel's back.</summary>
    public static FuseRequestContext Context(ulong nodeId = FuseConstants.RootId)
        => new(0, nodeId, Native.GetUid(), Native.GetGid(), (uint)Environment.ProcessId, default, CancellationToken.None);

    /// <summary>A path inside the mount.</summary>
    public string PathOf(string name) => Path.Combine(MountPoint, name);

    /// <summary>Unmounts by cancelling the run and waits for the run to end; false when it did not end in time.</summary>
    public async Task<bool> StopAsync(TimeSpan timeout)
    {
        _stop.Cancel();
        try
        {
            await RunTask.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            return false;
        }

        return true;
    }

    /// <summary>Unmounts, waits for the run (bounded) and removes the mount point. Throws if the run hung or failed.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        Exception? failure = null;
        try
        {
            if (!await StopAsync(StopTimeout))
            {
                failure = new TimeoutException($"FuseMount.RunAsync on {MountPoint} did not complete within {StopTimeout.TotalSeconds} s of cancellation (unmount).");
            }
        }
        catch (Exception ex)
        {
            // A mount failure was already reported by StartAsync; anything else from the run is a failure of the test.
            if (ex is not FuseMountException)
            {
                failure = ex;
            }
        }
        finally
        {
            Cleanup(MountPoint);
            _stop.Dispose();
        }

        if (failure is not null)
        {
            throw failure;
        }
    }
}
