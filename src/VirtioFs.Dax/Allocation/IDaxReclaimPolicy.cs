namespace VirtioFs.Dax;

/// <summary>
/// Decides when background reclaim runs and which idle range goes first. The allocator calls it under its own locks:
/// implementations must be fast, must not block and must not call back into the allocator.
/// </summary>
/// <remarks>Shipped: <see cref="DaxKernelReclaimPolicy"/> (the Linux guest's behaviour, the default) and
/// <see cref="DaxLeastRecentlyUsedReclaimPolicy"/>.</remarks>
public interface IDaxReclaimPolicy
{
    /// <summary>Background reclaim runs while fewer ranges than this are free.</summary>
    /// <param name="totalRanges">The ranges in the window (at least 1).</param>
    /// <returns>The threshold, 0 (never) to <paramref name="totalRanges"/>.</returns>
    long BackgroundThreshold(long totalRanges);

    /// <summary>How many ranges one background pass frees at most (at least 1).</summary>
    int BackgroundChunk { get; }

    /// <summary>The pause before another pass while still below the threshold.</summary>
    TimeSpan BackgroundRerunDelay { get; }

    /// <summary>Whether <see cref="DaxRangeInfo.LastAccess"/> should be refreshed on every acquisition; when false it is
    /// the time the range was mapped, and acquisitions skip the clock.</summary>
    bool TracksAccess { get; }

    /// <summary>Picks the range to reclaim among <paramref name="candidates"/>.</summary>
    /// <param name="candidates">Busy ranges oldest first (background), or one inode's ranges in file order (direct reclaim).</param>
    /// <returns>The <see cref="DaxRangeInfo.Index"/> of an unpinned candidate, or -1 for none.</returns>
    int SelectVictim(DaxReclaimCandidates candidates);
}
