using Microsoft.Win32.SafeHandles;
using VirtioFs.Protocol;

namespace VirtioFs.Transport;

/// <summary>Backing files registered on a <c>/dev/fuse</c> descriptor with the device's ioctls.</summary>
internal sealed unsafe class DevFusePassthrough(SafeFileHandle device) : IFusePassthrough
{
    /// <summary><c>_IOW(229, 1, struct fuse_backing_map)</c>.</summary>
    internal const uint BackingOpen = 0x4010E501;

    /// <summary><c>_IOW(229, 2, uint32_t)</c>.</summary>
    internal const uint BackingClose = 0x4004E502;

    public int RegisterBackingFile(SafeFileHandle file)
    {
        ArgumentNullException.ThrowIfNull(file);
        bool added = false;
        try
        {
            file.DangerousAddRef(ref added);
            var map = new FuseBackingMap { Fd = (int)file.DangerousGetHandle() };
            int id = Interop.Ioctl(device, BackingOpen, &map);
            if (id < 0)
            {
                Errno error = Interop.LastErrno;
                throw new FuseProtocolException($"FUSE_DEV_IOC_BACKING_OPEN failed: {error}{(error == Errno.EPERM ? " (registering backing files needs CAP_SYS_ADMIN)" : string.Empty)}.", error);
            }

            return id;
        }
        finally
        {
            if (added)
            {
                file.DangerousRelease();
            }
        }
    }

    public void UnregisterBackingFile(int backingId)
    {
        uint id = (uint)backingId;
        if (Interop.Ioctl(device, BackingClose, &id) != 0)
        {
            Errno error = Interop.LastErrno;
            throw new FuseProtocolException($"FUSE_DEV_IOC_BACKING_CLOSE({backingId}) failed: {error}.", error);
        }
    }
}
