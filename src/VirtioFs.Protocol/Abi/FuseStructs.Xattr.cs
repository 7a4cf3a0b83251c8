using System.Runtime.InteropServices;

namespace VirtioFs.Protocol;

#pragma warning disable CS0169 // ABI padding fields are never used

/// <summary>
/// Argument of <see cref="FuseOpcode.SetXattr"/>, followed by the name and the value (C <c>struct fuse_setxattr_in</c>,
/// 16 bytes when <see cref="FuseInitFlags.SetxattrExt"/> was negotiated (7.33+), otherwise 8 bytes
/// (<see cref="FuseConstants.CompatSetxattrInSize"/>)).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseSetxattrIn
{
    /// <summary>Size of this structure in bytes (named <c>StructSize</c> because the C field <c>size</c> takes <c>Size</c>).</summary>
    public const int StructSize = 16;

    /// <summary>Length of the value in bytes.</summary>
    public uint Size;

    /// <summary><c>setxattr</c> flags (<c>XATTR_CREATE</c>, <c>XATTR_REPLACE</c>).</summary>
    public uint Flags;

    /// <summary>FUSE setxattr flags, <see cref="FuseSetXattrFlags"/> (extended form only).</summary>
    public uint SetxattrFlags;

    private uint _padding;
}

/// <summary>
/// Argument of <see cref="FuseOpcode.GetXattr"/> (followed by the name) and <see cref="FuseOpcode.ListXattr"/>
/// (C <c>struct fuse_getxattr_in</c>, 8 bytes).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseGetxattrIn
{
    /// <summary>Size of this structure in bytes (named <c>StructSize</c> because the C field <c>size</c> takes <c>Size</c>).</summary>
    public const int StructSize = 8;

    /// <summary>Size of the caller's buffer; 0 asks for the needed size only.</summary>
    public uint Size;

    private uint _padding;
}

/// <summary>
/// Reply of <see cref="FuseOpcode.GetXattr"/>/<see cref="FuseOpcode.ListXattr"/> when the request's size was 0
/// (C <c>struct fuse_getxattr_out</c>, 8 bytes).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseGetxattrOut
{
    /// <summary>Size of this structure in bytes (named <c>StructSize</c> because the C field <c>size</c> takes <c>Size</c>).</summary>
    public const int StructSize = 8;

    /// <summary>Size of the value (or name list) in bytes.</summary>
    public uint Size;

    private uint _padding;
}
