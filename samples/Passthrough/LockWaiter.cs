using System.Runtime.InteropServices;
using VirtioFs.Protocol;

namespace VirtioFs.Samples.Passthrough;

/// <summary>
/// Runs blocking lock calls (<c>F_OFD_SETLKW</c>, <c>flock</c> without <c>LOCK_NB</c>) each on a dedicated thread, so
/// a waiting lock holds neither a session worker nor a thread-pool thread, and queues in the host kernel exactly like a
/// waiter of a host process: granted in the host's own order, not whenever a poll happens to come by.
/// </summary>
/// <remarks>
/// <para>An interrupted request (the client's <c>INTERRUPT</c>, or the session stopping) must end the wait. A blocked
/// <c>fcntl</c>/<c>flock</c> ends only on a signal whose handler was installed without <c>SA_RESTART</c>, so this class
/// installs a no-op handler for one real-time signal nobody in the process uses, and <c>tgkill</c>s the waiting thread.
/// <see cref="PosixSignalRegistration"/> does not fit: the runtime's handler is installed with <c>SA_RESTART</c>, under
/// which the kernel restarts both calls, and it dispatches to managed code on another thread anyway. The handler must
/// not run managed code either (a signal may arrive while the runtime suspends threads), so it is one native
/// <c>ret</c> instruction on an executable page of its own.</para>
/// <para>A signal sent just before the thread enters the call is lost, so the canceller re-sends it every couple of
/// milliseconds until the thread has left the wait; the thread checks the cancelled flag before every (re)entry.</para>
/// <para>When the signal cannot be set up (not x86_64, no free real-time signal, or executable memory refused),
/// <see cref="Create"/> returns null and the caller falls back to polling (<see cref="LockRetry"/>).</para>
/// </remarks>
internal sealed class LockWaiter
{
    /// <summary>More concurrent waits than this are polled instead: each wait is a thread.</summary>
    internal const int MaxThreads = 256;

    private const int LowestSignal = 50;
    private static readonly TimeSpan Resend = TimeSpan.FromMilliseconds(2);

    private readonly int _signal;
    private readonly int _pid;
    private int _threads;

    private LockWaiter(int signal)
    {
        _signal = signal;
        _pid = Interop.GetPid();
    }

    /// <summary>The real-time signal that interrupts a waiting thread.</summary>
    public int Signal => _signal;

    /// <summary>How many waits are blocked right now (for tests).</summary>
    public int Waiting => Volatile.Read(ref _threads);

    /// <summary>Installs the interrupting signal's handler; null when this process cannot (the caller then polls).</summary>
    public static unsafe LockWaiter? Create()
    {
        if (RuntimeInformation.ProcessArchitecture != Architecture.X64)
        {
            return null;
        }

        nint page = Interop.Mmap(0, 4096, Interop.PROT_READ | Interop.PROT_WRITE, Interop.MAP_PRIVATE | Interop.MAP_ANONYMOUS, -1, 0);
        if (page == -1)
        {
            return null;
        }

        *(byte*)page = 0xC3; // ret
        if (Interop.Mprotect(page, 4096, Interop.PROT_READ | Interop.PROT_EXEC) != 0)
        {
            return null;
        }

        for (int signal = Interop.SIGRTMAX; signal >= LowestSignal; signal--)
        {
            Interop.SigAction current;
            if (Interop.SigActionCall(signal, null, &current) != 0 || current.Handler != 0)
            {
                continue; // taken by someone else
            }

            // No SA_RESTART: the point is that the blocked call returns EINTR.
            var action = new Interop.SigAction { Handler = page };
            if (Interop.SigActionCall(signal, &action, null) == 0)
            {
                return new LockWaiter(signal);
            }
        }

        return null;
    }

    /// <summary>
    /// Runs <paramref name="blockingCall"/> (which returns its errno) on a dedicated thread until it returns anything
    /// but <c>EINTR</c>, or until <paramref name="cancellationToken"/> is cancelled (then <c>EINTR</c>). Past
    /// <see cref="MaxThreads"/> waits, polls <paramref name="attempt"/> (the same call without waiting) instead.
    /// </summary>
    public ValueTask<Errno> WaitAsync(Func<Errno> blockingCall, Func<Errno> attempt, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return new(Errno.EINTR);
        }

        if (Interlocked.Increment(ref _threads) > MaxThreads)
        {
            Interlocked.Decrement(ref _threads);
            return LockRetry.PollAsync(attempt, cancellationToken);
        }

        var wait = new Wait(this, blockingCall);
        wait.Registration = cancellationToken.UnsafeRegister(static s => ((Wait)s!).Cancel(), wait);
        var thread = new Thread(static s => ((Wait)s!).Run(), maxStackSize: 256 * 1024)
        {
            IsBackground = true,
            Name = "pt-lock-wait",
        };
        thread.UnsafeStart(wait);
        return new(wait.Completion.Task);
    }

    private sealed class Wait(LockWaiter owner, Func<Errno> call)
    {
        private readonly Lock _gate = new();
        private int _tid;
        private bool _cancelled;
        private bool _done;

        public TaskCompletionSource<Errno> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public CancellationTokenRegistration Registration { get; set; }

        public unsafe void Run()
        {
            Errno result = Errno.EINTR;
            try
            {
                // Threads the runtime creates may have signals blocked; ours must be deliverable here.
                Interop.SigSet set = Interop.SigSet.Of(owner._signal);
                _ = Interop.PthreadSigmask(Interop.SIG_UNBLOCK, &set, null);
                int tid = (int)Interop.Syscall(Interop.SYS_gettid, 0, 0, 0);
                while (true)
                {
                    lock (_gate)
                    {
                        if (_cancelled)
                        {
                            result = Errno.EINTR;
                            break;
                        }

                        _tid = tid;
                    }

                    result = call();
                    if (result != Errno.EINTR)
                    {
                        break;
                    }
                }
            }
            finally
            {
                lock (_gate)
                {
                    // From here the thread may exit and its tid be reused: no more signals.
                    _done = true;
                }

                Interlocked.Decrement(ref owner._threads);
                Registration.Dispose();
                Completion.SetResult(result);
            }
        }

        public void Cancel()
        {
            lock (_gate)
            {
                _cancelled = true;
                if (_done)
                {
                    return;
                }

                Kick();
            }

            _ = ResendAsync();
        }

        /// <summary>Signals the waiting thread; under <see cref="_gate"/>, so the thread is still in the wait loop.</summary>
        private void Kick()
        {
            if (_tid != 0)
            {
                _ = Interop.Syscall(Interop.SYS_tgkill, owner._pid, _tid, owner._signal);
            }
        }

        private async Task ResendAsync()
        {
            while (true)
            {
                await Task.Delay(Resend).ConfigureAwait(false);
                lock (_gate)
                {
                    if (_done)
                    {
                        return;
                    }

                    Kick();
                }
            }
        }
    }
}
