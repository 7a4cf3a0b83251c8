using System.Runtime.InteropServices;

namespace VirtioFs.Protocol;

#pragma warning disable CS0169 // ABI padding fields are never used

/// <summary>
/// Header in front of every request sent by the kernel (C <c>struct fuse_in_header</c>, 40 bytes).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseInHeader
{
    /// <summary>Size of this structure in bytes.</summary>
    public const int Size = 40;

    /// <summary>Total request length in bytes, this header, the arguments and any extensions included.</summary>
    public uint Len;

    /// <summary>Request opcode (<see cref="FuseOpcode"/>).</summary>
    public uint Opcode;

    /// <summary>Request id echoed in the reply; bit 63 is <see cref="FuseConstants.UniqueResend"/> on resent requests (7.40+).</summary>
    public ulong Unique;

    /// <summary>Node id of the inode the request applies to.</summary>
    public ulong Nodeid;

    /// <summary>User id of the calling process (<see cref="FuseConstants.InvalidUidGid"/> when it cannot be idmapped).</summary>
    public uint Uid;

    /// <summary>Group id of the calling process (<see cref="FuseConstants.InvalidUidGid"/> when it cannot be idmapped).</summary>
    public uint Gid;

    /// <summary>Thread group id of the calling process.</summary>
    public uint Pid;

    /// <summary>Length of the request extensions at the end of the request, in 8-byte units (7.38+; padding before).</summary>
    public ushort TotalExtlen;

    private ushort _padding;
}

/// <summary>
/// Header in front of every reply and notification sent by the server (C <c>struct fuse_out_header</c>, 16 bytes).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseOutHeader
{
    /// <summary>Size of this structure in bytes.</summary>
    public const int Size = 16;

    /// <summary>Total message length in bytes, this header included.</summary>
    public uint Len;

    /// <summary>Zero or a negated errno for replies; the <see cref="FuseNotifyCode"/> for notifications.</summary>
    public int Error;

    /// <summary>The <see cref="FuseInHeader.Unique"/> of the request answered, or zero for a notification.</summary>
    public ulong Unique;
}

/// <summary>
/// Header of one request extension (C <c>struct fuse_ext_header</c>, 8 bytes, 7.38+). Shares its layout with
/// <see cref="FuseSecctxHeader"/>; types above <see cref="FuseConstants.MaxNrSecctx"/> are extensions.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseExtHeader
{
    /// <summary>Size of this structure in bytes (named <c>StructSize</c> because the C field <c>size</c> takes <c>Size</c>).</summary>
    public const int StructSize = 8;

    /// <summary>Size of the extension in bytes, this header included (a multiple of 8).</summary>
    public uint Size;

    /// <summary>Extension type (<see cref="FuseExtensionType"/>).</summary>
    public uint Type;
}

/// <summary>
/// Header of the security-context extension (C <c>struct fuse_secctx_header</c>, 8 bytes, 7.36+ with
/// <see cref="FuseInitFlags.SecurityCtx"/>); followed by <see cref="NrSecctx"/> <see cref="FuseSecctx"/> records.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseSecctxHeader
{
    /// <summary>Size of this structure in bytes (named <c>StructSize</c> because the C field <c>size</c> takes <c>Size</c>).</summary>
    public const int StructSize = 8;

    /// <summary>Total size of all security contexts in bytes, this header included.</summary>
    public uint Size;

    /// <summary>Number of <see cref="FuseSecctx"/> records that follow (at most <see cref="FuseConstants.MaxNrSecctx"/>).</summary>
    public uint NrSecctx;
}

/// <summary>
/// One security context (C <c>struct fuse_secctx</c>, 8 bytes, 7.36+); followed by the NUL-terminated
/// context name and then <see cref="Size"/> bytes of context label.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseSecctx
{
    /// <summary>Size of this structure in bytes (named <c>StructSize</c> because the C field <c>size</c> takes <c>Size</c>).</summary>
    public const int StructSize = 8;

    /// <summary>Length of the context label in bytes.</summary>
    public uint Size;

    private uint _padding;
}

/// <summary>
/// Fixed part of the supplementary groups extension (C <c>struct fuse_supp_groups</c>, 4 bytes, 7.38+);
/// followed by <see cref="NrGroups"/> 32-bit group ids.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseSuppGroups
{
    /// <summary>Size of the fixed part in bytes.</summary>
    public const int Size = 4;

    /// <summary>Number of group ids that follow.</summary>
    public uint NrGroups;
}
