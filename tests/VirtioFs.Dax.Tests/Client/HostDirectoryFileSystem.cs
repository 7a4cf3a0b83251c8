using System.Collections.Concurrent;
using System.Text;
using Microsoft.Win32.SafeHandles;
using VirtioFs.Dax;
using VirtioFs.Protocol;

namespace VirtioFs.Dax.Tests.Client;

/// <summary>
/// A flat directory of real host files served as the root directory: LOOKUP, GETATTR, OPEN, READ, WRITE, SETATTR size,
/// FSYNC, RELEASE, FORGET; and the <see cref="IDaxFileProvider"/> of a <see cref="DaxMappingServer"/> over the same files.
/// Shrinking a file refuses (<see cref="Errno.EBUSY"/>, counted in <see cref="ShrinksUnderMapping"/>) while the server
/// still maps a range of it wholly past the new end. Also compiled into the benchmarks.
/// </summary>
internal sealed class HostDirectoryFileSystem(string directory) : FuseFileSystem, IDaxFileProvider
{
    private const uint FileMode = FuseFileMode.RegularFile | 0x1B6;
    private readonly ConcurrentDictionary<string, ulong> _byName = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<ulong, string> _paths = new();
    private readonly ConcurrentDictionary<ulong, SafeFileHandle> _handles = new();
    private long _nextNode = (long)FuseConstants.RootId;
    private long _nextHandle;
    private int _shrinksUnderMapping;

    /// <summary>The server asked before a shrink; set once it exists.</summary>
    public DaxMappingServer? MappingServer { get; set; }

    public int ShrinksUnderMapping => Volatile.Read(ref _shrinksUnderMapping);

    public int OpenHandles => _handles.Count;

    public string PathOf(string name) => Path.Combine(directory, name);

    public override ValueTask<FuseResult<FuseEntryOut>> LookupAsync(FuseRequestContext context, ReadOnlyMemory<byte> name)
    {
        if (context.NodeId != FuseConstants.RootId)
        {
            return new(Errno.ENOTDIR);
        }

        string fileName = Encoding.UTF8.GetString(name.Span);
        string path = PathOf(fileName);
        if (!File.Exists(path))
        {
            return new(Errno.ENOENT);
        }

        ulong node = _byName.GetOrAdd(fileName, _ => (ulong)Interlocked.Increment(ref _nextNode));
        _paths[node] = path;
        return new(new FuseEntryOut { Nodeid = node, Generation = 1, Attr = AttrOf(node, path) });
    }

    public override ValueTask<FuseResult<FuseAttrOut>> GetAttrAsync(FuseRequestContext context, FuseGetattrIn args)
    {
        if (context.NodeId == FuseConstants.RootId)
        {
            return new(new FuseAttrOut { Attr = new FuseAttr { Ino = FuseConstants.RootId, Mode = FuseFileMode.Directory | 0x1ED, Nlink = 2, Blksize = 4096 } });
        }

        return _paths.TryGetValue(context.NodeId, out string? path)
            ? new(new FuseAttrOut { Attr = AttrOf(context.NodeId, path) })
            : new(Errno.ENOENT);
    }

    public override ValueTask<FuseResult<FuseOpenOut>> OpenAsync(FuseRequestContext context, FuseOpenIn args)
    {
        if (!_paths.TryGetValue(context.NodeId, out string? path))
        {
            return new(Errno.ENOENT);
        }

        bool write = (args.Flags & 3) != 0;
        SafeFileHandle handle = File.OpenHandle(path, System.IO.FileMode.Open, write ? FileAccess.ReadWrite : FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        ulong fh = (ulong)Interlocked.Increment(ref _nextHandle);
        _handles[fh] = handle;
        return new(new FuseOpenOut { Fh = fh });
    }

    public override ValueTask<FuseResult<int>> ReadAsync(FuseRequestContext context, FuseReadIn args, Memory<byte> buffer)
        => _handles.TryGetValue(args.Fh, out SafeFileHandle? handle)
            ? new(RandomAccess.Read(handle, buffer.Span, (long)args.Offset))
            : new(Errno.EBADF);

    public override ValueTask<FuseResult<int>> WriteAsync(FuseRequestContext context, FuseWriteIn args, ReadOnlyMemory<byte> data)
    {
        if (!_handles.TryGetValue(args.Fh, out SafeFileHandle? handle))
        {
            return new(Errno.EBADF);
        }

        RandomAccess.Write(handle, data.Span, (long)args.Offset);
        return new(data.Length);
    }

    public override ValueTask<FuseResult<FuseAttrOut>> SetAttrAsync(FuseRequestContext context, FuseSetattrIn args)
    {
        if (!_paths.TryGetValue(context.NodeId, out string? path))
        {
            return new(Errno.ENOENT);
        }

        if ((args.Valid & (uint)FuseSetAttrValid.Size) != 0)
        {
            long size = (long)args.Size;
            if (MappingServer is { } server && server.GetMappings(context.NodeId).Any(m => m.FileOffset >= size))
            {
                Interlocked.Increment(ref _shrinksUnderMapping);
                return new(Errno.EBUSY);
            }

            using SafeFileHandle handle = File.OpenHandle(path, System.IO.FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
            RandomAccess.SetLength(handle, size);
        }

        return new(new FuseAttrOut { Attr = AttrOf(context.NodeId, path) });
    }

    public override ValueTask<Errno> FsyncAsync(FuseRequestContext context, FuseFsyncIn args)
    {
        if (!_handles.TryGetValue(args.Fh, out SafeFileHandle? handle))
        {
            return new(Errno.EBADF);
        }

        RandomAccess.FlushToDisk(handle);
        return new(Errno.Success);
    }

    public override ValueTask<Errno> ReleaseAsync(FuseRequestContext context, FuseReleaseIn args)
    {
        if (_handles.TryRemove(args.Fh, out SafeFileHandle? handle))
        {
            handle.Dispose();
        }

        return new(Errno.Success);
    }

    public override void Forget(ulong nodeId, ulong lookupCount)
    {
    }

    public ValueTask<FuseResult<DaxFileReference>> OpenForMappingAsync(FuseRequestContext context, ulong nodeId, ulong? fileHandle, bool writable)
    {
        if (!_paths.TryGetValue(nodeId, out string? path))
        {
            return new(Errno.ENOENT);
        }

        SafeFileHandle handle = File.OpenHandle(path, System.IO.FileMode.Open, writable ? FileAccess.ReadWrite : FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        var reference = new DaxFileReference(nodeId, FileMode, handle, writable);
        handle.Dispose(); // the reference keeps it open
        return new(reference);
    }

    private static FuseAttr AttrOf(ulong node, string path)
    {
        long size = new FileInfo(path).Length;
        return new FuseAttr { Ino = node, Size = (ulong)size, Blocks = (ulong)((size + 511) / 512), Mode = FileMode, Nlink = 1, Blksize = 4096 };
    }
}
