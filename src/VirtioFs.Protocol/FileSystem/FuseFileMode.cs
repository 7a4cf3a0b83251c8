namespace VirtioFs.Protocol;

/// <summary>Helpers for Linux <c>st_mode</c> values as carried in <see cref="FuseAttr.Mode"/>.</summary>
public static class FuseFileMode
{
    /// <summary>The file-type bits of a mode (<c>S_IFMT</c>).</summary>
    public const uint TypeMask = 0xF000;
    /// <summary>Socket (<c>S_IFSOCK</c>).</summary>
    public const uint Socket = 0xC000;
    /// <summary>Symbolic link (<c>S_IFLNK</c>).</summary>
    public const uint SymbolicLink = 0xA000;
    /// <summary>Regular file (<c>S_IFREG</c>).</summary>
    public const uint RegularFile = 0x8000;
    /// <summary>Block device (<c>S_IFBLK</c>).</summary>
    public const uint BlockDevice = 0x6000;
    /// <summary>Directory (<c>S_IFDIR</c>).</summary>
    public const uint Directory = 0x4000;
    /// <summary>Character device (<c>S_IFCHR</c>).</summary>
    public const uint CharacterDevice = 0x2000;
    /// <summary>FIFO (<c>S_IFIFO</c>).</summary>
    public const uint Fifo = 0x1000;

    /// <summary>The directory-entry type of a mode (<c>IFTODT</c>).</summary>
    /// <param name="mode">An <c>st_mode</c> value.</param>
    /// <returns>The matching <see cref="FuseDirentType"/>.</returns>
    public static FuseDirentType ToDirentType(uint mode) => (FuseDirentType)((mode & TypeMask) >> 12);

    /// <summary>Whether a mode is of the given type.</summary>
    /// <param name="mode">An <c>st_mode</c> value.</param>
    /// <param name="type">One of the type constants of this class.</param>
    /// <returns>True when the type bits match.</returns>
    public static bool IsType(uint mode, uint type) => (mode & TypeMask) == type;
}
