using Microsoft.Win32.SafeHandles;

namespace VirtioFs.Protocol;

/// <summary>
/// <c>FUSE_PASSTHROUGH</c> (7.40+, Linux 6.9+): the kernel serves reads and writes of an open file directly from a backing
/// file the server registered, without a round trip. A transport that can register backing files (<c>/dev/fuse</c>)
/// offers this through <see cref="IFuseChannel.Passthrough"/>; a filesystem reaches it through
/// <see cref="FuseConnectionInfo.Passthrough"/>.
/// </summary>
/// <remarks>
/// In <see cref="FuseFileSystem.OpenAsync"/> or <see cref="FuseFileSystem.CreateAsync"/>: register the backing file, and
/// answer with <see cref="FuseOpenOutFlags.Passthrough"/> and <see cref="FuseOpenOut.BackingId"/>; unregister the id when
/// the handle is released. Registering needs <c>CAP_SYS_ADMIN</c> in the kernel's user namespace.
/// </remarks>
public interface IFusePassthrough
{
    /// <summary>Registers an open host file (<c>FUSE_DEV_IOC_BACKING_OPEN</c>).</summary>
    /// <param name="file">The backing file; the kernel takes its own reference, so the handle may be closed afterwards.</param>
    /// <returns>The backing id to put in <see cref="FuseOpenOut.BackingId"/>.</returns>
    /// <exception cref="FuseProtocolException">The kernel refused (for example <see cref="Errno.EPERM"/> without privilege).</exception>
    int RegisterBackingFile(SafeFileHandle file);

    /// <summary>Unregisters a backing id (<c>FUSE_DEV_IOC_BACKING_CLOSE</c>); open files that use it keep working.</summary>
    /// <param name="backingId">The id from <see cref="RegisterBackingFile"/>.</param>
    /// <exception cref="FuseProtocolException">The kernel refused (for example an unknown id).</exception>
    void UnregisterBackingFile(int backingId);
}
