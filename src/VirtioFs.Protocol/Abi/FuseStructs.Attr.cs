using System.Runtime.InteropServices;

namespace VirtioFs.Protocol;

#pragma warning disable CS0169 // ABI padding fields are never used

/// <summary>
/// Inode attributes (C <c>struct fuse_attr</c>, 88 bytes). Before 7.9 the struct ended after
/// <see cref="Rdev"/> (80 bytes, no <see cref="Blksize"/>/<see cref="Flags"/>).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseAttr
{
    /// <summary>Size of this structure in bytes (named <c>StructSize</c> because the C field <c>size</c> takes <c>Size</c>).</summary>
    public const int StructSize = 88;

    /// <summary>Inode number.</summary>
    public ulong Ino;

    /// <summary>File size in bytes.</summary>
    public ulong Size;

    /// <summary>Number of 512-byte blocks allocated.</summary>
    public ulong Blocks;

    /// <summary>Last access time, seconds.</summary>
    public ulong Atime;

    /// <summary>Last modification time, seconds.</summary>
    public ulong Mtime;

    /// <summary>Last status change time, seconds.</summary>
    public ulong Ctime;

    /// <summary>Nanoseconds part of <see cref="Atime"/>.</summary>
    public uint Atimensec;

    /// <summary>Nanoseconds part of <see cref="Mtime"/>.</summary>
    public uint Mtimensec;

    /// <summary>Nanoseconds part of <see cref="Ctime"/>.</summary>
    public uint Ctimensec;

    /// <summary>File type and permission bits (<c>st_mode</c>).</summary>
    public uint Mode;

    /// <summary>Number of hard links.</summary>
    public uint Nlink;

    /// <summary>Owner user id.</summary>
    public uint Uid;

    /// <summary>Owner group id.</summary>
    public uint Gid;

    /// <summary>Device number for device nodes (Linux <c>new_encode_dev</c> encoding).</summary>
    public uint Rdev;

    /// <summary>Preferred I/O block size (7.9+).</summary>
    public uint Blksize;

    /// <summary>Attribute flags, <see cref="FuseAttrFlags"/> (7.32+; padding before).</summary>
    public uint Flags;
}

/// <summary>Timestamp in statx layout (C <c>struct fuse_sx_time</c>, 16 bytes, 7.39+).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseSxTime
{
    /// <summary>Size of this structure in bytes.</summary>
    public const int Size = 16;

    /// <summary>Seconds since the epoch.</summary>
    public long TvSec;

    /// <summary>Nanoseconds part.</summary>
    public uint TvNsec;

    private int _reserved;
}

/// <summary>Extended attributes, bit-compatible with Linux <c>struct statx</c> (C <c>struct fuse_statx</c>, 256 bytes, 7.39+).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseStatx
{
    /// <summary>Size of this structure in bytes (named <c>StructSize</c> because the C field <c>size</c> takes <c>Size</c>).</summary>
    public const int StructSize = 256;

    /// <summary>Which fields are valid (<c>STATX_*</c> bits).</summary>
    public uint Mask;

    /// <summary>Preferred I/O block size.</summary>
    public uint Blksize;

    /// <summary>File attributes (<c>STATX_ATTR_*</c> bits).</summary>
    public ulong Attributes;

    /// <summary>Number of hard links.</summary>
    public uint Nlink;

    /// <summary>Owner user id.</summary>
    public uint Uid;

    /// <summary>Owner group id.</summary>
    public uint Gid;

    /// <summary>File type and permission bits.</summary>
    public ushort Mode;

    private AbiUInt16Array1 _spare0;

    /// <summary>Inode number.</summary>
    public ulong Ino;

    /// <summary>File size in bytes.</summary>
    public ulong Size;

    /// <summary>Number of 512-byte blocks allocated.</summary>
    public ulong Blocks;

    /// <summary>Which bits of <see cref="Attributes"/> are supported.</summary>
    public ulong AttributesMask;

    /// <summary>Last access time.</summary>
    public FuseSxTime Atime;

    /// <summary>Creation (birth) time.</summary>
    public FuseSxTime Btime;

    /// <summary>Last status change time.</summary>
    public FuseSxTime Ctime;

    /// <summary>Last modification time.</summary>
    public FuseSxTime Mtime;

    /// <summary>Major number of the device, for device nodes.</summary>
    public uint RdevMajor;

    /// <summary>Minor number of the device, for device nodes.</summary>
    public uint RdevMinor;

    /// <summary>Major number of the device containing the file.</summary>
    public uint DevMajor;

    /// <summary>Minor number of the device containing the file.</summary>
    public uint DevMinor;

    private AbiUInt64Array14 _spare2;
}

/// <summary>
/// Filesystem statistics (C <c>struct fuse_kstatfs</c>, 80 bytes). Before 7.4 only the first 48 bytes
/// (up to <see cref="Namelen"/>) were sent.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseKstatfs
{
    /// <summary>Size of this structure in bytes.</summary>
    public const int Size = 80;

    /// <summary>Total data blocks, in <see cref="Frsize"/> units.</summary>
    public ulong Blocks;

    /// <summary>Free blocks.</summary>
    public ulong Bfree;

    /// <summary>Free blocks available to unprivileged users.</summary>
    public ulong Bavail;

    /// <summary>Total inodes.</summary>
    public ulong Files;

    /// <summary>Free inodes.</summary>
    public ulong Ffree;

    /// <summary>Preferred block size.</summary>
    public uint Bsize;

    /// <summary>Maximum file name length.</summary>
    public uint Namelen;

    /// <summary>Fragment size (7.4+).</summary>
    public uint Frsize;

    private uint _padding;

    private AbiUInt32Array6 _spare;
}

