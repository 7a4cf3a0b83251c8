using Microsoft.Win32.SafeHandles;

namespace VirtioFs.Samples.Passthrough;

/// <summary>
/// A host inode the client knows: an <c>O_PATH</c> descriptor (so the inode, and its number, stay alive however it is
/// renamed or unlinked) and the client's lookup count. Every operation on the node is made relative to this descriptor.
/// </summary>
internal sealed class Inode(ulong nodeId, ulong device, ulong number, SafeFileHandle pathFd)
{
    public ulong NodeId { get; } = nodeId;

    /// <summary><c>st_dev</c> (major &lt;&lt; 32 | minor).</summary>
    public ulong Device { get; } = device;

    /// <summary><c>st_ino</c>.</summary>
    public ulong Number { get; } = number;

    /// <summary>The <c>O_PATH</c> descriptor.</summary>
    public SafeFileHandle PathFd { get; } = pathFd;

    /// <summary>The descriptor's number, for <c>/proc/self/fd/N</c> (valid as long as <see cref="PathFd"/> is open,
    /// which the lookup count guarantees while the client may send requests for the node).</summary>
    public int FdNumber { get; } = (int)pathFd.DangerousGetHandle();

    /// <summary>The lookup count; guarded by the inode table's lock.</summary>
    public ulong LookupCount;

    /// <summary>Open handles of the node and the per-owner lock descriptors; guarded by <see cref="Locks"/>.</summary>
    public LockState Locks { get; } = new();
}

/// <summary>The POSIX locks of one inode: one open file description per lock owner, holding that owner's OFD locks.</summary>
internal sealed class LockState
{
    /// <summary>Handles open on the inode; when it drops to 0 the lock descriptors are closed (every owner has
    /// released its locks by then: the client unlocks on close).</summary>
    public int OpenHandles;

    /// <summary>The inode's <c>FUSE_PASSTHROUGH</c> backing id (0: none) and how many handles use it. The kernel wants
    /// one backing file per inode for all its passthrough opens (it opens its own file from it with each open's flags).</summary>
    public int BackingId;

    public int BackingUsers;

    /// <summary>Lock owner → (descriptor, pid of the process that last locked through it).</summary>
    public Dictionary<ulong, (SafeFileHandle Fd, uint Pid)>? Owners;
}
