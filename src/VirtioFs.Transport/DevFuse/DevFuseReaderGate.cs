using System.Diagnostics;

namespace VirtioFs.Transport;

/// <summary>
/// Lets one worker of a mount at a time wait in <c>read(/dev/fuse)</c>; the others park here, most recently parked first.
/// </summary>
/// <remarks>
/// <para>The kernel queues blocked readers first-in first-out, so with every idle worker in <c>read</c> each request wakes
/// the worker that has been idle longest: a stream of small requests rotates through all of them, and each wake-up finds
/// a cold thread, often on another CPU. With one reader, a worker that answers quickly takes the next request itself
/// (measured on 2 vCPUs: 4 workers rotating served half the stats per second of 1, but twice the 4 KiB random reads,
/// which is why this is <see cref="FuseMountOptions.ParkIdleWorkers"/> and not the default).</para>
/// <para>Parallelism comes back in two ways. A reader that finds more requests queued behind the one it took, after a
/// slow request or twice running, hands the read over at once (<see cref="HandOver"/>): requests block, or arrive faster
/// than one worker takes them. And a watcher thread hands it over when the reader has kept a request for
/// <c>handOverDelay</c> without coming back (a request that blocks, and whatever arrives meanwhile must not wait for it;
/// as the thread pool injects a thread when its workers are blocked). A worker coming back while another one reads
/// parks again.</para>
/// </remarks>
internal sealed class DevFuseReaderGate : IDisposable
{
    /// <summary>Ticks with a reader in place after which the watcher stops ticking until a reader leaves again.</summary>
    private const int IdleTicks = 5;

    private readonly Lock _lock = new();
    private readonly Stack<Waiter> _parked = new();
    private readonly long _handOverTicks;
    private readonly TimeSpan _tick;
    private readonly AutoResetEvent _watch = new(false); // a kernel wait: no spinning before each tick; Close sets it
    private readonly Thread _watcher;
    private int _readers;
    private int _parkedCount;
    private long _noReaderSince;
    private bool _watcherIdle;
    private bool _closed;

    /// <param name="handOverDelay">How long the reader may keep a request before a parked worker reads in its place
    /// (checked every <paramref name="handOverDelay"/>, at least every millisecond).</param>
    public DevFuseReaderGate(TimeSpan handOverDelay)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(handOverDelay, TimeSpan.Zero);
        _handOverTicks = (long)(handOverDelay.TotalSeconds * Stopwatch.Frequency);
        _tick = handOverDelay < TimeSpan.FromMilliseconds(1) ? TimeSpan.FromMilliseconds(1) : handOverDelay;
        _watcher = new Thread(Watch) { IsBackground = true, Name = "fuse-reader-gate" };
        _watcher.Start();
    }

    /// <summary>How many workers are parked (read without the lock: a hint).</summary>
    public int ParkedCount => Volatile.Read(ref _parkedCount);

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
            Push(me);
        }

        // Whoever hands over counts us as a reader before waking us.
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
            _watch.Set();
        }
    }

    /// <summary>Wakes the most recently parked worker to read now, unless somebody already reads.</summary>
    public void HandOver()
    {
        lock (_lock)
        {
            if (_readers == 0 && !_closed)
            {
                WakeNextLocked();
            }
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
            while (WakeNextLocked())
            {
            }
        }

        _watch.Set();
    }

    /// <summary>Closes the gate and waits for the watcher to end.</summary>
    public void Dispose()
    {
        Close();
        _watcher.Join();
        _watch.Dispose();
    }

    private void Push(Waiter waiter)
    {
        _parked.Push(waiter);
        Volatile.Write(ref _parkedCount, _parked.Count);
    }

    private bool WakeNextLocked()
    {
        if (!_parked.TryPop(out Waiter? next))
        {
            return false;
        }

        Volatile.Write(ref _parkedCount, _parked.Count);
        _readers++;
        next.Wake.Set();
        return true;
    }

    /// <summary>
    /// While nobody reads and workers are parked, hands over once the reader has kept its request too long. It keeps
    /// ticking through a burst of requests and sleeps without a timeout only after <see cref="IdleTicks"/> ticks with a
    /// reader in place, so that quick requests do not wake it each time <see cref="Exit"/> starts the clock.
    /// </summary>
    private void Watch()
    {
        int quiet = 0;
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
                        WakeNextLocked();
                    }

                    quiet = 0;
                }
                else
                {
                    quiet++;
                }

                idle = quiet >= IdleTicks;
                _watcherIdle = idle;
            }

            if (idle)
            {
                _watch.WaitOne();
                quiet = 0;
            }
            else
            {
                _watch.WaitOne(_tick);
            }
        }
    }

    /// <summary>Where one worker parks; owned by its channel and reused for every wait.</summary>
    internal sealed class Waiter
    {
        public ManualResetEventSlim Wake { get; } = new();
    }
}
