using VirtioFs.Protocol;

namespace VirtioFs.Samples.Passthrough;

public sealed unsafe partial class PassthroughFileSystem
{
    /// <inheritdoc/>
    public override ValueTask<FuseResult<FuseEntryOut>> LookupAsync(FuseRequestContext context, ReadOnlyMemory<byte> name)
    {
        Inode? parent = Node(context.NodeId);
        if (parent is null)
        {
            return new(Errno.ESTALE);
        }

        // The export's root has no parent the client may see.
        ReadOnlySpan<byte> lookup = parent == _inodes.Root && name.Span.SequenceEqual(".."u8) ? "."u8 : name.Span;
        byte* n = stackalloc byte[lookup.Length + 1];
        using CallerCredentials.Scope scope = _credentials.Enter(context);
        Errno error = LookupName(parent, Terminate(lookup, n), out FuseEntryOut entry);
        return new(error == Errno.Success ? entry : error);
    }

    /// <inheritdoc/>
    public override void Forget(ulong nodeId, ulong lookupCount) => _inodes.Forget(nodeId, lookupCount);

    /// <inheritdoc/>
    public override ValueTask<FuseResult<FuseAttrOut>> GetAttrAsync(FuseRequestContext context, FuseGetattrIn args)
    {
        Inode? inode = Node(context.NodeId);
        if (inode is null)
        {
            return new(Errno.ESTALE);
        }

        FuseStatx st;
        Errno error = StatInode(inode.PathFd, &st);
        return new(error == Errno.Success ? AttrOut(st) : error);
    }

    /// <inheritdoc/>
    public override ValueTask<FuseResult<FuseStatxOut>> StatxAsync(FuseRequestContext context, FuseStatxIn args)
    {
        Inode? inode = Node(context.NodeId);
        if (inode is null)
        {
            return new(Errno.ESTALE);
        }

        FuseStatx st;
        Errno error = StatInode(inode.PathFd, &st, args.SxMask | Interop.STATX_BASIC_STATS, (int)args.SxFlags & Interop.AT_STATX_SYNC_TYPE);
        if (error != Errno.Success)
        {
            return new(error);
        }

        // Copy field by field: the host's statx carries mount ids and alignments where the FUSE struct has spare (zero) fields.
        var stat = new FuseStatx
        {
            Mask = st.Mask,
            Blksize = st.Blksize,
            Attributes = st.Attributes,
            Nlink = st.Nlink,
            Uid = st.Uid,
            Gid = st.Gid,
            Mode = st.Mode,
            Ino = st.Ino,
            Size = st.Size,
            Blocks = st.Blocks,
            AttributesMask = st.AttributesMask,
            Atime = st.Atime,
            Btime = st.Btime,
            Ctime = st.Ctime,
            Mtime = st.Mtime,
            RdevMajor = st.RdevMajor,
            RdevMinor = st.RdevMinor,
            DevMajor = st.DevMajor,
            DevMinor = st.DevMinor,
        };
        return new(new FuseStatxOut { AttrValid = _timeout, AttrValidNsec = _timeoutNsec, Stat = stat });
    }

