using Microsoft.Extensions.Logging;
using VirtioFs.Protocol;

namespace VirtioFs.Dax;

internal static partial class AllocatorLog
{
    [LoggerMessage(101, LogLevel.Warning, "DAX: REMOVEMAPPING of {Count} range(s) of node {NodeId} failed with {Error}; the next SETUPMAPPING of those window offsets replaces them")]
    public static partial void RemoveFailed(ILogger logger, ulong nodeId, int count, Errno error);

    [LoggerMessage(102, LogLevel.Warning, "DAX: REMOVEMAPPING of node {NodeId} threw; nothing more is sent for this batch")]
    public static partial void RemoveThrew(ILogger logger, ulong nodeId, Exception exception);

    [LoggerMessage(103, LogLevel.Error, "DAX: background reclaim pass failed")]
    public static partial void BackgroundFailed(ILogger logger, Exception exception);

    [LoggerMessage(104, LogLevel.Warning, "DAX: node {NodeId} still has pinned ranges at shutdown; its mappings are left in place")]
    public static partial void PinnedAtShutdown(ILogger logger, ulong nodeId);
}
