using System.Runtime.InteropServices;

namespace VirtioFs.Transport.VhostUser;

/// <summary>What <see cref="SplitVirtqueue.TryPop"/> found.</summary>
internal enum VirtqueuePopStatus
{
    /// <summary>A chain was popped.</summary>
    Popped,

    /// <summary>No chain is available.</summary>
    Empty,

    /// <summary>The queue is broken (<see cref="SplitVirtqueue.Violation"/>).</summary>
    Broken,
}

/// <summary>What <see cref="SplitVirtqueue.TryComplete"/> did.</summary>
internal enum VirtqueuePushStatus
{
    /// <summary>The reply was written and the chain returned.</summary>
    Completed,

    /// <summary>The reply is larger than the chain's writable buffers; nothing was written and the chain is still held.</summary>
    ReplyTooLarge,

    /// <summary>The queue is broken; nothing was returned.</summary>
    Broken,
}

/// <summary>
/// The device side of one split virtqueue (layout in <c>VirtqLayout.cs</c>) in guest memory: pops descriptor chains
/// the driver made available, validates them, and returns them through the used ring with notification suppression
/// (<c>VIRTIO_RING_F_EVENT_IDX</c> or the ring flags).
/// </summary>
/// <remarks>
/// <para>Every descriptor is copied out of guest memory before it is looked at (the guest may change it meanwhile);
/// indirect tables are copied whole. A chain is at most <see cref="VirtqLayout.ChainBound"/> descriptors long, indirect
/// descriptors counted against the same bound, and no descriptor may be visited twice. Any violation breaks the queue for good
/// (<see cref="Violation"/>, <see cref="ViolationMessage"/>): the guest loses the queue, never our process.</para>
/// <para>Popping and returning are each serialised by a lock of their own: the rings are single-producer structures.
/// The rings themselves are pinned (mapped) for the queue's lifetime.</para>
/// </remarks>
internal sealed unsafe partial class SplitVirtqueue : IDisposable
{
    private readonly GuestMemory _memory;
    private readonly int _size;
    private readonly bool _indirect;
    private readonly bool _eventIndex;
    private readonly Lock _availLock = new();
    private readonly Lock _usedLock = new();
    private readonly DescriptorChain?[] _chains;
    private readonly RingLease _desc;
    private readonly RingLease _avail;
    private readonly RingLease _used;

    // Walk state, used under _availLock only.
    private readonly VirtqDescriptor[] _indirectTable;
    private readonly int[] _visitedDirect;
    private readonly int[] _visitedIndirect;
    private int _walkStamp;
    private ushort _lastAvailIndex;

    // Used-ring state, used under _usedLock only.
    private ushort _usedIndex;
    private ushort _signalledUsed;
    private bool _signalledUsedValid;

    private volatile string? _violationMessage;
    private int _violation;
    private int _disposed;

    /// <summary>Attaches to a queue whose rings the VMM placed at the given VMM-virtual addresses.</summary>
    /// <param name="memory">The guest's memory.</param>
    /// <param name="size">Queue size (<c>VHOST_USER_SET_VRING_NUM</c>): a power of two, at most 32768.</param>
    /// <param name="descriptorTable">Descriptor table address (VMM-virtual).</param>
    /// <param name="availRing">Available ring address (VMM-virtual).</param>
    /// <param name="usedRing">Used ring address (VMM-virtual).</param>
    /// <param name="indirectDescriptors">Whether <c>VIRTIO_RING_F_INDIRECT_DESC</c> was negotiated.</param>
    /// <param name="eventIndex">Whether <c>VIRTIO_RING_F_EVENT_IDX</c> was negotiated.</param>
    /// <param name="availBase">The next available index to serve (<c>VHOST_USER_SET_VRING_BASE</c>).</param>
    /// <exception cref="VirtqueueException">The size or a ring address is invalid.</exception>
    public SplitVirtqueue(
        GuestMemory memory, int size, ulong descriptorTable, ulong availRing, ulong usedRing, bool indirectDescriptors, bool eventIndex, ushort availBase = 0)
    {
        ArgumentNullException.ThrowIfNull(memory);

        // The rings are read in place as native integers: virtio 1.x rings are little-endian.
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("Virtqueues are served on little-endian hosts only.");
        }

