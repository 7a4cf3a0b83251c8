using VirtioFs.Protocol;

namespace VirtioFs.Samples.MemoryFs;

/// <summary>The type, permission bits and owner a new node starts with.</summary>
internal readonly record struct NodeOwner(uint Mode, uint Uid, uint Gid);

/// <summary>An inode: attributes, extended attributes, locks and the three counts that keep it alive.</summary>
/// <remarks>
/// A node lives while it has a name (<see cref="LinkCount"/>), a kernel reference (<see cref="LookupCount"/>) or an
/// open handle (<see cref="OpenCount"/>). Everything but those last two counts is changed under the filesystem's write lock.
/// </remarks>
internal abstract class MemoryNode
{
    public const uint BlockSize = 4096;

    /// <summary>Node ids are never reused, so one generation serves every node.</summary>
    public const ulong Generation = 1;

    private ulong _lookupCount;
    private int _openCount;
    private RangeLockTable? _posixLocks;
    private RangeLockTable? _flockLocks;

    protected MemoryNode(ulong id, NodeOwner owner, Timestamp now)
    {
        Id = id;
        Mode = owner.Mode;
        Uid = owner.Uid;
        Gid = owner.Gid;
        Atime = Mtime = Ctime = Btime = now;
    }

    public ulong Id { get; }

    /// <summary>File type and permission bits (<c>st_mode</c>).</summary>
    public uint Mode { get; set; }

    public uint Uid { get; set; }

    public uint Gid { get; set; }

    public Timestamp Atime { get; set; }

    public Timestamp Mtime { get; set; }

    public Timestamp Ctime { get; set; }

    /// <summary>Birth time, reported by STATX.</summary>
    public Timestamp Btime { get; }

    /// <summary>How many directory entries name this node.</summary>
    public int LinkCount { get; set; }

    /// <summary>How many open handles refer to this node; changed under the read lock too (OPENDIR, closing), hence atomic.</summary>
    public int OpenCount => Volatile.Read(ref _openCount);

    /// <summary>Lookups the kernel holds; incremented under the read lock too (LOOKUP, READDIRPLUS), hence atomic.</summary>
    public ulong LookupCount => Volatile.Read(ref _lookupCount);

    /// <summary>Extended attributes, created on first use.</summary>
    public Dictionary<byte[], byte[]>? Xattrs { get; set; }

    public bool IsDirectory => FuseFileMode.IsType(Mode, FuseFileMode.Directory);

    /// <summary>Whether nothing holds the node any more: no name, no kernel lookup, no open handle.</summary>
    public bool IsUnreferenced => LinkCount == 0 && LookupCount == 0 && OpenCount == 0;

    /// <summary><c>st_nlink</c>.</summary>
    public virtual uint Nlink => (uint)LinkCount;

    /// <summary><c>st_size</c>.</summary>
    public abstract ulong Size { get; }

    /// <summary><c>st_blocks</c>, in 512-byte units.</summary>
    public virtual ulong Blocks => 0;

    /// <summary><c>st_rdev</c> in the kernel's <c>new_encode_dev</c> form, as MKNOD sends it.</summary>
    public virtual uint Rdev => 0;

    public void AddLookup() => Interlocked.Increment(ref _lookupCount);

    public void AddOpen() => Interlocked.Increment(ref _openCount);

    /// <summary>Drops one open handle; returns how many remain.</summary>
    public int DropOpen() => Interlocked.Decrement(ref _openCount);

    /// <summary>FORGET: drops lookups, never below zero (a confused client must not wrap the count).</summary>
    public void DropLookups(ulong count) => _lookupCount -= Math.Min(count, _lookupCount);

    /// <summary>The byte-range lock table (POSIX <c>fcntl</c> locks, or BSD <c>flock</c> locks, which Linux keeps apart).</summary>
    public RangeLockTable GetLocks(bool flock)
        => flock ? LazyInitializer.EnsureInitialized(ref _flockLocks) : LazyInitializer.EnsureInitialized(ref _posixLocks);

