namespace VirtioFs.Dax;

/// <summary>
/// Which window range maps which file range: non-overlapping extents sorted by window offset. Each extent holds its
/// own <see cref="DaxFileReference"/>. Not thread-safe: <see cref="DaxMappingServer"/> guards it with its lock.
/// </summary>
/// <remarks>There is no per-node index: a node's extents (for a host-side truncate or eviction) are found by a scan,
/// which costs no more than the list insertions every mapping request already makes, and keeps those requests from
/// maintaining a second structure.</remarks>
internal sealed class DaxMappingTable
{
    private readonly List<Extent> _extents = [];

    public int Count => _extents.Count;

    /// <summary>Whether any extent overlaps [<paramref name="start"/>, <paramref name="end"/>).</summary>
    public bool Overlaps(long start, long end)
    {
        int i = FirstEndingAfter(start);
        return i < _extents.Count && _extents[i].Start < end;
    }

    /// <summary>The parts of extents inside [<paramref name="start"/>, <paramref name="end"/>), clipped to it.</summary>
    public List<Extent> Clip(long start, long end)
    {
        var parts = new List<Extent>();
        for (int i = FirstEndingAfter(start); i < _extents.Count && _extents[i].Start < end; i++)
        {
            Extent e = _extents[i];
            long from = Math.Max(e.Start, start);
            long to = Math.Min(e.End, end);
            parts.Add(e with { Start = from, Length = to - from, FileOffset = e.FileOffset + (from - e.Start) });
        }

        return parts;
    }

    /// <summary>Removes [<paramref name="start"/>, <paramref name="end"/>) from the table, splitting extents that
    /// straddle its edges; references of what is gone are released.</summary>
    public void Carve(long start, long end)
    {
        int i = FirstEndingAfter(start);
        while (i < _extents.Count && _extents[i].Start < end)
        {
            Extent e = _extents[i];
            _extents.RemoveAt(i);
            int pieces = 0;
            if (e.Start < start)
            {
                _extents.Insert(i++, e with { Length = start - e.Start });
                pieces++;
            }

            if (e.End > end)
            {
                _extents.Insert(i++, e with { Start = end, Length = e.End - end, FileOffset = e.FileOffset + (end - e.Start) });
                pieces++;
            }

            // The removed extent's reference passes to its first piece; a second piece needs one more.
            if (pieces == 0)
            {
                e.File.Release();
            }
            else if (pieces == 2)
            {
                e.File.AddReference();
            }
        }
    }

    /// <summary>Adds an extent over a range <see cref="Carve"/> has cleared; the table takes over one reference of <see cref="Extent.File"/>.</summary>
    public void Add(Extent extent)
    {
        int i = FirstEndingAfter(extent.Start);
        if (i < _extents.Count && _extents[i].Start < extent.End)
        {
            throw new InvalidOperationException("DAX mapping table extents overlap.");
        }

        _extents.Insert(i, extent);
    }

    /// <summary>Empties the table, releasing every reference.</summary>
    public void Clear()
    {
        foreach (Extent e in _extents)
        {
            e.File.Release();
        }

        _extents.Clear();
    }

    public DaxMapping[] Snapshot()
    {
        var result = new DaxMapping[_extents.Count];
        for (int i = 0; i < result.Length; i++)
        {
            result[i] = _extents[i].ToMapping();
        }

        return result;
    }

    public DaxMapping[] Snapshot(ulong nodeId)
    {
        int count = 0;
        foreach (Extent e in _extents)
        {
            if (e.NodeId == nodeId)
            {
                count++;
            }
        }

        if (count == 0)
        {
            return [];
        }

        var result = new DaxMapping[count];
        int n = 0;
        foreach (Extent e in _extents)
        {
            if (e.NodeId == nodeId)
            {
                result[n++] = e.ToMapping();
            }
        }

        return result;
    }

    /// <summary>The index of the first extent whose end is past <paramref name="offset"/> (extents are sorted and disjoint, so ends are sorted too).</summary>
    private int FirstEndingAfter(long offset)
    {
        int lo = 0, hi = _extents.Count;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (_extents[mid].End <= offset)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }

        return lo;
    }

    /// <summary>A mapped window range [<see cref="Start"/>, <see cref="End"/>).</summary>
    internal sealed record Extent(long Start, long Length, ulong NodeId, long FileOffset, bool Writable, DaxFileReference File)
    {
        public long End => Start + Length;

        public DaxMapping ToMapping() => new(Start, Length, NodeId, FileOffset, Writable);
    }
}
