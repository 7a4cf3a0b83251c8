using System.Numerics;

namespace VirtioFs.Dax;

/// <summary>
/// The shape of a virtio-fs DAX window (shared memory region 0, "cache"): its size, the fixed ranges it is split
/// into (range <c>i</c> at window offset <c>i * RangeSize</c>) and the mapping alignment (<c>1 &lt;&lt; MapAlignment</c>)
/// that <c>SETUPMAPPING</c>/<c>REMOVEMAPPING</c> offsets and lengths must honour. Both the serving side and the
/// allocating side check requests against it.
/// </summary>
public sealed class DaxWindowGeometry
{
    /// <summary>The Linux guest's range size: 2 MiB.</summary>
    public const long DefaultRangeSize = 2 * 1024 * 1024;

    /// <summary>The largest <see cref="MapAlignment"/>: 21, so that 2 MiB stays a multiple of the alignment.</summary>
    public const int MaxMapAlignment = 21;

    /// <summary>Creates a geometry.</summary>
    /// <param name="windowSize">The window's size in bytes; at least one range.</param>
    /// <param name="rangeSize">The range size: a power of two and a multiple of the alignment. Default 2 MiB.</param>
    /// <param name="mapAlignment">log2 of the mapping alignment, 0 to 21. Default 12 (4 KiB pages).</param>
    /// <exception cref="ArgumentOutOfRangeException">A value is outside the rules above; the message names the rule.</exception>
    public DaxWindowGeometry(long windowSize, long rangeSize = DefaultRangeSize, int mapAlignment = 12)
    {
        if (mapAlignment is < 0 or > MaxMapAlignment)
        {
            throw new ArgumentOutOfRangeException(nameof(mapAlignment), mapAlignment, "The map alignment is log2 of a byte alignment and must be 0 to 21, so that 2 MiB is a multiple of it.");
        }

        if (rangeSize <= 0 || !BitOperations.IsPow2(rangeSize) || rangeSize < (1L << mapAlignment))
        {
            throw new ArgumentOutOfRangeException(nameof(rangeSize), rangeSize, $"The range size must be a power of two and a multiple of the map alignment ({1L << mapAlignment} bytes).");
        }

        if (windowSize < rangeSize)
        {
            throw new ArgumentOutOfRangeException(nameof(windowSize), windowSize, $"The window must hold at least one range of {rangeSize} bytes.");
        }

        WindowSize = windowSize;
        RangeSize = rangeSize;
        MapAlignment = mapAlignment;
        RangeCount = windowSize / rangeSize;
    }

    /// <summary>The window's size in bytes.</summary>
    public long WindowSize { get; }

    /// <summary>The size of one range in bytes.</summary>
    public long RangeSize { get; }

    /// <summary>How many whole ranges the window holds (a tail shorter than a range is not used).</summary>
    public long RangeCount { get; }

    /// <summary>log2 of the mapping alignment in bytes.</summary>
    public int MapAlignment { get; }

    /// <summary>The window offset of range <paramref name="index"/>.</summary>
    /// <param name="index">0 to <see cref="RangeCount"/> - 1.</param>
    /// <returns>The range's window offset.</returns>
    public long RangeOffset(long index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, RangeCount);
        return index * RangeSize;
    }

    /// <summary>The file offset of the range that holds <paramref name="fileOffset"/> (aligned down to <see cref="RangeSize"/>).</summary>
    /// <param name="fileOffset">A file offset.</param>
    /// <returns>The range's start in the file.</returns>
    public ulong RangeStart(ulong fileOffset) => fileOffset & ~(ulong)(RangeSize - 1);

    /// <summary>Whether <paramref name="value"/> is a multiple of the mapping alignment.</summary>
    /// <param name="value">An offset or length.</param>
    /// <returns>True when aligned.</returns>
    public bool IsAligned(ulong value) => (value & ((1UL << MapAlignment) - 1)) == 0;

    /// <summary>Whether the non-empty window range [<paramref name="offset"/>, <paramref name="offset"/> + <paramref name="length"/>)
    /// lies inside the window, with overflow-checked arithmetic.</summary>
    /// <param name="offset">The window offset.</param>
    /// <param name="length">The length.</param>
    /// <returns>True when the range is non-empty and fits.</returns>
    public bool Contains(ulong offset, ulong length)
        => length != 0 && offset <= (ulong)WindowSize && length <= (ulong)WindowSize - offset;

    /// <summary>Whether [<paramref name="offset"/>, <paramref name="offset"/> + <paramref name="length"/>) is a window
    /// range a mapping request may name: non-empty, inside the window (<see cref="Contains"/>) and with offset and
    /// length multiples of the mapping alignment.</summary>
    /// <param name="offset">The window offset.</param>
    /// <param name="length">The length.</param>
    /// <returns>True when the range may be mapped or unmapped.</returns>
    public bool IsMappable(ulong offset, ulong length) => Contains(offset, length) && IsAligned(offset) && IsAligned(length);
}
