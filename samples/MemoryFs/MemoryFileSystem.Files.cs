using VirtioFs.Protocol;

namespace VirtioFs.Samples.MemoryFs;

// File handles and contents: OPEN, CREATE, TMPFILE, READ, WRITE, FLUSH, RELEASE, FSYNC, FALLOCATE, LSEEK, COPY_FILE_RANGE.
public sealed partial class MemoryFileSystem
{
    public override ValueTask<FuseResult<FuseOpenOut>> OpenAsync(FuseRequestContext context, FuseOpenIn args)
        => new(Open(context.NodeId, args));

    public override ValueTask<FuseResult<FuseCreateOut>> CreateAsync(FuseRequestContext context, FuseCreateIn args, ReadOnlyMemory<byte> name)
        => new(Create(context, args, name.Span));

    public override ValueTask<FuseResult<FuseCreateOut>> TmpFileAsync(FuseRequestContext context, FuseCreateIn args)
        => new(TmpFile(context, args));

    public override ValueTask<FuseResult<int>> ReadAsync(FuseRequestContext context, FuseReadIn args, Memory<byte> buffer)
        => new(Read(args, buffer.Span));

    public override ValueTask<FuseResult<int>> WriteAsync(FuseRequestContext context, FuseWriteIn args, ReadOnlyMemory<byte> data)
        => new(Write(args, data.Span));

    /// <summary>Called on every close of a descriptor: drops the closing process's POSIX locks, as close(2) does.</summary>
    public override ValueTask<Errno> FlushAsync(FuseRequestContext context, FuseFlushIn args)
    {
        using (EnterRead())
        {
            OpenHandle? handle = FindHandle(args.Fh, out Errno error);
            handle?.Node.ReleaseLocks(flock: false, args.LockOwner);
            return new(error);
        }
    }

    public override ValueTask<Errno> ReleaseAsync(FuseRequestContext context, FuseReleaseIn args)
        => new(Release(args));

    public override ValueTask<Errno> FsyncAsync(FuseRequestContext context, FuseFsyncIn args) => new(Errno.Success);

    public override ValueTask<Errno> FallocateAsync(FuseRequestContext context, FuseFallocateIn args)
        => new(Fallocate(args));

    public override ValueTask<FuseResult<ulong>> LseekAsync(FuseRequestContext context, FuseLseekIn args)
        => new(Lseek(args));

    public override ValueTask<FuseResult<ulong>> CopyFileRangeAsync(FuseRequestContext context, FuseCopyFileRangeIn args)
        => new(CopyFileRange(args));

    /// <summary>Whether <paramref name="offset"/> + <paramref name="count"/> stays within the largest file (EFBIG otherwise).</summary>
    private static bool FitsInFile(long offset, long count) => count <= SparseFileData.MaxLength - offset;

    /// <summary>
    /// Opens a handle on a node; <c>O_TRUNC</c> empties a regular file (whatever the access mode, as Linux does). Needs
    /// the write lock for a regular file (truncation), the read lock for anything else.
    /// </summary>
    private OpenHandle OpenNode(MemoryNode node, uint flags, bool killSuidGid)
    {
        if ((flags & OpenFlags.Truncate) != 0 && node is MemoryFile file)
        {
            file.Data.SetLength(0);
            file.Touch(Now());
            file.RemovePrivileges(killSuidGid);
        }

        var handle = new OpenHandle(Interlocked.Increment(ref _lastHandleId), node, flags);
        node.AddOpen();
        _handles[handle.Id] = handle;
        return handle;
    }

    /// <summary>
    /// Closes a handle (RELEASE, RELEASEDIR) sharing the tree lock; only when that was the last thing holding the node
    /// does it take the lock alone, to free the node. Null when there is no such handle.
    /// </summary>
    private MemoryNode? CloseHandle(ulong fh)
    {
        MemoryNode node;
        using (EnterRead())
        {
            if (!_handles.TryRemove(fh, out OpenHandle? handle))
            {
                return null;
            }

            // Names and lookups cannot go while the read lock is held, so the last handle to close sees whether they are gone.
            node = handle.Node;
            if (node.DropOpen() != 0 || !node.IsUnreferenced)
            {
                return node;
            }
        }

        using (EnterWrite())
        {
            TryFree(node); // checks again: a handle or lookup may have come meanwhile
        }

        return node;
    }

    private static FuseOpenOut OpenOut(OpenHandle handle) => new() { Fh = handle.Id };

    private FuseResult<FuseOpenOut> Open(ulong nodeId, FuseOpenIn args)
    {
        using (EnterWrite())
        {
            MemoryNode? node = FindNode(nodeId, out Errno error);
            if (node is null)
            {
                return error;
            }

            if (node.IsDirectory)
            {
                return Errno.EISDIR;
            }

            bool killSuidGid = ((FuseOpenInFlags)args.OpenFlags).HasFlag(FuseOpenInFlags.KillSuidGid);
            return OpenOut(OpenNode(node, args.Flags, killSuidGid));
        }
    }

