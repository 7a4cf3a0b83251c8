using System.Runtime.InteropServices;

namespace VirtioFs.Transport.VhostUser;

/*
 * Split virtqueue layout (virtio 1.x, "Split Virtqueues"; Linux include/uapi/linux/virtio_ring.h). All fields
 * little-endian; queue size num is a power of two, at most 32768.
 *
 *   Descriptor table (16-byte aligned), num entries of 16 bytes:
 *     +0  u64 addr    guest-physical buffer address
 *     +8  u32 len     buffer length
 *     +12 u16 flags   NEXT=1, WRITE=2 (device writes), INDIRECT=4 (addr/len name a table of descriptors)
 *     +14 u16 next    index of the next descriptor when NEXT
 *
 *   Available ring (driver -> device, 2-byte aligned), 6 + 2*num bytes:
 *     +0  u16 flags         NO_INTERRUPT=1 (ignored with EVENT_IDX)
 *     +2  u16 idx           free-running count of heads the driver made available
 *     +4  u16 ring[num]     descriptor chain heads
 *     +4+2*num u16 used_event   (EVENT_IDX) signal the driver when used idx passes this
 *
 *   Used ring (device -> driver, 4-byte aligned), 6 + 8*num bytes:
 *     +0  u16 flags         NO_NOTIFY=1 (ignored with EVENT_IDX)
 *     +2  u16 idx           free-running count of elements the device returned
 *     +4  { u32 id; u32 len; } ring[num]   head index, bytes written into the chain's writable buffers
 *     +4+8*num u16 avail_event  (EVENT_IDX) the driver kicks when avail idx passes this
 */

/// <summary>One descriptor (C <c>struct vring_desc</c>, 16 bytes), always a copy read out of guest memory.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct VirtqDescriptor
{
    public const int Size = 16;

    public ulong Address;
    public uint Length;
    public ushort Flags;
    public ushort Next;
}

/// <summary>The numbers of the split-virtqueue layout above.</summary>
internal static class VirtqLayout
{
    public const ushort DescriptorFlagNext = 1;
    public const ushort DescriptorFlagWrite = 2;
    public const ushort DescriptorFlagIndirect = 4;

    /// <summary><c>VRING_AVAIL_F_NO_INTERRUPT</c>.</summary>
    public const ushort AvailFlagNoInterrupt = 1;

    /// <summary><c>VRING_USED_F_NO_NOTIFY</c>.</summary>
    public const ushort UsedFlagNoNotify = 1;

    /// <summary>Feature bit <c>VIRTIO_RING_F_INDIRECT_DESC</c>.</summary>
    public const int FeatureIndirectDescriptors = 28;

    /// <summary>Feature bit <c>VIRTIO_RING_F_EVENT_IDX</c>.</summary>
    public const int FeatureEventIndex = 29;

    public const int MaxQueueSize = 32768;

    /// <summary>
    /// The smallest bound on a chain's descriptors, whatever the queue size: Linux builds one indirect table per
    /// request (a 1 MiB virtio-fs WRITE is about 260 entries) even on a 128-entry queue. QEMU bounds chains alike.
    /// </summary>
    public const int MinChainBound = 1024;

    /// <summary>How many descriptors (indirect entries included) one chain of a queue of <paramref name="queueSize"/> may hold.</summary>
    public static int ChainBound(int queueSize) => Math.Max(queueSize, MinChainBound);

    public const int DescriptorTableAlignment = 16;
    public const int AvailRingAlignment = 2;
    public const int UsedRingAlignment = 4;

    public const int UsedElementSize = 8;

    public static ulong DescriptorTableSize(int queueSize) => (ulong)queueSize * VirtqDescriptor.Size;

    /// <summary>flags, idx, ring[num], used_event.</summary>
    public static ulong AvailRingSize(int queueSize) => 6 + (2 * (ulong)queueSize);

    /// <summary>flags, idx, ring[num], avail_event.</summary>
    public static ulong UsedRingSize(int queueSize) => 6 + (UsedElementSize * (ulong)queueSize);

    /// <summary>
    /// <c>vring_need_event</c>: whether moving an index from <paramref name="oldIndex"/> to <paramref name="newIndex"/>
    /// passed <paramref name="eventIndex"/> (all mod 2^16), i.e. the other side asked to hear about this step.
    /// </summary>
    public static bool NeedEvent(ushort eventIndex, ushort newIndex, ushort oldIndex)
        => (ushort)(newIndex - eventIndex - 1) < (ushort)(newIndex - oldIndex);
}
