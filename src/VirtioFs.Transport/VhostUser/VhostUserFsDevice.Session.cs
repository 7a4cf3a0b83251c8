using Microsoft.Extensions.Logging;
using VirtioFs.Protocol;

namespace VirtioFs.Transport.VhostUser;

/// <summary>The session over the device's queues: started with the first running ring, ended with the last.</summary>
internal sealed partial class VhostUserFsDevice
{
    /// <summary>
    /// Starts a session when a ring runs and none is running, stops it when no ring runs (or the connection closed).
    /// Called after every ring start or stop and when a session ends.
    /// </summary>
    /// <returns>The end of the current or last session.</returns>
    private Task UpdateSession()
    {
        lock (_sessionLock)
        {
            if (!AnyRingRunningLocked())
            {
                // Every ring stopped: the guest was reset, so a broken device may serve again.
                _broken = false;
                _session?.Stop();
                _session = null;
            }
            else if (_session is null && !_broken)
            {
                StartSessionLocked();
            }

            return _sessionEnd;
        }
    }

    private void StartSessionLocked()
    {
        FuseSession session;
        try
        {
            session = _sessionFactory();
        }
        catch (Exception ex)
        {
            MarkBrokenLocked($"the session factory threw: {ex.Message}");
            return;
        }

        // Once the guest's DESTROY is handled, the rings' next chains (the next mount's INIT) wait for the next session.
        var channels = new IFuseChannel[_vrings.Length];
        Func<bool> retired = () => session.IsDestroyed;
        for (int i = 0; i < channels.Length; i++)
        {
            channels[i] = new VirtioFsQueueChannel(_vrings[i], session.Options.RequestBufferSize, retired);
        }

        _session = session;
        _sessionEnd = RunSessionAsync(session, channels, _sessionEnd);
    }

    private async Task RunSessionAsync(FuseSession session, IFuseChannel[] channels, Task previous)
    {
        // Sessions never overlap: the filesystem sees DESTROY (or the end) of one before the INIT of the next. (A run
        // never faults: it turns every failure into a broken device.)
        await previous.ConfigureAwait(false);

        string? failure = null;
        try
        {
            Log.SessionStarted(_logger, channels.Length);
            await session.RunAsync(channels).ConfigureAwait(false);
        }
        catch (FuseChannelException ex)
        {
            failure = ex.Message;
        }
        catch (Exception ex)
        {
            Log.SessionFailed(_logger, ex);
            failure = ex.Message;
        }

        lock (_sessionLock)
        {
            if (_session != session)
            {
                return;
            }

            _session = null;
            if (failure is not null)
            {
                MarkBrokenLocked(failure);
                return;
            }

            if (session.IsDestroyed && AnyRingRunningLocked())
            {
                // The guest unmounted: the next mount's INIT goes to a fresh session over the same rings.
                StartSessionLocked();
            }
        }
    }

    /// <summary>Whether the connection is open and any ring runs (a session has something to serve).</summary>
    private bool AnyRingRunningLocked()
    {
        if (_closed)
        {
            return false;
        }

        foreach (VhostUserVring vring in _vrings)
        {
            if (vring.IsRunning)
            {
                return true;
            }
        }

        return false;
    }

    private void MarkBrokenLocked(string reason)
    {
        _broken = true;
        _session?.Stop();
        _session = null;
        foreach (VhostUserVring vring in _vrings)
        {
            vring.SignalErrorIfBroken();
        }

        Log.DeviceBroken(_logger, reason);
        _onBroken(reason);
    }

    private static partial class Log
    {
        [LoggerMessage(301, LogLevel.Debug, "vhost-user: {Request} ({Size} bytes, {Fds} fd(s))")]
        public static partial void Message(ILogger logger, VhostUserRequest request, uint size, int fds);

        [LoggerMessage(302, LogLevel.Warning, "vhost-user: {Request} refused: {Reason}")]
        public static partial void Refused(ILogger logger, VhostUserRequest request, string reason);

        [LoggerMessage(303, LogLevel.Information, "vhost-user: the connection ended: {Reason}")]
        public static partial void ConnectionFailed(ILogger logger, string reason);

        [LoggerMessage(304, LogLevel.Debug, "vhost-user: vring {Index} started ({Size} entries)")]
        public static partial void VringStarted(ILogger logger, int index, int size);

        [LoggerMessage(305, LogLevel.Debug, "vhost-user: session started over {Queues} queues")]
        public static partial void SessionStarted(ILogger logger, int queues);

        [LoggerMessage(306, LogLevel.Error, "vhost-user: the session failed")]
        public static partial void SessionFailed(ILogger logger, Exception exception);

        [LoggerMessage(308, LogLevel.Warning, "vhost-user: vring {Index} stopped with {Count} request(s) unanswered after {Seconds} s; their replies are dropped")]
        public static partial void RequestsAbandoned(ILogger logger, int index, int count, double seconds);

        [LoggerMessage(307, LogLevel.Error, "vhost-user: the guest broke the device, which serves nothing until it is reset: {Reason}")]
        public static partial void DeviceBroken(ILogger logger, string reason);
    }
}
