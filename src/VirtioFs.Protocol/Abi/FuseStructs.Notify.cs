using System.Runtime.InteropServices;

namespace VirtioFs.Protocol;

#pragma warning disable CS0169 // ABI padding fields are never used

/// <summary>Payload of <see cref="FuseNotifyCode.Poll"/> (C <c>struct fuse_notify_poll_wakeup_out</c>, 8 bytes, 7.11+).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseNotifyPollWakeupOut
{
    /// <summary>Size of this structure in bytes.</summary>
    public const int Size = 8;

    /// <summary>Kernel poll handle from <see cref="FusePollIn.Kh"/>.</summary>
    public ulong Kh;
}

/// <summary>Payload of <see cref="FuseNotifyCode.InvalInode"/> (C <c>struct fuse_notify_inval_inode_out</c>, 24 bytes, 7.12+).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseNotifyInvalInodeOut
{
    /// <summary>Size of this structure in bytes.</summary>
    public const int Size = 24;

    /// <summary>Node id of the inode.</summary>
    public ulong Ino;

    /// <summary>Start of the data range to invalidate; negative invalidates attributes only.</summary>
    public long Off;

    /// <summary>Length of the range; 0 or less means to end of file.</summary>
    public long Len;
}

/// <summary>
/// Payload of <see cref="FuseNotifyCode.InvalEntry"/>, followed by the NUL-terminated name
/// (C <c>struct fuse_notify_inval_entry_out</c>, 16 bytes, 7.12+).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseNotifyInvalEntryOut
{
    /// <summary>Size of this structure in bytes.</summary>
    public const int Size = 16;

    /// <summary>Node id of the parent directory.</summary>
    public ulong Parent;

    /// <summary>Name length in bytes, without terminator.</summary>
    public uint Namelen;

    /// <summary>Flags, <see cref="FuseNotifyInvalEntryFlags"/> (7.38+; padding before).</summary>
    public uint Flags;
}

/// <summary>
/// Payload of <see cref="FuseNotifyCode.Delete"/>, followed by the NUL-terminated name
/// (C <c>struct fuse_notify_delete_out</c>, 24 bytes, 7.18+).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseNotifyDeleteOut
{
    /// <summary>Size of this structure in bytes.</summary>
    public const int Size = 24;

    /// <summary>Node id of the parent directory.</summary>
    public ulong Parent;

    /// <summary>Node id of the deleted child.</summary>
    public ulong Child;

    /// <summary>Name length in bytes, without terminator.</summary>
    public uint Namelen;

    private uint _padding;
}

/// <summary>
/// Payload of <see cref="FuseNotifyCode.Store"/>, followed by <see cref="Size"/> data bytes
/// (C <c>struct fuse_notify_store_out</c>, 24 bytes, 7.15+).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseNotifyStoreOut
{
    /// <summary>Size of this structure in bytes (named <c>StructSize</c> because the C field <c>size</c> takes <c>Size</c>).</summary>
    public const int StructSize = 24;

    /// <summary>Node id of the inode.</summary>
    public ulong Nodeid;

    /// <summary>File offset of the data.</summary>
    public ulong Offset;

    /// <summary>Number of data bytes.</summary>
    public uint Size;

    private uint _padding;
}

/// <summary>Payload of <see cref="FuseNotifyCode.Retrieve"/> (C <c>struct fuse_notify_retrieve_out</c>, 32 bytes, 7.15+).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseNotifyRetrieveOut
{
    /// <summary>Size of this structure in bytes (named <c>StructSize</c> because the C field <c>size</c> takes <c>Size</c>).</summary>
    public const int StructSize = 32;

    /// <summary>Id chosen by the server; comes back as the <see cref="FuseOpcode.NotifyReply"/> request's unique.</summary>
    public ulong NotifyUnique;

    /// <summary>Node id of the inode.</summary>
    public ulong Nodeid;

    /// <summary>File offset to retrieve from.</summary>
    public ulong Offset;

    /// <summary>Number of bytes to retrieve.</summary>
    public uint Size;

    private uint _padding;
}

/// <summary>
/// Argument of the <see cref="FuseOpcode.NotifyReply"/> request answering a retrieve, followed by the data
/// (C <c>struct fuse_notify_retrieve_in</c>, 40 bytes, the size of <see cref="FuseWriteIn"/>).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseNotifyRetrieveIn
{
    /// <summary>Size of this structure in bytes (named <c>StructSize</c> because the C field <c>size</c> takes <c>Size</c>).</summary>
    public const int StructSize = 40;

    private ulong _dummy1;

    /// <summary>File offset of the data.</summary>
    public ulong Offset;

    /// <summary>Number of data bytes that follow.</summary>
    public uint Size;

    private uint _dummy2;

    private ulong _dummy3;

    private ulong _dummy4;
}

/// <summary>
/// Payload of <see cref="FuseNotifyCode.Prune"/>, followed by <see cref="Count"/> 64-bit node ids
/// (C <c>struct fuse_notify_prune_out</c>, 16 bytes, 7.45+).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseNotifyPruneOut
{
    /// <summary>Size of this structure in bytes.</summary>
    public const int Size = 16;

    /// <summary>Number of node ids that follow.</summary>
    public uint Count;

    private uint _padding;

    private ulong _spare;
}