    /// <summary>Drops every lock <paramref name="owner"/> holds in one of the tables, if that table exists.</summary>
    public void ReleaseLocks(bool flock, ulong owner) => (flock ? _flockLocks : _posixLocks)?.RemoveOwner(owner);

    /// <summary>Content changed: mtime and ctime.</summary>
    public void Touch(Timestamp now) => Mtime = Ctime = now;

    /// <summary>
    /// What the VFS drops when a file's data, size or owner changes (<c>file_remove_privs</c>, <c>chown</c>): its file
    /// capability (<c>security.capability</c>) whoever the caller is, and set-user-id/set-group-id when
    /// <paramref name="suidGid"/> (the kernel asks for that when the caller lacks <c>CAP_FSETID</c>; chown always does).
    /// Set-group-id goes only with group execute: without it, it marks mandatory locking rather than "set group id".
    /// </summary>
    public void RemovePrivileges(bool suidGid)
    {
        if (suidGid)
        {
            Mode &= ~(ModeBits.SetUid | ((Mode & ModeBits.GroupExecute) != 0 ? ModeBits.SetGid : 0));
        }

        Xattrs?.GetAlternateLookup<ReadOnlySpan<byte>>().Remove("security.capability"u8);
    }

    public FuseAttr GetAttr() => new()
    {
        Ino = Id,
        Size = Size,
        Blocks = Blocks,
        Atime = (ulong)Atime.Seconds,
        Mtime = (ulong)Mtime.Seconds,
        Ctime = (ulong)Ctime.Seconds,
        Atimensec = Atime.Nanoseconds,
        Mtimensec = Mtime.Nanoseconds,
        Ctimensec = Ctime.Nanoseconds,
        Mode = Mode,
        Nlink = Nlink,
        Uid = Uid,
        Gid = Gid,
        Rdev = Rdev,
        Blksize = BlockSize,
    };

    public FuseStatx GetStatx()
    {
        const uint BasicStats = 0x7ff; // STATX_BASIC_STATS
        const uint BirthTime = 0x800;  // STATX_BTIME
        return new FuseStatx
        {
            Mask = BasicStats | BirthTime,
            Blksize = BlockSize,
            Nlink = Nlink,
            Uid = Uid,
            Gid = Gid,
            Mode = (ushort)Mode,
            Ino = Id,
            Size = Size,
            Blocks = Blocks,
            Atime = Atime.ToStatx(),
            Btime = Btime.ToStatx(),
            Ctime = Ctime.ToStatx(),
            Mtime = Mtime.ToStatx(),

            // new_decode_dev: 12-bit major in bits 8-19, 20-bit minor split around it.
            RdevMajor = (Rdev & 0xfff00) >> 8,
            RdevMinor = (Rdev & 0xff) | ((Rdev >> 12) & 0xfff00),
        };
    }
}

/// <summary>A regular file.</summary>
internal sealed class MemoryFile(ulong id, NodeOwner owner, Timestamp now, StorageUsage usage) : MemoryNode(id, owner, now)
{
    public SparseFileData Data { get; } = new(usage);

    /// <summary>A TMPFILE opened without <c>O_EXCL</c> and not yet linked: the one kind of nameless node LINK may name.</summary>
    public bool LinkableWhenUnnamed { get; set; }

    public override ulong Size => (ulong)Data.Length;

    public override ulong Blocks => (ulong)Data.AllocatedChunks * (SparseFileData.ChunkSize / 512);
}

/// <summary>A symbolic link.</summary>
internal sealed class MemorySymlink(ulong id, NodeOwner owner, Timestamp now, byte[] target) : MemoryNode(id, owner, now)
{
    public byte[] Target { get; } = target;

    public override ulong Size => (ulong)Target.Length;
}

/// <summary>A fifo, socket or device node: only attributes, since the kernel serves their I/O itself.</summary>
internal sealed class MemorySpecialNode(ulong id, NodeOwner owner, Timestamp now, uint rdev) : MemoryNode(id, owner, now)
{
    public override uint Rdev { get; } = rdev;

    public override ulong Size => 0;
}
