namespace VirtioFs.Protocol;

/// <summary>
/// Request opcodes carried in <see cref="FuseInHeader.Opcode"/> (C <c>enum fuse_opcode</c>).
/// Values 7 and 19 were never assigned.
/// </summary>
public enum FuseOpcode : uint
{
    /// <summary>Look up a directory entry by name (<c>FUSE_LOOKUP</c>); replies with <see cref="FuseEntryOut"/>.</summary>
    Lookup = 1,

    /// <summary>Drop lookup references to an inode (<c>FUSE_FORGET</c>); has no reply.</summary>
    Forget = 2,

    /// <summary>Read inode attributes (<c>FUSE_GETATTR</c>); replies with <see cref="FuseAttrOut"/>.</summary>
    GetAttr = 3,

    /// <summary>Change inode attributes (<c>FUSE_SETATTR</c>); replies with <see cref="FuseAttrOut"/>.</summary>
    SetAttr = 4,

    /// <summary>Read the target of a symbolic link (<c>FUSE_READLINK</c>).</summary>
    ReadLink = 5,

    /// <summary>Create a symbolic link (<c>FUSE_SYMLINK</c>).</summary>
    Symlink = 6,

    /// <summary>Create a file node (<c>FUSE_MKNOD</c>).</summary>
    MkNod = 8,

    /// <summary>Create a directory (<c>FUSE_MKDIR</c>).</summary>
    MkDir = 9,

    /// <summary>Remove a non-directory entry (<c>FUSE_UNLINK</c>).</summary>
    Unlink = 10,

    /// <summary>Remove a directory (<c>FUSE_RMDIR</c>).</summary>
    RmDir = 11,

    /// <summary>Rename an entry (<c>FUSE_RENAME</c>).</summary>
    Rename = 12,

    /// <summary>Create a hard link (<c>FUSE_LINK</c>).</summary>
    Link = 13,

    /// <summary>Open a file (<c>FUSE_OPEN</c>).</summary>
    Open = 14,

    /// <summary>Read from an open file (<c>FUSE_READ</c>).</summary>
    Read = 15,

    /// <summary>Write to an open file (<c>FUSE_WRITE</c>).</summary>
    Write = 16,

    /// <summary>Query filesystem statistics (<c>FUSE_STATFS</c>).</summary>
    StatFs = 17,

    /// <summary>Release an open file (<c>FUSE_RELEASE</c>).</summary>
    Release = 18,

    /// <summary>Synchronise file contents (<c>FUSE_FSYNC</c>).</summary>
    Fsync = 20,

    /// <summary>Set an extended attribute (<c>FUSE_SETXATTR</c>).</summary>
    SetXattr = 21,

    /// <summary>Get an extended attribute (<c>FUSE_GETXATTR</c>).</summary>
    GetXattr = 22,

    /// <summary>List extended attribute names (<c>FUSE_LISTXATTR</c>).</summary>
    ListXattr = 23,

    /// <summary>Remove an extended attribute (<c>FUSE_REMOVEXATTR</c>).</summary>
    RemoveXattr = 24,

    /// <summary>Flush on close of a file descriptor (<c>FUSE_FLUSH</c>).</summary>
    Flush = 25,

    /// <summary>Session initialisation and version negotiation (<c>FUSE_INIT</c>).</summary>
    Init = 26,

    /// <summary>Open a directory (<c>FUSE_OPENDIR</c>).</summary>
    OpenDir = 27,

    /// <summary>Read directory entries (<c>FUSE_READDIR</c>).</summary>
    ReadDir = 28,

    /// <summary>Release an open directory (<c>FUSE_RELEASEDIR</c>).</summary>
    ReleaseDir = 29,

    /// <summary>Synchronise directory contents (<c>FUSE_FSYNCDIR</c>).</summary>
    FsyncDir = 30,

    /// <summary>Test for a POSIX lock (<c>FUSE_GETLK</c>).</summary>
    GetLk = 31,

    /// <summary>Acquire or release a lock without waiting (<c>FUSE_SETLK</c>).</summary>
    SetLk = 32,

    /// <summary>Acquire a lock, waiting if needed (<c>FUSE_SETLKW</c>).</summary>
    SetLkw = 33,

    /// <summary>Check access permissions (<c>FUSE_ACCESS</c>).</summary>
    Access = 34,

    /// <summary>Atomically create and open a file (<c>FUSE_CREATE</c>).</summary>
    Create = 35,

    /// <summary>Interrupt a pending request (<c>FUSE_INTERRUPT</c>).</summary>
    Interrupt = 36,

    /// <summary>Map a file block to a device block (<c>FUSE_BMAP</c>).</summary>
    Bmap = 37,

