namespace VirtioFs.Dax;

/// <summary>The free and busy lists (threaded through <see cref="RangeSlot.Prev"/>/<see cref="RangeSlot.Next"/>) and
/// the queue of callers waiting for a free range, all under <see cref="_listLock"/>.</summary>
public sealed partial class DaxRangeAllocator
{
    private readonly Lock _listLock = new();
    private readonly LinkedList<Waiter> _waiters = new();
    private readonly long _threshold;
    private int _freeHead = -1;
    private int _freeTail = -1;
    private int _freeCount;
    private int _busyHead = -1;
    private int _busyTail = -1;
    private int _busyCount;
    private volatile int _waiterCount;

    private void InitialiseLists()
    {
        // Fixed seed: the treap's balance only needs priorities independent of file offsets, and a fixed seed keeps runs reproducible.
        var random = new Random(0x5DA7);
        for (int i = 0; i < Slots.Length; i++)
        {
            ref RangeSlot slot = ref Slots[i];
            slot.Left = -1;
            slot.Right = -1;
            slot.Priority = random.Next();
            Append(ref _freeHead, ref _freeTail, i);
            slot.List = RangeList.Free;
        }

        _freeCount = Slots.Length;
    }

    /// <summary>Takes the head of the free list, or -1; kicks background reclaim when free ranges fall below the threshold.</summary>
    internal int TakeFree()
    {
        int range;
        bool low;
        lock (_listLock)
        {
            range = _freeHead;
            if (range < 0)
            {
                low = true;
            }
            else
            {
                Unlink(ref _freeHead, ref _freeTail, range);
                Slots[range].List = RangeList.None;
                Volatile.Write(ref _freeCount, _freeCount - 1);
                low = _freeCount < _threshold;
            }
        }

        if (low)
        {
            KickBackground();
        }

        return range;
    }

    /// <summary>Puts a range that is on no list at the tail of the free list and wakes one waiter.</summary>
    internal void ReturnToFree(int range)
    {
        lock (_listLock)
        {
            PushFreeLocked(range);
        }
    }

    internal void AddToBusy(int range)
    {
        lock (_listLock)
        {
            Append(ref _busyHead, ref _busyTail, range);
            Slots[range].List = RangeList.Busy;
            Volatile.Write(ref _busyCount, _busyCount + 1);
        }
    }

    internal void DetachFromBusy(int range)
    {
        lock (_listLock)
        {
            UnlinkBusyLocked(range);
        }
    }

    internal void MoveBusyToFree(int range) => MoveBusyToFree(new ReadOnlySpan<int>(in range));

    internal void MoveBusyToFree(ReadOnlySpan<int> ranges)
    {
        lock (_listLock)
        {
            foreach (int range in ranges)
            {
                UnlinkBusyLocked(range);
                PushFreeLocked(range);
            }
        }
    }

    /// <summary>Waits until a range is free, <paramref name="timeout"/> passes, or the allocator stops; returns at
    /// once when one is free already. The caller then tries again: being woken hands over no range.</summary>
    internal async ValueTask WaitForFreeRangeAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        Waiter waiter;
        lock (_listLock)
        {
            if (_freeCount > 0 || IsStopping)
            {
                return;
            }

            waiter = new Waiter();
            waiter.Node = _waiters.AddLast(waiter);
            _waiterCount++;
        }

        Interlocked.Increment(ref _waits);
        KickBackground();
        try
        {
            await waiter.Task.WaitAsync(timeout, Time, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is TimeoutException or OperationCanceledException)
        {
            lock (_listLock)
            {
                if (waiter.Node!.List is not null)
                {
                    _waiters.Remove(waiter.Node);
                    _waiterCount--;
                }
                else if (exception is OperationCanceledException && _freeCount > 0)
                {
                    // Woken for a free range at the moment we gave up: pass the wake-up on so that it is not lost.
                    WakeOneLocked();
                }
            }

            if (exception is OperationCanceledException)
            {
                throw;
            }
        }
    }

    private void WakeAllWaiters()
    {
        lock (_listLock)
        {
            while (_waiters.First is not null)
            {
                WakeOneLocked();
            }
        }
    }

    private void WakeOneLocked()
    {
        LinkedListNode<Waiter>? first = _waiters.First;
        if (first is not null)
        {
            _waiters.RemoveFirst();
            _waiterCount--;
            first.Value.TrySetResult();
        }
    }

    private void PushFreeLocked(int range)
    {
        Append(ref _freeHead, ref _freeTail, range);
        Slots[range].List = RangeList.Free;
        Volatile.Write(ref _freeCount, _freeCount + 1);
        WakeOneLocked();
    }

    private void UnlinkBusyLocked(int range)
    {
        if (Slots[range].List == RangeList.Busy)
        {
            Unlink(ref _busyHead, ref _busyTail, range);
            Slots[range].List = RangeList.None;
            Volatile.Write(ref _busyCount, _busyCount - 1);
        }
    }

    /// <summary>Moves a busy range to the tail, so that the next walk looks at others first.</summary>
    private void RotateBusyLocked(int range)
    {
        Unlink(ref _busyHead, ref _busyTail, range);
        Append(ref _busyHead, ref _busyTail, range);
    }

    private void Append(ref int head, ref int tail, int range)
    {
        ref RangeSlot slot = ref Slots[range];
        slot.Prev = tail;
        slot.Next = -1;
        if (tail >= 0)
        {
            Slots[tail].Next = range;
        }
        else
        {
            head = range;
        }

        tail = range;
    }

    private void Unlink(ref int head, ref int tail, int range)
    {
        ref RangeSlot slot = ref Slots[range];
        if (slot.Prev >= 0)
        {
            Slots[slot.Prev].Next = slot.Next;
        }
        else
        {
            head = slot.Next;
        }

        if (slot.Next >= 0)
        {
            Slots[slot.Next].Prev = slot.Prev;
        }
        else
        {
            tail = slot.Prev;
        }

        slot.Prev = -1;
        slot.Next = -1;
    }

    private sealed class Waiter() : TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        public LinkedListNode<Waiter>? Node { get; set; }
    }
}
