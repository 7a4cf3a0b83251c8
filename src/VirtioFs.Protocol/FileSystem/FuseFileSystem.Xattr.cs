namespace VirtioFs.Protocol;

public abstract partial class FuseFileSystem
{
    /// <summary><c>FUSE_SETXATTR</c>: sets extended attribute <paramref name="name"/>.</summary>
    /// <param name="context">The request context.</param>
    /// <param name="args">Value size, <c>XATTR_CREATE</c>/<c>XATTR_REPLACE</c> flags and <see cref="FuseSetXattrFlags"/>.</param>
    /// <param name="name">The attribute's name.</param>
    /// <param name="value">The attribute's value.</param>
    /// <returns>The outcome.</returns>
    public virtual ValueTask<Errno> SetXattrAsync(FuseRequestContext context, FuseSetxattrIn args, ReadOnlyMemory<byte> name, ReadOnlyMemory<byte> value)
        => NotImplemented;

    /// <summary><c>FUSE_GETXATTR</c>: reads extended attribute <paramref name="name"/>.</summary>
    /// <remarks>Return the value's full length. Copy the value into <paramref name="buffer"/> when it fits; when
    /// <paramref name="buffer"/> is empty the client only asks for the length; when it is too small, answer <see cref="Errno.ERANGE"/>.</remarks>
    /// <param name="context">The request context.</param>
    /// <param name="name">The attribute's name.</param>
    /// <param name="buffer">Room for the value (empty for a size query).</param>
    /// <returns>The value's length, or an error (<see cref="Errno.ENODATA"/> when absent).</returns>
    public virtual ValueTask<FuseResult<int>> GetXattrAsync(FuseRequestContext context, ReadOnlyMemory<byte> name, Memory<byte> buffer)
        => new(Errno.ENOSYS);

    /// <summary><c>FUSE_LISTXATTR</c>: lists extended attribute names, each NUL-terminated.</summary>
    /// <remarks>Same size rules as <see cref="GetXattrAsync"/>.</remarks>
    /// <param name="context">The request context.</param>
    /// <param name="buffer">Room for the list (empty for a size query).</param>
    /// <returns>The list's length, or an error.</returns>
    public virtual ValueTask<FuseResult<int>> ListXattrAsync(FuseRequestContext context, Memory<byte> buffer)
        => new(Errno.ENOSYS);

    /// <summary><c>FUSE_REMOVEXATTR</c>: removes extended attribute <paramref name="name"/>.</summary>
    /// <param name="context">The request context.</param>
    /// <param name="name">The attribute's name.</param>
    /// <returns>The outcome.</returns>
    public virtual ValueTask<Errno> RemoveXattrAsync(FuseRequestContext context, ReadOnlyMemory<byte> name) => NotImplemented;
}
