namespace VirtioFs.Protocol;

/// <summary>
/// Interrupts whose request no worker has started yet (another worker read the interrupt first, or the request is
/// still on its way). The request, when a worker starts it, is answered <c>EINTR</c> without reaching the filesystem.
/// Bounded: past the capacity the oldest entry is dropped (most likely the interrupt of a request that completed
/// before its interrupt was read).
/// </summary>
/// <remarks>Interrupts are rare, so entries live in a linked list (oldest first) indexed by unique: taking one
/// removes it at once, and only entries still waiting count against the capacity.</remarks>
internal sealed class EarlyInterrupts(int capacity)
{
    private readonly Lock _lock = new();
    private readonly LinkedList<ulong> _order = new();
    private readonly Dictionary<ulong, LinkedListNode<ulong>> _entries = [];
    private int _count;

    public void Add(ulong unique)
    {
        lock (_lock)
        {
            if (_entries.ContainsKey(unique))
            {
                return;
            }

            _entries.Add(unique, _order.AddLast(unique));
            if (_entries.Count > capacity)
            {
                _entries.Remove(_order.First!.Value);
                _order.RemoveFirst();
            }

            // A full fence: the count is visible before the caller goes on to scan the in-flight slots.
            Interlocked.Exchange(ref _count, _entries.Count);
        }
    }

    /// <summary>Removes <paramref name="unique"/> if an interrupt for it is waiting; lock-free when none is.</summary>
    /// <remarks>The caller has just published the request in its slot. The fence keeps that store ahead of the count's
    /// load (a store-load pair that the processor may otherwise swap), so that this and <see cref="Add"/> followed by a
    /// slot scan cannot both miss each other.</remarks>
    public bool TryTake(ulong unique)
    {
        Interlocked.MemoryBarrier();
        if (Volatile.Read(ref _count) == 0)
        {
            return false;
        }

        lock (_lock)
        {
            if (!_entries.Remove(unique, out LinkedListNode<ulong>? node))
            {
                return false;
            }

            _order.Remove(node);
            Volatile.Write(ref _count, _entries.Count);
            return true;
        }
    }
}
