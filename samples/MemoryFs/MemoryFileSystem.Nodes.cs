using VirtioFs.Protocol;

namespace VirtioFs.Samples.MemoryFs;

// Node lifetime and attributes: LOOKUP, FORGET, GETATTR, SETATTR, STATX, READLINK.
public sealed partial class MemoryFileSystem
{
    public override ValueTask<FuseResult<FuseEntryOut>> LookupAsync(FuseRequestContext context, ReadOnlyMemory<byte> name)
        => new(Lookup(context.NodeId, name.Span));

    public override void Forget(ulong nodeId, ulong lookupCount)
    {
        using (EnterWrite())
        {
            DropLookups(nodeId, lookupCount);
        }
    }

    public override void BatchForget(ReadOnlySpan<FuseForgetOne> nodes)
    {
        using (EnterWrite())
        {
            foreach (ref readonly FuseForgetOne node in nodes)
            {
                DropLookups(node.Nodeid, node.Nlookup);
            }
        }
    }

    public override ValueTask<FuseResult<FuseAttrOut>> GetAttrAsync(FuseRequestContext context, FuseGetattrIn args)
        => new(GetAttr(context.NodeId));

    public override ValueTask<FuseResult<FuseAttrOut>> SetAttrAsync(FuseRequestContext context, FuseSetattrIn args)
        => new(SetAttr(context.NodeId, args));

    public override ValueTask<FuseResult<FuseStatxOut>> StatxAsync(FuseRequestContext context, FuseStatxIn args)
        => new(Statx(context.NodeId));

    public override ValueTask<FuseResult<int>> ReadLinkAsync(FuseRequestContext context, Memory<byte> buffer)
        => new(ReadLink(context.NodeId, buffer.Span));

    private FuseResult<FuseEntryOut> Lookup(ulong parentId, ReadOnlySpan<byte> name)
    {
        Errno error = CheckName(name);
        if (error != Errno.Success)
        {
            return error;
        }

        using (EnterRead())
        {
            MemoryDirectory? parent = FindDirectory(parentId, out error);
            if (parent is null)
            {
                return error;
            }

            // "." and ".." come only from an NFS-export style client; a removed directory has no "..".
            MemoryNode? node = IsDot(name) ? parent
                : IsDotDot(name) ? (parent.IsLive ? parent.Parent : null)
                : parent.Find(name)?.Node;
            return node is null ? Errno.ENOENT : CountedEntryOut(node);
        }
    }

    private void DropLookups(ulong nodeId, ulong count)
    {
        if (_nodes.TryGetValue(nodeId, out MemoryNode? node))
        {
            node.DropLookups(count);
            TryFree(node);
        }
    }

    private FuseResult<FuseAttrOut> GetAttr(ulong nodeId)
    {
        using (EnterRead())
        {
            MemoryNode? node = FindNode(nodeId, out Errno error);
            return node is null ? error : AttrOut(node);
        }
    }

    private FuseResult<FuseStatxOut> Statx(ulong nodeId)
    {
        using (EnterRead())
        {
            MemoryNode? node = FindNode(nodeId, out Errno error);
            if (node is null)
            {
                return error;
            }

            return new FuseStatxOut
            {
                AttrValid = _attributeTimeout.Seconds,
                AttrValidNsec = _attributeTimeout.Nanoseconds,
                Stat = node.GetStatx(),
            };
        }
    }

    private FuseResult<int> ReadLink(ulong nodeId, Span<byte> buffer)
    {
        using (EnterRead())
        {
            MemoryNode? node = FindNode(nodeId, out Errno error);
            if (node is not MemorySymlink link)
            {
                return node is null ? error : Errno.EINVAL;
            }

            if (link.Target.Length > buffer.Length)
            {
                return Errno.ENAMETOOLONG;
            }

            link.Target.CopyTo(buffer);
            return link.Target.Length;
        }
    }

    /// <summary>
    /// Applies what <see cref="FuseSetattrIn.Valid"/> selects, all or nothing: every value is checked before any is set.
    /// Any change sets ctime to now, unless the request sets ctime itself; a size change also sets mtime (truncate(2)).
    /// </summary>
    private FuseResult<FuseAttrOut> SetAttr(ulong nodeId, in FuseSetattrIn args)
    {
        var valid = (FuseSetAttrValid)args.Valid;
        bool setSize = valid.HasFlag(FuseSetAttrValid.Size);
        Timestamp? atime = null;
        Timestamp? mtime = null;
        Timestamp? ctime = null;
        if ((valid.HasFlag(FuseSetAttrValid.Atime) && !valid.HasFlag(FuseSetAttrValid.AtimeNow) && (atime = Timestamp.FromWire(args.Atime, args.Atimensec)) is null)
            || (valid.HasFlag(FuseSetAttrValid.Mtime) && !valid.HasFlag(FuseSetAttrValid.MtimeNow) && (mtime = Timestamp.FromWire(args.Mtime, args.Mtimensec)) is null)
            || (valid.HasFlag(FuseSetAttrValid.Ctime) && (ctime = Timestamp.FromWire(args.Ctime, args.Ctimensec)) is null))
        {
            return Errno.EINVAL;
        }

        using (EnterWrite())
        {
            MemoryNode? node = FindNode(nodeId, out Errno error);
            if (node is null)
            {
                return error;
            }

            if (setSize)
            {
                if (node is not MemoryFile)
                {
                    return node.IsDirectory ? Errno.EISDIR : Errno.EINVAL;
                }

                if (args.Size > SparseFileData.MaxLength)
                {
                    return Errno.EFBIG;
                }
            }

            Timestamp now = Now();

            // chown(2) of a non-directory drops set-id bits and capabilities for every caller; truncate drops the
            // capability, and the set-id bits when the kernel says so. Before the mode: a mode sent with it wins.
            bool chown = (valid & (FuseSetAttrValid.Uid | FuseSetAttrValid.Gid)) != 0 && !node.IsDirectory;
            if (chown || setSize || valid.HasFlag(FuseSetAttrValid.KillSuidGid))
            {
                node.RemovePrivileges(chown || valid.HasFlag(FuseSetAttrValid.KillSuidGid));
            }

            if (valid.HasFlag(FuseSetAttrValid.Mode))
            {
                node.Mode = (node.Mode & FuseFileMode.TypeMask) | (args.Mode & ModeBits.All);
            }

            if (valid.HasFlag(FuseSetAttrValid.Uid))
            {
                node.Uid = args.Uid;
            }

            if (valid.HasFlag(FuseSetAttrValid.Gid))
            {
                node.Gid = args.Gid;
            }

            if (setSize)
            {
                ((MemoryFile)node).Data.SetLength((long)args.Size);
                node.Mtime = now;
            }

            if (valid.HasFlag(FuseSetAttrValid.AtimeNow) || atime is not null)
            {
                node.Atime = atime ?? now;
            }

            if (valid.HasFlag(FuseSetAttrValid.MtimeNow) || mtime is not null)
            {
                node.Mtime = mtime ?? now;
            }

            if ((valid & ~(FuseSetAttrValid.Fh | FuseSetAttrValid.LockOwner)) != 0)
            {
                node.Ctime = ctime ?? now;
            }

            return AttrOut(node);
        }
    }
}
