using VirtioFs.Protocol;

namespace VirtioFs.Samples.MemoryFs;

// Extended attributes: SETXATTR, GETXATTR, LISTXATTR, REMOVEXATTR. Names are byte strings, compared exactly.
public sealed partial class MemoryFileSystem
{
    public override ValueTask<Errno> SetXattrAsync(FuseRequestContext context, FuseSetxattrIn args, ReadOnlyMemory<byte> name, ReadOnlyMemory<byte> value)
        => new(SetXattr(context.NodeId, args.Flags, name.Span, value.Span));

    public override ValueTask<FuseResult<int>> GetXattrAsync(FuseRequestContext context, ReadOnlyMemory<byte> name, Memory<byte> buffer)
        => new(GetXattr(context.NodeId, name.Span, buffer.Span));

    public override ValueTask<FuseResult<int>> ListXattrAsync(FuseRequestContext context, Memory<byte> buffer)
        => new(ListXattr(context.NodeId, buffer.Span));

    public override ValueTask<Errno> RemoveXattrAsync(FuseRequestContext context, ReadOnlyMemory<byte> name)
        => new(RemoveXattr(context.NodeId, name.Span));

    /// <summary>ERANGE for names setxattr(2) refuses: empty or longer than XATTR_NAME_MAX.</summary>
    private static Errno CheckXattrName(ReadOnlySpan<byte> name)
        => name.IsEmpty || name.Length > XattrFlags.NameMax ? Errno.ERANGE : Errno.Success;

    /// <summary>The size-query rule of getxattr(2)/listxattr(2): an empty buffer asks for the length; a short one is ERANGE.</summary>
    private static FuseResult<int> CheckRoom(int length, Span<byte> buffer)
        => buffer.IsEmpty || length <= buffer.Length ? length : Errno.ERANGE;

    private static byte[]? FindXattr(MemoryNode node, ReadOnlySpan<byte> name)
        => node.Xattrs is { } xattrs && xattrs.GetAlternateLookup<ReadOnlySpan<byte>>().TryGetValue(name, out byte[]? value) ? value : null;

    private Errno SetXattr(ulong nodeId, uint flags, ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
    {
        if ((flags & ~(XattrFlags.Create | XattrFlags.Replace)) != 0)
        {
            return Errno.EINVAL;
        }

        Errno error = CheckXattrName(name);
        if (error != Errno.Success)
        {
            return error;
        }

        if (value.Length > XattrFlags.SizeMax)
        {
            return Errno.E2BIG;
        }

        using (EnterWrite())
        {
            MemoryNode? node = FindNode(nodeId, out error);
            if (node is null)
            {
                return error;
            }

            bool exists = FindXattr(node, name) is not null;
            if (exists && (flags & XattrFlags.Create) != 0)
            {
                return Errno.EEXIST;
            }

            if (!exists && (flags & XattrFlags.Replace) != 0)
            {
                return Errno.ENODATA;
            }

            node.Xattrs ??= new Dictionary<byte[], byte[]>(ByteNameComparer.Instance);
            node.Xattrs.GetAlternateLookup<ReadOnlySpan<byte>>()[name] = value.ToArray();
            node.Ctime = Now();
            return Errno.Success;
        }
    }

    private FuseResult<int> GetXattr(ulong nodeId, ReadOnlySpan<byte> name, Span<byte> buffer)
    {
        Errno error = CheckXattrName(name);
        if (error != Errno.Success)
        {
            return error;
        }

        using (EnterRead())
        {
            MemoryNode? node = FindNode(nodeId, out error);
            if (node is null)
            {
                return error;
            }

            byte[]? value = FindXattr(node, name);
            if (value is null)
            {
                return Errno.ENODATA;
            }

            FuseResult<int> result = CheckRoom(value.Length, buffer);
            if (result.IsSuccess && !buffer.IsEmpty)
            {
                value.CopyTo(buffer);
            }

            return result;
        }
    }

    /// <summary>The names, each followed by a NUL, in no particular order.</summary>
    private FuseResult<int> ListXattr(ulong nodeId, Span<byte> buffer)
    {
        using (EnterRead())
        {
            MemoryNode? node = FindNode(nodeId, out Errno error);
            if (node is null)
            {
                return error;
            }

            IEnumerable<byte[]> names = node.Xattrs?.Keys ?? Enumerable.Empty<byte[]>();
            int length = names.Sum(name => name.Length + 1);
            FuseResult<int> result = CheckRoom(length, buffer);
            if (result.IsSuccess && !buffer.IsEmpty)
            {
                Span<byte> rest = buffer;
                foreach (byte[] name in names)
                {
                    name.CopyTo(rest);
                    rest[name.Length] = 0;
                    rest = rest.Slice(name.Length + 1);
                }
            }

            return result;
        }
    }

    private Errno RemoveXattr(ulong nodeId, ReadOnlySpan<byte> name)
    {
        Errno error = CheckXattrName(name);
        if (error != Errno.Success)
        {
            return error;
        }

        using (EnterWrite())
        {
            MemoryNode? node = FindNode(nodeId, out error);
            if (node is null)
            {
                return error;
            }

            if (node.Xattrs is not { } xattrs || !xattrs.GetAlternateLookup<ReadOnlySpan<byte>>().Remove(name))
            {
                return Errno.ENODATA;
            }

            node.Ctime = Now();
            return Errno.Success;
        }
    }
}