    /// <inheritdoc/>
    public override ValueTask<FuseResult<FuseAttrOut>> SetAttrAsync(FuseRequestContext context, FuseSetattrIn args)
    {
        Inode? inode = Writable(context.NodeId, out Errno refused);
        if (inode is null)
        {
            return new(refused);
        }

        var valid = (FuseSetAttrValid)args.Valid;
        FileHandle? handle = (valid & FuseSetAttrValid.Fh) != 0 ? Handle(args.Fh) : null;
        byte* proc = stackalloc byte[ProcPathMax];
        byte empty = 0;
        using (CallerCredentials.Scope scope = _credentials.Enter(context))
        {
            if ((valid & FuseSetAttrValid.Mode) != 0)
            {
                int rc = handle is not null
                    ? Interop.Fchmod(handle.Fd, args.Mode & 0xFFF)
                    : Interop.FchmodAt(Interop.AT_FDCWD, ProcPath(inode.FdNumber, proc), args.Mode & 0xFFF, 0);
                if (rc != 0)
                {
                    return new(Interop.LastErrno);
                }
            }

            if ((valid & (FuseSetAttrValid.Uid | FuseSetAttrValid.Gid)) != 0)
            {
                uint uid = (valid & FuseSetAttrValid.Uid) != 0 ? args.Uid : uint.MaxValue;
                uint gid = (valid & FuseSetAttrValid.Gid) != 0 ? args.Gid : uint.MaxValue;
                if (Interop.FchownAt(inode.PathFd, &empty, uid, gid, Interop.AT_EMPTY_PATH | Interop.AT_SYMLINK_NOFOLLOW) != 0)
                {
                    return new(Interop.LastErrno);
                }
            }

            if ((valid & FuseSetAttrValid.Size) != 0)
            {
                int rc = handle is not null
                    ? Interop.Ftruncate(handle.Fd, (long)args.Size)
                    : Interop.Truncate(ProcPath(inode.FdNumber, proc), (long)args.Size);
                if (rc != 0)
                {
                    return new(Interop.LastErrno);
                }
            }

            if ((valid & (FuseSetAttrValid.Atime | FuseSetAttrValid.AtimeNow | FuseSetAttrValid.Mtime | FuseSetAttrValid.MtimeNow)) != 0)
            {
                Interop.TimeSpec* times = stackalloc Interop.TimeSpec[2];
                times[0] = Time(valid, FuseSetAttrValid.Atime, FuseSetAttrValid.AtimeNow, args.Atime, args.Atimensec);
                times[1] = Time(valid, FuseSetAttrValid.Mtime, FuseSetAttrValid.MtimeNow, args.Mtime, args.Mtimensec);
                if (Interop.UtimensAt(inode.PathFd, &empty, times, Interop.AT_EMPTY_PATH | Interop.AT_SYMLINK_NOFOLLOW) != 0)
                {
                    return new(Interop.LastErrno);
                }
            }
        }

        FuseStatx st;
        Errno error = StatInode(inode.PathFd, &st);
        return new(error == Errno.Success ? AttrOut(st) : error);

        static Interop.TimeSpec Time(FuseSetAttrValid valid, FuseSetAttrValid set, FuseSetAttrValid now, ulong seconds, uint nanoseconds)
            => (valid & now) != 0 ? new Interop.TimeSpec { Nanoseconds = Interop.UTIME_NOW }
                : (valid & set) != 0 ? new Interop.TimeSpec { Seconds = (long)seconds, Nanoseconds = nanoseconds }
                : new Interop.TimeSpec { Nanoseconds = Interop.UTIME_OMIT };
    }

    /// <inheritdoc/>
    public override ValueTask<FuseResult<int>> ReadLinkAsync(FuseRequestContext context, Memory<byte> buffer)
    {
        Inode? inode = Node(context.NodeId);
        if (inode is null)
        {
            return new(Errno.ESTALE);
        }

        byte empty = 0;
        nint n;
        fixed (byte* b = buffer.Span)
        {
            n = Interop.ReadLinkAt(inode.PathFd, &empty, b, (nuint)buffer.Length);
        }

        return new(n >= 0 ? (int)n : Interop.LastErrno);
    }

    /// <inheritdoc/>
    public override ValueTask<FuseResult<FuseEntryOut>> SymlinkAsync(FuseRequestContext context, ReadOnlyMemory<byte> name, ReadOnlyMemory<byte> target)
    {
        Inode? parent = Writable(context.NodeId, out Errno refused);
        if (parent is null)
        {
            return new(refused);
        }

        byte* n = stackalloc byte[name.Length + 1];
        byte* t = stackalloc byte[target.Length + 1];
        using CallerCredentials.Scope scope = _credentials.Enter(context);
        return new(Made(Interop.SymlinkAt(Terminate(target.Span, t), parent.PathFd, Terminate(name.Span, n)), parent, n));
    }

