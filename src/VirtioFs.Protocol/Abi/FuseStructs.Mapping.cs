using System.Runtime.InteropServices;

namespace VirtioFs.Protocol;

/// <summary>Argument of <see cref="FuseOpcode.SetupMapping"/> (C <c>struct fuse_setupmapping_in</c>, 40 bytes, 7.31+).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseSetupmappingIn
{
    /// <summary>Size of this structure in bytes.</summary>
    public const int Size = 40;

    /// <summary>Open file handle, or <see cref="FuseConstants.SetupMappingFhNone"/> to resolve by node id.</summary>
    public ulong Fh;

    /// <summary>File offset where the mapping starts.</summary>
    public ulong Foffset;

    /// <summary>Length of the mapping in bytes.</summary>
    public ulong Len;

    /// <summary>Mapping flags, <see cref="FuseSetupMappingFlags"/>.</summary>
    public ulong Flags;

    /// <summary>Offset in the DAX window.</summary>
    public ulong Moffset;
}

/// <summary>
/// Argument of <see cref="FuseOpcode.RemoveMapping"/>, followed by <see cref="Count"/> <see cref="FuseRemovemappingOne"/>
/// records (C <c>struct fuse_removemapping_in</c>, 4 bytes, 7.31+).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseRemovemappingIn
{
    /// <summary>Size of this structure in bytes.</summary>
    public const int Size = 4;

    /// <summary>Number of <see cref="FuseRemovemappingOne"/> records that follow.</summary>
    public uint Count;
}

/// <summary>One range to unmap from the DAX window (C <c>struct fuse_removemapping_one</c>, 16 bytes, 7.31+).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseRemovemappingOne
{
    /// <summary>Size of this structure in bytes.</summary>
    public const int Size = 16;

    /// <summary>Offset in the DAX window.</summary>
    public ulong Moffset;

    /// <summary>Length in bytes.</summary>
    public ulong Len;
}
