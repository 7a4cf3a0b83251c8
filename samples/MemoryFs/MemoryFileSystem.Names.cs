using VirtioFs.Protocol;

namespace VirtioFs.Samples.MemoryFs;

// Operations that add, remove or move names: MKNOD, MKDIR, SYMLINK, LINK, UNLINK, RMDIR, RENAME.
public sealed partial class MemoryFileSystem
{
    public override ValueTask<FuseResult<FuseEntryOut>> MkNodAsync(FuseRequestContext context, FuseMknodIn args, ReadOnlyMemory<byte> name)
        => new(MkNod(context, args, name.Span));

    public override ValueTask<FuseResult<FuseEntryOut>> MkDirAsync(FuseRequestContext context, FuseMkdirIn args, ReadOnlyMemory<byte> name)
        => new(MkDir(context, args, name.Span));

    public override ValueTask<FuseResult<FuseEntryOut>> SymlinkAsync(FuseRequestContext context, ReadOnlyMemory<byte> name, ReadOnlyMemory<byte> target)
        => new(Symlink(context, name.Span, target.Span));

    public override ValueTask<FuseResult<FuseEntryOut>> LinkAsync(FuseRequestContext context, ulong nodeId, ReadOnlyMemory<byte> newName)
        => new(Link(context.NodeId, nodeId, newName.Span));

    public override ValueTask<Errno> UnlinkAsync(FuseRequestContext context, ReadOnlyMemory<byte> name)
        => new(Unlink(context.NodeId, name.Span));

    public override ValueTask<Errno> RmDirAsync(FuseRequestContext context, ReadOnlyMemory<byte> name)
        => new(RmDir(context.NodeId, name.Span));

    public override ValueTask<Errno> RenameAsync(FuseRequestContext context, ulong newParent, ReadOnlyMemory<byte> name, ReadOnlyMemory<byte> newName, FuseRenameFlags flags)
        => new(Rename(context.NodeId, newParent, name.Span, newName.Span, flags));

    /// <summary>EINVAL for names no path component can be, ENAMETOOLONG past NAME_MAX.</summary>
    private static Errno CheckName(ReadOnlySpan<byte> name)
    {
        if (name.IsEmpty || name.IndexOfAny((byte)'/', (byte)0) >= 0)
        {
            return Errno.EINVAL;
        }

        return name.Length > PathLimits.NameMax ? Errno.ENAMETOOLONG : Errno.Success;
    }

    private static bool IsDot(ReadOnlySpan<byte> name) => name is [(byte)'.'];

    private static bool IsDotDot(ReadOnlySpan<byte> name) => name is [(byte)'.', (byte)'.'];

    /// <summary>A name to create: valid, and not "." or ".." (which always exist).</summary>
    private static Errno CheckNewName(ReadOnlySpan<byte> name)
    {
        Errno error = CheckName(name);
        return error == Errno.Success && (IsDot(name) || IsDotDot(name)) ? Errno.EEXIST : error;
    }

