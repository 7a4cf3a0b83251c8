using Microsoft.Win32.SafeHandles;
using VirtioFs.Protocol;

namespace VirtioFs.Samples.Passthrough;

public sealed unsafe partial class PassthroughFileSystem
{
    /// <summary>The alignment <c>O_DIRECT</c> needs of memory: a page covers every logical block size.</summary>
    private const int DirectAlignment = 4096;

    /// <inheritdoc/>
    public override ValueTask<FuseResult<FuseOpenOut>> OpenAsync(FuseRequestContext context, FuseOpenIn args)
    {
        Inode? inode = Node(context.NodeId);
        if (inode is null)
        {
            return new(Errno.ESTALE);
        }

        int flags = HostOpenFlags((int)args.Flags);
        if (_options.ReadOnly && WantsWrite(flags))
        {
            return new(Errno.EROFS);
        }

        int fd;
        using (CallerCredentials.Scope scope = _credentials.Enter(context))
        {
            fd = Reopen(inode, flags);
        }

        if (fd < 0)
        {
            return new(Interop.LastErrno);
        }

        return new(OpenReply(new FileHandle(inode, Interop.Own(fd), flags), regular: true));
    }

    /// <inheritdoc/>
    public override ValueTask<FuseResult<FuseCreateOut>> CreateAsync(FuseRequestContext context, FuseCreateIn args, ReadOnlyMemory<byte> name)
    {
        Inode? parent = Writable(context.NodeId, out Errno refused);
        if (parent is null)
        {
            return new(refused);
        }

        int flags = HostOpenFlags((int)args.Flags) | Interop.O_CREAT;
        byte* n = stackalloc byte[name.Length + 1];
        int fd;
        using (CallerCredentials.Scope scope = _credentials.Enter(context))
        {
            fd = Interop.OpenAt(parent.PathFd, Terminate(name.Span, n), flags | Interop.O_NOFOLLOW | Interop.O_CLOEXEC, args.Mode);
        }

        return new(fd < 0 ? Interop.LastErrno : Created(parent, Interop.Own(fd), flags & ~(Interop.O_CREAT | Interop.O_EXCL | Interop.O_TRUNC), n));
    }

    /// <inheritdoc/>
    public override ValueTask<FuseResult<FuseCreateOut>> TmpFileAsync(FuseRequestContext context, FuseCreateIn args)
    {
        Inode? parent = Writable(context.NodeId, out Errno refused);
        if (parent is null)
        {
            return new(refused);
        }

        int flags = HostOpenFlags((int)args.Flags) & ~(Interop.O_CREAT | Interop.O_EXCL);
        byte* dot = stackalloc byte[2];
        dot[0] = (byte)'.';
        dot[1] = 0;
        int fd;
        using (CallerCredentials.Scope scope = _credentials.Enter(context))
        {
            fd = Interop.OpenAt(parent.PathFd, dot, flags | Interop.O_TMPFILE | Interop.O_CLOEXEC, args.Mode);
        }

        return new(fd < 0 ? Interop.LastErrno : Created(parent, Interop.Own(fd), flags, name: null));
    }

    /// <summary>Registers the inode of a file just created and opened as <paramref name="fd"/>, and a handle for it.</summary>
    /// <param name="parent">The directory it was created in.</param>
    /// <param name="fd">The open file (owned from here on).</param>
    /// <param name="flags">The handle's host open flags.</param>
    /// <param name="name">The name it was created under (NUL-terminated), or null for an <c>O_TMPFILE</c>.</param>
    private FuseResult<FuseCreateOut> Created(Inode parent, SafeFileHandle fd, int flags, byte* name)
    {
        // The node is the inode that was opened, whatever has happened to the name since: its identity and attributes
        // come from the open descriptor.
        FuseStatx st;
        Errno error = StatInode(fd, &st);
        if (error != Errno.Success)
        {
            fd.Dispose();
            return error;
        }

        ulong device = DeviceOf(st);
        Inode? inode = _inodes.TryAcquire(device, st.Ino);
        if (inode is null)
        {
            SafeFileHandle? pathFd = PathDescriptor(parent, fd, name, device, st.Ino);
            if (pathFd is null)
            {
                error = Interop.LastErrno;
                fd.Dispose();
                return error;
            }

            inode = _inodes.Acquire(device, st.Ino, pathFd);
        }

        FuseEntryOut entry = Entry(inode, st, parent.Device);
        FuseResult<FuseOpenOut> open = OpenReply(new FileHandle(inode, fd, flags), regular: true);
        if (!open.IsSuccess)
        {
            _inodes.Forget(inode.NodeId, 1);
            return open.Error;
        }

        return new FuseCreateOut { Entry = entry, Open = open.Value };
    }

