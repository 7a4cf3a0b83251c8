namespace VirtioFs.Protocol;

/// <summary>
/// Interrupts that arrived before their request was dispatched (another worker had read the request but not yet
/// started it). The request is then answered <c>EINTR</c> without reaching the filesystem. Bounded: the oldest
/// entries (interrupts of requests that already completed) are dropped first.
/// </summary>
internal sealed class EarlyInterrupts(int capacity)
{
    private readonly Lock _lock = new();
    private readonly Queue<ulong> _order = new();
    private readonly HashSet<ulong> _uniques = [];
    private int _count;

    public void Add(ulong unique)
    {
        lock (_lock)
        {
            if (!_uniques.Add(unique))
            {
                return;
            }

            _order.Enqueue(unique);
            if (_order.Count > capacity)
            {
                _uniques.Remove(_order.Dequeue());
            }

            Volatile.Write(ref _count, _uniques.Count);
        }
    }

    /// <summary>Removes <paramref name="unique"/> if an interrupt for it is waiting; lock-free when none is.</summary>
    public bool TryTake(ulong unique)
    {
        if (Volatile.Read(ref _count) == 0)
        {
            return false;
        }

        lock (_lock)
        {
            if (!_uniques.Remove(unique))
            {
                return false;
            }

            Volatile.Write(ref _count, _uniques.Count);
            return true;
        }
    }
}
