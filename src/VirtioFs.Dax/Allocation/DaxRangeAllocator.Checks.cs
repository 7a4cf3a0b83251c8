namespace VirtioFs.Dax;

/// <summary>A consistency check of lists and indexes, for tests and debugging; meaningful only while no operation runs.</summary>
public sealed partial class DaxRangeAllocator
{
    internal int LiveInodes => _inodes.Count;

    /// <summary>Describes the first inconsistency found, or returns null.</summary>
    internal string? FindInconsistency()
    {
        var owners = new DaxInode?[Slots.Length];
        lock (_listLock)
        {
            int free = 0;
            for (int range = _freeHead, prev = -1; range >= 0; prev = range, range = Slots[range].Next)
            {
                ref RangeSlot slot = ref Slots[range];
                if (slot.List != RangeList.Free || slot.Prev != prev || slot.Owner is not null || slot.Pins != 0 || ++free > Slots.Length)
                {
                    return $"free range {range} is malformed (list {slot.List}, owner {slot.Owner?.NodeId}, pins {slot.Pins})";
                }
            }

            int busy = 0;
            for (int range = _busyHead, prev = -1; range >= 0; prev = range, range = Slots[range].Next)
            {
                ref RangeSlot slot = ref Slots[range];
                if (slot.List != RangeList.Busy || slot.Prev != prev || slot.Owner is null || ++busy > Slots.Length)
                {
                    return $"busy range {range} is malformed (list {slot.List}, owner {slot.Owner?.NodeId})";
                }

                owners[range] = slot.Owner;
            }

            if (free != _freeCount || busy != _busyCount)
            {
                return $"counts {_freeCount} free, {_busyCount} busy; lists hold {free} and {busy}";
            }

            if (free + busy != Slots.Length)
            {
                return $"{free} free + {busy} busy != {Slots.Length} total";
            }
        }

        var seen = new bool[Slots.Length];
        var buffer = new int[Slots.Length];
        foreach (DaxInode inode in _inodes.Values)
        {
            int count = inode.CopyRanges(buffer);
            if (count != inode.MappedRanges)
            {
                return $"node {inode.NodeId} counts {inode.MappedRanges} ranges; its index holds {count}";
            }

            for (int i = 0; i < count; i++)
            {
                int range = buffer[i];
                if (seen[range])
                {
                    return $"range {range} is in two indexes (second: node {inode.NodeId})";
                }

                seen[range] = true;
                if (owners[range] != inode || (i > 0 && Slots[buffer[i - 1]].FileKey >= Slots[range].FileKey))
                {
                    return $"range {range} of node {inode.NodeId} is misplaced (busy owner {owners[range]?.NodeId}, key {Slots[range].FileKey})";
                }
            }
        }

        for (int range = 0; range < Slots.Length; range++)
        {
            if (owners[range] is not null && !seen[range])
            {
                return $"busy range {range} of node {owners[range]!.NodeId} is in no live index";
            }
        }

        return null;
    }
}
