using System.Collections.Concurrent;
using Microsoft.Win32.SafeHandles;
using VirtioFs.Protocol;

namespace VirtioFs.Samples.Passthrough;

/// <summary>
/// Serves a host directory with the host's own POSIX semantics, in the manner of libfuse's passthrough_ll and virtiofsd:
/// every node is a host inode held open with an <c>O_PATH</c> descriptor, every operation is a <c>*at</c> system call
/// relative to such descriptors (never a path rebuilt from the root), and each runs with the caller's fsuid, fsgid,
/// supplementary groups and no capabilities (see <see cref="CallerCredentials"/>), so the host kernel decides permissions.
/// </summary>
/// <remarks>
/// <para>The process's umask is set to 0 on construction: the kernel has already applied the caller's umask to the modes
/// it sends, and the host must not apply ours again.</para>
/// <para>POSIX locks are open-file-description (OFD) locks on one host descriptor per (inode, lock owner), as virtiofsd
/// does: locks of one owner merge and unlock as with <c>fcntl</c>, locks of different owners conflict, and the server's
/// own descriptors never drop them behind the client's back. A blocking lock (<c>SETLKW</c>, or <c>flock</c> without
/// <c>LOCK_NB</c>) that cannot be granted at once waits in the host kernel on a dedicated thread (see
/// <see cref="LockWaiter"/>), holding no worker, and is cancelled when the request is interrupted. <c>flock</c> locks
/// are taken on the handle's own descriptor.</para>
/// </remarks>
public sealed unsafe partial class PassthroughFileSystem : FuseFileSystem, IDisposable
{
    private const int ProcPathMax = 32;

    private readonly PassthroughOptions _options;
    private readonly InodeTable _inodes;
    private readonly CallerCredentials _credentials;
    private readonly LockWaiter? _lockWaiter = LockWaiter.Create();
    private readonly ConcurrentDictionary<ulong, FileHandle> _handles = new();
    private readonly SafeFileHandle _rootDirectory;
    private readonly ulong _timeout;
    private readonly uint _timeoutNsec;
    private FuseConnectionInfo? _connection;
    private long _nextHandle;

    /// <summary>Opens the source directory.</summary>
    /// <param name="options">What to export and how.</param>
    /// <exception cref="DirectoryNotFoundException">The source directory cannot be opened.</exception>
    public PassthroughFileSystem(PassthroughOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _credentials = new CallerCredentials(options.CallersAreLocal);
        _ = Interop.Umask(0);
        byte[] path = Utf8(options.SourceDirectory);
        SafeFileHandle root;
        fixed (byte* p = path)
        {
            root = Own(Interop.OpenAt(Interop.AT_FDCWD, p, Interop.O_PATH | Interop.O_DIRECTORY | Interop.O_CLOEXEC, 0), options.SourceDirectory);
            _rootDirectory = Own(Interop.OpenAt(Interop.AT_FDCWD, p, Interop.O_RDONLY | Interop.O_DIRECTORY | Interop.O_CLOEXEC, 0), options.SourceDirectory);
        }

        FuseStatx st;
        if (StatInode(root, &st) != Errno.Success)
        {
            throw new DirectoryNotFoundException($"Cannot stat '{options.SourceDirectory}': {Interop.LastErrno}.");
        }

        _inodes = new InodeTable(new Inode(FuseConstants.RootId, DeviceOf(st), st.Ino, root));
        TimeSpan timeout = options.Timeout;
        _timeout = (ulong)(timeout.Ticks / TimeSpan.TicksPerSecond);
        _timeoutNsec = (uint)(timeout.Ticks % TimeSpan.TicksPerSecond * 100);

        static SafeFileHandle Own(int fd, string path)
            => fd >= 0 ? Interop.Own(fd) : throw new DirectoryNotFoundException($"Cannot open '{path}': {Interop.LastErrno}.");
    }

    /// <summary>The options this filesystem was created with.</summary>
    public PassthroughOptions Options => _options;

