using System.Diagnostics.Metrics;

namespace VirtioFs.Protocol;

/// <summary>
/// The session's instruments, on the meter <c>VirtioFs.Protocol</c>: <c>virtiofs.fuse.requests</c> (requests handled),
/// <c>virtiofs.fuse.errors</c> (requests answered with an error) and <c>virtiofs.fuse.request.duration</c> (seconds
/// from decoding to reply), each tagged with <c>fuse.opcode</c>.
/// </summary>
public static class FuseSessionMetrics
{
    /// <summary>The meter's name.</summary>
    public const string MeterName = "VirtioFs.Protocol";

    private static readonly Meter Meter = new(MeterName, typeof(FuseSessionMetrics).Assembly.GetName().Version?.ToString());

    internal static readonly Counter<long> Requests = Meter.CreateCounter<long>("virtiofs.fuse.requests", "{request}", "FUSE requests handled, by opcode.");

    internal static readonly Counter<long> Errors = Meter.CreateCounter<long>("virtiofs.fuse.errors", "{request}", "FUSE requests answered with an error, by opcode.");

    internal static readonly Histogram<double> Duration = Meter.CreateHistogram<double>("virtiofs.fuse.request.duration", "s", "Time from decoding a FUSE request to its reply, by opcode.");
}
