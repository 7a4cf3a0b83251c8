using System.Runtime.InteropServices;

namespace VirtioFs.Protocol;

#pragma warning disable CS0169 // ABI padding fields are never used

/// <summary>Argument of <see cref="FuseOpcode.Open"/> and <see cref="FuseOpcode.OpenDir"/> (C <c>struct fuse_open_in</c>, 8 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseOpenIn
{
    /// <summary>Size of this structure in bytes.</summary>
    public const int Size = 8;

    /// <summary>Open flags (<c>O_*</c>).</summary>
    public uint Flags;

    /// <summary>FUSE open flags, <see cref="FuseOpenInFlags"/> (7.33+; unused before).</summary>
    public uint OpenFlags;
}

/// <summary>Argument of <see cref="FuseOpcode.Create"/>, followed by the name (C <c>struct fuse_create_in</c>, 16 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseCreateIn
{
    /// <summary>Size of this structure in bytes.</summary>
    public const int Size = 16;

    /// <summary>Open flags (<c>O_*</c>).</summary>
    public uint Flags;

    /// <summary>File type and permissions of the new file.</summary>
    public uint Mode;

    /// <summary>Umask of the caller (7.12+).</summary>
    public uint Umask;

    /// <summary>FUSE open flags, <see cref="FuseOpenInFlags"/> (7.33+; padding before).</summary>
    public uint OpenFlags;
}

/// <summary>Reply of <see cref="FuseOpcode.Open"/>/<see cref="FuseOpcode.OpenDir"/>, and second part of the <see cref="FuseOpcode.Create"/> reply (C <c>struct fuse_open_out</c>, 16 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseOpenOut
{
    /// <summary>Size of this structure in bytes.</summary>
    public const int Size = 16;

    /// <summary>File handle chosen by the server.</summary>
    public ulong Fh;

    /// <summary>Open reply flags, <see cref="FuseOpenOutFlags"/>.</summary>
    public uint OpenFlags;

    /// <summary>Backing file id for <see cref="FuseOpenOutFlags.Passthrough"/> (7.40+; padding before).</summary>
    public int BackingId;
}

/// <summary>Argument of <see cref="FuseOpcode.Release"/> and <see cref="FuseOpcode.ReleaseDir"/> (C <c>struct fuse_release_in</c>, 24 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseReleaseIn
{
    /// <summary>Size of this structure in bytes.</summary>
    public const int Size = 24;

    /// <summary>File handle.</summary>
    public ulong Fh;

    /// <summary>Open flags (<c>O_*</c>) the file was opened with.</summary>
    public uint Flags;

    /// <summary>Release flags, <see cref="FuseReleaseFlags"/> (7.8+).</summary>
    public uint ReleaseFlags;

    /// <summary>Lock owner (7.8+).</summary>
    public ulong LockOwner;
}

/// <summary>Argument of <see cref="FuseOpcode.Flush"/> (C <c>struct fuse_flush_in</c>, 24 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseFlushIn
{
    /// <summary>Size of this structure in bytes.</summary>
    public const int Size = 24;

    /// <summary>File handle.</summary>
    public ulong Fh;

    private uint _unused;

    private uint _padding;

    /// <summary>Lock owner of the closing descriptor.</summary>
    public ulong LockOwner;
}

/// <summary>
/// Argument of <see cref="FuseOpcode.Read"/> and <see cref="FuseOpcode.ReadDir"/>(<see cref="FuseOpcode.ReadDirPlus"/>)
/// (C <c>struct fuse_read_in</c>, 40 bytes; 24 bytes before 7.9).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseReadIn
{
    /// <summary>Size of this structure in bytes (named <c>StructSize</c> because the C field <c>size</c> takes <c>Size</c>).</summary>
    public const int StructSize = 40;

    /// <summary>File handle.</summary>
    public ulong Fh;

    /// <summary>Byte offset (or directory cookie for readdir).</summary>
    public ulong Offset;

    /// <summary>Maximum number of bytes to return.</summary>
    public uint Size;

    /// <summary>Read flags, <see cref="FuseReadFlags"/> (7.9+).</summary>
    public uint ReadFlags;

    /// <summary>Lock owner, valid with <see cref="FuseReadFlags.LockOwner"/> (7.9+).</summary>
    public ulong LockOwner;

    /// <summary>Open flags (<c>O_*</c>) of the file (7.9+).</summary>
    public uint Flags;

    private uint _padding;
}

