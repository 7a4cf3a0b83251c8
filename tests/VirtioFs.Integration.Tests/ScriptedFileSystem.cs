using System.Collections.Concurrent;
using System.Text;
using VirtioFs.Protocol;

namespace VirtioFs.Integration.Tests;

/// <summary>
/// A read-only filesystem of a root directory and the files a test scripts: fixed attributes (a constant mtime, so
/// <c>AUTO_INVAL_DATA</c> never drops cached pages), chosen open flags, and optional hooks that replace READ or make
/// LOOKUP throw.
/// </summary>
public sealed class ScriptedFileSystem : FuseFileSystem
{
    private const ulong FixedTime = 1_700_000_000;
    private readonly ConcurrentDictionary<string, ScriptedFile> _files = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<(ulong NodeId, ulong Offset, uint Size)> _reads = new();
    private ulong _nextNodeId = FuseConstants.RootId + 1;

    public ScriptedFileSystem(TimeSpan timeout)
    {
        Timeout = timeout;
    }

    /// <summary>Entry and attribute timeout of every reply.</summary>
    public TimeSpan Timeout { get; }

    /// <summary>Every READ served: node, offset, size.</summary>
    public IReadOnlyCollection<(ulong NodeId, ulong Offset, uint Size)> Reads => _reads;

    /// <summary>Every node FORGET or BATCH_FORGET gave back, with its count.</summary>
    public ConcurrentQueue<(ulong NodeId, ulong Count)> Forgotten { get; } = new();

    public override void Forget(ulong nodeId, ulong lookupCount) => Forgotten.Enqueue((nodeId, lookupCount));

    public override void BatchForget(ReadOnlySpan<FuseForgetOne> nodes)
    {
        foreach (FuseForgetOne node in nodes)
        {
            Forgotten.Enqueue((node.Nodeid, node.Nlookup));
        }
    }

    /// <summary>Adds a file; returns it (with its node id).</summary>
    public ScriptedFile Add(string name, byte[] content, FuseOpenOutFlags openFlags = FuseOpenOutFlags.None, ulong? size = null)
    {
        var file = new ScriptedFile(name, Interlocked.Increment(ref _nextNodeId) - 1, content, openFlags, size ?? (ulong)content.Length);
        _files[name] = file;
        return file;
    }

    public override ValueTask<FuseResult<FuseEntryOut>> LookupAsync(FuseRequestContext context, ReadOnlyMemory<byte> name)
    {
        if (context.NodeId != FuseConstants.RootId)
        {
            return new(Errno.ENOTDIR);
        }

        if (!_files.TryGetValue(Encoding.UTF8.GetString(name.Span), out ScriptedFile? file))
        {
            return new(Errno.ENOENT);
        }

        if (file.ThrowOnLookup is { } exception)
        {
            throw exception;
        }

        return new(Entry(file));
    }

    public override ValueTask<FuseResult<FuseAttrOut>> GetAttrAsync(FuseRequestContext context, FuseGetattrIn args)
    {
        FuseAttr? attr = context.NodeId == FuseConstants.RootId ? RootAttr() : Find(context.NodeId) is { } file ? FileAttr(file) : null;
        return attr is { } found
            ? new(new FuseAttrOut { AttrValid = Seconds, AttrValidNsec = Nanoseconds, Attr = found })
            : new(Errno.ENOENT);
    }

    public override ValueTask<FuseResult<FuseOpenOut>> OpenAsync(FuseRequestContext context, FuseOpenIn args)
        => Find(context.NodeId) is { } file
            ? new(new FuseOpenOut { Fh = file.NodeId, OpenFlags = (uint)file.OpenFlags })
            : new(Errno.ENOENT);

    public override ValueTask<FuseResult<uint>> PollAsync(FuseRequestContext context, FusePollIn args)
        => Find(context.NodeId) is { Poll: { } poll } ? poll(args) : new(Errno.ENOSYS);

    public override ValueTask<FuseResult<int>> ReadAsync(FuseRequestContext context, FuseReadIn args, Memory<byte> buffer)
    {
        if (Find(context.NodeId) is not { } file)
        {
            return new(Errno.EBADF);
        }

        _reads.Enqueue((file.NodeId, args.Offset, args.Size));
        if (file.Read is { } read)
        {
            return read(context, args, buffer);
        }

        if (args.Offset >= (ulong)file.Content.Length)
        {
            return new(0);
        }

        int count = Math.Min(buffer.Length, file.Content.Length - (int)args.Offset);
        file.Content.AsSpan((int)args.Offset, count).CopyTo(buffer.Span);
        return new(count);
    }

