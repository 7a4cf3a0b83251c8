using System.Runtime.InteropServices;

namespace VirtioFs.Protocol;

#pragma warning disable CS0169 // ABI padding fields are never used

/// <summary>A POSIX file lock range (C <c>struct fuse_file_lock</c>, 24 bytes, 7.7+).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseFileLock
{
    /// <summary>Size of this structure in bytes.</summary>
    public const int Size = 24;

    /// <summary>First byte of the range.</summary>
    public ulong Start;

    /// <summary>Last byte of the range, inclusive (<c>OFFSET_MAX</c> for "to end of file").</summary>
    public ulong End;

    /// <summary>Lock type (<c>F_RDLCK</c> = 0, <c>F_WRLCK</c> = 1, <c>F_UNLCK</c> = 2).</summary>
    public uint Type;

    /// <summary>Thread group id of the lock holder.</summary>
    public uint Pid;
}

/// <summary>
/// Argument of <see cref="FuseOpcode.GetLk"/>, <see cref="FuseOpcode.SetLk"/> and <see cref="FuseOpcode.SetLkw"/>
/// (C <c>struct fuse_lk_in</c>, 48 bytes; <see cref="LkFlags"/> exists from 7.9).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseLkIn
{
    /// <summary>Size of this structure in bytes.</summary>
    public const int Size = 48;

    /// <summary>File handle.</summary>
    public ulong Fh;

    /// <summary>Lock owner.</summary>
    public ulong Owner;

    /// <summary>The lock.</summary>
    public FuseFileLock Lk;

    /// <summary>Lock flags, <see cref="FuseLockFlags"/> (7.9+).</summary>
    public uint LkFlags;

    private uint _padding;
}

/// <summary>Reply of <see cref="FuseOpcode.GetLk"/> (C <c>struct fuse_lk_out</c>, 24 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseLkOut
{
    /// <summary>Size of this structure in bytes.</summary>
    public const int Size = 24;

    /// <summary>The conflicting lock, or the queried range with type <c>F_UNLCK</c>.</summary>
    public FuseFileLock Lk;
}