    /// <summary>How many nodes the client holds (the root included): for tests of lookup counting.</summary>
    public int NodeCount => _inodes.Count;

    /// <summary>Whether waiting locks block in the host kernel on threads of their own (else they are polled).</summary>
    public bool WaitsInKernel => _lockWaiter is not null;

    /// <summary>How many file and directory handles are open.</summary>
    public int HandleCount => _handles.Count;

    /// <summary>The capabilities to ask for in <see cref="FuseSessionOptions.Capabilities"/> for these options.</summary>
    /// <param name="options">The options.</param>
    /// <returns>The default capabilities plus locks, submounts, atomic O_TRUNC, kill-privileges and what the options ask for.</returns>
    public static FuseInitFlags Capabilities(PassthroughOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        FuseInitFlags flags = FuseSessionOptions.DefaultCapabilities | FuseInitFlags.PosixLocks | FuseInitFlags.FlockLocks
            | FuseInitFlags.AtomicOTrunc | FuseInitFlags.Submounts | FuseInitFlags.HandleKillprivV2 | FuseInitFlags.CreateSuppGroup
            | FuseInitFlags.DirectIoAllowMmap;
        if (options.Cache != PassthroughCacheMode.Never)
        {
            flags |= FuseInitFlags.DoReaddirplus | FuseInitFlags.ReaddirplusAuto;
        }

        if (options.Cache == PassthroughCacheMode.Always)
        {
            flags |= FuseInitFlags.CacheSymlinks;
        }

        if (options.Writeback)
        {
            flags |= FuseInitFlags.WritebackCache;
        }

        if (options.Passthrough)
        {
            flags |= FuseInitFlags.Passthrough;
        }

        return flags;
    }

    /// <inheritdoc/>
    public override ValueTask<Errno> InitAsync(FuseConnectionInfo connection)
    {
        _connection = connection;
        return new(Errno.Success);
    }

    /// <inheritdoc/>
    public override void Destroy()
    {
        foreach (FileHandle handle in _handles.Values)
        {
            CloseHandle(handle);
        }

        _handles.Clear();
        _inodes.Clear();
    }

    /// <summary>Closes every handle and node and the source directory.</summary>
    public void Dispose()
    {
        Destroy();
        _inodes.Root.PathFd.Dispose();
        _rootDirectory.Dispose();
    }

    private bool Writeback => _connection is { } c && (c.Flags & FuseInitFlags.WritebackCache) != 0;

    private bool Submounts => _connection is { } c && (c.Flags & FuseInitFlags.Submounts) != 0;

    private Inode? Node(ulong nodeId) => _inodes.Get(nodeId);

    /// <summary>The node a request that changes it (or a directory's entries) addresses, or null and why it is refused:
    /// ESTALE for a node the client does not hold, else EROFS on a read-only export.</summary>
    private Inode? Writable(ulong nodeId, out Errno refused)
    {
        Inode? inode = Node(nodeId);
        refused = inode is null ? Errno.ESTALE : _options.ReadOnly ? Errno.EROFS : Errno.Success;
        return refused == Errno.Success ? inode : null;
    }

    private FileHandle? Handle(ulong fh) => _handles.GetValueOrDefault(fh);

    private ulong AddHandle(FileHandle handle)
    {
        ulong fh = (ulong)Interlocked.Increment(ref _nextHandle);
        _handles[fh] = handle;
        return fh;
    }

    private static byte[] Utf8(string s)
    {
        byte[] bytes = new byte[System.Text.Encoding.UTF8.GetByteCount(s) + 1];
        System.Text.Encoding.UTF8.GetBytes(s, bytes);
        return bytes;
    }

    /// <summary>Copies a name from the request into <paramref name="destination"/> (at least length + 1 bytes), NUL-terminated.</summary>
    private static byte* Terminate(ReadOnlySpan<byte> name, byte* destination)
    {
        name.CopyTo(new Span<byte>(destination, name.Length));
        destination[name.Length] = 0;
        return destination;
    }