    /// <summary>An <c>O_PATH</c> descriptor of the inode <paramref name="fd"/> is open on (<paramref name="device"/>,
    /// <paramref name="number"/>), or null (errno set).</summary>
    /// <remarks>Opening the name again is much cheaper than reopening <c>/proc/self/fd/N</c> (a walk through procfs and
    /// its magic link), but another process may have renamed or replaced the file since it was created: the descriptor
    /// is kept only if it is the same inode, else (and for an <c>O_TMPFILE</c>, which has no name) <c>/proc</c> it is.</remarks>
    private static SafeFileHandle? PathDescriptor(Inode parent, SafeFileHandle fd, byte* name, ulong device, ulong number)
    {
        if (name is not null)
        {
            int byName = Interop.OpenAt(parent.PathFd, name, Interop.O_PATH | Interop.O_NOFOLLOW | Interop.O_CLOEXEC, 0);
            if (byName >= 0)
            {
                SafeFileHandle candidate = Interop.Own(byName);
                FuseStatx st;
                if (StatInode(candidate, &st) == Errno.Success && DeviceOf(st) == device && st.Ino == number)
                {
                    return candidate;
                }

                candidate.Dispose();
            }
        }

        byte* proc = stackalloc byte[ProcPathMax];
        int pathFd = Interop.OpenAt(Interop.AT_FDCWD, ProcPath((int)fd.DangerousGetHandle(), proc), Interop.O_PATH | Interop.O_CLOEXEC, 0);
        return pathFd < 0 ? null : Interop.Own(pathFd);
    }

    /// <summary>The host flags for a client's open flags: no controlling terminal, and with the writeback cache the
    /// kernel writes whole pages at offsets it chooses, so it needs to read write-only files and must not append.</summary>
    private int HostOpenFlags(int flags)
    {
        flags &= ~Interop.O_NOCTTY;
        if (Writeback)
        {
            flags &= ~Interop.O_APPEND;
            if ((flags & Interop.O_ACCMODE) == Interop.O_WRONLY)
            {
                flags = (flags & ~Interop.O_ACCMODE) | Interop.O_RDWR;
            }
        }

        return flags;
    }

    /// <summary>Adds the handle and answers with the cache mode's open flags (or a passthrough backing file).</summary>
    private FuseResult<FuseOpenOut> OpenReply(FileHandle handle, bool regular)
    {
        var reply = new FuseOpenOut
        {
            OpenFlags = (uint)(_options.Cache switch
            {
                PassthroughCacheMode.Never => FuseOpenOutFlags.DirectIo,
                PassthroughCacheMode.Always => FuseOpenOutFlags.KeepCache,
                _ => FuseOpenOutFlags.None,
            }),
        };
        if (regular && _options.Passthrough && _connection?.Passthrough is { } passthrough)
        {
            FuseStatx st;
            if (StatInode(handle.Fd, &st) == Errno.Success && FuseFileMode.IsType(st.Mode, FuseFileMode.RegularFile))
            {
                LockState state = handle.Inode.Locks;
                lock (state)
                {
                    if (state.BackingUsers == 0)
                    {
                        try
                        {
                            state.BackingId = passthrough.RegisterBackingFile(handle.Fd);
                        }
                        catch (FuseProtocolException ex)
                        {
                            handle.Fd.Dispose();
                            return ex.Error == Errno.Success ? Errno.EIO : ex.Error;
                        }
                    }

                    state.BackingUsers++;
                    handle.BackingId = state.BackingId;
                }

                reply.BackingId = handle.BackingId;
                reply.OpenFlags = (uint)FuseOpenOutFlags.Passthrough;
            }
        }

        lock (handle.Inode.Locks)
        {
            handle.Inode.Locks.OpenHandles++;
        }

        reply.Fh = AddHandle(handle);
        return reply;
    }

