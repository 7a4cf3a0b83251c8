namespace VirtioFs.Protocol;

/// <summary>
/// Capability flags exchanged in <c>FUSE_INIT</c>. Bits 0..31 travel in <see cref="FuseInitIn.Flags"/> /
/// <see cref="FuseInitOut.Flags"/>; bits 32..63 travel shifted down by 32 in <c>Flags2</c>
/// (only when <see cref="InitExt"/> is set, 7.36+).
/// </summary>
[Flags]
public enum FuseInitFlags : ulong
{
    /// <summary>No flags.</summary>
    None = 0,

    /// <summary>Asynchronous read requests (<c>FUSE_ASYNC_READ</c>).</summary>
    AsyncRead = 1UL << 0,

    /// <summary>Remote POSIX file locks (<c>FUSE_POSIX_LOCKS</c>).</summary>
    PosixLocks = 1UL << 1,

    /// <summary>File handle sent for fstat and friends (<c>FUSE_FILE_OPS</c>, never implemented).</summary>
    FileOps = 1UL << 2,

    /// <summary>Filesystem handles <c>O_TRUNC</c> on open (<c>FUSE_ATOMIC_O_TRUNC</c>).</summary>
    AtomicOTrunc = 1UL << 3,

    /// <summary>Filesystem handles lookups of "." and ".." (<c>FUSE_EXPORT_SUPPORT</c>).</summary>
    ExportSupport = 1UL << 4,

    /// <summary>Writes larger than 4 KiB are allowed (<c>FUSE_BIG_WRITES</c>).</summary>
    BigWrites = 1UL << 5,

    /// <summary>Kernel does not apply the umask on create (<c>FUSE_DONT_MASK</c>).</summary>
    DontMask = 1UL << 6,

    /// <summary>Kernel supports splice write on the device (<c>FUSE_SPLICE_WRITE</c>).</summary>
    SpliceWrite = 1UL << 7,

    /// <summary>Kernel supports splice move on the device (<c>FUSE_SPLICE_MOVE</c>).</summary>
    SpliceMove = 1UL << 8,

    /// <summary>Kernel supports splice read on the device (<c>FUSE_SPLICE_READ</c>).</summary>
    SpliceRead = 1UL << 9,

    /// <summary>Remote BSD <c>flock</c> locks (<c>FUSE_FLOCK_LOCKS</c>, 7.17).</summary>
    FlockLocks = 1UL << 10,

    /// <summary>Kernel supports ioctl on directories (<c>FUSE_HAS_IOCTL_DIR</c>, 7.18).</summary>
    HasIoctlDir = 1UL << 11,

    /// <summary>Automatically invalidate cached pages on attribute change (<c>FUSE_AUTO_INVAL_DATA</c>, 7.20).</summary>
    AutoInvalData = 1UL << 12,

    /// <summary>Use READDIRPLUS (<c>FUSE_DO_READDIRPLUS</c>, 7.21).</summary>
    DoReaddirplus = 1UL << 13,

    /// <summary>Adaptive READDIRPLUS (<c>FUSE_READDIRPLUS_AUTO</c>, 7.21).</summary>
    ReaddirplusAuto = 1UL << 14,

    /// <summary>Asynchronous direct I/O submission (<c>FUSE_ASYNC_DIO</c>, 7.22).</summary>
    AsyncDio = 1UL << 15,

    /// <summary>Writeback cache for buffered writes (<c>FUSE_WRITEBACK_CACHE</c>, 7.23).</summary>
    WritebackCache = 1UL << 16,

    /// <summary>Kernel supports zero-message opens (<c>FUSE_NO_OPEN_SUPPORT</c>, 7.23).</summary>
    NoOpenSupport = 1UL << 17,

    /// <summary>Parallel lookups and readdir on one directory (<c>FUSE_PARALLEL_DIROPS</c>, 7.25).</summary>
    ParallelDirops = 1UL << 18,

    /// <summary>Filesystem clears suid/sgid/caps on write/chown/truncate (<c>FUSE_HANDLE_KILLPRIV</c>, 7.26).</summary>
    HandleKillpriv = 1UL << 19,

    /// <summary>Filesystem supports POSIX ACLs (<c>FUSE_POSIX_ACL</c>, 7.26).</summary>
    PosixAcl = 1UL << 20,

