using System.Text;

namespace VirtioFs.Protocol.Tests.Session;

/// <summary>
/// A filesystem that answers every operation successfully with plausible, distinctive values, writes every byte it
/// reports, and records what the session handed it. Tests derive from it to change one operation.
/// </summary>
internal class PlausibleFileSystem : FuseFileSystem
{
    public static readonly byte[] XattrValue = "value"u8.ToArray();
    public static readonly byte[] XattrList = "user.a\0"u8.ToArray();
    public static readonly byte[] LinkTarget = "target/of/link"u8.ToArray();

    /// <summary>What <see cref="InitAsync"/> answers.</summary>
    public Errno InitResult { get; set; } = Errno.Success;

    public FuseConnectionInfo? SeenConnection { get; private set; }

    public int InitCalls { get; private set; }

    public int BatchForgetCalls { get; private set; }

    public List<FuseForgetOne> Forgotten { get; } = [];

    public uint[]? LastGroups { get; private set; }

    public string? LastName { get; private set; }

    public FuseMknodIn LastMknod { get; private set; }

    public FuseCreateIn LastCreate { get; private set; }

    public byte[]? LastXattrValue { get; private set; }

    public List<FuseRemovemappingOne> RemovedRanges { get; } = [];

    public static FuseAttr Attr(ulong ino, uint mode = FuseFileMode.RegularFile | 0x1A4) => new()
    {
        Ino = ino,
        Size = 4096 + ino,
        Blocks = 8,
        Atime = 1_700_000_001,
        Mtime = 1_700_000_002,
        Ctime = 1_700_000_003,
        Atimensec = 11,
        Mtimensec = 22,
        Ctimensec = 33,
        Mode = mode,
        Nlink = 1,
        Uid = 1000,
        Gid = 100,
        Rdev = 0,
        Blksize = 4096,
        Flags = 0,
    };

    public static FuseEntryOut Entry(ulong nodeId) => new()
    {
        Nodeid = nodeId,
        Generation = 7,
        EntryValid = 1,
        AttrValid = 2,
        EntryValidNsec = 3,
        AttrValidNsec = 4,
        Attr = Attr(nodeId),
    };

    public static FuseAttrOut AttrOut(ulong nodeId) => new() { AttrValid = 5, AttrValidNsec = 6, Attr = Attr(nodeId) };

    public static FuseOpenOut OpenOut => new() { Fh = 0x1122334455667788, OpenFlags = (uint)FuseOpenOutFlags.KeepCache, BackingId = 0 };

    public static FuseKstatfs Statfs => new()
    {
        Blocks = 1000, Bfree = 500, Bavail = 400, Files = 100, Ffree = 50, Bsize = 4096, Namelen = 255, Frsize = 4096,
    };

    public static FuseStatxOut StatxOut(ulong nodeId) => new()
    {
        AttrValid = 9,
        AttrValidNsec = 10,
        Flags = 0,
        Stat = new FuseStatx
        {
            Mask = 0x7FF, Blksize = 4096, Attributes = 0, Nlink = 1, Uid = 1000, Gid = 100,
            Mode = (ushort)(FuseFileMode.RegularFile | 0x1A4), Ino = nodeId, Size = 12345, Blocks = 32, AttributesMask = 0,
            Atime = new FuseSxTime { TvSec = 1, TvNsec = 2 }, Btime = new FuseSxTime { TvSec = 3, TvNsec = 4 },
            Ctime = new FuseSxTime { TvSec = 5, TvNsec = 6 }, Mtime = new FuseSxTime { TvSec = 7, TvNsec = 8 },
            RdevMajor = 0, RdevMinor = 0, DevMajor = 253, DevMinor = 1,
        },
    };

    /// <summary>The names <see cref="ReadDirAsync"/> lists, of lengths 1 to 9 so that record padding varies.</summary>
    public static string DirName(int index) => new((char)('a' + index), index + 1);

    public const int DirEntries = 9;

    public override ValueTask<Errno> InitAsync(FuseConnectionInfo connection)
    {
        InitCalls++;
        SeenConnection = connection;
        return new(InitResult);
    }

    public override ValueTask<FuseResult<FuseEntryOut>> LookupAsync(FuseRequestContext context, ReadOnlyMemory<byte> name)
    {
        LastName = Encoding.UTF8.GetString(name.Span);
        return new(Entry(2));
    }

    public override void Forget(ulong nodeId, ulong lookupCount) => Forgotten.Add(new FuseForgetOne { Nodeid = nodeId, Nlookup = lookupCount });

