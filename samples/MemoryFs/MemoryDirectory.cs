using VirtioFs.Protocol;

namespace VirtioFs.Samples.MemoryFs;

/// <summary>One name in a directory.</summary>
/// <remarks><see cref="Cookie"/> is the READDIR offset just after this entry; it is never reused within the directory.</remarks>
internal sealed class DirectoryEntry(byte[] name, ulong cookie, MemoryNode node)
{
    public byte[] Name { get; } = name;

    public ulong Cookie { get; } = cookie;

    public MemoryNode Node { get; set; } = node;

    /// <summary>Set when the entry leaves the directory; it stays in the ordered list until the next compaction.</summary>
    public bool Removed { get; set; }
}

/// <summary>A directory: entries by name, plus the same entries in cookie order for READDIR.</summary>
/// <remarks>
/// Every entry gets the next value of a per-directory counter as its cookie, so a listing resumed at an offset sees
/// exactly the entries added after it and those not yet reached, whatever was removed meanwhile. Offsets 1 and 2 are
/// the cookies of "." and "..".
/// </remarks>
internal sealed class MemoryDirectory : MemoryNode
{
    /// <summary>The cookie of "..", after which the real entries start.</summary>
    public const ulong DotDotCookie = 2;

    // tmpfs reports 20 bytes per entry (BOGO_DIRENT_SIZE), "." and ".." included; mimic it so sizes look familiar.
    private const int BytesPerEntry = 20;

    private const int CompactionThreshold = 64;

    private readonly Dictionary<byte[], DirectoryEntry> _byName = new(ByteNameComparer.Instance);
    private readonly List<DirectoryEntry> _ordered = [];
    private int _removedInOrdered;
    private ulong _nextCookie = DotDotCookie + 1;

    public MemoryDirectory(ulong id, NodeOwner owner, Timestamp now, MemoryDirectory? parent)
        : base(id, owner, now)
    {
        Parent = parent ?? this;
    }

    /// <summary>The directory ".." names; the root is its own parent. Kept (stale) after the directory is removed.</summary>
    public MemoryDirectory Parent { get; private set; }

    public int Count => _byName.Count;

    public int SubdirectoryCount { get; private set; }

    /// <summary>Whether the directory still has a name; nothing can be created in a removed directory.</summary>
    public bool IsLive => LinkCount != 0;

    /// <summary>Its own "." and its entry in the parent, plus each subdirectory's "..". Zero once removed.</summary>
    public override uint Nlink => IsLive ? 2 + (uint)SubdirectoryCount : 0;

    public override ulong Size => (ulong)(Count + 2) * BytesPerEntry;

    /// <summary>Entries in cookie order, including removed ones (skip <see cref="DirectoryEntry.Removed"/>).</summary>
    public IReadOnlyList<DirectoryEntry> Ordered => _ordered;

    public DirectoryEntry? Find(ReadOnlySpan<byte> name)
        => _byName.GetAlternateLookup<ReadOnlySpan<byte>>().TryGetValue(name, out DirectoryEntry? entry) ? entry : null;

    /// <summary>Adds a new name (the caller checked that it is free), counting the link.</summary>
    public void Add(ReadOnlySpan<byte> name, MemoryNode node)
    {
        var entry = new DirectoryEntry(name.ToArray(), _nextCookie++, node);
        _byName.Add(entry.Name, entry);
        _ordered.Add(entry);
        Attach(node);
    }

    /// <summary>Removes a name, uncounting the link.</summary>
    public void Remove(DirectoryEntry entry)
    {
        Detach(entry.Node);
        _byName.Remove(entry.Name);
        entry.Removed = true;
        if (++_removedInOrdered >= CompactionThreshold && _removedInOrdered * 2 >= _ordered.Count)
        {
            _ordered.RemoveAll(e => e.Removed);
            _removedInOrdered = 0;
        }
    }

    /// <summary>Points an existing name at another node (rename over a target, exchange), keeping its cookie.</summary>
    public void Replace(DirectoryEntry entry, MemoryNode node)
    {
        Detach(entry.Node);
        entry.Node = node;
        Attach(node);
    }

    /// <summary>The position in <see cref="Ordered"/> of the first entry whose cookie is greater than <paramref name="offset"/>.</summary>
    public int IndexAfter(ulong offset)
    {
        int low = 0;
        int high = _ordered.Count;
        while (low < high)
        {
            int middle = low + ((high - low) / 2);
            if (_ordered[middle].Cookie <= offset)
            {
                low = middle + 1;
            }
            else
            {
                high = middle;
            }
        }

        return low;
    }

    /// <summary>Whether this directory is <paramref name="ancestor"/> or lies below it.</summary>
    public bool IsWithin(MemoryDirectory ancestor)
    {
        for (MemoryDirectory directory = this; ; directory = directory.Parent)
        {
            if (directory == ancestor)
            {
                return true;
            }

            if (directory.Parent == directory)
            {
                return false;
            }
        }
    }

    private void Attach(MemoryNode node)
    {
        node.LinkCount++;
        if (node is MemoryDirectory child)
        {
            child.Parent = this;
            SubdirectoryCount++;
        }
    }

    private void Detach(MemoryNode node)
    {
        node.LinkCount--;
        if (node is MemoryDirectory)
        {
            SubdirectoryCount--;
        }
    }
}
