namespace VirtioFs.Dax;

/// <summary>
/// Everything the allocator knows about one window range, kept in one array indexed by range so that lists and
/// per-inode indexes link ranges by index and never allocate nodes.
/// </summary>
/// <remarks>
/// Fields have one guardian each: <see cref="Prev"/>, <see cref="Next"/> and <see cref="List"/> the allocator's list
/// lock; <see cref="Owner"/>, <see cref="NodeId"/>, <see cref="FileKey"/>, <see cref="Writable"/>,
/// <see cref="LastAccess"/> and the index links the owning inode's lock (a range moves between owners only through
/// the free list, whose lock orders the hand-over). <see cref="Pins"/> rises only under the owner's lock and falls
/// anywhere, atomically, so a reclaimer that sees 0 under the owner's lock and unlinks the range cannot race a pin.
/// </remarks>
internal struct RangeSlot
{
    public DaxInode? Owner;
    public ulong NodeId;
    public ulong FileKey;
    public bool Writable;
    public int Pins;
    public long LastAccess;

    public int Prev;
    public int Next;
    public RangeList List;

    public int Left;
    public int Right;
    public int Priority;
}

internal enum RangeList : byte
{
    /// <summary>Taken off a list: being set up, or reclaimed directly for its own inode.</summary>
    None,
    Free,
    Busy,
}

/// <summary>
/// A per-inode index from file range (<see cref="RangeSlot.FileKey"/> = file offset / range size, i.e. the interval
/// [key * size, (key + 1) * size)) to window range: a treap threaded through <see cref="RangeSlot.Left"/> and
/// <see cref="RangeSlot.Right"/> with fixed random priorities, so lookups, inserts and removals take expected O(log n)
/// and allocate nothing. Ranges are fixed and aligned, so intervals never overlap and a point lookup is a key search.
/// </summary>
internal static class RangeIndex
{
    public static int Find(RangeSlot[] slots, int root, ulong key)
    {
        while (root >= 0)
        {
            ref RangeSlot node = ref slots[root];
            if (key == node.FileKey)
            {
                return root;
            }

            root = key < node.FileKey ? node.Left : node.Right;
        }

        return -1;
    }

    /// <summary>Inserts <paramref name="node"/>, whose key must be absent; returns the new root.</summary>
    public static int Insert(RangeSlot[] slots, int root, int node)
    {
        ref RangeSlot n = ref slots[node];
        if (root < 0)
        {
            n.Left = -1;
            n.Right = -1;
            return node;
        }

        ref RangeSlot r = ref slots[root];
        if (n.Priority > r.Priority)
        {
            Split(slots, root, n.FileKey, out int left, out int right);
            n.Left = left;
            n.Right = right;
            return node;
        }

        if (n.FileKey < r.FileKey)
        {
            r.Left = Insert(slots, r.Left, node);
        }
        else
        {
            r.Right = Insert(slots, r.Right, node);
        }

        return root;
    }

    /// <summary>Removes the node with <paramref name="key"/> (if any); returns the new root.</summary>
    public static int Remove(RangeSlot[] slots, int root, ulong key)
    {
        if (root < 0)
        {
            return -1;
        }

        ref RangeSlot r = ref slots[root];
        if (key == r.FileKey)
        {
            int merged = Merge(slots, r.Left, r.Right);
            r.Left = -1;
            r.Right = -1;
            return merged;
        }

        if (key < r.FileKey)
        {
            r.Left = Remove(slots, r.Left, key);
        }
        else
        {
            r.Right = Remove(slots, r.Right, key);
        }

        return root;
    }

    /// <summary>Writes the ranges in file order into <paramref name="destination"/> from <paramref name="count"/>; returns the new count.</summary>
    public static int CopyInOrder(RangeSlot[] slots, int root, Span<int> destination, int count)
    {
        while (root >= 0)
        {
            count = CopyInOrder(slots, slots[root].Left, destination, count);
            destination[count++] = root;
            root = slots[root].Right;
        }

        return count;
    }

    private static void Split(RangeSlot[] slots, int root, ulong key, out int left, out int right)
    {
        if (root < 0)
        {
            left = -1;
            right = -1;
            return;
        }

        ref RangeSlot r = ref slots[root];
        if (r.FileKey < key)
        {
            Split(slots, r.Right, key, out int lower, out right);
            r.Right = lower;
            left = root;
        }
        else
        {
            Split(slots, r.Left, key, out left, out int upper);
            r.Left = upper;
            right = root;
        }
    }

    private static int Merge(RangeSlot[] slots, int left, int right)
    {
        if (left < 0)
        {
            return right;
        }

        if (right < 0)
        {
            return left;
        }

        if (slots[left].Priority > slots[right].Priority)
        {
            slots[left].Right = Merge(slots, slots[left].Right, right);
            return left;
        }

        slots[right].Left = Merge(slots, left, slots[right].Left);
        return right;
    }
}