    /// <summary>Writes <c>/proc/self/fd/N</c>, NUL-terminated, into <paramref name="destination"/> (<see cref="ProcPathMax"/> bytes):
    /// the path through which an <c>O_PATH</c> descriptor is reopened or used by calls that have no <c>*at</c> form.</summary>
    private static byte* ProcPath(int fd, byte* destination)
    {
        ReadOnlySpan<byte> prefix = "/proc/self/fd/"u8;
        var span = new Span<byte>(destination, ProcPathMax);
        prefix.CopyTo(span);
        fd.TryFormat(span.Slice(prefix.Length), out int written, default, System.Globalization.CultureInfo.InvariantCulture);
        span[prefix.Length + written] = 0;
        return destination;
    }

    private static Errno StatInode(SafeFileHandle fd, FuseStatx* st, uint mask = Interop.STATX_BASIC_STATS, int syncFlags = 0)
    {
        byte empty = 0;
        return Interop.Statx(fd, &empty, Interop.AT_EMPTY_PATH | Interop.AT_SYMLINK_NOFOLLOW | syncFlags, mask, st) == 0
            ? Errno.Success
            : Interop.LastErrno;
    }

    private static ulong DeviceOf(in FuseStatx st) => ((ulong)st.DevMajor << 32) | st.DevMinor;

    /// <summary>The kernel's 32-bit <c>new_encode_dev</c>, the form <c>fuse_attr.rdev</c> carries.</summary>
    private static uint EncodeDevice(uint major, uint minor) => (minor & 0xff) | (major << 8) | ((minor & ~0xffu) << 12);

    /// <summary>A 32-bit <c>new_encode_dev</c> value (as <c>FUSE_MKNOD</c> carries it) as glibc's 64-bit <c>dev_t</c>.</summary>
    private static ulong DecodeDevice(uint rdev)
    {
        ulong major = (rdev >> 8) & 0xfff, minor = (rdev & 0xff) | ((rdev >> 12) & 0xfff00);
        return ((major & 0xfffff000) << 32) | ((major & 0xfff) << 8) | ((minor & 0xffffff00) << 12) | (minor & 0xff);
    }

    private static FuseAttr ToAttr(in FuseStatx st) => new()
    {
        Ino = st.Ino,
        Size = st.Size,
        Blocks = st.Blocks,
        Atime = (ulong)st.Atime.TvSec,
        Atimensec = st.Atime.TvNsec,
        Mtime = (ulong)st.Mtime.TvSec,
        Mtimensec = st.Mtime.TvNsec,
        Ctime = (ulong)st.Ctime.TvSec,
        Ctimensec = st.Ctime.TvNsec,
        Mode = st.Mode,
        Nlink = st.Nlink,
        Uid = st.Uid,
        Gid = st.Gid,
        Rdev = EncodeDevice(st.RdevMajor, st.RdevMinor),
        Blksize = st.Blksize,
    };

    private FuseAttrOut AttrOut(in FuseStatx st) => new() { AttrValid = _timeout, AttrValidNsec = _timeoutNsec, Attr = ToAttr(st) };

    /// <summary>Counts a lookup of the inode <paramref name="pathFd"/> (an <c>O_PATH</c> descriptor, owned from here on) refers to.</summary>
    private Errno Register(SafeFileHandle pathFd, ulong parentDevice, out FuseEntryOut entry)
    {
        FuseStatx st;
        Errno error = StatInode(pathFd, &st);
        if (error != Errno.Success)
        {
            pathFd.Dispose();
            entry = default;
            return error;
        }

        entry = Entry(_inodes.Acquire(DeviceOf(st), st.Ino, pathFd), st, parentDevice);
        return Errno.Success;
    }