    public override ValueTask<Errno> FlushAsync(FuseRequestContext context, FuseFlushIn args) => new(Errno.Success);

    public override ValueTask<FuseResult<FuseOpenOut>> OpenDirAsync(FuseRequestContext context, FuseOpenIn args)
        => context.NodeId == FuseConstants.RootId ? new(new FuseOpenOut { Fh = 1 }) : new(Errno.ENOTDIR);

    public override ValueTask<Errno> ReadDirAsync(FuseRequestContext context, FuseReadIn args, FuseDirectoryWriter writer)
        => new(ReadDir(args.Offset, writer));

    public override ValueTask<Errno> ReadDirPlusAsync(FuseRequestContext context, FuseReadIn args, FuseDirectoryWriter writer)
        => new(ReadDir(args.Offset, writer));

    private ulong Seconds => (ulong)(Timeout.Ticks / TimeSpan.TicksPerSecond);

    private uint Nanoseconds => (uint)(Timeout.Ticks % TimeSpan.TicksPerSecond * TimeSpan.NanosecondsPerTick);

    private ScriptedFile? Find(ulong nodeId) => _files.Values.FirstOrDefault(f => f.NodeId == nodeId);

    private Errno ReadDir(ulong offset, FuseDirectoryWriter writer)
    {
        var entries = new List<(ulong Ino, FuseDirentType Type, string Name, ScriptedFile? File)>
        {
            (FuseConstants.RootId, FuseDirentType.Dir, ".", null),
            (FuseConstants.RootId, FuseDirentType.Dir, "..", null),
        };
        entries.AddRange(_files.Values.OrderBy(f => f.NodeId).Select(f => (f.NodeId, FuseDirentType.Reg, f.Name, (ScriptedFile?)f)));
        for (int i = (int)offset; i < entries.Count; i++)
        {
            (ulong ino, FuseDirentType type, string name, ScriptedFile? file) = entries[i];
            byte[] bytes = Encoding.UTF8.GetBytes(name);
            bool added = writer.IsPlus
                ? writer.TryAddPlus(new FuseEntryOut { Attr = file is null ? RootAttr() : FileAttr(file) }, (ulong)i + 1, bytes)
                : writer.TryAdd(ino, (ulong)i + 1, type, bytes);
            if (!added)
            {
                break;
            }
        }

        return Errno.Success;
    }

    private FuseEntryOut Entry(ScriptedFile file) => new()
    {
        Nodeid = file.NodeId,
        EntryValid = Seconds,
        EntryValidNsec = Nanoseconds,
        AttrValid = Seconds,
        AttrValidNsec = Nanoseconds,
        Attr = FileAttr(file),
    };

    private static FuseAttr RootAttr() => new()
    {
        Ino = FuseConstants.RootId,
        Mode = FuseFileMode.Directory | 0x1ED,
        Nlink = 2,
        Atime = FixedTime,
        Mtime = FixedTime,
        Ctime = FixedTime,
        Blksize = 4096,
    };

    private static FuseAttr FileAttr(ScriptedFile file) => new()
    {
        Ino = file.NodeId,
        Size = file.Size,
        Blocks = (file.Size + 511) / 512,
        Mode = FuseFileMode.RegularFile | 0x1A4,
        Nlink = 1,
        Atime = FixedTime,
        Mtime = FixedTime,
        Ctime = FixedTime,
        Blksize = 4096,
    };
}

/// <summary>A file of <see cref="ScriptedFileSystem"/>.</summary>
public sealed class ScriptedFile(string name, ulong nodeId, byte[] content, FuseOpenOutFlags openFlags, ulong size)
{
    public string Name { get; } = name;

    public ulong NodeId { get; } = nodeId;

    public byte[] Content { get; } = content;

    public FuseOpenOutFlags OpenFlags { get; } = openFlags;

    public ulong Size { get; } = size;

    /// <summary>Replaces READ when set.</summary>
    public Func<FuseRequestContext, FuseReadIn, Memory<byte>, ValueTask<FuseResult<int>>>? Read { get; set; }

    /// <summary>Answers POLL when set (ENOSYS otherwise).</summary>
    public Func<FusePollIn, ValueTask<FuseResult<uint>>>? Poll { get; set; }

    /// <summary>Thrown by LOOKUP when set.</summary>
    public Exception? ThrowOnLookup { get; set; }
}
