namespace VirtioFs.Dax;

/// <summary>
/// A pin on one mapped window range: while it is held the range is never reclaimed, so the window bytes at
/// <see cref="WindowOffset"/> show the file from <see cref="FileOffset"/>. Dispose it exactly once when the read,
/// write or fault is done (it is a struct: copies share the pin, so dispose only one of them).
/// </summary>
public readonly struct DaxMappingLease : IDisposable
{
    private readonly DaxRangeAllocator? _allocator;

    internal DaxMappingLease(DaxRangeAllocator allocator, int rangeIndex, ulong fileOffset, long windowOffset, long length, bool writable)
    {
        _allocator = allocator;
        RangeIndex = rangeIndex;
        FileOffset = fileOffset;
        WindowOffset = windowOffset;
        Length = length;
        Writable = writable;
    }

    /// <summary>Whether this lease pins a range (false for <c>default</c>).</summary>
    public bool IsValid => _allocator is not null;

    /// <summary>The range's index in the window.</summary>
    public int RangeIndex { get; }

    /// <summary>The file offset the range starts at (a multiple of the range size).</summary>
    public ulong FileOffset { get; }

    /// <summary>The window offset the range starts at.</summary>
    public long WindowOffset { get; }

    /// <summary>The range's length (the range size; it may extend past the end of the file).</summary>
    public long Length { get; }

    /// <summary>Whether the mapping is writable.</summary>
    public bool Writable { get; }

    /// <summary>The window offset that shows <paramref name="fileOffset"/>.</summary>
    /// <param name="fileOffset">A file offset inside this range.</param>
    /// <returns>Its window offset.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="fileOffset"/> lies outside the range.</exception>
    public long WindowOffsetOf(ulong fileOffset)
    {
        if (fileOffset < FileOffset || fileOffset - FileOffset >= (ulong)Length)
        {
            throw new ArgumentOutOfRangeException(nameof(fileOffset), fileOffset, "The file offset must lie inside the leased range.");
        }

        return WindowOffset + (long)(fileOffset - FileOffset);
    }

    /// <summary>Unpins the range.</summary>
    public void Dispose() => _allocator?.Unpin(RangeIndex);
}

/// <summary>A snapshot of an allocator's counters. Reclaim counters count only ranges actually freed.</summary>
/// <param name="Allocations">New mappings set up (from the free list or a directly reclaimed range).</param>
/// <param name="Upgrades">Read-only mappings re-sent as writable.</param>
/// <param name="Waits">Times a caller waited for a range to be freed.</param>
/// <param name="DirectReclaims">Ranges freed from the caller's own inode to serve it.</param>
/// <param name="BackgroundReclaims">Ranges freed by the background worker.</param>
/// <param name="Evictions">Ranges freed because their inode was evicted or truncated (<see cref="DaxInode.RemoveMappingsFromAsync"/>).</param>
/// <param name="Failures">Mapping requests that failed: an error answer or a channel that threw.</param>
public readonly record struct DaxAllocatorCounters(
    long Allocations,
    long Upgrades,
    long Waits,
    long DirectReclaims,
    long BackgroundReclaims,
    long Evictions,
    long Failures);
