using VirtioFs.Protocol;

namespace VirtioFs.Samples.MemoryFs;

/// <summary>A point in time as stat reports it: seconds since the Unix epoch and nanoseconds.</summary>
internal readonly record struct Timestamp(long Seconds, uint Nanoseconds)
{
    private const uint NanosecondsPerSecond = 1_000_000_000;
    private const uint NanosecondsPerTick = 100;

    public static Timestamp FromDateTimeOffset(DateTimeOffset time)
    {
        long ticks = time.UtcTicks - DateTime.UnixEpoch.Ticks;
        long seconds = Math.DivRem(ticks, TimeSpan.TicksPerSecond, out long remainder);
        if (remainder < 0)
        {
            // Before the epoch: floor the seconds so the nanoseconds stay positive, as timespec requires.
            seconds--;
            remainder += TimeSpan.TicksPerSecond;
        }

        return new(seconds, (uint)remainder * NanosecondsPerTick);
    }

    /// <summary>Reads a time from the wire (<c>u64</c> seconds that the kernel treats as signed).</summary>
    public static Timestamp? FromWire(ulong seconds, uint nanoseconds)
        => nanoseconds < NanosecondsPerSecond ? new Timestamp((long)seconds, nanoseconds) : null;

    public FuseSxTime ToStatx() => new() { TvSec = Seconds, TvNsec = Nanoseconds };
}
