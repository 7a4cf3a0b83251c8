namespace VirtioFs.Samples.MemoryFs;

/// <summary>
/// The contents of a regular file: fixed-size chunks keyed by chunk index, allocated on first write.
/// Missing chunks are holes and read as zeros, so a file can be terabytes long while holding only what was written.
/// </summary>
/// <remarks>
/// Invariant: every byte at or beyond <see cref="Length"/> is zero, allocated or not, so growing a file never exposes old data.
/// Not thread-safe: the filesystem serializes access.
/// </remarks>
internal sealed class SparseFileData
{
    public const int ChunkSize = 64 * 1024;

    /// <summary>The largest supported length; a whole number of chunks below 2^63, so chunk ends never overflow.</summary>
    public const long MaxLength = long.MaxValue / ChunkSize * ChunkSize;

    // SortedList: ordered keys for SEEK_DATA/SEEK_HOLE and hole punching; appends (sequential writes) are cheap.
    private readonly SortedList<long, byte[]> _chunks = [];
    private readonly StorageUsage _usage;

    public SparseFileData(StorageUsage usage)
    {
        _usage = usage;
    }

    public long Length { get; private set; }

    public int AllocatedChunks => _chunks.Count;

    /// <summary>Copies up to <paramref name="destination"/>'s length from <paramref name="offset"/>; short at end of file.</summary>
    public int Read(long offset, Span<byte> destination)
    {
        if (offset >= Length)
        {
            return 0;
        }

        int count = (int)Math.Min(destination.Length, Length - offset);
        Span<byte> rest = destination.Slice(0, count);
        while (!rest.IsEmpty)
        {
            (long index, int within) = Locate(offset);
            int n = Math.Min(ChunkSize - within, rest.Length);
            if (_chunks.TryGetValue(index, out byte[]? chunk))
            {
                chunk.AsSpan(within, n).CopyTo(rest);
            }
            else
            {
                rest.Slice(0, n).Clear();
            }

            rest = rest.Slice(n);
            offset += n;
        }

        return count;
    }

    /// <summary>Writes <paramref name="source"/> at <paramref name="offset"/>, extending the file; the caller checks <see cref="MaxLength"/>.</summary>
    public void Write(long offset, ReadOnlySpan<byte> source)
    {
        long end = offset + source.Length;
        while (!source.IsEmpty)
        {
            (long index, int within) = Locate(offset);
            int n = Math.Min(ChunkSize - within, source.Length);
            source.Slice(0, n).CopyTo(GetOrAddChunk(index).AsSpan(within, n));
            source = source.Slice(n);
            offset += n;
        }

        Length = Math.Max(Length, end);
    }

    /// <summary>Truncates or extends. Shrinking frees the chunks past the end and zeroes the tail of the last; growing leaves a hole.</summary>
    public void SetLength(long length)
    {
        if (length < Length)
        {
            // Also drops chunks preallocated past the old end (fallocate with KEEP_SIZE).
            Zero(length, MaxLength - length);
        }

        Length = length;
    }

    /// <summary>Allocates every chunk of a range (contents unchanged; new chunks are zeros). False when capacity would be exceeded.</summary>
    public bool Allocate(long offset, long count)
    {
        long first = offset / ChunkSize;
        long last = (offset + count - 1) / ChunkSize;
        long present = LowerBound(last + 1) - LowerBound(first);
        if (last - first + 1 - present > _usage.FreeChunks)
        {
            return false;
        }

        for (long index = first; index <= last; index++)
        {
            GetOrAddChunk(index);
        }

        return true;
    }

    /// <summary>Zeroes a range (length unchanged), freeing the chunks it covers whole: a hole punch.</summary>
    public void Zero(long offset, long count)
    {
        long end = offset + count;
        int low = LowerBound(offset / ChunkSize);
        int high = LowerBound((end / ChunkSize) + (end % ChunkSize != 0 ? 1 : 0));

        // Backwards, so removals do not shift the entries still to visit and tail removals cost nothing.
        for (int i = high - 1; i >= low; i--)
        {
            long chunkStart = _chunks.Keys[i] * ChunkSize;
            long from = Math.Max(offset, chunkStart);
            long to = Math.Min(end, chunkStart + ChunkSize);
            if (from == chunkStart && to == chunkStart + ChunkSize)
            {
                _chunks.RemoveAt(i);
                _usage.Add(-1);
            }
            else
            {
                _chunks.Values[i].AsSpan((int)(from - chunkStart), (int)(to - from)).Clear();
            }
        }
    }