        if (size <= 0 || size > VirtqLayout.MaxQueueSize || (size & (size - 1)) != 0)
        {
            throw new VirtqueueException(VirtqueueViolation.InvalidQueueSize, $"Queue size {size} is not a power of two in 1..32768.");
        }

        _memory = memory;
        _size = size;
        _indirect = indirectDescriptors;
        _eventIndex = eventIndex;
        _chains = new DescriptorChain?[size];
        _indirectTable = new VirtqDescriptor[VirtqLayout.ChainBound(size)];
        _visitedDirect = new int[size];
        _visitedIndirect = new int[_indirectTable.Length];
        _lastAvailIndex = availBase;

        GuestMemoryTable table = memory.Table;
        try
        {
            _desc = RingLease.Acquire(table, descriptorTable, VirtqLayout.DescriptorTableSize(size), VirtqLayout.DescriptorTableAlignment, "descriptor table");
            _avail = RingLease.Acquire(table, availRing, VirtqLayout.AvailRingSize(size), VirtqLayout.AvailRingAlignment, "available ring");
            _used = RingLease.Acquire(table, usedRing, VirtqLayout.UsedRingSize(size), VirtqLayout.UsedRingAlignment, "used ring");
        }
        catch
        {
            // The rings acquired before the failing one (the others are still default and release nothing).
            ReleaseRings();
            throw;
        }

