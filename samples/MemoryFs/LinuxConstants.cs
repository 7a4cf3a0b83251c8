namespace VirtioFs.Samples.MemoryFs;

// Linux values of the POSIX constants the FUSE wire carries; FUSE always speaks Linux numbers, whatever the host.

/// <summary><c>open(2)</c> flags.</summary>
internal static class OpenFlags
{
    public const uint AccessMode = 3;      // O_ACCMODE
    public const uint ReadOnly = 0;        // O_RDONLY
    public const uint WriteOnly = 1;       // O_WRONLY
    public const uint ReadWrite = 2;       // O_RDWR
    public const uint Exclusive = 0x80;    // O_EXCL
    public const uint Truncate = 0x200;    // O_TRUNC
    public const uint Append = 0x400;      // O_APPEND
}

/// <summary>Permission and special bits of <c>st_mode</c>.</summary>
internal static class ModeBits
{
    public const uint SetUid = 0x800;      // S_ISUID (04000)
    public const uint SetGid = 0x400;      // S_ISGID (02000)
    public const uint Sticky = 0x200;      // S_ISVTX (01000)
    public const uint Permissions = 0x1FF; // S_IRWXUGO (0777)
    public const uint All = 0xFFF;         // 07777
    public const uint AnyExecute = 0x49;   // S_IXUGO (0111)
    public const uint GroupExecute = 0x8;  // S_IXGRP (0010)
}

/// <summary><c>access(2)</c> mask bits.</summary>
internal static class AccessMode
{
    public const uint Execute = 1;         // X_OK
    public const uint Write = 2;           // W_OK
    public const uint Read = 4;            // R_OK
    public const uint All = 7;
}

/// <summary><c>setxattr(2)</c> flags and limits.</summary>
internal static class XattrFlags
{
    public const uint Create = 1;          // XATTR_CREATE
    public const uint Replace = 2;         // XATTR_REPLACE
    public const int NameMax = 255;        // XATTR_NAME_MAX
    public const int SizeMax = 65536;      // XATTR_SIZE_MAX
}

/// <summary><c>fallocate(2)</c> modes.</summary>
internal static class FallocateMode
{
    public const uint KeepSize = 0x1;      // FALLOC_FL_KEEP_SIZE
    public const uint PunchHole = 0x2;     // FALLOC_FL_PUNCH_HOLE
    public const uint ZeroRange = 0x10;    // FALLOC_FL_ZERO_RANGE
}

/// <summary><c>lseek(2)</c> whences.</summary>
internal static class SeekWhence
{
    public const uint Set = 0;             // SEEK_SET
    public const uint Current = 1;         // SEEK_CUR
    public const uint End = 2;             // SEEK_END
    public const uint Data = 3;            // SEEK_DATA
    public const uint Hole = 4;            // SEEK_HOLE
}

/// <summary><c>fcntl(2)</c> lock types.</summary>
internal static class LockType
{
    public const uint Read = 0;            // F_RDLCK
    public const uint Write = 1;           // F_WRLCK
    public const uint Unlock = 2;          // F_UNLCK
    public const ulong OffsetMax = long.MaxValue; // OFFSET_MAX: "to end of file"
}

/// <summary>Path limits.</summary>
internal static class PathLimits
{
    public const int NameMax = 255;        // NAME_MAX
    public const int PathMax = 4096;       // PATH_MAX, including the NUL
}