    /// <summary>Creates and opens a regular file; an existing name is opened instead unless <c>O_EXCL</c> (EEXIST).</summary>
    private FuseResult<FuseCreateOut> Create(FuseRequestContext context, FuseCreateIn args, ReadOnlySpan<byte> name)
    {
        bool killSuidGid = ((FuseOpenInFlags)args.OpenFlags).HasFlag(FuseOpenInFlags.KillSuidGid);
        using (EnterWrite())
        {
            MemoryDirectory? parent = FindLiveDirectory(context.NodeId, out Errno error);
            if (parent is null)
            {
                return error;
            }

            error = CheckNewName(name);
            if (error != Errno.Success)
            {
                return error;
            }

            if (parent.Find(name)?.Node is { } existing)
            {
                if ((args.Flags & OpenFlags.Exclusive) != 0)
                {
                    return Errno.EEXIST;
                }

                if (existing.IsDirectory)
                {
                    return Errno.EISDIR;
                }

                OpenHandle reopened = OpenNode(existing, args.Flags, killSuidGid);
                return new FuseCreateOut { Entry = CountedEntryOut(existing), Open = OpenOut(reopened) };
            }

            Timestamp now = Now();
            var file = new MemoryFile(_nextNodeId++, NewOwner(context, parent, FuseFileMode.RegularFile, args.Mode & ~args.Umask), now, _usage);
            FuseEntryOut entry = Publish(parent, name, file, now);
            OpenHandle handle = OpenNode(file, args.Flags & ~OpenFlags.Truncate, killSuidGid);
            return new FuseCreateOut { Entry = entry, Open = OpenOut(handle) };
        }
    }

    /// <summary>O_TMPFILE: an open regular file with no name (nlink 0); LINK can name it unless opened with <c>O_EXCL</c>.</summary>
    private FuseResult<FuseCreateOut> TmpFile(FuseRequestContext context, FuseCreateIn args)
    {
        using (EnterWrite())
        {
            MemoryDirectory? parent = FindLiveDirectory(context.NodeId, out Errno error);
            if (parent is null)
            {
                return error;
            }

            var file = new MemoryFile(_nextNodeId++, NewOwner(context, parent, FuseFileMode.RegularFile, args.Mode & ~args.Umask), Now(), _usage)
            {
                LinkableWhenUnnamed = (args.Flags & OpenFlags.Exclusive) == 0,
            };
            _nodes.Add(file.Id, file);
            FuseEntryOut entry = CountedEntryOut(file);
            OpenHandle handle = OpenNode(file, args.Flags & ~OpenFlags.Truncate, killSuidGid: false);
            return new FuseCreateOut { Entry = entry, Open = OpenOut(handle) };
        }
    }

    /// <summary>Reads from a handle; atime is left alone (<c>noatime</c>), so reads share the lock.</summary>
    private FuseResult<int> Read(in FuseReadIn args, Span<byte> buffer)
    {
        using (EnterRead())
        {
            MemoryFile? file = FindOpenFile(args.Fh, FileAccess.Read, out _, out Errno error);
            if (file is null)
            {
                return error;
            }

            long offset = (long)args.Offset;
            return offset < 0 ? Errno.EINVAL : file.Data.Read(offset, buffer);
        }
    }

    /// <summary>Writes through a handle; with <c>O_APPEND</c> at end of file whatever offset was sent (as libfuse's examples do).</summary>
    private FuseResult<int> Write(in FuseWriteIn args, ReadOnlySpan<byte> data)
    {
        using (EnterWrite())
        {
            MemoryFile? file = FindOpenFile(args.Fh, FileAccess.Write, out OpenHandle? handle, out Errno error);
            if (file is null)
            {
                return error;
            }

            long offset = handle!.IsAppend ? file.Data.Length : (long)args.Offset;
            if (offset < 0)
            {
                return Errno.EINVAL;
            }

            // As write(2): write what fits below the maximum size; EFBIG only when nothing does.
            if (offset >= SparseFileData.MaxLength && !data.IsEmpty)
            {
                return Errno.EFBIG;
            }

            if (!FitsInFile(offset, data.Length))
            {
                data = data.Slice(0, (int)(SparseFileData.MaxLength - offset));
            }

            file.Data.Write(offset, data);
            file.Touch(Now());
            file.RemovePrivileges(((FuseWriteFlags)args.WriteFlags).HasFlag(FuseWriteFlags.KillSuidGid));

            return data.Length;
        }
    }

    /// <summary>Closes a handle; drops the flock of its open file description and, with a flush folded in, the POSIX locks of the closer.</summary>
    private Errno Release(in FuseReleaseIn args)
    {
        var flags = (FuseReleaseFlags)args.ReleaseFlags;
        MemoryNode? node = CloseHandle(args.Fh);
        if (node is null)
        {
            return Errno.EBADF;
        }

        // The lock tables have their own lock.
        if (flags.HasFlag(FuseReleaseFlags.FlockUnlock))
        {
            node.ReleaseLocks(flock: true, args.LockOwner);
        }

        if (flags.HasFlag(FuseReleaseFlags.Flush))
        {
            node.ReleaseLocks(flock: false, args.LockOwner);
        }

        return Errno.Success;
    }

