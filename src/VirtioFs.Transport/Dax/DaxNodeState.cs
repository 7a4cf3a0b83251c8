using VirtioFs.Dax;

namespace VirtioFs.Transport;

/// <summary>What a <see cref="FuseDaxClient"/> knows of one node: its size, its size lock, open files and lookups.</summary>
internal sealed class DaxNodeState(ulong nodeId, DaxInode inode)
{
    private long _size;

    public ulong NodeId { get; } = nodeId;

    public DaxInode Inode { get; set; } = inode;

    public DaxSizeGate Gate { get; } = new();

    /// <summary>The size as last seen from GETATTR/LOOKUP/SETATTR and own writes. Changes only under the exclusive gate.</summary>
    public long Size
    {
        get => Volatile.Read(ref _size);
        set => Volatile.Write(ref _size, value);
    }

    /// <summary>Open files and lookups; guarded by the client's node table lock.</summary>
    public int OpenFiles { get; set; }

    public ulong Lookups { get; set; }
}
