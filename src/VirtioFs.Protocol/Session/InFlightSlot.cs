namespace VirtioFs.Protocol;

/// <summary>
/// The request a worker is serving, so that <c>FUSE_INTERRUPT</c> can cancel it. Each worker owns one slot;
/// its lock is shared only with the rare interrupt that scans the slots.
/// </summary>
internal sealed class InFlightSlot
{
    private readonly Lock _lock = new();
    private CancellationTokenSource _cts = new();
    private ulong _unique;

    /// <summary>Marks <paramref name="unique"/> in flight and returns its token (a recycled source unless the last one was cancelled).
    /// The token starts cancelled when <paramref name="stopping"/> is already cancelled: checked under the lock that
    /// <see cref="CancelAll"/> takes after the session signals it, so no request escapes a stop.</summary>
    public CancellationToken Begin(ulong unique, CancellationToken stopping)
    {
        lock (_lock)
        {
            if (!_cts.TryReset())
            {
                _cts.Dispose();
                _cts = new CancellationTokenSource();
            }

            _unique = unique;
            if (stopping.IsCancellationRequested)
            {
                _ = _cts.CancelAsync();
            }

            return _cts.Token;
        }
    }

    public void End()
    {
        lock (_lock)
        {
            _unique = 0;
        }
    }

    /// <summary>Cancels the request if it is the one in flight here. Callbacks run on the thread pool, not under the lock.</summary>
    public bool TryInterrupt(ulong unique)
    {
        lock (_lock)
        {
            if (_unique == 0 || _unique != unique)
            {
                return false;
            }

            _ = _cts.CancelAsync();
            return true;
        }
    }

    public void CancelAll()
    {
        lock (_lock)
        {
            if (_unique != 0)
            {
                _ = _cts.CancelAsync();
            }
        }
    }
}
