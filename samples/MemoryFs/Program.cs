using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using VirtioFs.Protocol;
using VirtioFs.Samples.MemoryFs;
using VirtioFs.Transport;

// MemoryFs: with a mount point, mounts the in-memory filesystem through /dev/fuse and serves it until it is unmounted
// or the process gets Ctrl+C/SIGTERM (then it unmounts). With --vhost-user, serves it to a VMM's guest as a virtio-fs
// device instead. Without either, runs a scripted session over the loopback.
const string Usage = """
    usage: MemoryFs [<mountpoint>] [--debug] [--allow-other] [--default-permissions] [--readdirplus] [--workers N] [--fusermount]
           MemoryFs --vhost-user <socket> --tag <tag> [--queues N] [--reconnect] [--debug]
      <mountpoint>           mount there and serve until unmounted or interrupted; without it, run a loopback demo
      --vhost-user <socket>  be a virtio-fs device backend: listen there for a VMM (QEMU: -chardev socket,path=<socket>
                             -device vhost-user-fs-pci,tag=<tag>); serve until the VMM disconnects or Ctrl+C
      --tag <tag>            the name the guest mounts (mount -t virtiofs <tag> /mnt), 1 to 36 bytes
      --queues N             request queues offered (default 1)
      --reconnect            after the VMM disconnects, wait for the next one (the tree survives guest reboots)
      --debug                log every request and reply
      --allow-other          let other users access the mount
      --default-permissions  let the kernel check permissions
      --readdirplus          answer directory listings with attributes (READDIRPLUS, adaptive): faster `ls -l`, slower `find`
      --workers N            /dev/fuse descriptors served in parallel (default 1: MemoryFs never blocks, and one
                             worker avoids waking a thread on another CPU for every request)
      --fusermount           mount through fusermount3 even when root
    """;

string? mountPoint = null, socketPath = null, tag = null;
bool debug = false, allowOther = false, defaultPermissions = false, fusermount = false, readdirplus = false, reconnect = false;
int workers = 1, queues = 1;
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--debug": debug = true; break;
        case "--allow-other": allowOther = true; break;
        case "--default-permissions": defaultPermissions = true; break;
        case "--fusermount": fusermount = true; break;
        case "--readdirplus": readdirplus = true; break;
        case "--workers" when i + 1 < args.Length && int.TryParse(args[i + 1], out workers) && workers is >= 1 and <= 256: i++; break;
        case "--vhost-user" when i + 1 < args.Length: socketPath = args[++i]; break;
        case "--tag" when i + 1 < args.Length: tag = args[++i]; break;
        case "--queues" when i + 1 < args.Length && int.TryParse(args[i + 1], out queues) && queues is >= 1 and <= 64: i++; break;
        case "--reconnect": reconnect = true; break;
        case "-h" or "--help": Console.WriteLine(Usage); return 0;
        default:
            if (args[i].StartsWith('-') || mountPoint is not null)
            {
                Console.Error.WriteLine($"MemoryFs: unexpected argument '{args[i]}'.");
                Console.Error.WriteLine(Usage);
                return 2;
            }

            mountPoint = args[i];
            break;
    }
}

if ((socketPath is null) != (tag is null) || (socketPath is not null && mountPoint is not null))
{
    Console.Error.WriteLine("MemoryFs: --vhost-user and --tag go together, and replace the mount point.");
    Console.Error.WriteLine(Usage);
    return 2;
}

using ILoggerFactory loggers = LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(debug ? LogLevel.Debug : LogLevel.Warning));
if (mountPoint is null && socketPath is null)
{
    return await LoopbackDemo.RunAsync(loggers);
}

using var stop = new CancellationTokenSource();
using PosixSignalRegistration sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Unmount);
using PosixSignalRegistration sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Unmount);
if (socketPath is not null)
{
    // One tree for every session: the guest's files survive its remounts and, with --reconnect, its reboots.
    var tree = new MemoryFileSystem(uid: 0, gid: 0);
    var vhostSessionOptions = new FuseSessionOptions
    {
        WorkersPerChannel = 1,
        Capabilities = FuseSessionOptions.DefaultCapabilities | FuseInitFlags.PosixLocks | FuseInitFlags.FlockLocks | FuseInitFlags.AtomicOTrunc | FuseInitFlags.HandleKillprivV2,
    };
    try
    {
        var vhostOptions = new VhostUserFsOptions(socketPath, tag!) { RequestQueues = queues, Reconnect = reconnect };
        await VhostUserFsBackend.ServeAsync(
            vhostOptions,
            () => new FuseSession(tree, vhostSessionOptions, loggers.CreateLogger<FuseSession>()),
            loggers.CreateLogger<VhostUserFsBackend>(),
            () => Console.WriteLine($"MemoryFs: virtio-fs device '{vhostOptions.Tag}' listening on {vhostOptions.SocketPath}"),
            stop.Token);
    }
    catch (Exception ex) when (ex is VhostUserException or ArgumentException)
    {
        Console.Error.WriteLine($"MemoryFs: {ex.Message}");
        return 1;
    }

    return 0;
}

var options = new FuseMountOptions(mountPoint!)
{
    FileSystemName = "memfs",
    Subtype = "memfs",
    AllowOther = allowOther,
    DefaultPermissions = defaultPermissions,
    UseFusermount = fusermount,
    Workers = workers,
};
var sessionOptions = new FuseSessionOptions
{
    WorkersPerChannel = 1,
    Capabilities = FuseSessionOptions.DefaultCapabilities | FuseInitFlags.PosixLocks | FuseInitFlags.FlockLocks | FuseInitFlags.AtomicOTrunc | FuseInitFlags.HandleKillprivV2
        | (readdirplus ? FuseInitFlags.DoReaddirplus | FuseInitFlags.ReaddirplusAuto : 0),
};
try
{
    await FuseMount.RunAsync(
        new MemoryFileSystem(uid: ProcessId("Uid:"), gid: ProcessId("Gid:")),
        options,
        sessionOptions,
        loggers.CreateLogger<FuseSession>(),
        _ => Console.WriteLine($"MemoryFs mounted at {options.MountPoint}; Ctrl+C or `umount {options.MountPoint}` ends it."),
        stop.Token);
}
catch (FuseMountException ex)
{
    Console.Error.WriteLine($"MemoryFs: {ex.Message}");
    return 1;
}

Console.WriteLine("MemoryFs unmounted.");
return 0;

// The real uid or gid of this process (the root directory belongs to whoever mounts), from /proc/self/status.
static uint ProcessId(string field)
    => uint.Parse(File.ReadLines("/proc/self/status").First(l => l.StartsWith(field, StringComparison.Ordinal))
        .Split('\t', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture);

void Unmount(PosixSignalContext context)
{
    context.Cancel = true;
    stop.Cancel();
}