    /// <summary>Reading the device after abort returns ECONNABORTED (<c>FUSE_ABORT_ERROR</c>, 7.27).</summary>
    AbortError = 1UL << 21,

    /// <summary><see cref="FuseInitOut.MaxPages"/> is valid (<c>FUSE_MAX_PAGES</c>, 7.28).</summary>
    MaxPages = 1UL << 22,

    /// <summary>Cache READLINK replies (<c>FUSE_CACHE_SYMLINKS</c>, 7.28).</summary>
    CacheSymlinks = 1UL << 23,

    /// <summary>Kernel supports zero-message opendir (<c>FUSE_NO_OPENDIR_SUPPORT</c>, 7.29).</summary>
    NoOpendirSupport = 1UL << 24,

    /// <summary>Invalidate cached pages only on explicit request (<c>FUSE_EXPLICIT_INVAL_DATA</c>, 7.30).</summary>
    ExplicitInvalData = 1UL << 25,

    /// <summary><see cref="FuseInitOut.MapAlignment"/> holds log2 of the DAX mapping alignment (<c>FUSE_MAP_ALIGNMENT</c>, 7.31).</summary>
    MapAlignment = 1UL << 26,

    /// <summary>Kernel supports automounting submounts (<c>FUSE_SUBMOUNTS</c>, 7.32).</summary>
    Submounts = 1UL << 27,

    /// <summary>Filesystem kills suid/sgid/caps with VFS semantics (<c>FUSE_HANDLE_KILLPRIV_V2</c>, 7.33).</summary>
    HandleKillprivV2 = 1UL << 28,

    /// <summary>Server accepts the extended 16-byte <see cref="FuseSetxattrIn"/> (<c>FUSE_SETXATTR_EXT</c>, 7.33).</summary>
    SetxattrExt = 1UL << 29,

    /// <summary>Extended 64-byte <see cref="FuseInitIn"/> and the <c>Flags2</c> words are in use (<c>FUSE_INIT_EXT</c>, 7.36).</summary>
    InitExt = 1UL << 30,

    /// <summary>Reserved; must not be used (<c>FUSE_INIT_RESERVED</c>).</summary>
    InitReserved = 1UL << 31,

    /// <summary>Security context is attached to create, mkdir, symlink and mknod (<c>FUSE_SECURITY_CTX</c>, 7.36; <c>Flags2</c> bit 0).</summary>
    SecurityCtx = 1UL << 32,

    /// <summary>Per-inode DAX (<c>FUSE_HAS_INODE_DAX</c>, 7.36; <c>Flags2</c> bit 1).</summary>
    HasInodeDax = 1UL << 33,

    /// <summary>Supplementary group extension on create requests (<c>FUSE_CREATE_SUPP_GROUP</c>, 7.38; <c>Flags2</c> bit 2).</summary>
    CreateSuppGroup = 1UL << 34,

    /// <summary>Kernel supports expire-only entry invalidation (<c>FUSE_HAS_EXPIRE_ONLY</c>, 7.38; <c>Flags2</c> bit 3).</summary>
    HasExpireOnly = 1UL << 35,

    /// <summary>Shared mmap allowed with <see cref="FuseOpenOutFlags.DirectIo"/> (<c>FUSE_DIRECT_IO_ALLOW_MMAP</c>, 7.39; <c>Flags2</c> bit 4).</summary>
    DirectIoAllowMmap = 1UL << 36,

    /// <summary>Passthrough I/O to backing files (<c>FUSE_PASSTHROUGH</c>, 7.40; <c>Flags2</c> bit 5).</summary>
    Passthrough = 1UL << 37,

    /// <summary>Explicitly disable export support (<c>FUSE_NO_EXPORT_SUPPORT</c>, 7.40; <c>Flags2</c> bit 6).</summary>
    NoExportSupport = 1UL << 38,

    /// <summary>Kernel can resend pending requests, marking them with <see cref="FuseConstants.UniqueResend"/> (<c>FUSE_HAS_RESEND</c>, 7.40; <c>Flags2</c> bit 7).</summary>
    HasResend = 1UL << 39,

    /// <summary>Idmapped mounts are allowed (<c>FUSE_ALLOW_IDMAP</c>, 7.41; <c>Flags2</c> bit 8).</summary>
    AllowIdmap = 1UL << 40,