    /// <summary>
    /// fallocate(2) modes: 0 allocates and extends, KEEP_SIZE allocates only, PUNCH_HOLE|KEEP_SIZE frees, ZERO_RANGE
    /// (with or without KEEP_SIZE) zeroes and allocates. Allocation changes ctime, as on tmpfs; punching and zeroing mtime too.
    /// </summary>
    private Errno Fallocate(in FuseFallocateIn args)
    {
        uint mode = args.Mode;
        bool keepSize = (mode & FallocateMode.KeepSize) != 0;
        bool supported = (mode & ~FallocateMode.KeepSize) is 0 or FallocateMode.ZeroRange || mode == (FallocateMode.PunchHole | FallocateMode.KeepSize);
        if (!supported)
        {
            return Errno.EOPNOTSUPP;
        }

        long offset = (long)args.Offset;
        long length = (long)args.Length;
        if (offset < 0 || length <= 0)
        {
            return Errno.EINVAL;
        }

        if (!FitsInFile(offset, length))
        {
            return Errno.EFBIG;
        }

        using (EnterWrite())
        {
            MemoryFile? file = FindOpenFile(args.Fh, FileAccess.Write, out _, out Errno error);
            if (file is null)
            {
                return error;
            }

            SparseFileData data = file.Data;
            bool changesContent = (mode & (FallocateMode.PunchHole | FallocateMode.ZeroRange)) != 0;
            if (changesContent)
            {
                data.Zero(offset, length);
            }

            if ((mode & FallocateMode.PunchHole) == 0)
            {
                if (!data.Allocate(offset, length))
                {
                    return Errno.ENOSPC;
                }

                if (!keepSize && offset + length > data.Length)
                {
                    data.SetLength(offset + length);
                }
            }

            Timestamp now = Now();
            file.Ctime = now;
            if (changesContent)
            {
                file.Mtime = now;
            }

            return Errno.Success;
        }
    }

    /// <summary>
    /// SEEK_DATA/SEEK_HOLE from the allocated chunks (a preallocated chunk counts as data). The plain whences are
    /// answered too, though the kernel resolves them itself: SEEK_CUR cannot know the position and echoes the offset.
    /// </summary>
    private FuseResult<ulong> Lseek(in FuseLseekIn args)
    {
        long offset = (long)args.Offset;
        using (EnterRead())
        {
            OpenHandle? handle = FindHandle(args.Fh, out Errno error);
            if (handle is null)
            {
                return error;
            }

            MemoryNode node = handle.Node;
            switch (args.Whence)
            {
                case SeekWhence.Set or SeekWhence.Current:
                    return offset < 0 ? Errno.EINVAL : (ulong)offset;
                case SeekWhence.End:
                {
                    long size = (long)node.Size;
                    return offset < -size || offset > long.MaxValue - size ? Errno.EINVAL : (ulong)(size + offset);
                }

                case SeekWhence.Data or SeekWhence.Hole:
                {
                    if (node is not MemoryFile file)
                    {
                        return Errno.EINVAL;
                    }

                    if (offset < 0 || offset >= file.Data.Length)
                    {
                        return Errno.ENXIO;
                    }

                    long? found = args.Whence == SeekWhence.Data ? file.Data.SeekData(offset) : file.Data.SeekHole(offset);
                    return found is long position ? (ulong)position : Errno.ENXIO;
                }

                default:
                    return Errno.EINVAL;
            }
        }
    }

    /// <summary>copy_file_range(2) between two handles: clamped at the source's end, holes stay holes, overlapping ranges of one file are refused.</summary>
    private FuseResult<ulong> CopyFileRange(in FuseCopyFileRangeIn args)
    {
        long sourceOffset = (long)args.OffIn;
        long targetOffset = (long)args.OffOut;
        if (args.Flags != 0 || sourceOffset < 0 || targetOffset < 0)
        {
            return Errno.EINVAL;
        }

        using (EnterWrite())
        {
            MemoryFile? source = FindOpenFile(args.FhIn, FileAccess.Read, out _, out Errno error);
            if (source is null)
            {
                return error;
            }

            MemoryFile? target = FindOpenFile(args.FhOut, FileAccess.Write, out OpenHandle? targetHandle, out error);
            if (target is null)
            {
                return error;
            }

            if (targetHandle!.IsAppend)
            {
                return Errno.EBADF; // as copy_file_range(2)
            }

            long available = Math.Max(0, source.Data.Length - sourceOffset);
            long count = (long)Math.Min(args.Len, (ulong)available);
            if (count == 0)
            {
                return 0UL;
            }

            if (source == target && sourceOffset < targetOffset + count && targetOffset < sourceOffset + count)
            {
                return Errno.EINVAL;
            }

            if (!FitsInFile(targetOffset, count))
            {
                return Errno.EFBIG;
            }

            target.Data.CopyFrom(source.Data, sourceOffset, targetOffset, count);
            target.Touch(Now());
            return (ulong)count;
        }
    }
}
