using VirtioFs.Protocol;

namespace VirtioFs.Samples.MemoryFs;

/// <summary>A held byte-range lock; <see cref="End"/> is inclusive, as on the wire.</summary>
internal readonly record struct RangeLock(ulong Owner, uint Pid, uint Type, ulong Start, ulong End)
{
    public bool Overlaps(ulong start, ulong end) => Start <= end && start <= End;

    /// <summary>Whether the ranges touch without overlapping, so two same-type locks can merge.</summary>
    public bool Adjoins(ulong start, ulong end)
        => (End != ulong.MaxValue && End + 1 == start) || (end != ulong.MaxValue && end + 1 == Start);
}

/// <summary>
/// The byte-range locks of one node, with POSIX semantics: locks of different owners conflict when they overlap and
/// one is a write lock; an owner's own locks never conflict, and a new lock replaces, splits or merges with them.
/// </summary>
/// <remarks>Has its own lock, so waiters (SETLKW) never hold the filesystem's tree lock.</remarks>
internal sealed class RangeLockTable
{
    private readonly Lock _gate = new();
    private readonly List<RangeLock> _locks = [];

    // Completed (and replaced) whenever locks are released or changed, to wake every waiter for a retry.
    private TaskCompletionSource? _changed;

    public RangeLock? FindConflict(RangeLock request)
    {
        lock (_gate)
        {
            return FindConflictLocked(request);
        }
    }

    /// <summary>Sets or clears <paramref name="request"/>; on conflict fails with EAGAIN, or waits when
    /// <paramref name="wait"/> until it can proceed or <paramref name="cancellationToken"/> fires (EINTR).</summary>
    public async ValueTask<Errno> SetAsync(RangeLock request, bool wait, CancellationToken cancellationToken)
    {
        while (true)
        {
            if (TrySet(request, wait, out Task? changed))
            {
                return Errno.Success;
            }

            if (changed is null)
            {
                return Errno.EAGAIN;
            }

            try
            {
                await changed.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return Errno.EINTR;
            }
        }
    }

    /// <summary>Drops every lock of <paramref name="owner"/> (close of a descriptor, release of a flock).</summary>
    public void RemoveOwner(ulong owner)
    {
        lock (_gate)
        {
            if (_locks.RemoveAll(held => held.Owner == owner) != 0)
            {
                SignalLocked();
            }
        }
    }

    private bool TrySet(RangeLock request, bool wait, out Task? changed)
    {
        lock (_gate)
        {
            if (FindConflictLocked(request) is null)
            {
                ApplyLocked(request);
                changed = null;
                return true;
            }

            changed = wait ? (_changed ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task : null;
            return false;
        }
    }

    private RangeLock? FindConflictLocked(RangeLock request)
    {
        if (request.Type == LockType.Unlock)
        {
            return null;
        }

        foreach (RangeLock held in _locks)
        {
            if (held.Owner != request.Owner
                && held.Overlaps(request.Start, request.End)
                && (held.Type == LockType.Write || request.Type == LockType.Write))
            {
                return held;
            }
        }

        return null;
    }

    private void ApplyLocked(RangeLock request)
    {
        ulong start = request.Start;
        ulong end = request.End;
        bool locking = request.Type != LockType.Unlock;

        // The owner's locks never overlap one another, so widening the range while merging cannot hide an overlap
        // from a lock visited later. Pieces appended by splits lie past the index and are not revisited.
        for (int i = _locks.Count - 1; i >= 0; i--)
        {
            RangeLock held = _locks[i];
            if (held.Owner != request.Owner)
            {
                continue;
            }

            bool sameType = locking && held.Type == request.Type;
            if (!held.Overlaps(start, end))
            {
                if (sameType && held.Adjoins(start, end))
                {
                    _locks.RemoveAt(i);
                    (start, end) = (Math.Min(start, held.Start), Math.Max(end, held.End));
                }

                continue;
            }

            _locks.RemoveAt(i);
            if (sameType)
            {
                (start, end) = (Math.Min(start, held.Start), Math.Max(end, held.End));
                continue;
            }

            if (held.Start < start)
            {
                _locks.Add(held with { End = start - 1 });
            }

            if (held.End > end)
            {
                _locks.Add(held with { Start = end + 1 });
            }
        }

        if (locking)
        {
            _locks.Add(request with { Start = start, End = end });
        }

        // Any change (an unlock, a downgrade) may let a waiter through.
        SignalLocked();
    }

    private void SignalLocked()
    {
        _changed?.TrySetResult();
        _changed = null;
    }
}