    /// <summary><c>SEEK_DATA</c>: the first offset at or after <paramref name="offset"/> inside an allocated chunk and before the end, if any.</summary>
    public long? SeekData(long offset)
    {
        long data = NextAllocated(offset);
        return data < Length ? data : null;
    }

    /// <summary><c>SEEK_HOLE</c>: the first offset at or after <paramref name="offset"/> in a hole, or the length (the implicit hole at end of file).</summary>
    public long SeekHole(long offset) => Math.Min(NextUnallocated(offset), Length);

    /// <summary>Copies a range of <paramref name="source"/> (which may be this instance, ranges not overlapping), keeping its holes holes.</summary>
    public void CopyFrom(SparseFileData source, long sourceOffset, long offset, long count)
    {
        long position = sourceOffset;
        long end = sourceOffset + count;
        while (position < end)
        {
            long dataStart = Math.Min(source.NextAllocated(position), end);
            if (dataStart > position)
            {
                Zero(offset + (position - sourceOffset), dataStart - position);
                position = dataStart;
                continue;
            }

            long dataEnd = Math.Min(source.NextUnallocated(position), end);
            while (position < dataEnd)
            {
                (long index, int within) = Locate(position);
                int n = (int)Math.Min(ChunkSize - within, dataEnd - position);
                Write(offset + (position - sourceOffset), source._chunks[index].AsSpan(within, n));
                position += n;
            }
        }

        Length = Math.Max(Length, offset + count);
    }

    /// <summary>Frees everything; called when the file's node goes away.</summary>
    public void Clear()
    {
        _usage.Add(-_chunks.Count);
        _chunks.Clear();
        Length = 0;
    }

    private static (long Index, int Within) Locate(long offset) => (offset / ChunkSize, (int)(offset % ChunkSize));

    private byte[] GetOrAddChunk(long index)
    {
        if (!_chunks.TryGetValue(index, out byte[]? chunk))
        {
            chunk = new byte[ChunkSize];
            _chunks.Add(index, chunk);
            _usage.Add(1);
        }

        return chunk;
    }

    /// <summary>The first offset at or after <paramref name="offset"/> inside an allocated chunk; <see cref="long.MaxValue"/> when none.</summary>
    private long NextAllocated(long offset)
    {
        int i = LowerBound(offset / ChunkSize);
        return i == _chunks.Count ? long.MaxValue : Math.Max(offset, _chunks.Keys[i] * ChunkSize);
    }

    /// <summary>The first offset at or after <paramref name="offset"/> not inside an allocated chunk.</summary>
    private long NextUnallocated(long offset)
    {
        long index = offset / ChunkSize;
        int i = LowerBound(index);
        if (i == _chunks.Count || _chunks.Keys[i] != index)
        {
            return offset;
        }

        // Walk the run of consecutive chunks that starts at the one holding the offset.
        while (i + 1 < _chunks.Count && _chunks.Keys[i + 1] == _chunks.Keys[i] + 1)
        {
            i++;
        }

        return (_chunks.Keys[i] + 1) * ChunkSize;
    }

    /// <summary>The position of the first chunk whose index is at least <paramref name="index"/>.</summary>
    private int LowerBound(long index)
    {
        IList<long> keys = _chunks.Keys;
        int low = 0;
        int high = keys.Count;
        while (low < high)
        {
            int middle = low + ((high - low) / 2);
            if (keys[middle] < index)
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
}

/// <summary>Chunks allocated across all files, against a fixed capacity; what STATFS reports.</summary>
/// <remarks>Changed only under the filesystem's write lock and read under its read lock, so plain fields suffice.</remarks>
internal sealed class StorageUsage(long capacityChunks)
{
    public long CapacityChunks { get; } = capacityChunks;

    public long Chunks { get; private set; }

    public long FreeChunks => Math.Max(0, CapacityChunks - Chunks);

    public void Add(long delta) => Chunks += delta;
}
