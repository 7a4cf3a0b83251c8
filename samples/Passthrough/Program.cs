using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using VirtioFs.Dax;
using VirtioFs.Protocol;
using VirtioFs.Samples.Passthrough;
using VirtioFs.Transport;

// Passthrough: serves a host directory at a mount point through /dev/fuse until it is unmounted or the process gets
// Ctrl+C/SIGTERM (then it unmounts); with --vhost-user, serves it to a VMM's guest as a virtio-fs device instead.
const string Usage = """
    usage: Passthrough <source-dir> <mountpoint> [--cache never|auto|always] [--readonly] [--passthrough] [--writeback]
                       [--threads N] [--park-idle-workers] [--debug] [--allow-other] [--fusermount]
           Passthrough <source-dir> --vhost-user <socket> --tag <tag> [--queues N] [--reconnect] [--cache MODE]
                       [--readonly] [--writeback] [--threads N] [--dax-window SIZE] [--debug]
      <source-dir>      the host directory to export
      <mountpoint>      where to mount it (an existing directory)
      --vhost-user S    be a virtio-fs device backend listening on socket S for a VMM, until it disconnects or Ctrl+C
      --tag T           the name the guest mounts (mount -t virtiofs T /mnt), 1 to 36 bytes
      --queues N        request queues offered (default 1)
      --reconnect       after the VMM disconnects, wait for the next one
      --dax-window SIZE offer a DAX window of SIZE bytes (suffix M or G; a multiple of 2M) and serve SETUPMAPPING
                        into it (needs a VMM with vhost-user SHMEM support)
      --cache MODE      never: no caching, every access reaches the host (exact when the host changes underneath);
                        auto (default): 1 s timeouts; always: one-day timeouts and kept page cache
      --readonly        refuse every change (EROFS); the mount is read-only too
      --passthrough     let the kernel read and write regular files directly (FUSE_PASSTHROUGH; needs root)
      --writeback       use the kernel's writeback cache
      --threads N       /dev/fuse descriptors served in parallel (default 4: host calls block on the disk); with
                        --vhost-user, workers per queue (default 1)
      --park-idle-workers  let one idle /dev/fuse worker wait in the kernel at a time, the others join in when
                        requests block or queue up (faster for streams of metadata requests, see FuseMountOptions)
      --debug           log every request and reply
      --allow-other     let other users access the mount (permissions are still the host's, checked as the caller)
      --fusermount      mount through fusermount3 even when root
    """;

var positional = new List<string>();
bool debug = false, allowOther = false, fusermount = false, readOnly = false, passthrough = false, writeback = false, reconnect = false, parkIdleWorkers = false;
PassthroughCacheMode cache = PassthroughCacheMode.Auto;
int? threads = null;
int queues = 1;
long daxWindowSize = 0;
string? socketPath = null, tag = null;
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--debug": debug = true; break;
        case "--allow-other": allowOther = true; break;
        case "--fusermount": fusermount = true; break;
        case "--readonly": readOnly = true; break;
        case "--passthrough": passthrough = true; break;
        case "--writeback": writeback = true; break;
        case "--park-idle-workers": parkIdleWorkers = true; break;
        case "--cache" when i + 1 < args.Length && Enum.TryParse(args[i + 1], ignoreCase: true, out cache) && Enum.IsDefined(cache): i++; break;
        case "--threads" when i + 1 < args.Length && int.TryParse(args[i + 1], NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n is >= 1 and <= 256: threads = n; i++; break;
        case "--queues" when i + 1 < args.Length && int.TryParse(args[i + 1], NumberStyles.None, CultureInfo.InvariantCulture, out queues) && queues is >= 1 and <= 64: i++; break;
        case "--vhost-user" when i + 1 < args.Length: socketPath = args[++i]; break;
        case "--tag" when i + 1 < args.Length: tag = args[++i]; break;
        case "--reconnect": reconnect = true; break;
        case "--dax-window" when i + 1 < args.Length && TryParseSize(args[i + 1], out daxWindowSize): i++; break;
        case "-h" or "--help": Console.WriteLine(Usage); return 0;
        default:
            if (args[i].StartsWith('-') || positional.Count == 2)
            {
                return Fail($"unexpected or invalid argument '{args[i]}'.");
            }

            positional.Add(args[i]);
            break;
    }
}

bool vhostUser = socketPath is not null;
if (vhostUser != (tag is not null))
{
    return Fail("--vhost-user and --tag go together.");
}

if (positional.Count != (vhostUser ? 1 : 2))
{
    return Fail(vhostUser ? "a source directory is required, and no mount point with --vhost-user." : "a source directory and a mount point are required.");
}

if (!Directory.Exists(positional[0]))
{
    return Fail($"the source directory '{positional[0]}' does not exist.");
}

if (!vhostUser && daxWindowSize != 0)
{
    return Fail("--dax-window needs --vhost-user.");
}