    /// <inheritdoc/>
    public override ValueTask<FuseResult<FuseEntryOut>> MkNodAsync(FuseRequestContext context, FuseMknodIn args, ReadOnlyMemory<byte> name)
    {
        Inode? parent = Writable(context.NodeId, out Errno refused);
        if (parent is null)
        {
            return new(refused);
        }

        byte* n = stackalloc byte[name.Length + 1];
        using CallerCredentials.Scope scope = _credentials.Enter(context);
        return new(Made(Interop.MknodAt(parent.PathFd, Terminate(name.Span, n), args.Mode, DecodeDevice(args.Rdev)), parent, n));
    }

    /// <inheritdoc/>
    public override ValueTask<FuseResult<FuseEntryOut>> MkDirAsync(FuseRequestContext context, FuseMkdirIn args, ReadOnlyMemory<byte> name)
    {
        Inode? parent = Writable(context.NodeId, out Errno refused);
        if (parent is null)
        {
            return new(refused);
        }

        byte* n = stackalloc byte[name.Length + 1];
        using CallerCredentials.Scope scope = _credentials.Enter(context);
        return new(Made(Interop.MkdirAt(parent.PathFd, Terminate(name.Span, n), args.Mode), parent, n));
    }

    /// <inheritdoc/>
    public override ValueTask<Errno> UnlinkAsync(FuseRequestContext context, ReadOnlyMemory<byte> name) => Remove(context, name, 0);

    /// <inheritdoc/>
    public override ValueTask<Errno> RmDirAsync(FuseRequestContext context, ReadOnlyMemory<byte> name) => Remove(context, name, Interop.AT_REMOVEDIR);

    private ValueTask<Errno> Remove(FuseRequestContext context, ReadOnlyMemory<byte> name, int flags)
    {
        Inode? parent = Writable(context.NodeId, out Errno refused);
        if (parent is null)
        {
            return new(refused);
        }

        byte* n = stackalloc byte[name.Length + 1];
        using CallerCredentials.Scope scope = _credentials.Enter(context);
        return new(Interop.UnlinkAt(parent.PathFd, Terminate(name.Span, n), flags) == 0 ? Errno.Success : Interop.LastErrno);
    }

    /// <inheritdoc/>
    public override ValueTask<Errno> RenameAsync(FuseRequestContext context, ulong newParent, ReadOnlyMemory<byte> name, ReadOnlyMemory<byte> newName, FuseRenameFlags flags)
    {
        if (Node(newParent) is not { } to)
        {
            return new(Errno.ESTALE);
        }

        Inode? from = Writable(context.NodeId, out Errno refused);
        if (from is null)
        {
            return new(refused);
        }

        byte* n = stackalloc byte[name.Length + 1];
        byte* nn = stackalloc byte[newName.Length + 1];
        using CallerCredentials.Scope scope = _credentials.Enter(context);
        int rc = Interop.RenameAt2(from.PathFd, Terminate(name.Span, n), to.PathFd, Terminate(newName.Span, nn), (uint)flags);
        return new(rc == 0 ? Errno.Success : Interop.LastErrno);
    }

    /// <inheritdoc/>
    public override ValueTask<FuseResult<FuseEntryOut>> LinkAsync(FuseRequestContext context, ulong nodeId, ReadOnlyMemory<byte> newName)
    {
        if (Node(nodeId) is not { } inode)
        {
            return new(Errno.ESTALE);
        }

        Inode? parent = Writable(context.NodeId, out Errno refused);
        if (parent is null)
        {
            return new(refused);
        }

        byte* n = stackalloc byte[newName.Length + 1];
        byte* proc = stackalloc byte[ProcPathMax];
        using CallerCredentials.Scope scope = _credentials.Enter(context);

        // linkat(fd, "", AT_EMPTY_PATH) would need CAP_DAC_READ_SEARCH, which the caller may not have; following the
        // /proc/self/fd magic link names the inode itself (a symlink is linked, not its target).
        int rc = Interop.LinkAt(Interop.AT_FDCWD, ProcPath(inode.FdNumber, proc), parent.PathFd, Terminate(newName.Span, n), Interop.AT_SYMLINK_FOLLOW);
        return new(Made(rc, parent, n));
    }
}