    /// <summary>Whether the caller is in <paramref name="gid"/>, by its filesystem gid or a supplementary group.</summary>
    private static bool InGroup(FuseRequestContext context, uint gid)
    {
        if (context.Gid == gid)
        {
            return true;
        }

        FuseRequestExtensions extensions = context.Extensions;
        for (int i = 0; i < extensions.SupplementaryGroupCount; i++)
        {
            if (extensions.GetSupplementaryGroup(i) == gid)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// The owner of a new node: the caller, except that a set-group-id parent passes on its group (and, to directories,
    /// the set-group-id bit). A caller outside the resulting group cannot create a set-group-id file (Linux's inode_init_owner).
    /// </summary>
    private static NodeOwner NewOwner(FuseRequestContext context, MemoryDirectory parent, uint type, uint permissions)
    {
        uint mode = type | (permissions & ModeBits.All);
        uint gid = context.Gid;
        if ((parent.Mode & ModeBits.SetGid) != 0)
        {
            gid = parent.Gid;
            if (type == FuseFileMode.Directory)
            {
                mode |= ModeBits.SetGid;
            }
        }

        if (type != FuseFileMode.Directory
            && (mode & (ModeBits.SetGid | ModeBits.GroupExecute)) == (ModeBits.SetGid | ModeBits.GroupExecute)
            && context.Uid != 0
            && !InGroup(context, gid))
        {
            mode &= ~ModeBits.SetGid;
        }

        return new NodeOwner(mode, context.Uid, gid);
    }

    /// <summary>The live parent in which <paramref name="name"/> can be created: EEXIST when taken.</summary>
    private MemoryDirectory? PrepareCreate(ulong parentId, ReadOnlySpan<byte> name, out Errno error)
    {
        MemoryDirectory? parent = FindLiveDirectory(parentId, out error);
        if (parent is null)
        {
            return null;
        }

        error = CheckNewName(name);
        if (error == Errno.Success && parent.Find(name) is not null)
        {
            error = Errno.EEXIST;
        }

        return error == Errno.Success ? parent : null;
    }

    /// <summary>Registers a new node, names it and answers with a counted entry; the parent's mtime/ctime become <paramref name="now"/>.</summary>
    private FuseEntryOut Publish(MemoryDirectory parent, ReadOnlySpan<byte> name, MemoryNode node, Timestamp now)
    {
        _nodes.Add(node.Id, node);
        parent.Add(name, node);
        parent.Touch(now);
        return CountedEntryOut(node);
    }

    private FuseResult<FuseEntryOut> MkNod(FuseRequestContext context, FuseMknodIn args, ReadOnlySpan<byte> name)
    {
        uint type = args.Mode & FuseFileMode.TypeMask;
        switch (type)
        {
            case 0:
                type = FuseFileMode.RegularFile; // mknod(2) with no type creates a regular file
                break;
            case FuseFileMode.RegularFile or FuseFileMode.Fifo or FuseFileMode.Socket or FuseFileMode.CharacterDevice or FuseFileMode.BlockDevice:
                break;
            default:
                // As mknod(2): directories need mkdir, anything else is not a node type.
                return type == FuseFileMode.Directory ? Errno.EPERM : Errno.EINVAL;
        }

        using (EnterWrite())
        {
            MemoryDirectory? parent = PrepareCreate(context.NodeId, name, out Errno error);
            if (parent is null)
            {
                return error;
            }

            Timestamp now = Now();
            NodeOwner owner = NewOwner(context, parent, type, args.Mode & ~args.Umask);
            ulong id = _nextNodeId++;
            bool device = type is FuseFileMode.CharacterDevice or FuseFileMode.BlockDevice;
            MemoryNode node = type == FuseFileMode.RegularFile
                ? new MemoryFile(id, owner, now, _usage)
                : new MemorySpecialNode(id, owner, now, device ? args.Rdev : 0);
            return Publish(parent, name, node, now);
        }
    }

    private FuseResult<FuseEntryOut> MkDir(FuseRequestContext context, FuseMkdirIn args, ReadOnlySpan<byte> name)
    {
        // mkdir(2) honours only the permission and sticky bits; set-group-id comes from the parent alone.
        uint permissions = args.Mode & ~args.Umask & (ModeBits.Permissions | ModeBits.Sticky);
        using (EnterWrite())
        {
            MemoryDirectory? parent = PrepareCreate(context.NodeId, name, out Errno error);
            if (parent is null)
            {
                return error;
            }

            Timestamp now = Now();
            var directory = new MemoryDirectory(_nextNodeId++, NewOwner(context, parent, FuseFileMode.Directory, permissions), now, parent);
            return Publish(parent, name, directory, now);
        }
    }

    private FuseResult<FuseEntryOut> Symlink(FuseRequestContext context, ReadOnlySpan<byte> name, ReadOnlySpan<byte> target)
    {
        if (target.IsEmpty)
        {
            return Errno.ENOENT; // as symlink(2) with an empty target
        }

        if (target.Length >= PathLimits.PathMax)
        {
            return Errno.ENAMETOOLONG;
        }

        using (EnterWrite())
        {
            MemoryDirectory? parent = PrepareCreate(context.NodeId, name, out Errno error);
            if (parent is null)
            {
                return error;
            }

            Timestamp now = Now();
            var link = new MemorySymlink(_nextNodeId++, NewOwner(context, parent, FuseFileMode.SymbolicLink, ModeBits.Permissions), now, target.ToArray());
            return Publish(parent, name, link, now);
        }
    }

    private FuseResult<FuseEntryOut> Link(ulong parentId, ulong nodeId, ReadOnlySpan<byte> newName)
    {
        using (EnterWrite())
        {
            MemoryNode? node = FindNode(nodeId, out Errno error);
            if (node is null)
            {
                return error;
            }

            MemoryDirectory? parent = PrepareCreate(parentId, newName, out error);
            if (parent is null)
            {
                return error;
            }

            if (node.IsDirectory)
            {
                return Errno.EPERM;
            }

            if (node.LinkCount == 0 && node is not MemoryFile { LinkableWhenUnnamed: true })
            {
                return Errno.ENOENT; // an unlinked file cannot get a name back; only a TMPFILE can
            }

            if (node is MemoryFile file)
            {
                file.LinkableWhenUnnamed = false;
            }

            Timestamp now = Now();
            parent.Add(newName, node);
            node.Ctime = now;
            parent.Touch(now);
            return CountedEntryOut(node);
        }
    }

    private Errno Unlink(ulong parentId, ReadOnlySpan<byte> name)
    {
        Errno error = CheckName(name);
        if (error != Errno.Success)
        {
            return error;
        }

        if (IsDot(name) || IsDotDot(name))
        {
            return Errno.EISDIR;
        }

        using (EnterWrite())
        {
            MemoryDirectory? parent = FindDirectory(parentId, out error);
            DirectoryEntry? entry = parent?.Find(name);
            if (parent is null || entry is null)
            {
                return parent is null ? error : Errno.ENOENT;
            }

            if (entry.Node.IsDirectory)
            {
                return Errno.EISDIR;
            }

            RemoveEntry(parent, entry, Now());
            return Errno.Success;
        }
    }

    private Errno RmDir(ulong parentId, ReadOnlySpan<byte> name)
    {
        Errno error = CheckName(name);
        if (error != Errno.Success)
        {
            return error;
        }

        if (IsDot(name) || IsDotDot(name))
        {
            return IsDot(name) ? Errno.EINVAL : Errno.ENOTEMPTY; // as rmdir(2)
        }

        using (EnterWrite())
        {
            MemoryDirectory? parent = FindDirectory(parentId, out error);
            DirectoryEntry? entry = parent?.Find(name);
            if (parent is null || entry is null)
            {
                return parent is null ? error : Errno.ENOENT;
            }

            if (entry.Node is not MemoryDirectory directory)
            {
                return Errno.ENOTDIR;
            }

            if (directory.Count != 0)
            {
                return Errno.ENOTEMPTY;
            }

            RemoveEntry(parent, entry, Now());
            return Errno.Success;
        }
    }

    /// <summary>Removes a name: the node's ctime and the parent's mtime/ctime change; the node goes when nothing else holds it.</summary>
    private void RemoveEntry(MemoryDirectory parent, DirectoryEntry entry, Timestamp now)
    {
        MemoryNode node = entry.Node;
        parent.Remove(entry);
        node.Ctime = now;
        parent.Touch(now);
        TryFree(node);
    }

    private Errno Rename(ulong oldParentId, ulong newParentId, ReadOnlySpan<byte> name, ReadOnlySpan<byte> newName, FuseRenameFlags flags)
    {
        const FuseRenameFlags Supported = FuseRenameFlags.NoReplace | FuseRenameFlags.Exchange;

        // Whiteout needs overlayfs-style whiteout nodes, which this filesystem does not have; NoReplace and Exchange exclude each other.
        if ((flags & ~Supported) != 0 || flags == Supported)
        {
            return Errno.EINVAL;
        }

        Errno error = CheckName(name);
        if (error == Errno.Success)
        {
            error = CheckName(newName);
        }

        if (error != Errno.Success)
        {
            return error;
        }

        if (IsDot(name) || IsDotDot(name) || IsDot(newName) || IsDotDot(newName))
        {
            return Errno.EINVAL;
        }

        using (EnterWrite())
        {
            MemoryDirectory? oldParent = FindDirectory(oldParentId, out error);
            if (oldParent is null)
            {
                return error;
            }

            MemoryDirectory? newParent = FindLiveDirectory(newParentId, out error);
            if (newParent is null)
            {
                return error;
            }

            DirectoryEntry? source = oldParent.Find(name);
            if (source is null)
            {
                return Errno.ENOENT;
            }

            DirectoryEntry? target = newParent.Find(newName);
            Timestamp now = Now();
            if (flags == FuseRenameFlags.Exchange)
            {
                return target is null ? Errno.ENOENT : Exchange(oldParent, source, newParent, target, now);
            }

            if (target is not null && flags == FuseRenameFlags.NoReplace)
            {
                return Errno.EEXIST;
            }

            return Move(oldParent, source, newParent, newName, target, now);
        }
    }

    /// <summary>RENAME_EXCHANGE: the two names swap nodes; directories get their new parent as "..".</summary>
    private static Errno Exchange(MemoryDirectory oldParent, DirectoryEntry source, MemoryDirectory newParent, DirectoryEntry target, Timestamp now)
    {
        MemoryNode first = source.Node;
        MemoryNode second = target.Node;
        if (first == second)
        {
            return Errno.Success; // the same node under both names: nothing to swap
        }

        // Neither directory may end up inside itself.
        if ((first is MemoryDirectory firstDirectory && newParent.IsWithin(firstDirectory))
            || (second is MemoryDirectory secondDirectory && oldParent.IsWithin(secondDirectory)))
        {
            return Errno.EINVAL;
        }

        oldParent.Replace(source, second);
        newParent.Replace(target, first);
        first.Ctime = second.Ctime = now;
        oldParent.Touch(now);
        newParent.Touch(now);
        return Errno.Success;
    }

    /// <summary>Plain rename, replacing <paramref name="target"/> when there is one.</summary>
    private Errno Move(MemoryDirectory oldParent, DirectoryEntry source, MemoryDirectory newParent, ReadOnlySpan<byte> newName, DirectoryEntry? target, Timestamp now)
    {
        MemoryNode node = source.Node;
        MemoryNode? replaced = target?.Node;
        if (replaced == node)
        {
            return Errno.Success; // POSIX: two names of one file, rename does nothing
        }

        // Checked in the order Linux does: ancestry, then type mismatch, then emptiness.
        if (node is MemoryDirectory directory && newParent.IsWithin(directory))
        {
            return Errno.EINVAL;
        }

        if (replaced is not null && node.IsDirectory != replaced.IsDirectory)
        {
            return node.IsDirectory ? Errno.ENOTDIR : Errno.EISDIR;
        }

        if (replaced is MemoryDirectory { Count: not 0 })
        {
            return Errno.ENOTEMPTY;
        }

        if (target is not null)
        {
            // The target's name (and READDIR cookie) now leads to the moved node.
            newParent.Replace(target, node);
            oldParent.Remove(source);
            replaced!.Ctime = now;
            TryFree(replaced);
        }
        else
        {
            oldParent.Remove(source);
            newParent.Add(newName, node);
        }

        node.Ctime = now;
        oldParent.Touch(now);
        newParent.Touch(now);
        return Errno.Success;
    }
}