/// <summary>Argument of <see cref="FuseOpcode.GetAttr"/> (C <c>struct fuse_getattr_in</c>, 16 bytes, 7.9+; no argument before).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseGetattrIn
{
    /// <summary>Size of this structure in bytes.</summary>
    public const int Size = 16;

    /// <summary>Flags, <see cref="FuseGetAttrFlags"/>.</summary>
    public uint GetattrFlags;

    private uint _dummy;

    /// <summary>File handle, valid with <see cref="FuseGetAttrFlags.Fh"/>.</summary>
    public ulong Fh;
}

/// <summary>
/// Reply of <see cref="FuseOpcode.GetAttr"/> and <see cref="FuseOpcode.SetAttr"/> (C <c>struct fuse_attr_out</c>,
/// 104 bytes; 96 bytes (<see cref="FuseConstants.CompatAttrOutSize"/>) before 7.9).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseAttrOut
{
    /// <summary>Size of this structure in bytes.</summary>
    public const int Size = 104;

    /// <summary>Attribute cache timeout, seconds.</summary>
    public ulong AttrValid;

    /// <summary>Nanoseconds part of <see cref="AttrValid"/>.</summary>
    public uint AttrValidNsec;

    private uint _dummy;

    /// <summary>The attributes.</summary>
    public FuseAttr Attr;
}

/// <summary>Argument of <see cref="FuseOpcode.Statx"/> (C <c>struct fuse_statx_in</c>, 24 bytes, 7.39+).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseStatxIn
{
    /// <summary>Size of this structure in bytes.</summary>
    public const int Size = 24;

    /// <summary>Flags, <see cref="FuseGetAttrFlags"/>.</summary>
    public uint GetattrFlags;

    private uint _reserved;

    /// <summary>File handle, valid with <see cref="FuseGetAttrFlags.Fh"/>.</summary>
    public ulong Fh;

    /// <summary>statx <c>AT_*</c> flags (e.g. sync type).</summary>
    public uint SxFlags;

    /// <summary>Requested <c>STATX_*</c> fields.</summary>
    public uint SxMask;
}

/// <summary>Reply of <see cref="FuseOpcode.Statx"/> (C <c>struct fuse_statx_out</c>, 288 bytes, 7.39+).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseStatxOut
{
    /// <summary>Size of this structure in bytes.</summary>
    public const int Size = 288;

    /// <summary>Attribute cache timeout, seconds.</summary>
    public ulong AttrValid;

    /// <summary>Nanoseconds part of <see cref="AttrValid"/>.</summary>
    public uint AttrValidNsec;

    /// <summary>Reply flags (none defined yet).</summary>
    public uint Flags;

    private AbiUInt64Array2 _spare;

    /// <summary>The attributes.</summary>
    public FuseStatx Stat;
}

/// <summary>
/// Argument of <see cref="FuseOpcode.SetAttr"/> (C <c>struct fuse_setattr_in</c>, 88 bytes). The
/// <see cref="Ctime"/>/<see cref="Ctimensec"/> slots were unused before 7.23, <see cref="LockOwner"/> before 7.9.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseSetattrIn
{
    /// <summary>Size of this structure in bytes (named <c>StructSize</c> because the C field <c>size</c> takes <c>Size</c>).</summary>
    public const int StructSize = 88;

    /// <summary>Which fields to apply, <see cref="FuseSetAttrValid"/>.</summary>
    public uint Valid;

    private uint _padding;

    /// <summary>File handle, valid with <see cref="FuseSetAttrValid.Fh"/>.</summary>
    public ulong Fh;

    /// <summary>New file size (truncate).</summary>
    public ulong Size;

    /// <summary>Lock owner, valid with <see cref="FuseSetAttrValid.LockOwner"/> (7.9+).</summary>
    public ulong LockOwner;

    /// <summary>New access time, seconds.</summary>
    public ulong Atime;

    /// <summary>New modification time, seconds.</summary>
    public ulong Mtime;

    /// <summary>New status change time, seconds (7.23+).</summary>
    public ulong Ctime;

    /// <summary>Nanoseconds part of <see cref="Atime"/>.</summary>
    public uint Atimensec;

    /// <summary>Nanoseconds part of <see cref="Mtime"/>.</summary>
    public uint Mtimensec;

    /// <summary>Nanoseconds part of <see cref="Ctime"/> (7.23+).</summary>
    public uint Ctimensec;

    /// <summary>New file mode.</summary>
    public uint Mode;

    private uint _unused4;

    /// <summary>New owner user id.</summary>
    public uint Uid;

    /// <summary>New owner group id.</summary>
    public uint Gid;

    private uint _unused5;
}

/// <summary>
/// Reply of <see cref="FuseOpcode.StatFs"/> (C <c>struct fuse_statfs_out</c>, 80 bytes; 48 bytes
/// (<see cref="FuseConstants.CompatStatfsSize"/>) before 7.4).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseStatfsOut
{
    /// <summary>Size of this structure in bytes.</summary>
    public const int Size = 80;

    /// <summary>The statistics.</summary>
    public FuseKstatfs St;
}