        // The used index the driver last saw from the device (a fresh ring has 0; a restored one its old value).
        _usedIndex = Volatile.Read(ref UsedIndexRef);
    }

    public bool IsBroken => Volatile.Read(ref _violation) != 0;

    public VirtqueueViolation Violation => (VirtqueueViolation)Volatile.Read(ref _violation);

    public string? ViolationMessage => _violationMessage;

    /// <summary>The next available index to serve (<c>VHOST_USER_GET_VRING_BASE</c>).</summary>
    public ushort LastAvailIndex
    {
        get
        {
            lock (_availLock)
            {
                return _lastAvailIndex;
            }
        }
    }

    private ref ushort AvailFlagsRef => ref *(ushort*)_avail.Pointer;

    private ref ushort AvailIndexRef => ref *(ushort*)(_avail.Pointer + 2);

    private ref ushort UsedEventRef => ref *(ushort*)(_avail.Pointer + 4 + (2 * _size));

    private ref ushort UsedFlagsRef => ref *(ushort*)_used.Pointer;

    private ref ushort UsedIndexRef => ref *(ushort*)(_used.Pointer + 2);

    private ref ushort AvailEventRef => ref *(ushort*)(_used.Pointer + 4 + (VirtqLayout.UsedElementSize * _size));

    /// <summary>
    /// Pops the next available chain and validates it. On <see cref="VirtqueuePopStatus.Popped"/> the device holds the
    /// chain until <see cref="TryComplete"/> returns it.
    /// </summary>
    public VirtqueuePopStatus TryPop(out DescriptorChain? chain)
    {
        chain = null;
        lock (_availLock)
        {
            if (IsBroken)
            {
                return VirtqueuePopStatus.Broken;
            }

            // Acquire: the ring entries and descriptors the driver wrote before publishing idx are read after it
            // (the spec's read barrier between the idx read and the descriptor reads).
            ushort availIndex = Volatile.Read(ref AvailIndexRef);
            ushort pending = (ushort)(availIndex - _lastAvailIndex);
            if (pending == 0)
            {
                return VirtqueuePopStatus.Empty;
            }

            if (pending > _size)
            {
                return Break(VirtqueueViolation.AvailIndexJump, $"The available index moved from {_lastAvailIndex} to {availIndex}, more than the queue size {_size}.");
            }

            ushort head = *(ushort*)(_avail.Pointer + 4 + (2 * (_lastAvailIndex & (_size - 1))));
            if (head >= _size)
            {
                return Break(VirtqueueViolation.HeadOutOfRange, $"Available ring entry {_lastAvailIndex} names descriptor {head}, outside a table of {_size}.");
            }

            DescriptorChain slot = _chains[head] ??= new DescriptorChain();
            if (slot.InFlight)
            {
                return Break(VirtqueueViolation.HeadInUse, $"Available ring entry {_lastAvailIndex} names chain {head}, which the device has not returned yet.");
            }

            slot.Reset(head);
            if (!Walk(slot))
            {
                return VirtqueuePopStatus.Broken;
            }

            slot.InFlight = true;
            _lastAvailIndex++;
            chain = slot;
            return VirtqueuePopStatus.Popped;
        }
    }

    /// <summary>The chain object of a head, or null when the head was never popped.</summary>
    public DescriptorChain? ChainAt(ushort head) => head < _size ? Volatile.Read(ref _chains[head]) : null;

    /// <summary>
    /// Re-enables kicks before the device waits (writes <c>avail_event</c>, or clears <c>NO_NOTIFY</c>), then looks
    /// again: true when chains became available meanwhile (serve them instead of waiting; a kick may never come).
    /// </summary>
    public bool EnableNotifications()
    {
        lock (_availLock)
        {
            if (_eventIndex)
            {
                Volatile.Write(ref AvailEventRef, _lastAvailIndex);
            }
            else
            {
                Volatile.Write(ref UsedFlagsRef, 0);
            }

            // Full barrier: our write must be visible before we read idx again, or a driver that published just
            // before our write and read the old avail_event skips the kick while we go to sleep.
            Interlocked.MemoryBarrier();
            return !IsBroken && Volatile.Read(ref AvailIndexRef) != _lastAvailIndex;
        }
    }

    /// <summary>Asks the driver not to kick while the device is busy anyway (only without event index: with it, a stale avail_event suppresses kicks already).</summary>
    public void DisableNotifications()
    {
        if (!_eventIndex)
        {
            Volatile.Write(ref UsedFlagsRef, VirtqLayout.UsedFlagNoNotify);
        }
    }

    /// <summary>Copies the chain's readable buffers (the request) into <paramref name="destination"/>, at most its length.</summary>
    /// <returns>Bytes copied, or -1 when guest memory no longer maps a buffer (the queue is then broken).</returns>
    public int ReadRequest(DescriptorChain chain, Span<byte> destination)
    {
        int copied = 0;
        foreach (VirtqBuffer buffer in chain.Readable)
        {
            int count = (int)Math.Min(buffer.Length, (uint)(destination.Length - copied));
            if (!_memory.TryRead(buffer.Address, destination.Slice(copied, count)))
            {
                Break(VirtqueueViolation.BufferUnmapped, $"Readable buffer 0x{buffer.Address:x}+{buffer.Length} of chain {chain.Head} is no longer mapped.");
                return -1;
            }

            copied += count;
            if (copied == destination.Length)
            {
                break;
            }
        }

        return copied;
    }

    /// <summary>
    /// Writes <paramref name="reply"/> into the chain's writable buffers and returns the chain through the used ring
    /// (<c>len</c> = reply length; an empty reply returns the chain with <c>len</c> 0).
    /// </summary>
    /// <param name="chain">A chain popped from this queue and not yet completed.</param>
    /// <param name="reply">The bytes to write.</param>
    /// <param name="signal">Whether the driver wants an interrupt (signal the call eventfd) for this completion.</param>
    /// <exception cref="InvalidOperationException">The chain is not held by the device (a bug of the caller's).</exception>
    public VirtqueuePushStatus TryComplete(DescriptorChain chain, ReadOnlySpan<byte> reply, out bool signal)
    {
        signal = false;
        if (!chain.InFlight || !ReferenceEquals(_chains[chain.Head], chain))
        {
            throw new InvalidOperationException($"Chain {chain.Head} is not held by this queue.");
        }

        if ((ulong)reply.Length > chain.WritableLength)
        {
            return VirtqueuePushStatus.ReplyTooLarge;
        }

        if (IsBroken)
        {
            return VirtqueuePushStatus.Broken;
        }

        // Scatter outside the used lock: the buffers belong to this chain alone until it is returned.
        ReadOnlySpan<byte> rest = reply;
        foreach (VirtqBuffer buffer in chain.Writable)
        {
            if (rest.IsEmpty)
            {
                break;
            }

            int count = (int)Math.Min(buffer.Length, (uint)rest.Length);
            if (!_memory.TryWrite(buffer.Address, rest[..count]))
            {
                Break(VirtqueueViolation.BufferUnmapped, $"Writable buffer 0x{buffer.Address:x}+{buffer.Length} of chain {chain.Head} is no longer mapped.");
                return VirtqueuePushStatus.Broken;
            }

            rest = rest[count..];
        }

        lock (_usedLock)
        {
            byte* element = _used.Pointer + 4 + (VirtqLayout.UsedElementSize * (_usedIndex & (_size - 1)));
            *(uint*)element = chain.Head;
            *(uint*)(element + 4) = (uint)reply.Length;
            chain.InFlight = false;
            ushort newIndex = ++_usedIndex;

            // Release: the element (and the reply bytes) are visible before the index that publishes them.
            Volatile.Write(ref UsedIndexRef, newIndex);

            // Full barrier: the index store must be visible before we read the driver's suppression state, or a driver
            // that re-enabled interrupts just now (having seen the old index) waits for a signal we decide to skip.
            Interlocked.MemoryBarrier();
            signal = NeedsSignal(newIndex);
        }

        return VirtqueuePushStatus.Completed;
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        ReleaseRings();
    }

    private bool NeedsSignal(ushort newIndex)
    {
        if (!_eventIndex)
        {
            return (Volatile.Read(ref AvailFlagsRef) & VirtqLayout.AvailFlagNoInterrupt) == 0;
        }

        ushort old = _signalledUsed;
        bool valid = _signalledUsedValid;
        _signalledUsed = newIndex;
        _signalledUsedValid = true;
        return !valid || VirtqLayout.NeedEvent(Volatile.Read(ref UsedEventRef), newIndex, old);
    }

    private VirtqueuePopStatus Break(VirtqueueViolation violation, string message)
    {
        if (Interlocked.CompareExchange(ref _violation, (int)violation, 0) == 0)
        {
            _violationMessage = message;
        }

        return VirtqueuePopStatus.Broken;
    }

    private void ReleaseRings()
    {
        _used.Release();
        _avail.Release();
        _desc.Release();
    }

    /// <summary>A ring's bytes, held mapped (by a reference on the region's buffer) for the queue's lifetime.</summary>
    private readonly struct RingLease(SafeBuffer memory, byte* pointer)
    {
        public byte* Pointer { get; } = pointer;

        public static RingLease Acquire(GuestMemoryTable table, ulong address, ulong length, int alignment, string name)
        {
            if ((address & (ulong)(alignment - 1)) != 0)
            {
                throw new VirtqueueException(VirtqueueViolation.RingMisaligned, $"The {name} at 0x{address:x} is not {alignment}-byte aligned.");
            }

            GuestMemoryRegion? region = table.TranslateUserspace(address, length, out ulong offset);
            if (region is null)
            {
                throw new VirtqueueException(VirtqueueViolation.RingUnmapped, $"The {name} at 0x{address:x}+{length} is not inside one memory region.");
            }

            byte* basePointer = null;
            try
            {
                region.Memory.AcquirePointer(ref basePointer);
            }
            catch (ObjectDisposedException)
            {
                throw new VirtqueueException(VirtqueueViolation.RingUnmapped, $"The {name}'s memory region was unmapped while the queue was set up.");
            }

            return new RingLease(region.Memory, basePointer + region.MemoryOffset + offset);
        }

        /// <summary>Gives the reference back; a lease never acquired (default) holds nothing. Called once, by the queue.</summary>
        public void Release() => memory?.ReleasePointer();
    }
}
