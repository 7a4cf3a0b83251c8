namespace VirtioFs.Dax;

/// <summary>
/// The Linux guest driver's policy, and the default: background reclaim while fewer than
/// <c>max(total * 20 / 100, 1)</c> ranges are free, 10 per pass, the oldest busy range first (the busy list is
/// rotated as it is examined), and for direct reclaim the inode's first idle range in file order.
/// </summary>
public sealed class DaxKernelReclaimPolicy : IDaxReclaimPolicy
{
    private readonly DaxReclaimOptions _options;

    /// <summary>Creates the policy.</summary>
    /// <param name="options">Threshold, chunk and delay; null for the defaults.</param>
    public DaxKernelReclaimPolicy(DaxReclaimOptions? options = null) => _options = options ?? DaxReclaimOptions.Default;

    /// <summary>The policy with the default options.</summary>
    public static DaxKernelReclaimPolicy Default { get; } = new();

    /// <inheritdoc />
    public int BackgroundChunk => _options.Chunk;

    /// <inheritdoc />
    public TimeSpan BackgroundRerunDelay => _options.RerunDelay;

    /// <inheritdoc />
    public bool TracksAccess => false;

    /// <inheritdoc />
    public long BackgroundThreshold(long totalRanges) => ReclaimThreshold.Of(totalRanges, _options.ThresholdPercent);

    /// <inheritdoc />
    public int SelectVictim(DaxReclaimCandidates candidates)
    {
        foreach (DaxRangeInfo range in candidates)
        {
            if (!range.IsPinned)
            {
                return range.Index;
            }
        }

        return -1;
    }
}

/// <summary>
/// Reclaims the range least recently acquired (not least recently mapped): a range read over and over survives a
/// range mapped later but used once. Threshold, chunk and delay as <see cref="DaxKernelReclaimPolicy"/>. Costs a clock
/// read per acquisition and a scan of the candidates per reclaimed range.
/// </summary>
public sealed class DaxLeastRecentlyUsedReclaimPolicy : IDaxReclaimPolicy
{
    private readonly DaxReclaimOptions _options;

    /// <summary>Creates the policy.</summary>
    /// <param name="options">Threshold, chunk and delay; null for the defaults.</param>
    public DaxLeastRecentlyUsedReclaimPolicy(DaxReclaimOptions? options = null) => _options = options ?? DaxReclaimOptions.Default;

    /// <inheritdoc />
    public int BackgroundChunk => _options.Chunk;

    /// <inheritdoc />
    public TimeSpan BackgroundRerunDelay => _options.RerunDelay;

    /// <inheritdoc />
    public bool TracksAccess => true;

    /// <inheritdoc />
    public long BackgroundThreshold(long totalRanges) => ReclaimThreshold.Of(totalRanges, _options.ThresholdPercent);

    /// <inheritdoc />
    public int SelectVictim(DaxReclaimCandidates candidates)
    {
        int victim = -1;
        long oldest = long.MaxValue;
        foreach (DaxRangeInfo range in candidates)
        {
            // Strictly older only: among equal stamps the first in list order (the oldest mapping) wins.
            if (!range.IsPinned && (victim < 0 || range.LastAccess < oldest))
            {
                victim = range.Index;
                oldest = range.LastAccess;
            }
        }

        return victim;
    }
}

internal static class ReclaimThreshold
{
    public static long Of(long totalRanges, int percent) => Math.Max(totalRanges * percent / 100, 1);
}