    /// <summary>Server supports FUSE over io_uring (<c>FUSE_OVER_IO_URING</c>, 7.42; <c>Flags2</c> bit 9).</summary>
    OverIoUring = 1UL << 41,

    /// <summary>Kernel supports request timeouts; <see cref="FuseInitOut.RequestTimeout"/> is valid (<c>FUSE_REQUEST_TIMEOUT</c>, 7.43; <c>Flags2</c> bit 10).</summary>
    RequestTimeout = 1UL << 42,
}

/// <summary>Flags returned in <see cref="FuseOpenOut.OpenFlags"/> (C <c>FOPEN_*</c>).</summary>
[Flags]
public enum FuseOpenOutFlags : uint
{
    /// <summary>No flags.</summary>
    None = 0,

    /// <summary>Bypass the page cache for this file (<c>FOPEN_DIRECT_IO</c>, 7.2).</summary>
    DirectIo = 1U << 0,

    /// <summary>Keep the cached data on open (<c>FOPEN_KEEP_CACHE</c>, 7.2).</summary>
    KeepCache = 1U << 1,

    /// <summary>The file is not seekable (<c>FOPEN_NONSEEKABLE</c>, 7.10).</summary>
    NonSeekable = 1U << 2,

    /// <summary>Allow caching of this directory (<c>FOPEN_CACHE_DIR</c>, 7.28).</summary>
    CacheDir = 1U << 3,

    /// <summary>Stream-like file without a file position (<c>FOPEN_STREAM</c>).</summary>
    Stream = 1U << 4,

    /// <summary>Do not flush the data cache on close (<c>FOPEN_NOFLUSH</c>, 7.35).</summary>
    NoFlush = 1U << 5,

    /// <summary>Allow concurrent direct writes on one inode (<c>FOPEN_PARALLEL_DIRECT_WRITES</c>, 7.38).</summary>
    ParallelDirectWrites = 1U << 6,

    /// <summary>Passthrough read/write to <see cref="FuseOpenOut.BackingId"/> (<c>FOPEN_PASSTHROUGH</c>, 7.40).</summary>
    Passthrough = 1U << 7,
}

/// <summary>Bits of <see cref="FuseSetattrIn.Valid"/> telling which attributes to change (C <c>FATTR_*</c>).</summary>
[Flags]
public enum FuseSetAttrValid : uint
{
    /// <summary>No attribute.</summary>
    None = 0,

    /// <summary><see cref="FuseSetattrIn.Mode"/> is valid (<c>FATTR_MODE</c>).</summary>
    Mode = 1U << 0,

    /// <summary><see cref="FuseSetattrIn.Uid"/> is valid (<c>FATTR_UID</c>).</summary>
    Uid = 1U << 1,

    /// <summary><see cref="FuseSetattrIn.Gid"/> is valid (<c>FATTR_GID</c>).</summary>
    Gid = 1U << 2,

    /// <summary><see cref="FuseSetattrIn.Size"/> is valid (<c>FATTR_SIZE</c>).</summary>
    Size = 1U << 3,

    /// <summary><see cref="FuseSetattrIn.Atime"/> is valid (<c>FATTR_ATIME</c>).</summary>
    Atime = 1U << 4,

    /// <summary><see cref="FuseSetattrIn.Mtime"/> is valid (<c>FATTR_MTIME</c>).</summary>
    Mtime = 1U << 5,

    /// <summary><see cref="FuseSetattrIn.Fh"/> is valid (<c>FATTR_FH</c>, 7.3).</summary>
    Fh = 1U << 6,

    /// <summary>Set atime to the current time (<c>FATTR_ATIME_NOW</c>, 7.9).</summary>
    AtimeNow = 1U << 7,

    /// <summary>Set mtime to the current time (<c>FATTR_MTIME_NOW</c>, 7.9).</summary>
    MtimeNow = 1U << 8,

    /// <summary><see cref="FuseSetattrIn.LockOwner"/> is valid (<c>FATTR_LOCKOWNER</c>, 7.9).</summary>
    LockOwner = 1U << 9,

