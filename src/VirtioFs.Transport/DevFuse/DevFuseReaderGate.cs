using System.Diagnostics;

namespace VirtioFs.Transport;

/// <summary>
/// Lets one worker of a mount at a time wait in <c>read(/dev/fuse)</c>; the others park here, most recently parked first.
/// </summary>
/// <remarks>
/// <para>The kernel queues blocked readers first-in first-out, so with every idle worker in <c>read</c> each request wakes
/// the worker that has been idle longest: a stream of small requests rotates through all of them, and each wake-up finds
/// a cold thread, often on another CPU. With one reader, a worker that answers quickly takes the next request itself
/// (measured on 2 vCPUs: 4 workers rotating served half the stats per second of 1).</para>
/// <para>Parallelism is kept by a hand-over: when the reader has taken a request and has not come back within
/// <c>handOverDelay</c>, a watcher thread wakes the most recently parked worker to read in its place (as the thread
/// pool injects a thread when its workers are blocked). A worker coming back while another one reads parks again.</para>
/// </remarks>
internal sealed class DevFuseReaderGate : IDisposable
{
    private readonly Lock _lock = new();
    private readonly Stack<Waiter> _parked = new();
    private readonly long _handOverTicks;
    private readonly TimeSpan _tick;
    private readonly SemaphoreSlim _watch = new(0);
    private readonly Thread _watcher;
    private int _readers;
    private long _noReaderSince;
    private bool _watcherIdle;
    private bool _closed;

    /// <param name="handOverDelay">How long the reader may keep a request before a parked worker reads in its place.</param>
    public DevFuseReaderGate(TimeSpan handOverDelay)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(handOverDelay, TimeSpan.Zero);
        _handOverTicks = (long)(handOverDelay.TotalSeconds * Stopwatch.Frequency);
        _tick = handOverDelay < TimeSpan.FromMilliseconds(1) ? TimeSpan.FromMilliseconds(1) : handOverDelay;
        _watcher = new Thread(Watch) { IsBackground = true, Name = "fuse-reader-gate" };
        _watcher.Start();
    }

    /// <summary>How many workers are parked (for tests and diagnostics).</summary>
    public int ParkedCount
    {
        get
        {
            lock (_lock)
            {
                return _parked.Count;
            }
        }
    }

    /// <summary>Waits until the caller may read: at once when nobody reads (or the gate is closed), else when handed over.</summary>
    /// <param name="me">The calling worker's own waiter (one per worker, reused).</param>
    public void Enter(Waiter me)
    {
        lock (_lock)
        {
            if (_readers == 0 || _closed)
            {
                _readers++;
                return;
            }

            me.Wake.Reset();
            _parked.Push(me);
        }

        // The hand-over counts us as a reader before it wakes us.
        me.Wake.Wait();
    }

    /// <summary>The caller left <c>read</c> (with a request, or at the end): starts the hand-over clock when nobody reads now.</summary>
    public void Exit()
    {
        bool kick = false;
        lock (_lock)
        {
            _readers--;
            if (_readers == 0 && _parked.Count > 0 && !_closed)
            {
                _noReaderSince = Stopwatch.GetTimestamp();
                kick = _watcherIdle;
                _watcherIdle = false;
            }
        }

        if (kick)
        {
            _watch.Release();
        }
    }

    /// <summary>Releases every parked worker and lets all later ones read at once (the connection is ending).</summary>
    public void Close()
    {
        lock (_lock)
        {
            if (_closed)
            {
                return;
            }

            _closed = true;
            while (_parked.TryPop(out Waiter? parked))
            {
                _readers++;
                parked.Wake.Set();
            }
        }

        _watch.Release();
    }

    /// <summary>Closes the gate and waits for the watcher to end.</summary>
    public void Dispose()
    {
        Close();
        _watcher.Join();
        _watch.Dispose();
    }

    /// <summary>While nobody reads and workers are parked, hands over once the reader has kept its request too long;
    /// sleeps without a timeout otherwise, until <see cref="Exit"/> starts the clock again.</summary>
    private void Watch()
    {
        while (true)
        {
            bool idle;
            lock (_lock)
            {
                if (_closed)
                {
                    return;
                }

                if (_readers == 0 && _parked.Count > 0)
                {
                    if (Stopwatch.GetTimestamp() - _noReaderSince >= _handOverTicks)
                    {
                        Waiter next = _parked.Pop();
                        _readers++;
                        next.Wake.Set();
                    }

                    idle = false;
                }
                else
                {
                    idle = true;
                    _watcherIdle = true;
                }
            }

            if (idle)
            {
                _watch.Wait();
            }
            else
            {
                _watch.Wait(_tick);
            }
        }
    }

    /// <summary>Where one worker parks; owned by its channel and reused for every wait.</summary>
    internal sealed class Waiter
    {
        public ManualResetEventSlim Wake { get; } = new();
    }
}