if (daxWindowSize % (2 << 20) != 0)
{
    return Fail("the DAX window size must be a multiple of 2M.");
}

if (vhostUser && passthrough)
{
    return Fail("--passthrough needs /dev/fuse; a guest cannot use it.");
}

if (vhostUser && parkIdleWorkers)
{
    return Fail("--park-idle-workers is about /dev/fuse workers; with --vhost-user each queue has its own.");
}

if (!vhostUser && !Directory.Exists(positional[1]))
{
    return Fail($"the mount point '{positional[1]}' does not exist.");
}

if (passthrough && writeback)
{
    return Fail("--passthrough and --writeback cannot be combined (the kernel refuses passthrough with the writeback cache).");
}

using ILoggerFactory loggers = LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(debug ? LogLevel.Debug : LogLevel.Warning));
using var stop = new CancellationTokenSource();
using PosixSignalRegistration sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Unmount);
using PosixSignalRegistration sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Unmount);
var fsOptions = new PassthroughOptions(positional[0]) { Cache = cache, ReadOnly = readOnly, Passthrough = passthrough, Writeback = writeback, CallersAreLocal = !vhostUser };
if (vhostUser)
{
    // One worker per queue by default: more only adds hand-offs between threads for each request.
    try
    {
        using var fileSystem = new PassthroughFileSystem(fsOptions);
        VhostUserDaxWindow? daxWindow = daxWindowSize == 0 ? null : new VhostUserDaxWindow(daxWindowSize, logger: loggers.CreateLogger<VhostUserDaxWindow>());
        var vhostSessionOptions = new FuseSessionOptions
        {
            WorkersPerChannel = threads ?? 1,
            Capabilities = PassthroughFileSystem.Capabilities(fsOptions),
            MappingServer = daxWindow is null ? null : new DaxMappingServer(daxWindow, fileSystem, readOnly, loggers.CreateLogger<DaxMappingServer>()),
        };
        var vhostOptions = new VhostUserFsOptions(socketPath!, tag!) { RequestQueues = queues, Reconnect = reconnect, DaxWindow = daxWindow };
        await VhostUserFsBackend.ServeAsync(
            vhostOptions,
            () => new FuseSession(fileSystem, vhostSessionOptions, loggers.CreateLogger<FuseSession>()),
            loggers.CreateLogger<VhostUserFsBackend>(),
            () => Console.WriteLine($"Passthrough: {fsOptions.SourceDirectory} as virtio-fs device '{vhostOptions.Tag}', listening on {vhostOptions.SocketPath}"),
            stop.Token);
    }
    catch (Exception ex) when (ex is VhostUserException or ArgumentException)
    {
        Console.Error.WriteLine($"Passthrough: {ex.Message}");
        return 1;
    }

    return 0;
}

var options = new FuseMountOptions(positional[1])
{
    FileSystemName = fsOptions.SourceDirectory,
    Subtype = "passthrough",
    AllowOther = allowOther,
    ReadOnly = readOnly,
    UseFusermount = fusermount,
    Workers = threads ?? 4,
    ParkIdleWorkers = parkIdleWorkers,

    // The host decides about devices and set-user-id files as for any other directory of it.
    NoDev = false,
    NoSuid = false,
};
var sessionOptions = new FuseSessionOptions
{
    WorkersPerChannel = 1,
    Capabilities = PassthroughFileSystem.Capabilities(fsOptions),
};
try
{
    using var fileSystem = new PassthroughFileSystem(fsOptions);
    await FuseMount.RunAsync(
        fileSystem,
        options,
        sessionOptions,
        loggers.CreateLogger<FuseSession>(),
        _ => Console.WriteLine($"Passthrough: {fsOptions.SourceDirectory} mounted at {options.MountPoint}; Ctrl+C or `umount {options.MountPoint}` ends it."),
        stop.Token);
}
catch (FuseMountException ex)
{
    Console.Error.WriteLine($"Passthrough: {ex.Message}");
    return 1;
}
catch (DirectoryNotFoundException ex)
{
    Console.Error.WriteLine($"Passthrough: {ex.Message}");
    return 2;
}

Console.WriteLine("Passthrough unmounted.");
return 0;

// A byte count with an optional binary suffix: 512M, 4G.
static bool TryParseSize(string text, out long size)
{
    size = 0;
    if (text.Length == 0)
    {
        return false;
    }

    long unit = char.ToUpperInvariant(text[^1]) switch { 'K' => 1L << 10, 'M' => 1L << 20, 'G' => 1L << 30, _ => 1 };
    string digits = unit == 1 ? text : text[..^1];
    if (!long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out long count) || count <= 0 || count > long.MaxValue / unit)
    {
        return false;
    }

    size = count * unit;
    return true;
}

static int Fail(string message)
{
    Console.Error.WriteLine($"Passthrough: {message}");
    Console.Error.WriteLine(Usage);
    return 2;
}

void Unmount(PosixSignalContext context)
{
    context.Cancel = true;
    stop.Cancel();
}
