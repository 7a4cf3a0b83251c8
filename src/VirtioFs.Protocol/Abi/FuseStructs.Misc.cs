using System.Runtime.InteropServices;

namespace VirtioFs.Protocol;

#pragma warning disable CS0169 // ABI padding fields are never used

/// <summary>Argument of <see cref="FuseOpcode.Interrupt"/> (C <c>struct fuse_interrupt_in</c>, 8 bytes, 7.7+).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseInterruptIn
{
    /// <summary>Size of this structure in bytes.</summary>
    public const int Size = 8;

    /// <summary>Unique id of the request to interrupt.</summary>
    public ulong Unique;
}

/// <summary>Argument of <see cref="FuseOpcode.Bmap"/> (C <c>struct fuse_bmap_in</c>, 16 bytes, 7.8+).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseBmapIn
{
    /// <summary>Size of this structure in bytes.</summary>
    public const int Size = 16;

    /// <summary>Block index within the file.</summary>
    public ulong Block;

    /// <summary>Block size in bytes.</summary>
    public uint Blocksize;

    private uint _padding;
}

/// <summary>Reply of <see cref="FuseOpcode.Bmap"/> (C <c>struct fuse_bmap_out</c>, 8 bytes, 7.8+).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseBmapOut
{
    /// <summary>Size of this structure in bytes.</summary>
    public const int Size = 8;

    /// <summary>Block index on the device.</summary>
    public ulong Block;
}

/// <summary>Argument of <see cref="FuseOpcode.Ioctl"/>, followed by the input data (C <c>struct fuse_ioctl_in</c>, 32 bytes, 7.11+).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseIoctlIn
{
    /// <summary>Size of this structure in bytes.</summary>
    public const int Size = 32;

    /// <summary>File handle.</summary>
    public ulong Fh;

    /// <summary>Ioctl flags, <see cref="FuseIoctlFlags"/>.</summary>
    public uint Flags;

    /// <summary>Ioctl command.</summary>
    public uint Cmd;

    /// <summary>Ioctl argument (a user-space pointer value for pointer arguments).</summary>
    public ulong Arg;

    /// <summary>Number of input bytes that follow.</summary>
    public uint InSize;

    /// <summary>Maximum number of output bytes.</summary>
    public uint OutSize;
}

/// <summary>An iovec in an unrestricted ioctl retry reply (C <c>struct fuse_ioctl_iovec</c>, 16 bytes, 7.16+).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseIoctlIovec
{
    /// <summary>Size of this structure in bytes.</summary>
    public const int Size = 16;

    /// <summary>User-space address.</summary>
    public ulong Base;

    /// <summary>Length in bytes.</summary>
    public ulong Len;
}

/// <summary>
/// Reply of <see cref="FuseOpcode.Ioctl"/>, followed by output data or, with <see cref="FuseIoctlFlags.Retry"/>,
/// by <see cref="FuseIoctlIovec"/> arrays (C <c>struct fuse_ioctl_out</c>, 16 bytes, 7.11+).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseIoctlOut
{
    /// <summary>Size of this structure in bytes.</summary>
    public const int Size = 16;

    /// <summary>Return value of the ioctl.</summary>
    public int Result;

    /// <summary>Reply flags, <see cref="FuseIoctlFlags"/>.</summary>
    public uint Flags;

    /// <summary>Number of input iovecs for a retry.</summary>
    public uint InIovs;

    /// <summary>Number of output iovecs for a retry.</summary>
    public uint OutIovs;
}

/// <summary>Argument of <see cref="FuseOpcode.Poll"/> (C <c>struct fuse_poll_in</c>, 24 bytes, 7.11+).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FusePollIn
{
    /// <summary>Size of this structure in bytes.</summary>
    public const int Size = 24;

    /// <summary>File handle.</summary>
    public ulong Fh;

    /// <summary>Kernel poll handle, used in <see cref="FuseNotifyPollWakeupOut"/>.</summary>
    public ulong Kh;

    /// <summary>Poll flags, <see cref="FusePollFlags"/>.</summary>
    public uint Flags;

    /// <summary>Requested poll events (7.21+; padding before).</summary>
    public uint Events;
}

/// <summary>Reply of <see cref="FuseOpcode.Poll"/> (C <c>struct fuse_poll_out</c>, 8 bytes, 7.11+).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FusePollOut
{
    /// <summary>Size of this structure in bytes.</summary>
    public const int Size = 8;

    /// <summary>Ready poll events.</summary>
    public uint Revents;

    private uint _padding;
}

/// <summary>Argument of the <c>FUSE_DEV_IOC_BACKING_OPEN</c> device ioctl (C <c>struct fuse_backing_map</c>, 16 bytes, 7.40+).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseBackingMap
{
    /// <summary>Size of this structure in bytes.</summary>
    public const int Size = 16;

    /// <summary>File descriptor of the backing file.</summary>
    public int Fd;

    /// <summary>Flags (none defined yet).</summary>
    public uint Flags;

    private ulong _padding;
}

/// <summary>Argument of <see cref="FuseOpcode.SyncFs"/> (C <c>struct fuse_syncfs_in</c>, 8 bytes, 7.34+).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseSyncfsIn
{
    /// <summary>Size of this structure in bytes.</summary>
    public const int Size = 8;

    private ulong _padding;
}