    /// <summary><see cref="FuseSetattrIn.Ctime"/> is valid (<c>FATTR_CTIME</c>, 7.23).</summary>
    Ctime = 1U << 10,

    /// <summary>Clear suid/sgid as part of the change (<c>FATTR_KILL_SUIDGID</c>, 7.33).</summary>
    KillSuidGid = 1U << 11,
}

/// <summary>Flags of <see cref="FuseAttr.Flags"/> (C <c>FUSE_ATTR_*</c>, 7.32+).</summary>
[Flags]
public enum FuseAttrFlags : uint
{
    /// <summary>No flags.</summary>
    None = 0,

    /// <summary>The object is the root of a submount (<c>FUSE_ATTR_SUBMOUNT</c>).</summary>
    Submount = 1U << 0,

    /// <summary>Enable DAX for this file in per-inode DAX mode (<c>FUSE_ATTR_DAX</c>, 7.36).</summary>
    Dax = 1U << 1,
}

/// <summary>Linux <c>renameat2</c> flags carried in <see cref="FuseRename2In.Flags"/>.</summary>
[Flags]
public enum FuseRenameFlags : uint
{
    /// <summary>Plain rename.</summary>
    None = 0,

    /// <summary>Fail if the target exists (<c>RENAME_NOREPLACE</c>).</summary>
    NoReplace = 1U << 0,

    /// <summary>Atomically swap source and target (<c>RENAME_EXCHANGE</c>).</summary>
    Exchange = 1U << 1,

    /// <summary>Leave a whiteout at the source (<c>RENAME_WHITEOUT</c>).</summary>
    Whiteout = 1U << 2,
}

/// <summary>Flags of <see cref="FuseFsyncIn.FsyncFlags"/>.</summary>
[Flags]
public enum FuseFsyncFlags : uint
{
    /// <summary>Full sync.</summary>
    None = 0,

    /// <summary>Sync data only, not metadata (<c>FUSE_FSYNC_FDATASYNC</c>).</summary>
    FdataSync = 1U << 0,
}

/// <summary>Flags of <see cref="FuseLkIn.LkFlags"/>.</summary>
[Flags]
public enum FuseLockFlags : uint
{
    /// <summary>POSIX record lock.</summary>
    None = 0,

    /// <summary>The request is a BSD <c>flock</c> lock (<c>FUSE_LK_FLOCK</c>, 7.9).</summary>
    Flock = 1U << 0,
}

/// <summary>Flags of <see cref="FuseReleaseIn.ReleaseFlags"/>.</summary>
[Flags]
public enum FuseReleaseFlags : uint
{
    /// <summary>No flags.</summary>
    None = 0,

    /// <summary>Flush before releasing (<c>FUSE_RELEASE_FLUSH</c>, 7.8).</summary>
    Flush = 1U << 0,

    /// <summary>Also drop flock locks held by <see cref="FuseReleaseIn.LockOwner"/> (<c>FUSE_RELEASE_FLOCK_UNLOCK</c>, 7.17).</summary>
    FlockUnlock = 1U << 1,
}

/// <summary>Flags of <see cref="FuseGetattrIn.GetattrFlags"/> and <see cref="FuseStatxIn.GetattrFlags"/>.</summary>
[Flags]
public enum FuseGetAttrFlags : uint
{
    /// <summary>No flags.</summary>
    None = 0,

    /// <summary>The <c>Fh</c> field is valid (<c>FUSE_GETATTR_FH</c>, 7.9).</summary>
    Fh = 1U << 0,
}

/// <summary>Flags of <see cref="FuseWriteIn.WriteFlags"/>.</summary>
[Flags]
public enum FuseWriteFlags : uint
{
    /// <summary>No flags.</summary>
    None = 0,

    /// <summary>Delayed write from the page cache; the file handle is guessed (<c>FUSE_WRITE_CACHE</c>).</summary>
    Cache = 1U << 0,

    /// <summary><see cref="FuseWriteIn.LockOwner"/> is valid (<c>FUSE_WRITE_LOCKOWNER</c>, 7.9).</summary>
    LockOwner = 1U << 1,

    /// <summary>Clear suid and sgid bits (<c>FUSE_WRITE_KILL_SUIDGID</c>, formerly <c>KILL_PRIV</c>, 7.31).</summary>
    KillSuidGid = 1U << 2,
}