    private FuseEntryOut Entry(Inode inode, in FuseStatx st, ulong parentDevice)
    {
        var entry = new FuseEntryOut
        {
            Nodeid = inode.NodeId,
            EntryValid = _timeout,
            EntryValidNsec = _timeoutNsec,
            AttrValid = _timeout,
            AttrValidNsec = _timeoutNsec,
            Attr = ToAttr(st),
        };
        if (inode.Device != parentDevice && Submounts)
        {
            // Another host filesystem is mounted here: the client gives it its own superblock (and st_dev).
            entry.Attr.Flags |= (uint)FuseAttrFlags.Submount;
        }

        return entry;
    }

    /// <summary>Looks <paramref name="name"/> (NUL-terminated) up in <paramref name="parent"/> without following a final symlink.</summary>
    /// <remarks>Most lookups are of inodes the client already holds (its entry timed out, or READDIRPLUS lists a
    /// directory again): a <c>statx</c> of the name finds them in the table, without opening and closing an
    /// <c>O_PATH</c> descriptor. Only a new inode is opened, and then its node is made from the descriptor's own
    /// <c>statx</c> (the name may have been replaced in between; what was opened is what the node is). Like
    /// <c>openat(O_PATH)</c>, the <c>statx</c> neither follows a final symlink nor triggers an automount.</remarks>
    private Errno LookupName(Inode parent, byte* name, out FuseEntryOut entry)
    {
        FuseStatx st;
        if (Interop.Statx(parent.PathFd, name, Interop.AT_SYMLINK_NOFOLLOW | Interop.AT_NO_AUTOMOUNT, Interop.STATX_BASIC_STATS, &st) != 0)
        {
            entry = default;
            return Interop.LastErrno;
        }

        if (_inodes.TryAcquire(DeviceOf(st), st.Ino) is { } known)
        {
            entry = Entry(known, st, parent.Device);
            return Errno.Success;
        }

        int fd = Interop.OpenAt(parent.PathFd, name, Interop.O_PATH | Interop.O_NOFOLLOW | Interop.O_CLOEXEC, 0);
        if (fd < 0)
        {
            entry = default;
            return Interop.LastErrno;
        }

        return Register(Interop.Own(fd), parent.Device, out entry);
    }

    /// <summary>The reply to a request that made <paramref name="name"/> (NUL-terminated) in <paramref name="parent"/>: the
    /// host call's errno if it failed (<paramref name="rc"/> not 0), else the new entry, looked up (and counted) by name.</summary>
    private FuseResult<FuseEntryOut> Made(int rc, Inode parent, byte* name)
    {
        if (rc != 0)
        {
            return Interop.LastErrno;
        }

        Errno error = LookupName(parent, name, out FuseEntryOut entry);
        return error == Errno.Success ? entry : error;
    }

    /// <summary>Reopens an inode's <c>O_PATH</c> descriptor as a real open file (the open permission check happens here).</summary>
    private static int Reopen(Inode inode, int flags)
    {
        byte* path = stackalloc byte[ProcPathMax];
        return Interop.OpenAt(Interop.AT_FDCWD, ProcPath(inode.FdNumber, path), (flags & ~(Interop.O_CREAT | Interop.O_EXCL | Interop.O_NOFOLLOW)) | Interop.O_CLOEXEC, 0);
    }

    private static bool WantsWrite(int flags) => (flags & Interop.O_ACCMODE) != Interop.O_RDONLY || (flags & Interop.O_TRUNC) != 0;

    private void CloseHandle(FileHandle handle)
    {
        if (handle.BackingId != 0 && _connection?.Passthrough is { } passthrough)
        {
            LockState state = handle.Inode.Locks;
            int unregister = 0;
            lock (state)
            {
                if (--state.BackingUsers == 0)
                {
                    unregister = state.BackingId;
                    state.BackingId = 0;
                }
            }

            try
            {
                if (unregister != 0)
                {
                    passthrough.UnregisterBackingFile(unregister);
                }
            }
            catch (FuseProtocolException)
            {
                // The connection is gone: the kernel dropped its backing files with it.
            }
        }

        handle.Fd.Dispose();
        ReleaseLockOwners(handle.Inode);
    }
}
