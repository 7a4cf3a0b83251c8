using System.Collections.Concurrent;
using VirtioFs.Protocol;

namespace VirtioFs.Samples.MemoryFs;

/// <summary>
/// A complete POSIX filesystem kept in memory, served through the low-level <see cref="FuseFileSystem"/> API:
/// sparse regular files, directories, symbolic and hard links, device nodes, fifos and sockets, extended attributes
/// and byte-range locks.
/// </summary>
/// <remarks>
/// <para>Threading: one reader/writer lock guards the tree, the node table and file contents. Operations that only
/// look (LOOKUP, GETATTR, READ, READDIR, GETXATTR, ...) share it; anything that changes state holds it alone. Handles
/// (their table and each node's open count) are kept atomically, so OPENDIR and closing a handle share the lock too,
/// and take it alone only to free a node. Byte-range locks have a lock per node so that SETLKW can wait without
/// holding the tree.</para>
/// <para>Semantics chosen: READ does not update atime (as with <c>noatime</c>); SETATTR, OPEN with <c>O_TRUNC</c>,
/// WRITE and FALLOCATE kill set-user-id/set-group-id bits only when the request asks for it (the kernel asks, or sends
/// the new mode itself); permissions are checked by ACCESS only, so mount with <c>default_permissions</c> to have the
/// kernel enforce them everywhere else.</para>
/// </remarks>
public sealed partial class MemoryFileSystem : FuseFileSystem
{
    private const long CapacityBytes = 1L << 40;

    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(1);

    private readonly ReaderWriterLockSlim _tree = new(LockRecursionPolicy.NoRecursion);
    private readonly Dictionary<ulong, MemoryNode> _nodes = [];
    private readonly ConcurrentDictionary<ulong, OpenHandle> _handles = [];
    private readonly StorageUsage _usage = new(CapacityBytes / SparseFileData.ChunkSize);
    private readonly TimeProvider _time;
    private readonly MemoryDirectory _root;
    private readonly (ulong Seconds, uint Nanoseconds) _entryTimeout;
    private readonly (ulong Seconds, uint Nanoseconds) _attributeTimeout;
    private ulong _nextNodeId = FuseConstants.RootId + 1;
    private ulong _lastHandleId;

    /// <summary>Creates an empty filesystem: a root directory with mode 0755.</summary>
    /// <param name="uid">The root directory's owner.</param>
    /// <param name="gid">The root directory's group.</param>
    /// <param name="attributeTimeout">How long the kernel may cache attributes; default one second.</param>
    /// <param name="entryTimeout">How long the kernel may cache names; default one second.</param>
    /// <param name="timeProvider">The clock for timestamps; default the system clock.</param>
    public MemoryFileSystem(uint uid = 0, uint gid = 0, TimeSpan? attributeTimeout = null, TimeSpan? entryTimeout = null, TimeProvider? timeProvider = null)
    {
        _attributeTimeout = SplitTimeout(attributeTimeout ?? DefaultTimeout, nameof(attributeTimeout));
        _entryTimeout = SplitTimeout(entryTimeout ?? DefaultTimeout, nameof(entryTimeout));
        _time = timeProvider ?? TimeProvider.System;
        _root = new MemoryDirectory(FuseConstants.RootId, new NodeOwner(FuseFileMode.Directory | 0x1ED /* 0755 */, uid, gid), Now(), parent: null)
        {
            LinkCount = 1, // named by the mount point; never freed
        };
        _nodes.Add(_root.Id, _root);
    }

    /// <summary>The number of live nodes, the root included.</summary>
    public int NodeCount
    {
        get
        {
            using (EnterRead())
            {
                return _nodes.Count;
            }
        }
    }

    /// <summary>The number of open file and directory handles.</summary>
    public int HandleCount => _handles.Count;

    /// <summary>The lookup count the filesystem holds for a node: how many references the kernel has not yet forgotten.</summary>
    /// <param name="nodeId">The node.</param>
    /// <returns>The count; 0 for a node that does not exist (any more).</returns>
    public ulong GetLookupCount(ulong nodeId)
    {
        using (EnterRead())
        {
            return _nodes.TryGetValue(nodeId, out MemoryNode? node) ? node.LookupCount : 0;
        }
    }

