namespace VirtioFs.Protocol;

/// <summary>Linux directory entry types (<c>DT_*</c>) carried in <see cref="FuseDirent.Type"/>; equal to <c>(mode &amp; S_IFMT) &gt;&gt; 12</c>.</summary>
public enum FuseDirentType : uint
{
    /// <summary>Unknown type (<c>DT_UNKNOWN</c>).</summary>
    Unknown = 0,

    /// <summary>Named pipe (<c>DT_FIFO</c>).</summary>
    Fifo = 1,

    /// <summary>Character device (<c>DT_CHR</c>).</summary>
    Chr = 2,

    /// <summary>Directory (<c>DT_DIR</c>).</summary>
    Dir = 4,

    /// <summary>Block device (<c>DT_BLK</c>).</summary>
    Blk = 6,

    /// <summary>Regular file (<c>DT_REG</c>).</summary>
    Reg = 8,

    /// <summary>Symbolic link (<c>DT_LNK</c>).</summary>
    Lnk = 10,

    /// <summary>Socket (<c>DT_SOCK</c>).</summary>
    Sock = 12,
}
