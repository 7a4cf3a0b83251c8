namespace VirtioFs.Transport.VhostUser;

/// <summary>What a driver (guest) did that breaks a virtqueue. Any of these ends the queue: the device stops serving it.</summary>
internal enum VirtqueueViolation
{
    None,

    /// <summary>The queue size is zero, not a power of two, or above 32768.</summary>
    InvalidQueueSize,

    /// <summary>A ring is not inside one memory region (VMM-virtual address).</summary>
    RingUnmapped,

    /// <summary>A ring's address breaks the ring's alignment.</summary>
    RingMisaligned,

    /// <summary>The available index moved by more than the queue size since we last looked.</summary>
    AvailIndexJump,

    /// <summary>An available-ring entry names a descriptor outside the table.</summary>
    HeadOutOfRange,

    /// <summary>An available-ring entry names a chain the device still holds.</summary>
    HeadInUse,

    /// <summary>A <c>next</c> field names a descriptor outside its table.</summary>
    NextOutOfRange,

    /// <summary>A chain visits a descriptor twice.</summary>
    ChainLoop,

    /// <summary>A chain (indirect descriptors included) has more descriptors than the queue size.</summary>
    ChainTooLong,

    /// <summary>An indirect descriptor without <c>VIRTIO_RING_F_INDIRECT_DESC</c>.</summary>
    IndirectNotNegotiated,

    /// <summary>An indirect descriptor inside an indirect table.</summary>
    NestedIndirect,

    /// <summary>An indirect descriptor that also has <c>NEXT</c>.</summary>
    IndirectWithNext,

    /// <summary>An indirect table whose length is zero or not a multiple of 16.</summary>
    IndirectLength,

    /// <summary>A buffer whose end wraps around the 64-bit address space.</summary>
    BufferOverflow,

    /// <summary>A buffer (or indirect table) with bytes outside every memory region.</summary>
    BufferUnmapped,

    /// <summary>A device-readable descriptor after a device-writable one.</summary>
    ReadableAfterWritable,
}

/// <summary>A virtqueue is broken by its driver; the message names the violation.</summary>
internal sealed class VirtqueueException(VirtqueueViolation violation, string message) : Exception(message)
{
    public VirtqueueViolation Violation { get; } = violation;
}
