using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace VirtioFs.Dax;

/// <summary>Options of a <see cref="DaxRangeAllocator"/>. Range size and window size come from its <see cref="DaxWindowGeometry"/>.</summary>
public sealed class DaxAllocatorOptions
{
    /// <summary>Default <see cref="DirectReclaimRetryDelay"/>: 1 ms.</summary>
    public static readonly TimeSpan DefaultDirectReclaimRetryDelay = TimeSpan.FromMilliseconds(1);

    /// <summary>Smallest <see cref="DirectReclaimRetryDelay"/>: 100 µs, so that a caller whose ranges are all pinned does not spin.</summary>
    public static readonly TimeSpan MinDirectReclaimRetryDelay = TimeSpan.FromTicks(1000);

    /// <summary>Largest <see cref="DirectReclaimRetryDelay"/>: 10 s.</summary>
    public static readonly TimeSpan MaxDirectReclaimRetryDelay = TimeSpan.FromSeconds(10);

    /// <summary>The shared instance with every default.</summary>
    public static DaxAllocatorOptions Default { get; } = new();

    /// <summary>Which idle ranges to reclaim and when. Default: <see cref="DaxKernelReclaimPolicy.Default"/>.</summary>
    public IDaxReclaimPolicy ReclaimPolicy
    {
        get;
        init => field = value ?? throw new ArgumentNullException(nameof(ReclaimPolicy));
    } = DaxKernelReclaimPolicy.Default;

    /// <summary>Whether a background worker reclaims idle ranges when free ones run low. Default true. Without it,
    /// a caller whose inode has no ranges waits until someone evicts or releases ranges.</summary>
    public bool BackgroundReclaim { get; init; } = true;

    /// <summary>How long a caller whose own ranges are all pinned waits for a free range before it looks for an idle
    /// range of its inode again. <see cref="MinDirectReclaimRetryDelay"/> to <see cref="MaxDirectReclaimRetryDelay"/>; default 1 ms.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is outside 100 µs to 10 s.</exception>
    public TimeSpan DirectReclaimRetryDelay
    {
        get;
        init => field = DaxThrowHelper.InRange(value, MinDirectReclaimRetryDelay, MaxDirectReclaimRetryDelay, nameof(DirectReclaimRetryDelay), "The direct reclaim retry delay must be at least 100 µs and at most 10 s.");
    } = DefaultDirectReclaimRetryDelay;

    /// <summary>The clock for delays and access timestamps. Default <see cref="TimeProvider.System"/>.</summary>
    public TimeProvider TimeProvider
    {
        get;
        init => field = value ?? throw new ArgumentNullException(nameof(TimeProvider));
    } = TimeProvider.System;

    /// <summary>Where failed removals and background errors are logged. Default: nowhere.</summary>
    public ILogger Logger
    {
        get;
        init => field = value ?? throw new ArgumentNullException(nameof(Logger));
    } = NullLogger.Instance;
}
