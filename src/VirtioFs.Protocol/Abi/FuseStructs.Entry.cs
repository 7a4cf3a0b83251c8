using System.Runtime.InteropServices;

namespace VirtioFs.Protocol;

#pragma warning disable CS0169 // ABI padding fields are never used

/// <summary>
/// Reply of lookup and create-like requests (C <c>struct fuse_entry_out</c>, 128 bytes; 120 bytes
/// (<see cref="FuseConstants.CompatEntryOutSize"/>) before 7.9).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseEntryOut
{
    /// <summary>Size of this structure in bytes.</summary>
    public const int Size = 128;

    /// <summary>Node id of the entry (0 = negative entry, cached for <see cref="EntryValid"/>).</summary>
    public ulong Nodeid;

    /// <summary>Inode generation; (nodeid, generation) must be unique for the filesystem's lifetime.</summary>
    public ulong Generation;

    /// <summary>Name cache timeout, seconds.</summary>
    public ulong EntryValid;

    /// <summary>Attribute cache timeout, seconds.</summary>
    public ulong AttrValid;

    /// <summary>Nanoseconds part of <see cref="EntryValid"/>.</summary>
    public uint EntryValidNsec;

    /// <summary>Nanoseconds part of <see cref="AttrValid"/>.</summary>
    public uint AttrValidNsec;

    /// <summary>The attributes.</summary>
    public FuseAttr Attr;
}

/// <summary>Argument of <see cref="FuseOpcode.Forget"/> (C <c>struct fuse_forget_in</c>, 8 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseForgetIn
{
    /// <summary>Size of this structure in bytes.</summary>
    public const int Size = 8;

    /// <summary>Number of lookups to drop.</summary>
    public ulong Nlookup;
}

/// <summary>One entry of a <see cref="FuseOpcode.BatchForget"/> request (C <c>struct fuse_forget_one</c>, 16 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseForgetOne
{
    /// <summary>Size of this structure in bytes.</summary>
    public const int Size = 16;

    /// <summary>Node id to forget.</summary>
    public ulong Nodeid;

    /// <summary>Number of lookups to drop.</summary>
    public ulong Nlookup;
}

/// <summary>
/// Argument of <see cref="FuseOpcode.BatchForget"/> (C <c>struct fuse_batch_forget_in</c>, 8 bytes, 7.16+);
/// followed by <see cref="Count"/> <see cref="FuseForgetOne"/> records.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseBatchForgetIn
{
    /// <summary>Size of this structure in bytes.</summary>
    public const int Size = 8;

    /// <summary>Number of <see cref="FuseForgetOne"/> records that follow.</summary>
    public uint Count;

    private uint _dummy;
}

/// <summary>
/// Argument of <see cref="FuseOpcode.MkNod"/>, followed by the name (C <c>struct fuse_mknod_in</c>, 16 bytes;
/// 8 bytes (<see cref="FuseConstants.CompatMknodInSize"/>) before 7.12).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseMknodIn
{
    /// <summary>Size of this structure in bytes.</summary>
    public const int Size = 16;

    /// <summary>File type and permissions.</summary>
    public uint Mode;

    /// <summary>Device number for device nodes.</summary>
    public uint Rdev;

    /// <summary>Umask of the caller (7.12+).</summary>
    public uint Umask;

    private uint _padding;
}

/// <summary>Argument of <see cref="FuseOpcode.MkDir"/>, followed by the name (C <c>struct fuse_mkdir_in</c>, 8 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseMkdirIn
{
    /// <summary>Size of this structure in bytes.</summary>
    public const int Size = 8;

    /// <summary>Permissions of the new directory.</summary>
    public uint Mode;

    /// <summary>Umask of the caller (7.12+; padding before).</summary>
    public uint Umask;
}

/// <summary>Argument of <see cref="FuseOpcode.Rename"/>, followed by old and new names (C <c>struct fuse_rename_in</c>, 8 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseRenameIn
{
    /// <summary>Size of this structure in bytes.</summary>
    public const int Size = 8;

    /// <summary>Node id of the target directory.</summary>
    public ulong Newdir;
}

/// <summary>Argument of <see cref="FuseOpcode.Rename2"/>, followed by old and new names (C <c>struct fuse_rename2_in</c>, 16 bytes, 7.23+).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseRename2In
{
    /// <summary>Size of this structure in bytes.</summary>
    public const int Size = 16;

    /// <summary>Node id of the target directory.</summary>
    public ulong Newdir;

    /// <summary>Rename flags, <see cref="FuseRenameFlags"/>.</summary>
    public uint Flags;

    private uint _padding;
}

/// <summary>Argument of <see cref="FuseOpcode.Link"/>, followed by the new name (C <c>struct fuse_link_in</c>, 8 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseLinkIn
{
    /// <summary>Size of this structure in bytes.</summary>
    public const int Size = 8;

    /// <summary>Node id of the existing inode to link to.</summary>
    public ulong Oldnodeid;
}

/// <summary>
/// Fixed part of a <see cref="FuseOpcode.ReadDir"/> record (C <c>struct fuse_dirent</c> without its flexible
/// <c>name</c>, 24 bytes). The name follows and the record is padded with <see cref="FuseConstants.DirentAlign"/>.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseDirent
{
    /// <summary>Size of the fixed part in bytes (= <see cref="FuseConstants.DirentNameOffset"/>).</summary>
    public const int Size = 24;

    /// <summary>Inode number.</summary>
    public ulong Ino;

    /// <summary>Offset (cookie) of the next entry, passed back in a later read.</summary>
    public ulong Off;

    /// <summary>Name length in bytes, without terminator.</summary>
    public uint Namelen;

    /// <summary>Entry type, <see cref="FuseDirentType"/>.</summary>
    public uint Type;
}

/// <summary>
/// Fixed part of a <see cref="FuseOpcode.ReadDirPlus"/> record (C <c>struct fuse_direntplus</c> without the name,
/// 152 bytes, 7.21+). The name follows and the record is padded with <see cref="FuseConstants.DirentAlign"/>.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseDirentplus
{
    /// <summary>Size of the fixed part in bytes (= <see cref="FuseConstants.DirentPlusNameOffset"/>).</summary>
    public const int Size = 152;

    /// <summary>Lookup result for the entry (counts as a lookup when <see cref="FuseEntryOut.Nodeid"/> is not 0).</summary>
    public FuseEntryOut EntryOut;

    /// <summary>Directory entry.</summary>
    public FuseDirent Dirent;
}
