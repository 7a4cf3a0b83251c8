using Microsoft.Extensions.Logging;

namespace VirtioFs.Protocol;

internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Debug, "unique: {Unique}, opcode: {Opcode}, nodeid: {NodeId}, insize: {Length}")]
    public static partial void Request(ILogger logger, ulong unique, string opcode, ulong nodeId, uint length);

    [LoggerMessage(2, LogLevel.Debug, "   unique: {Unique}, error: {Error}, outsize: {Length}")]
    public static partial void Reply(ILogger logger, ulong unique, int error, int length);

    [LoggerMessage(3, LogLevel.Warning, "Malformed request (unique {Unique}): {Reason}")]
    public static partial void MalformedRequest(ILogger logger, ulong unique, string reason);

    [LoggerMessage(4, LogLevel.Debug, "Unknown opcode {Opcode} (unique {Unique}): answered ENOSYS")]
    public static partial void UnknownOpcode(ILogger logger, ulong unique, uint opcode);

    [LoggerMessage(5, LogLevel.Error, "The filesystem threw in {Opcode} (unique {Unique}); answered EIO")]
    public static partial void FileSystemThrew(ILogger logger, string opcode, ulong unique, Exception exception);

    [LoggerMessage(6, LogLevel.Error, "The filesystem misbehaved (unique {Unique}): {Reason}; answered EIO")]
    public static partial void FileSystemMisbehaved(ILogger logger, ulong unique, string reason);

    [LoggerMessage(7, LogLevel.Information, "INIT: client major {Major} is newer; answered 7.45 so it can retry")]
    public static partial void InitMajorRetry(ILogger logger, uint major);

    [LoggerMessage(8, LogLevel.Error, "INIT: protocol {Major}.{Minor} is not supported (need 7.9 or newer)")]
    public static partial void InitRejected(ILogger logger, uint major, uint minor);

    [LoggerMessage(9, LogLevel.Information, "INIT: negotiated 7.{Minor}, flags {Flags}")]
    public static partial void Initialized(ILogger logger, uint minor, FuseInitFlags flags);

    [LoggerMessage(10, LogLevel.Error, "The channel failed; stopping the session")]
    public static partial void ChannelFailed(ILogger logger, Exception exception);

    [LoggerMessage(11, LogLevel.Warning, "Request of {Length} bytes with reply room {Capacity} cannot be handled; released without a reply")]
    public static partial void RequestDropped(ILogger logger, int length, int capacity);

    [LoggerMessage(12, LogLevel.Warning, "NOTIFY_REPLY for unknown retrieve {Unique}; ignored")]
    public static partial void UnmatchedNotifyReply(ILogger logger, ulong unique);
}
