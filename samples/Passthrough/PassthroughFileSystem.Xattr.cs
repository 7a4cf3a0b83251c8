using VirtioFs.Protocol;

namespace VirtioFs.Samples.Passthrough;

// Extended attributes through /proc/self/fd/N: the *xattr calls have no form that takes an O_PATH descriptor (before
// Linux 6.13), and the magic link names the inode itself, symlinks included. Run as the caller, so the host applies
// its namespace rules (user.* needs permission, trusted.* and security.* need CAP_SYS_ADMIN, and listing hides trusted.*).
public sealed unsafe partial class PassthroughFileSystem
{
    /// <inheritdoc/>
    public override ValueTask<Errno> SetXattrAsync(FuseRequestContext context, FuseSetxattrIn args, ReadOnlyMemory<byte> name, ReadOnlyMemory<byte> value)
    {
        Inode? inode = Writable(context.NodeId, out Errno refused);
        if (inode is null)
        {
            return new(refused);
        }

        byte* n = stackalloc byte[name.Length + 1];
        byte* proc = stackalloc byte[ProcPathMax];
        using CallerCredentials.Scope scope = _credentials.Enter(context);
        fixed (byte* v = value.Span)
        {
            int rc = Interop.SetXattr(ProcPath(inode.FdNumber, proc), Terminate(name.Span, n), v, (nuint)value.Length, (int)args.Flags);
            return new(rc == 0 ? Errno.Success : Interop.LastErrno);
        }
    }

    /// <inheritdoc/>
    public override ValueTask<FuseResult<int>> GetXattrAsync(FuseRequestContext context, ReadOnlyMemory<byte> name, Memory<byte> buffer)
    {
        Inode? inode = Node(context.NodeId);
        if (inode is null)
        {
            return new(Errno.ESTALE);
        }

        byte* n = stackalloc byte[name.Length + 1];
        byte* proc = stackalloc byte[ProcPathMax];
        using CallerCredentials.Scope scope = _credentials.Enter(context);
        fixed (byte* b = buffer.Span)
        {
            nint size = Interop.GetXattr(ProcPath(inode.FdNumber, proc), Terminate(name.Span, n), buffer.IsEmpty ? null : b, (nuint)buffer.Length);
            return new(size >= 0 ? (int)size : Interop.LastErrno);
        }
    }

    /// <inheritdoc/>
    public override ValueTask<FuseResult<int>> ListXattrAsync(FuseRequestContext context, Memory<byte> buffer)
    {
        Inode? inode = Node(context.NodeId);
        if (inode is null)
        {
            return new(Errno.ESTALE);
        }

        byte* proc = stackalloc byte[ProcPathMax];
        using CallerCredentials.Scope scope = _credentials.Enter(context);
        fixed (byte* b = buffer.Span)
        {
            nint size = Interop.ListXattr(ProcPath(inode.FdNumber, proc), buffer.IsEmpty ? null : b, (nuint)buffer.Length);
            return new(size >= 0 ? (int)size : Interop.LastErrno);
        }
    }

    /// <inheritdoc/>
    public override ValueTask<Errno> RemoveXattrAsync(FuseRequestContext context, ReadOnlyMemory<byte> name)
    {
        Inode? inode = Writable(context.NodeId, out Errno refused);
        if (inode is null)
        {
            return new(refused);
        }

        byte* n = stackalloc byte[name.Length + 1];
        byte* proc = stackalloc byte[ProcPathMax];
        using CallerCredentials.Scope scope = _credentials.Enter(context);
        return new(Interop.RemoveXattr(ProcPath(inode.FdNumber, proc), Terminate(name.Span, n)) == 0 ? Errno.Success : Interop.LastErrno);
    }
}
