using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using VirtioFs.Protocol;

namespace VirtioFs.Transport.Tests.Session;

/// <summary>Shared helpers of the session tests.</summary>
internal static class SessionTestSupport
{
    /// <summary>The longest any single wait may take before the test fails instead of hanging.</summary>
    public static readonly TimeSpan WaitLimit = TimeSpan.FromSeconds(10);

    /// <summary>The credentials the client puts in request headers.</summary>
    public static readonly FuseCaller Caller = new(1000, 1001, 4242);

    /// <summary>Starts a loopback host (INIT done) with the test caller set.</summary>
    public static async Task<FuseLoopbackHost> StartAsync(
        FuseFileSystem fs,
        int workers = 2,
        ILogger<FuseSession>? logger = null,
        FuseClientInitOptions? init = null)
    {
        FuseLoopbackHost host = await FuseLoopbackHost
            .StartAsync(fs, new FuseSessionOptions { WorkersPerChannel = workers }, init, logger)
            .WaitAsync(WaitLimit);
        host.Client.Caller = Caller;
        return host;
    }

    public static Task<T> Bounded<T>(this ValueTask<T> task) => task.AsTask().WaitAsync(WaitLimit);

    public static Task Bounded(this ValueTask task) => task.AsTask().WaitAsync(WaitLimit);

    public static Task<T> Bounded<T>(this Task<T> task) => task.WaitAsync(WaitLimit);

    public static Task Bounded(this Task task) => task.WaitAsync(WaitLimit);

    /// <summary>Asserts the context carries the node and the test caller's credentials.</summary>
    public static void AssertContext(FuseRequestContext context, ulong nodeId)
    {
        Assert.Equal(nodeId, context.NodeId);
        Assert.Equal(Caller.Uid, context.Uid);
        Assert.Equal(Caller.Gid, context.Gid);
        Assert.Equal(Caller.Pid, context.Pid);
        Assert.NotEqual(0ul, context.Unique);
    }
}

/// <summary>A logger that keeps every entry (the session's and the vhost-user backend's refusals name their reasons).</summary>
internal sealed class CapturingLogger<T> : ILogger<T>
{
    public ConcurrentQueue<LogEntry> Entries { get; } = new();

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull
        => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        => Entries.Enqueue(new LogEntry(logLevel, eventId, formatter(state, exception), exception));
}

internal sealed record LogEntry(LogLevel Level, EventId EventId, string Message, Exception? Exception);