/// <summary>
/// Argument of <see cref="FuseOpcode.Write"/>, followed by the data (C <c>struct fuse_write_in</c>, 40 bytes;
/// 24 bytes (<see cref="FuseConstants.CompatWriteInSize"/>) before 7.9).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseWriteIn
{
    /// <summary>Size of this structure in bytes (named <c>StructSize</c> because the C field <c>size</c> takes <c>Size</c>).</summary>
    public const int StructSize = 40;

    /// <summary>File handle.</summary>
    public ulong Fh;

    /// <summary>Byte offset.</summary>
    public ulong Offset;

    /// <summary>Number of data bytes that follow.</summary>
    public uint Size;

    /// <summary>Write flags, <see cref="FuseWriteFlags"/>.</summary>
    public uint WriteFlags;

    /// <summary>Lock owner, valid with <see cref="FuseWriteFlags.LockOwner"/> (7.9+).</summary>
    public ulong LockOwner;

    /// <summary>Open flags (<c>O_*</c>) of the file (7.9+).</summary>
    public uint Flags;

    private uint _padding;
}

/// <summary>Reply of <see cref="FuseOpcode.Write"/> and <see cref="FuseOpcode.CopyFileRange"/> (C <c>struct fuse_write_out</c>, 8 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseWriteOut
{
    /// <summary>Size of this structure in bytes (named <c>StructSize</c> because the C field <c>size</c> takes <c>Size</c>).</summary>
    public const int StructSize = 8;

    /// <summary>Number of bytes written.</summary>
    public uint Size;

    private uint _padding;
}

/// <summary>Argument of <see cref="FuseOpcode.Fsync"/> and <see cref="FuseOpcode.FsyncDir"/> (C <c>struct fuse_fsync_in</c>, 16 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseFsyncIn
{
    /// <summary>Size of this structure in bytes.</summary>
    public const int Size = 16;

    /// <summary>File handle.</summary>
    public ulong Fh;

    /// <summary>Sync flags, <see cref="FuseFsyncFlags"/>.</summary>
    public uint FsyncFlags;

    private uint _padding;
}

/// <summary>Argument of <see cref="FuseOpcode.Access"/> (C <c>struct fuse_access_in</c>, 8 bytes, 7.3+).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseAccessIn
{
    /// <summary>Size of this structure in bytes.</summary>
    public const int Size = 8;

    /// <summary>Access mask (<c>R_OK</c>, <c>W_OK</c>, <c>X_OK</c>, <c>F_OK</c>).</summary>
    public uint Mask;

    private uint _padding;
}

/// <summary>Argument of <see cref="FuseOpcode.Fallocate"/> (C <c>struct fuse_fallocate_in</c>, 32 bytes, 7.19+).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseFallocateIn
{
    /// <summary>Size of this structure in bytes.</summary>
    public const int Size = 32;

    /// <summary>File handle.</summary>
    public ulong Fh;

    /// <summary>Start of the range.</summary>
    public ulong Offset;

    /// <summary>Length of the range.</summary>
    public ulong Length;

    /// <summary>Linux <c>fallocate</c> mode (<c>FALLOC_FL_*</c>).</summary>
    public uint Mode;

    private uint _padding;
}

/// <summary>Argument of <see cref="FuseOpcode.Lseek"/> (C <c>struct fuse_lseek_in</c>, 24 bytes, 7.24+).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseLseekIn
{
    /// <summary>Size of this structure in bytes.</summary>
    public const int Size = 24;

    /// <summary>File handle.</summary>
    public ulong Fh;

    /// <summary>Starting offset.</summary>
    public ulong Offset;

    /// <summary>Seek mode (<c>SEEK_DATA</c> = 3, <c>SEEK_HOLE</c> = 4, ...).</summary>
    public uint Whence;

    private uint _padding;
}

/// <summary>Reply of <see cref="FuseOpcode.Lseek"/> (C <c>struct fuse_lseek_out</c>, 8 bytes, 7.24+).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseLseekOut
{
    /// <summary>Size of this structure in bytes.</summary>
    public const int Size = 8;

    /// <summary>Resulting offset.</summary>
    public ulong Offset;
}

/// <summary>
/// Argument of <see cref="FuseOpcode.CopyFileRange"/> and <see cref="FuseOpcode.CopyFileRange64"/>
/// (C <c>struct fuse_copy_file_range_in</c>, 56 bytes, 7.28+). The source inode is the request's node id.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseCopyFileRangeIn
{
    /// <summary>Size of this structure in bytes.</summary>
    public const int Size = 56;

    /// <summary>Source file handle.</summary>
    public ulong FhIn;

    /// <summary>Source offset.</summary>
    public ulong OffIn;

    /// <summary>Node id of the destination inode.</summary>
    public ulong NodeidOut;

    /// <summary>Destination file handle.</summary>
    public ulong FhOut;

    /// <summary>Destination offset.</summary>
    public ulong OffOut;

    /// <summary>Number of bytes to copy.</summary>
    public ulong Len;

    /// <summary>Copy flags (currently always 0).</summary>
    public ulong Flags;
}

/// <summary>Reply of <see cref="FuseOpcode.CopyFileRange64"/> (C <c>struct fuse_copy_file_range_out</c>, 8 bytes, 7.45+).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseCopyFileRangeOut
{
    /// <summary>Size of this structure in bytes.</summary>
    public const int Size = 8;

    /// <summary>Number of bytes copied.</summary>
    public ulong BytesCopied;
}
