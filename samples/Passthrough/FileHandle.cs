using Microsoft.Win32.SafeHandles;

namespace VirtioFs.Samples.Passthrough;

/// <summary>An open file or directory: one host descriptor per client handle, so each client open file description
/// is one host open file description (offsets of directories, <c>flock</c> locks and <c>O_APPEND</c> behave as on the host).</summary>
internal sealed class FileHandle(Inode inode, SafeFileHandle fd, int flags)
{
    public Inode Inode { get; } = inode;

    public SafeFileHandle Fd { get; } = fd;

    /// <summary>The host open flags.</summary>
    public int Flags { get; } = flags;

    /// <summary>The <c>FUSE_PASSTHROUGH</c> backing id, or 0.</summary>
    public int BackingId { get; set; }

    /// <summary>A directory's listing state, or null for files.</summary>
    public DirectoryStream? Directory { get; init; }
}

/// <summary>
/// Where a directory handle's listing stands: the <c>getdents64</c> buffer and the offset (the host's own <c>d_off</c>
/// cookie) the descriptor is at. Entries that did not fit in a reply stay buffered for the next request.
/// </summary>
internal sealed class DirectoryStream
{
    public readonly Lock Lock = new();
    public readonly byte[] Buffer = new byte[32 * 1024];

    /// <summary>The offset of the next entry (the position <see cref="Buffer"/> continues from).</summary>
    public long Position;

    public int Start;
    public int End;
}