    /// <summary>Filesystem shutdown (<c>FUSE_DESTROY</c>).</summary>
    Destroy = 38,

    /// <summary>Device-specific ioctl (<c>FUSE_IOCTL</c>).</summary>
    Ioctl = 39,

    /// <summary>Poll for I/O readiness (<c>FUSE_POLL</c>).</summary>
    Poll = 40,

    /// <summary>Reply to a retrieve notification (<c>FUSE_NOTIFY_REPLY</c>); has no reply.</summary>
    NotifyReply = 41,

    /// <summary>Forget several inodes at once (<c>FUSE_BATCH_FORGET</c>); has no reply.</summary>
    BatchForget = 42,

    /// <summary>Allocate or punch file space (<c>FUSE_FALLOCATE</c>).</summary>
    Fallocate = 43,

    /// <summary>Read directory entries with attributes (<c>FUSE_READDIRPLUS</c>).</summary>
    ReadDirPlus = 44,

    /// <summary>Rename with <c>renameat2</c> flags (<c>FUSE_RENAME2</c>).</summary>
    Rename2 = 45,

    /// <summary>Find data or holes in a file (<c>FUSE_LSEEK</c>).</summary>
    Lseek = 46,

    /// <summary>Copy a range between two open files (<c>FUSE_COPY_FILE_RANGE</c>); replies with <see cref="FuseWriteOut"/>.</summary>
    CopyFileRange = 47,

    /// <summary>Map a file range into the DAX window (<c>FUSE_SETUPMAPPING</c>).</summary>
    SetupMapping = 48,

    /// <summary>Unmap ranges of the DAX window (<c>FUSE_REMOVEMAPPING</c>).</summary>
    RemoveMapping = 49,

    /// <summary>Synchronise the whole filesystem (<c>FUSE_SYNCFS</c>).</summary>
    SyncFs = 50,

    /// <summary>Create an unnamed temporary file (<c>FUSE_TMPFILE</c>).</summary>
    TmpFile = 51,

    /// <summary>Extended attribute query (<c>FUSE_STATX</c>); replies with <see cref="FuseStatxOut"/>.</summary>
    Statx = 52,

    /// <summary>Copy a range with a 64-bit result (<c>FUSE_COPY_FILE_RANGE_64</c>); replies with <see cref="FuseCopyFileRangeOut"/>.</summary>
    CopyFileRange64 = 53,

    /// <summary>CUSE session initialisation (<c>CUSE_INIT</c>).</summary>
    CuseInit = 4096,
}

/// <summary>
/// Codes of unsolicited notifications sent by the server; travel in <see cref="FuseOutHeader.Error"/>
/// with <see cref="FuseOutHeader.Unique"/> set to zero (C <c>enum fuse_notify_code</c>).
/// </summary>
public enum FuseNotifyCode : int
{
    /// <summary>Wake up a poll waiter (<c>FUSE_NOTIFY_POLL</c>); payload <see cref="FuseNotifyPollWakeupOut"/>.</summary>
    Poll = 1,

    /// <summary>Invalidate cached inode data/attributes (<c>FUSE_NOTIFY_INVAL_INODE</c>); payload <see cref="FuseNotifyInvalInodeOut"/>.</summary>
    InvalInode = 2,

    /// <summary>Invalidate a cached directory entry (<c>FUSE_NOTIFY_INVAL_ENTRY</c>); payload <see cref="FuseNotifyInvalEntryOut"/> + name.</summary>
    InvalEntry = 3,

    /// <summary>Push data into the kernel page cache (<c>FUSE_NOTIFY_STORE</c>); payload <see cref="FuseNotifyStoreOut"/> + data.</summary>
    Store = 4,

    /// <summary>Ask the kernel to send back cached data (<c>FUSE_NOTIFY_RETRIEVE</c>); payload <see cref="FuseNotifyRetrieveOut"/>.</summary>
    Retrieve = 5,

    /// <summary>Report a deleted directory entry (<c>FUSE_NOTIFY_DELETE</c>); payload <see cref="FuseNotifyDeleteOut"/> + name.</summary>
    Delete = 6,

    /// <summary>Ask the kernel to resend pending requests (<c>FUSE_NOTIFY_RESEND</c>, 7.40).</summary>
    Resend = 7,

    /// <summary>Increment the epoch, invalidating all cached entries (<c>FUSE_NOTIFY_INC_EPOCH</c>, 7.44).</summary>
    IncEpoch = 8,

    /// <summary>Ask the kernel to forget unused inodes (<c>FUSE_NOTIFY_PRUNE</c>, 7.45); payload <see cref="FuseNotifyPruneOut"/> + node ids.</summary>
    Prune = 9,
}
