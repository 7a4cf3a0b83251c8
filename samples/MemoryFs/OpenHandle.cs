namespace VirtioFs.Samples.MemoryFs;

/// <summary>An open file or directory: what a FUSE file handle (<c>fh</c>) stands for.</summary>
internal sealed class OpenHandle(ulong id, MemoryNode node, uint flags)
{
    public ulong Id { get; } = id;

    public MemoryNode Node { get; } = node;

    /// <summary>The <c>open(2)</c> flags the handle was opened with.</summary>
    public uint Flags { get; } = flags;

    public bool IsAppend => (Flags & OpenFlags.Append) != 0;

    /// <summary>Whether the access mode permits <paramref name="access"/>, as the kernel would check on a file descriptor.</summary>
    public bool Allows(FileAccess access)
    {
        FileAccess granted = (Flags & OpenFlags.AccessMode) switch
        {
            OpenFlags.ReadOnly => FileAccess.Read,
            OpenFlags.WriteOnly => FileAccess.Write,
            OpenFlags.ReadWrite => FileAccess.ReadWrite,
            _ => 0,
        };
        return (granted & access) == access;
    }
}