    /// <inheritdoc/>
    public override ValueTask<FuseResult<int>> ReadAsync(FuseRequestContext context, FuseReadIn args, Memory<byte> buffer)
    {
        FileHandle? handle = Handle(args.Fh);
        if (handle is null)
        {
            return new(Errno.EBADF);
        }

        fixed (byte* b = buffer.Span)
        {
            if (!Direct(handle, b))
            {
                return new(ReadFully(handle, b, buffer.Length, (long)args.Offset));
            }

            byte* bounce = AllocateAligned(buffer.Length);
            try
            {
                FuseResult<int> result = ReadFully(handle, bounce, buffer.Length, (long)args.Offset);
                if (result.IsSuccess)
                {
                    new ReadOnlySpan<byte>(bounce, result.Value).CopyTo(buffer.Span);
                }

                return new(result);
            }
            finally
            {
                System.Runtime.InteropServices.NativeMemory.AlignedFree(bounce);
            }
        }
    }

    private static FuseResult<int> ReadFully(FileHandle handle, byte* b, int length, long offset) => Transfer(&Interop.PRead, handle, b, length, offset);

    private static FuseResult<int> WriteFully(FileHandle handle, byte* b, int length, long offset) => Transfer(&Interop.PWrite, handle, b, length, offset);

    /// <summary>Repeats <c>pread</c>/<c>pwrite</c> (<paramref name="io"/>) until <paramref name="length"/> bytes are moved,
    /// the file ends (a call moves nothing) or an error; an error after some bytes answers with those bytes.</summary>
    private static FuseResult<int> Transfer(delegate*<SafeFileHandle, byte*, nuint, long, nint> io, FileHandle handle, byte* b, int length, long offset)
    {
        int total = 0;
        while (total < length)
        {
            nint n = io(handle.Fd, b + total, (nuint)(length - total), offset + total);
            if (n < 0)
            {
                Errno error = Interop.LastErrno;
                if (error == Errno.EINTR)
                {
                    continue;
                }

                return total > 0 ? total : error;
            }

            if (n == 0)
            {
                break;
            }

            total += (int)n;
        }

        return total;
    }

    /// <summary>Whether a host call on the handle needs a buffer of its own: an <c>O_DIRECT</c> host descriptor takes
    /// only block-aligned memory, and the session's buffers carry the data after the request's headers.</summary>
    private static bool Direct(FileHandle handle, byte* buffer) => (handle.Flags & Interop.O_DIRECT) != 0 && ((nint)buffer & (DirectAlignment - 1)) != 0;

