namespace VirtioFs.Transport;

/// <summary>How a filesystem is mounted through <c>/dev/fuse</c>. Defaults follow libfuse.</summary>
public sealed class FuseMountOptions
{
    private int _workers = Environment.ProcessorCount;

    /// <summary>Creates options for a mount point.</summary>
    /// <param name="mountPoint">An existing directory.</param>
    public FuseMountOptions(string mountPoint)
    {
        ArgumentException.ThrowIfNullOrEmpty(mountPoint);
        MountPoint = Path.GetFullPath(mountPoint);
    }

    /// <summary>The directory the filesystem is mounted on (absolute).</summary>
    public string MountPoint { get; }

    /// <summary>The source shown in <c>/proc/mounts</c> (<c>fsname=</c>). Default <c>virtiofs</c>.</summary>
    public string FileSystemName { get; init; } = "virtiofs";

    /// <summary>The subtype (<c>fuse.&lt;subtype&gt;</c> in <c>/proc/mounts</c>), or null.</summary>
    public string? Subtype { get; init; }

    /// <summary>Lets users other than the mounting one access the filesystem (<c>allow_other</c>). Default false.</summary>
    public bool AllowOther { get; init; }

    /// <summary>Lets the kernel check permissions from the attributes (<c>default_permissions</c>). Default false.</summary>
    public bool DefaultPermissions { get; init; }

    /// <summary>Mounts read-only (<c>ro</c>). Default false.</summary>
    public bool ReadOnly { get; init; }

    /// <summary>Ignores set-user-id and set-group-id bits (<c>nosuid</c>). Default true.</summary>
    public bool NoSuid { get; init; } = true;

    /// <summary>Ignores device nodes (<c>nodev</c>). Default true.</summary>
    public bool NoDev { get; init; } = true;

    /// <summary>Forbids executing files (<c>noexec</c>). Default false.</summary>
    public bool NoExec { get; init; }

    /// <summary>Does not update access times (<c>noatime</c>). Default false.</summary>
    public bool NoAtime { get; init; }

    /// <summary>The largest READ the kernel sends (<c>max_read=</c>), or null for the kernel's default.</summary>
    public uint? MaxRead { get; init; }

    /// <summary>Detaches lazily when unmounting (<c>MNT_DETACH</c>): the mount disappears at once and goes away when no longer busy. Default true.</summary>
    public bool LazyUnmount { get; init; } = true;

    /// <summary>
    /// Mounts through <c>fusermount3</c> (Debian package <c>fuse3</c>) and its <c>_FUSE_COMMFD</c> socket even when root.
    /// Non-root processes always do. With it, <c>auto_unmount</c> is requested so the mount goes away if this process dies.
    /// </summary>
    public bool UseFusermount { get; init; }

    /// <summary>
    /// How many <c>/dev/fuse</c> descriptors serve requests (the first and its <c>FUSE_DEV_IOC_CLONE</c>s), one worker
    /// thread each: 1 to 256. Default: the processor count. Idle workers queue in the kernel and take requests in turn
    /// (see <see cref="ParkIdleWorkers"/>): a filesystem whose operations never block is often fastest with 1; one whose
    /// operations wait (disk, network) needs as many as it has requests in parallel.
    /// </summary>
    public int Workers
    {
        get => _workers;
        init
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, 256);
            _workers = value;
        }
    }

    /// <summary>
    /// With several <see cref="Workers"/>, lets one idle worker at a time wait in the kernel; the others park, and the
    /// most recently parked one takes over when requests queue up behind slow ones (more than 200 µs), queue up twice
    /// running, or keep the reading worker for 10 ms. Default false: every idle worker waits in the kernel, which wakes
    /// them in turn (as libfuse's multi-threaded loop).
    /// </summary>
    /// <remarks>
    /// Measured on a 2-vCPU VM (<c>bench/worker-bench.sh</c>, docs/performance.md) with four workers: a stream of
    /// <c>stat</c>s served twice as fast with the workers parked, because one warm thread takes every request; single-job
    /// 4 KiB random reads half as fast. Which CPU each woken thread lands on decides both (the docs show a 6× spread
    /// between one vCPU and two for the same server), so try both on the target machine.
    /// </remarks>
    public bool ParkIdleWorkers { get; init; }

    /// <summary>Further mount options passed as they are (for example <c>blksize=4096</c>).</summary>
    public IList<string> ExtraOptions { get; init; } = [];
}
