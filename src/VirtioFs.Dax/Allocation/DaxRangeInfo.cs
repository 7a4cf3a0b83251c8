namespace VirtioFs.Dax;

/// <summary>What a reclaim policy may know about one range.</summary>
public readonly struct DaxRangeInfo
{
    internal DaxRangeInfo(int index, long windowOffset, ulong nodeId, ulong fileOffset, bool writable, bool isPinned, long lastAccess)
    {
        Index = index;
        WindowOffset = windowOffset;
        NodeId = nodeId;
        FileOffset = fileOffset;
        Writable = writable;
        IsPinned = isPinned;
        LastAccess = lastAccess;
    }

    /// <summary>The range's index in the window (its window offset divided by the range size).</summary>
    public int Index { get; }

    /// <summary>The range's window offset.</summary>
    public long WindowOffset { get; }

    /// <summary>The node whose file the range maps.</summary>
    public ulong NodeId { get; }

    /// <summary>The file offset the range maps (a multiple of the range size).</summary>
    public ulong FileOffset { get; }

    /// <summary>Whether the mapping is writable.</summary>
    public bool Writable { get; }

    /// <summary>Whether someone uses the range right now; a pinned range is never reclaimed.</summary>
    public bool IsPinned { get; }

    /// <summary>A <see cref="TimeProvider.GetTimestamp"/> value: the last acquisition when the policy
    /// <see cref="IDaxReclaimPolicy.TracksAccess">tracks access</see>, else the time the range was mapped.</summary>
    public long LastAccess { get; }
}

/// <summary>
/// The ranges a policy chooses from, enumerated without allocating: the busy list oldest first for background
/// reclaim, or one inode's ranges in file order for direct reclaim. Valid only during
/// <see cref="IDaxReclaimPolicy.SelectVictim"/>.
/// </summary>
public readonly ref struct DaxReclaimCandidates
{
    private readonly RangeSlot[] _slots;
    private readonly ReadOnlySpan<int> _indices;
    private readonly int _head;
    private readonly long _rangeSize;

    private DaxReclaimCandidates(RangeSlot[] slots, ReadOnlySpan<int> indices, int head, int count, long rangeSize)
    {
        _slots = slots;
        _indices = indices;
        _head = head;
        Count = count;
        _rangeSize = rangeSize;
    }

    /// <summary>How many candidates there are.</summary>
    public int Count { get; }

    /// <summary>Whether these are one inode's ranges (direct reclaim) rather than the whole busy list.</summary>
    public bool IsDirect => _head < 0 && Count > 0;

    /// <summary>Returns an enumerator over the candidates.</summary>
    /// <returns>The enumerator.</returns>
    public Enumerator GetEnumerator() => new(this);

    internal static DaxReclaimCandidates FromList(RangeSlot[] slots, int head, int count, long rangeSize)
        => new(slots, default, head, count, rangeSize);

    internal static DaxReclaimCandidates FromIndices(RangeSlot[] slots, ReadOnlySpan<int> indices, long rangeSize)
        => new(slots, indices, -1, indices.Length, rangeSize);

    internal DaxRangeInfo Info(int index)
    {
        ref RangeSlot slot = ref _slots[index];
        return new DaxRangeInfo(index, index * _rangeSize, slot.NodeId, slot.FileKey * (ulong)_rangeSize, slot.Writable, Volatile.Read(ref slot.Pins) != 0, slot.LastAccess);
    }

    /// <summary>Enumerates <see cref="DaxReclaimCandidates"/>.</summary>
    public ref struct Enumerator
    {
        private readonly DaxReclaimCandidates _candidates;
        private int _position;
        private int _current;

        internal Enumerator(DaxReclaimCandidates candidates)
        {
            _candidates = candidates;
            _position = -1;
            _current = -1;
        }

        /// <summary>The current candidate.</summary>
        public readonly DaxRangeInfo Current => _candidates.Info(_current);

        /// <summary>Moves to the next candidate.</summary>
        /// <returns>False past the last one.</returns>
        public bool MoveNext()
        {
            _position++;
            if (_position >= _candidates.Count)
            {
                return false;
            }

            if (_candidates._head < 0)
            {
                _current = _candidates._indices[_position];
            }
            else
            {
                _current = _position == 0 ? _candidates._head : _candidates._slots[_current].Next;
            }

            return _current >= 0;
        }
    }
}