    private static byte* AllocateAligned(int length)
        => (byte*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc((nuint)Math.Max(length, 1), DirectAlignment);

    /// <inheritdoc/>
    public override ValueTask<FuseResult<int>> WriteAsync(FuseRequestContext context, FuseWriteIn args, ReadOnlyMemory<byte> data)
    {
        FileHandle? handle = Handle(args.Fh);
        if (handle is null)
        {
            return new(Errno.EBADF);
        }

        if (_options.ReadOnly)
        {
            return new(Errno.EROFS);
        }

        // The kernel asks to clear set-user-id/set-group-id bits when the writer lacks CAP_FSETID: writing as the
        // caller makes the host do exactly that (root's own writes leave them alone).
        bool asCaller = ((FuseWriteFlags)args.WriteFlags & FuseWriteFlags.KillSuidGid) != 0;
        using CallerCredentials.Scope scope = asCaller ? _credentials.Enter(context) : default;
        fixed (byte* b = data.Span)
        {
            if (!Direct(handle, b))
            {
                return new(WriteFully(handle, b, data.Length, (long)args.Offset));
            }

            byte* bounce = AllocateAligned(data.Length);
            try
            {
                data.Span.CopyTo(new Span<byte>(bounce, data.Length));
                return new(WriteFully(handle, bounce, data.Length, (long)args.Offset));
            }
            finally
            {
                System.Runtime.InteropServices.NativeMemory.AlignedFree(bounce);
            }
        }
    }

    /// <inheritdoc/>
    public override ValueTask<Errno> FlushAsync(FuseRequestContext context, FuseFlushIn args)
    {
        FileHandle? handle = Handle(args.Fh);
        if (handle is null)
        {
            return new(Errno.EBADF);
        }

        UnlockOwner(handle.Inode, args.LockOwner);

        // close() of a duplicate reports deferred write errors (NFS and the like) as the client's close() would; our
        // locks are OFD locks, which a close of another descriptor does not drop.
        int dup = Interop.Dup(handle.Fd);
        if (dup < 0)
        {
            return new(Interop.LastErrno);
        }

        return new(Interop.Close(dup) == 0 ? Errno.Success : Interop.LastErrno);
    }

    /// <inheritdoc/>
    public override ValueTask<Errno> ReleaseAsync(FuseRequestContext context, FuseReleaseIn args)
    {
        if (_handles.TryRemove(args.Fh, out FileHandle? handle))
        {
            if (((FuseReleaseFlags)args.ReleaseFlags & FuseReleaseFlags.Flush) != 0)
            {
                UnlockOwner(handle.Inode, args.LockOwner);
            }

            CloseHandle(handle);
        }

        return new(Errno.Success);
    }

    /// <inheritdoc/>
    public override ValueTask<Errno> FsyncAsync(FuseRequestContext context, FuseFsyncIn args)
    {
        FileHandle? handle = Handle(args.Fh);
        if (handle is null)
        {
            return new(Errno.EBADF);
        }

        bool dataOnly = ((FuseFsyncFlags)args.FsyncFlags & FuseFsyncFlags.FdataSync) != 0;
        int rc = dataOnly ? Interop.Fdatasync(handle.Fd) : Interop.Fsync(handle.Fd);
        return new(rc == 0 ? Errno.Success : Interop.LastErrno);
    }

    /// <inheritdoc/>
    public override ValueTask<Errno> FallocateAsync(FuseRequestContext context, FuseFallocateIn args)
    {
        FileHandle? handle = Handle(args.Fh);
        if (handle is null)
        {
            return new(Errno.EBADF);
        }

        if (_options.ReadOnly)
        {
            return new(Errno.EROFS);
        }

        int rc = Interop.Fallocate(handle.Fd, (int)args.Mode, (long)args.Offset, (long)args.Length);
        return new(rc == 0 ? Errno.Success : Interop.LastErrno);
    }

    /// <inheritdoc/>
    public override ValueTask<FuseResult<ulong>> LseekAsync(FuseRequestContext context, FuseLseekIn args)
    {
        FileHandle? handle = Handle(args.Fh);
        if (handle is null)
        {
            return new(Errno.EBADF);
        }

        if (Writeback)
        {
            // The kernel asks without writing its dirty pages back first, so the host would report data still in the
            // client's cache as holes (or ENXIO). ENOSYS makes the client answer from its own size: all data, one hole at the end.
            return new(Errno.ENOSYS);
        }

        long offset = Interop.Lseek(handle.Fd, (long)args.Offset, (int)args.Whence);
        return new(offset >= 0 ? (ulong)offset : Interop.LastErrno);
    }

    /// <inheritdoc/>
    public override ValueTask<FuseResult<ulong>> CopyFileRangeAsync(FuseRequestContext context, FuseCopyFileRangeIn args)
    {
        FileHandle? source = Handle(args.FhIn), destination = Handle(args.FhOut);
        if (source is null || destination is null)
        {
            return new(Errno.EBADF);
        }

        if (_options.ReadOnly)
        {
            return new(Errno.EROFS);
        }

        long offIn = (long)args.OffIn, offOut = (long)args.OffOut;
        nint n = Interop.CopyFileRange(source.Fd, &offIn, destination.Fd, &offOut, (nuint)args.Len, (uint)args.Flags);
        return new(n >= 0 ? (ulong)n : Interop.LastErrno);
    }
}