    public override void BatchForget(ReadOnlySpan<FuseForgetOne> nodes)
    {
        BatchForgetCalls++;
        base.BatchForget(nodes);
    }

    public override ValueTask<FuseResult<FuseAttrOut>> GetAttrAsync(FuseRequestContext context, FuseGetattrIn args) => new(AttrOut(context.NodeId));

    public override ValueTask<FuseResult<FuseAttrOut>> SetAttrAsync(FuseRequestContext context, FuseSetattrIn args) => new(AttrOut(context.NodeId));

    public override ValueTask<FuseResult<FuseStatxOut>> StatxAsync(FuseRequestContext context, FuseStatxIn args) => new(StatxOut(context.NodeId));

    public override ValueTask<FuseResult<int>> ReadLinkAsync(FuseRequestContext context, Memory<byte> buffer)
    {
        int n = Math.Min(buffer.Length, LinkTarget.Length);
        LinkTarget.AsSpan(0, n).CopyTo(buffer.Span);
        return new(n);
    }

    public override ValueTask<FuseResult<FuseEntryOut>> SymlinkAsync(FuseRequestContext context, ReadOnlyMemory<byte> name, ReadOnlyMemory<byte> target)
        => new(Entry(3));

    public override ValueTask<FuseResult<FuseEntryOut>> MkNodAsync(FuseRequestContext context, FuseMknodIn args, ReadOnlyMemory<byte> name)
    {
        LastMknod = args;
        LastName = Encoding.UTF8.GetString(name.Span);
        return new(Entry(4));
    }

    public override ValueTask<FuseResult<FuseEntryOut>> MkDirAsync(FuseRequestContext context, FuseMkdirIn args, ReadOnlyMemory<byte> name)
    {
        LastName = Encoding.UTF8.GetString(name.Span);
        FuseRequestExtensions extensions = context.Extensions;
        LastGroups = new uint[extensions.SupplementaryGroupCount];
        for (int i = 0; i < LastGroups.Length; i++)
        {
            LastGroups[i] = extensions.GetSupplementaryGroup(i);
        }

        return new(Entry(5));
    }

    public override ValueTask<Errno> UnlinkAsync(FuseRequestContext context, ReadOnlyMemory<byte> name) => new(Errno.Success);

    public override ValueTask<Errno> RmDirAsync(FuseRequestContext context, ReadOnlyMemory<byte> name) => new(Errno.Success);

    public override ValueTask<Errno> RenameAsync(FuseRequestContext context, ulong newParent, ReadOnlyMemory<byte> name, ReadOnlyMemory<byte> newName, FuseRenameFlags flags)
        => new(Errno.Success);

    public override ValueTask<FuseResult<FuseEntryOut>> LinkAsync(FuseRequestContext context, ulong nodeId, ReadOnlyMemory<byte> newName) => new(Entry(nodeId));

    public override ValueTask<FuseResult<FuseOpenOut>> OpenAsync(FuseRequestContext context, FuseOpenIn args) => new(OpenOut);

    public override ValueTask<FuseResult<FuseCreateOut>> CreateAsync(FuseRequestContext context, FuseCreateIn args, ReadOnlyMemory<byte> name)
    {
        LastCreate = args;
        LastName = Encoding.UTF8.GetString(name.Span);
        return new(new FuseCreateOut { Entry = Entry(6), Open = OpenOut });
    }

    public override ValueTask<FuseResult<FuseCreateOut>> TmpFileAsync(FuseRequestContext context, FuseCreateIn args)
        => new(new FuseCreateOut { Entry = Entry(7), Open = OpenOut });

    public override ValueTask<FuseResult<int>> ReadAsync(FuseRequestContext context, FuseReadIn args, Memory<byte> buffer)
    {
        buffer.Span.Fill(0xA5);
        return new(buffer.Length);
    }

    public override ValueTask<FuseResult<int>> WriteAsync(FuseRequestContext context, FuseWriteIn args, ReadOnlyMemory<byte> data) => new(data.Length);

    public override ValueTask<Errno> FlushAsync(FuseRequestContext context, FuseFlushIn args) => new(Errno.Success);

    public override ValueTask<Errno> ReleaseAsync(FuseRequestContext context, FuseReleaseIn args) => new(Errno.Success);

    public override ValueTask<Errno> FsyncAsync(FuseRequestContext context, FuseFsyncIn args) => new(Errno.Success);

    public override ValueTask<Errno> FallocateAsync(FuseRequestContext context, FuseFallocateIn args) => new(Errno.Success);

    public override ValueTask<FuseResult<ulong>> LseekAsync(FuseRequestContext context, FuseLseekIn args) => new(args.Offset);

