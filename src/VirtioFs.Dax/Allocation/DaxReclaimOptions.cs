namespace VirtioFs.Dax;

/// <summary>
/// The knobs of the shipped reclaim policies. Defaults are the Linux guest driver's: background reclaim while fewer
/// than 20 % of the ranges are free, 10 ranges per pass, and a short pause before the next pass.
/// </summary>
public sealed class DaxReclaimOptions
{
    /// <summary>Default <see cref="ThresholdPercent"/>: 20.</summary>
    public const int DefaultThresholdPercent = 20;

    /// <summary>Default <see cref="Chunk"/>: 10.</summary>
    public const int DefaultChunk = 10;

    /// <summary>Largest <see cref="Chunk"/>: a pass holds no lock across ranges, but a huge pass delays the worker's reaction to shutdown.</summary>
    public const int MaxChunk = 4096;

    /// <summary>Default <see cref="RerunDelay"/>: 10 ms.</summary>
    public static readonly TimeSpan DefaultRerunDelay = TimeSpan.FromMilliseconds(10);

    /// <summary>Smallest <see cref="RerunDelay"/>: 1 ms, so that a worker facing only pinned ranges does not spin.</summary>
    public static readonly TimeSpan MinRerunDelay = TimeSpan.FromMilliseconds(1);

    /// <summary>Largest <see cref="RerunDelay"/>: 1 minute.</summary>
    public static readonly TimeSpan MaxRerunDelay = TimeSpan.FromMinutes(1);

    /// <summary>The shared instance with every default.</summary>
    public static DaxReclaimOptions Default { get; } = new();

    /// <summary>Background reclaim runs while the free ranges number fewer than
    /// <c>max(total * ThresholdPercent / 100, 1)</c>. 0 to 100; default 20.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is outside 0 to 100.</exception>
    public int ThresholdPercent
    {
        get;
        init => field = DaxThrowHelper.InRange(value, 0, 100, nameof(ThresholdPercent), "The threshold is a percentage of the ranges and must be 0 to 100.");
    } = DefaultThresholdPercent;

    /// <summary>How many ranges one background pass frees at most. 1 to <see cref="MaxChunk"/>; default 10.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is outside 1 to <see cref="MaxChunk"/>.</exception>
    public int Chunk
    {
        get;
        init => field = DaxThrowHelper.InRange(value, 1, MaxChunk, nameof(Chunk), $"A reclaim pass must free at least 1 and at most {MaxChunk} ranges.");
    } = DefaultChunk;

    /// <summary>The pause before the next background pass while free ranges stay below the threshold.
    /// <see cref="MinRerunDelay"/> to <see cref="MaxRerunDelay"/>; default 10 ms.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is outside 1 ms to 1 minute.</exception>
    public TimeSpan RerunDelay
    {
        get;
        init => field = DaxThrowHelper.InRange(value, MinRerunDelay, MaxRerunDelay, nameof(RerunDelay), "The delay between reclaim passes must be at least 1 ms and at most 1 minute.");
    } = DefaultRerunDelay;
}
