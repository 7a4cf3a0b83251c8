using VirtioFs.Protocol;

namespace VirtioFs.Samples.MemoryFs;

// Directory handles and listing: OPENDIR, READDIR, READDIRPLUS, RELEASEDIR, FSYNCDIR.
public sealed partial class MemoryFileSystem
{
    private static ReadOnlySpan<byte> DotName => "."u8;

    private static ReadOnlySpan<byte> DotDotName => ".."u8;

    public override ValueTask<FuseResult<FuseOpenOut>> OpenDirAsync(FuseRequestContext context, FuseOpenIn args)
        => new(OpenDir(context.NodeId, args));

    public override ValueTask<Errno> ReadDirAsync(FuseRequestContext context, FuseReadIn args, FuseDirectoryWriter writer)
        => new(List(context.NodeId, args.Offset, writer));

    public override ValueTask<Errno> ReadDirPlusAsync(FuseRequestContext context, FuseReadIn args, FuseDirectoryWriter writer)
        => new(List(context.NodeId, args.Offset, writer));

    public override ValueTask<Errno> ReleaseDirAsync(FuseRequestContext context, FuseReleaseIn args)
        => new(CloseHandle(args.Fh) is null ? Errno.EBADF : Errno.Success);

    public override ValueTask<Errno> FsyncDirAsync(FuseRequestContext context, FuseFsyncIn args) => new(Errno.Success);

    /// <summary>Only looks up the directory and adds a handle, so it shares the tree lock.</summary>
    private FuseResult<FuseOpenOut> OpenDir(ulong nodeId, FuseOpenIn args)
    {
        using (EnterRead())
        {
            MemoryDirectory? directory = FindDirectory(nodeId, out Errno error);
            return directory is null ? error : OpenOut(OpenNode(directory, args.Flags, killSuidGid: false));
        }
    }

    /// <summary>
    /// Lists from <paramref name="offset"/>: "." (next offset 1), ".." (2), then the entries in cookie order, each
    /// carrying its own cookie as the next offset. Directories are listed by node, so the handle is not needed.
    /// </summary>
    private Errno List(ulong nodeId, ulong offset, FuseDirectoryWriter writer)
    {
        using (EnterRead())
        {
            MemoryDirectory? directory = FindDirectory(nodeId, out Errno error);
            if (directory is null)
            {
                return error;
            }

            if (!directory.IsLive)
            {
                return Errno.ENOENT; // as getdents(2) on a removed directory
            }

            if ((offset < 1 && !TryAddEntry(writer, directory, 1, DotName, counted: false))
                || (offset < MemoryDirectory.DotDotCookie && !TryAddEntry(writer, directory.Parent, MemoryDirectory.DotDotCookie, DotDotName, counted: false)))
            {
                return Errno.Success;
            }

            IReadOnlyList<DirectoryEntry> entries = directory.Ordered;
            for (int i = directory.IndexAfter(offset); i < entries.Count; i++)
            {
                DirectoryEntry entry = entries[i];
                if (!entry.Removed && !TryAddEntry(writer, entry.Node, entry.Cookie, entry.Name, counted: true))
                {
                    break;
                }
            }

            return Errno.Success;
        }
    }

    /// <summary>
    /// Adds one entry in the writer's form. For READDIRPLUS a counted entry gives the kernel a lookup, so the count
    /// grows when (and only when) the writer accepts it; "." and ".." go with node id 0, which the kernel does not count.
    /// </summary>
    private bool TryAddEntry(FuseDirectoryWriter writer, MemoryNode node, ulong nextOffset, ReadOnlySpan<byte> name, bool counted)
    {
        if (!writer.IsPlus)
        {
            return writer.TryAdd(node.Id, nextOffset, FuseFileMode.ToDirentType(node.Mode), name);
        }

        FuseEntryOut entry = counted ? EntryOut(node) : new FuseEntryOut { Attr = node.GetAttr() };
        if (!writer.TryAddPlus(entry, nextOffset, name))
        {
            return false;
        }

        if (counted)
        {
            node.AddLookup();
        }

        return true;
    }
}