    public override ValueTask<FuseResult<ulong>> CopyFileRangeAsync(FuseRequestContext context, FuseCopyFileRangeIn args) => new(args.Len);

    public override ValueTask<FuseResult<FuseFileLock>> GetLkAsync(FuseRequestContext context, FuseLkIn args)
        => new(new FuseFileLock { Start = 10, End = 20, Type = 1, Pid = 77 });

    public override ValueTask<Errno> SetLkAsync(FuseRequestContext context, FuseLkIn args, bool wait) => new(Errno.Success);

    public override ValueTask<FuseResult<ulong>> BmapAsync(FuseRequestContext context, FuseBmapIn args) => new(args.Block + 1000);

    public override ValueTask<FuseResult<FuseIoctlResult>> IoctlAsync(FuseRequestContext context, FuseIoctlIn args, ReadOnlyMemory<byte> input, Memory<byte> output)
    {
        int n = Math.Min(output.Length, 8);
        output.Span.Slice(0, n).Fill(0x5A);
        return new(new FuseIoctlResult(7, n));
    }

    public override ValueTask<FuseResult<uint>> PollAsync(FuseRequestContext context, FusePollIn args) => new(1u);

    public override ValueTask<FuseResult<FuseOpenOut>> OpenDirAsync(FuseRequestContext context, FuseOpenIn args) => new(OpenOut);

    public override ValueTask<Errno> ReadDirAsync(FuseRequestContext context, FuseReadIn args, FuseDirectoryWriter writer)
    {
        for (ulong i = args.Offset; i < DirEntries; i++)
        {
            if (!writer.TryAdd(100 + i, i + 1, FuseDirentType.Reg, Encoding.ASCII.GetBytes(DirName((int)i))))
            {
                break;
            }
        }

        return new(Errno.Success);
    }

    public override ValueTask<Errno> ReadDirPlusAsync(FuseRequestContext context, FuseReadIn args, FuseDirectoryWriter writer)
    {
        for (ulong i = args.Offset; i < DirEntries; i++)
        {
            if (!writer.TryAddPlus(Entry(100 + i), i + 1, Encoding.ASCII.GetBytes(DirName((int)i))))
            {
                break;
            }
        }

        return new(Errno.Success);
    }

    public override ValueTask<Errno> ReleaseDirAsync(FuseRequestContext context, FuseReleaseIn args) => new(Errno.Success);

    public override ValueTask<Errno> FsyncDirAsync(FuseRequestContext context, FuseFsyncIn args) => new(Errno.Success);

    public override ValueTask<FuseResult<FuseKstatfs>> StatFsAsync(FuseRequestContext context) => new(Statfs);

    public override ValueTask<Errno> SyncFsAsync(FuseRequestContext context) => new(Errno.Success);

    public override ValueTask<Errno> AccessAsync(FuseRequestContext context, FuseAccessIn args) => new(Errno.Success);

    public override ValueTask<Errno> SetupMappingAsync(FuseRequestContext context, FuseSetupmappingIn args) => new(Errno.Success);

    public override ValueTask<Errno> RemoveMappingAsync(FuseRequestContext context, FuseRemoveMappingList ranges)
    {
        for (int i = 0; i < ranges.Count; i++)
        {
            RemovedRanges.Add(ranges[i]);
        }

        return new(Errno.Success);
    }

    public override ValueTask<Errno> SetXattrAsync(FuseRequestContext context, FuseSetxattrIn args, ReadOnlyMemory<byte> name, ReadOnlyMemory<byte> value)
    {
        LastName = Encoding.UTF8.GetString(name.Span);
        LastXattrValue = value.ToArray();
        return new(Errno.Success);
    }

    public override ValueTask<FuseResult<int>> GetXattrAsync(FuseRequestContext context, ReadOnlyMemory<byte> name, Memory<byte> buffer)
        => new(CopyOrMeasure(XattrValue, buffer));

    public override ValueTask<FuseResult<int>> ListXattrAsync(FuseRequestContext context, Memory<byte> buffer)
        => new(CopyOrMeasure(XattrList, buffer));

    public override ValueTask<Errno> RemoveXattrAsync(FuseRequestContext context, ReadOnlyMemory<byte> name) => new(Errno.Success);

    private static FuseResult<int> CopyOrMeasure(byte[] value, Memory<byte> buffer)
    {
        if (buffer.IsEmpty)
        {
            return value.Length;
        }

        if (buffer.Length < value.Length)
        {
            return Errno.ERANGE;
        }

        value.CopyTo(buffer);
        return value.Length;
    }
}