    private static (ulong Seconds, uint Nanoseconds) SplitTimeout(TimeSpan timeout, string name)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(timeout, TimeSpan.Zero, name);
        return ((ulong)(timeout.Ticks / TimeSpan.TicksPerSecond), (uint)(timeout.Ticks % TimeSpan.TicksPerSecond * TimeSpan.NanosecondsPerTick));
    }

    private Timestamp Now() => Timestamp.FromDateTimeOffset(_time.GetUtcNow());

    private ReadScope EnterRead()
    {
        _tree.EnterReadLock();
        return new ReadScope(_tree);
    }

    private WriteScope EnterWrite()
    {
        _tree.EnterWriteLock();
        return new WriteScope(_tree);
    }

    private MemoryNode? FindNode(ulong id, out Errno error)
    {
        MemoryNode? node = _nodes.GetValueOrDefault(id);
        error = node is null ? Errno.ENOENT : Errno.Success;
        return node;
    }

    private MemoryDirectory? FindDirectory(ulong id, out Errno error)
    {
        MemoryNode? node = FindNode(id, out error);
        if (node is MemoryDirectory directory)
        {
            return directory;
        }

        if (node is not null)
        {
            error = Errno.ENOTDIR;
        }

        return null;
    }

    /// <summary>A directory that still has a name: the only kind in which names can be created (ENOENT otherwise, as on Linux).</summary>
    private MemoryDirectory? FindLiveDirectory(ulong id, out Errno error)
    {
        MemoryDirectory? directory = FindDirectory(id, out error);
        if (directory is { IsLive: false })
        {
            error = Errno.ENOENT;
            return null;
        }

        return directory;
    }

    private OpenHandle? FindHandle(ulong fh, out Errno error)
    {
        error = _handles.TryGetValue(fh, out OpenHandle? handle) ? Errno.Success : Errno.EBADF;
        return handle;
    }

    /// <summary>The regular file behind a handle whose access mode allows <paramref name="access"/> (EBADF otherwise).</summary>
    private MemoryFile? FindOpenFile(ulong fh, FileAccess access, out OpenHandle? handle, out Errno error)
    {
        handle = FindHandle(fh, out error);
        if (handle is null)
        {
            return null;
        }

        if (!handle.Allows(access))
        {
            error = Errno.EBADF;
            return null;
        }

        if (handle.Node is not MemoryFile file)
        {
            error = handle.Node.IsDirectory ? Errno.EISDIR : Errno.EINVAL;
            return null;
        }

        return file;
    }

    /// <summary>Frees a node once nothing refers to it: no name, no kernel lookup, no open handle.</summary>
    private void TryFree(MemoryNode node)
    {
        if (node == _root || !node.IsUnreferenced)
        {
            return;
        }

        if (_nodes.Remove(node.Id) && node is MemoryFile file)
        {
            file.Data.Clear();
        }
    }

    /// <summary>An entry reply for <paramref name="node"/> without touching its lookup count (READDIRPLUS counts only accepted entries).</summary>
    private FuseEntryOut EntryOut(MemoryNode node) => new()
    {
        Nodeid = node.Id,
        Generation = MemoryNode.Generation,
        EntryValid = _entryTimeout.Seconds,
        EntryValidNsec = _entryTimeout.Nanoseconds,
        AttrValid = _attributeTimeout.Seconds,
        AttrValidNsec = _attributeTimeout.Nanoseconds,
        Attr = node.GetAttr(),
    };

    /// <summary>An entry reply that hands the kernel a reference: the lookup count grows by one.</summary>
    private FuseEntryOut CountedEntryOut(MemoryNode node)
    {
        node.AddLookup();
        return EntryOut(node);
    }

    private FuseAttrOut AttrOut(MemoryNode node) => new()
    {
        AttrValid = _attributeTimeout.Seconds,
        AttrValidNsec = _attributeTimeout.Nanoseconds,
        Attr = node.GetAttr(),
    };

    private readonly ref struct ReadScope(ReaderWriterLockSlim rwLock)
    {
        public void Dispose() => rwLock.ExitReadLock();
    }

    private readonly ref struct WriteScope(ReaderWriterLockSlim rwLock)
    {
        public void Dispose() => rwLock.ExitWriteLock();
    }
}