/// <summary>Flags of <see cref="FuseReadIn.ReadFlags"/>.</summary>
[Flags]
public enum FuseReadFlags : uint
{
    /// <summary>No flags.</summary>
    None = 0,

    /// <summary><see cref="FuseReadIn.LockOwner"/> is valid (<c>FUSE_READ_LOCKOWNER</c>, 7.9).</summary>
    LockOwner = 1U << 1,
}

/// <summary>Flags of <see cref="FuseIoctlIn.Flags"/> and <see cref="FuseIoctlOut.Flags"/> (C <c>FUSE_IOCTL_*</c>).</summary>
[Flags]
public enum FuseIoctlFlags : uint
{
    /// <summary>No flags.</summary>
    None = 0,

    /// <summary>32-bit compat ioctl on a 64-bit kernel (<c>FUSE_IOCTL_COMPAT</c>).</summary>
    Compat = 1U << 0,

    /// <summary>Not restricted to well-formed ioctls; retry allowed (<c>FUSE_IOCTL_UNRESTRICTED</c>).</summary>
    Unrestricted = 1U << 1,

    /// <summary>Reply: retry with the returned iovecs (<c>FUSE_IOCTL_RETRY</c>).</summary>
    Retry = 1U << 2,

    /// <summary>32-bit ioctl (<c>FUSE_IOCTL_32BIT</c>, 7.16).</summary>
    Bit32 = 1U << 3,

    /// <summary>The target is a directory (<c>FUSE_IOCTL_DIR</c>, 7.18).</summary>
    Dir = 1U << 4,

    /// <summary>x32 compat ioctl on a 64-bit kernel (<c>FUSE_IOCTL_COMPAT_X32</c>, 7.30).</summary>
    CompatX32 = 1U << 5,
}

/// <summary>Flags of <see cref="FusePollIn.Flags"/>.</summary>
[Flags]
public enum FusePollFlags : uint
{
    /// <summary>No flags.</summary>
    None = 0,

    /// <summary>The kernel wants a wakeup notification for <see cref="FusePollIn.Kh"/> (<c>FUSE_POLL_SCHEDULE_NOTIFY</c>).</summary>
    ScheduleNotify = 1U << 0,
}

/// <summary>Flags of <see cref="FuseOpenIn.OpenFlags"/> and <see cref="FuseCreateIn.OpenFlags"/> (C <c>FUSE_OPEN_*</c>).</summary>
[Flags]
public enum FuseOpenInFlags : uint
{
    /// <summary>No flags.</summary>
    None = 0,

    /// <summary>Clear suid and sgid if the file is executable (<c>FUSE_OPEN_KILL_SUIDGID</c>, 7.33).</summary>
    KillSuidGid = 1U << 0,
}

/// <summary>Flags of <see cref="FuseSetxattrIn.SetxattrFlags"/>.</summary>
[Flags]
public enum FuseSetXattrFlags : uint
{
    /// <summary>No flags.</summary>
    None = 0,

    /// <summary>Clear SGID when <c>system.posix_acl_access</c> is set (<c>FUSE_SETXATTR_ACL_KILL_SGID</c>, 7.33).</summary>
    AclKillSgid = 1U << 0,
}

/// <summary>Flags of <see cref="FuseNotifyInvalEntryOut.Flags"/>.</summary>
[Flags]
public enum FuseNotifyInvalEntryFlags : uint
{
    /// <summary>Invalidate the entry.</summary>
    None = 0,

    /// <summary>Only expire the entry instead of dropping it (<c>FUSE_EXPIRE_ONLY</c>, 7.38).</summary>
    ExpireOnly = 1U << 0,
}

/// <summary>Flags of <see cref="FuseSetupmappingIn.Flags"/> (C <c>FUSE_SETUPMAPPING_FLAG_*</c>).</summary>
[Flags]
public enum FuseSetupMappingFlags : ulong
{
    /// <summary>No access requested.</summary>
    None = 0,

    /// <summary>Map for writing (<c>FUSE_SETUPMAPPING_FLAG_WRITE</c>).</summary>
    Write = 1UL << 0,

    /// <summary>Map for reading (<c>FUSE_SETUPMAPPING_FLAG_READ</c>).</summary>
    Read = 1UL << 1,
}
