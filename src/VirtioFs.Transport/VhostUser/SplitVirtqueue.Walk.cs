using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace VirtioFs.Transport.VhostUser;

/*
 * Descriptor chain rules enforced here (virtio 1.x "The Virtqueue Descriptor Table", "Indirect Descriptors"):
 *   - next < table size; no descriptor visited twice; at most max(queue size, 1024) descriptors per chain
 *     (VirtqLayout.ChainBound), the entries of an indirect table counted against the same bound;
 *   - INDIRECT only when negotiated, never together with NEXT, never inside an indirect table; the table's len is a
 *     non-zero multiple of 16 (sizeof(struct vring_desc)), and its WRITE flag is ignored;
 *   - every device-readable descriptor precedes every device-writable one;
 *   - addr + len does not wrap, and every byte is in guest memory.
 */

internal sealed unsafe partial class SplitVirtqueue
{
    /// <summary>Follows the chain at <see cref="DescriptorChain.Head"/>, filling <paramref name="chain"/>; false when it broke the queue.</summary>
    private bool Walk(DescriptorChain chain)
    {
        GuestMemoryTable memory = _memory.Table;
        int stamp = NextWalkStamp();
        int count = 0;
        bool inIndirect = false;
        int tableSize = _size;
        ushort index = chain.Head;
        bool writableSeen = false;

        while (true)
        {
            if (++count > _indirectTable.Length)
            {
                Break(VirtqueueViolation.ChainTooLong, $"Chain {chain.Head} has more than {_indirectTable.Length} descriptors (the chain bound).");
                return false;
            }

            int[] visited = inIndirect ? _visitedIndirect : _visitedDirect;
            if (visited[index] == stamp)
            {
                Break(VirtqueueViolation.ChainLoop, $"Chain {chain.Head} visits {(inIndirect ? "indirect " : string.Empty)}descriptor {index} twice.");
                return false;
            }

            visited[index] = stamp;

            // A copy: the guest can rewrite the table at any time, so nothing below reads it twice.
            VirtqDescriptor descriptor = inIndirect
                ? _indirectTable[index]
                : Unsafe.ReadUnaligned<VirtqDescriptor>(_desc.Pointer + (index * VirtqDescriptor.Size));

            if ((descriptor.Flags & VirtqLayout.DescriptorFlagIndirect) != 0)
            {
                if (!FollowIndirect(chain, descriptor, inIndirect, out tableSize))
                {
                    return false;
                }

                inIndirect = true;
                index = 0;
                continue;
            }

            if (descriptor.Length != 0 && descriptor.Address > ulong.MaxValue - (descriptor.Length - 1))
            {
                Break(VirtqueueViolation.BufferOverflow, $"Descriptor {index} of chain {chain.Head}: 0x{descriptor.Address:x}+{descriptor.Length} wraps around the address space.");
                return false;
            }

            if (!memory.IsMapped(descriptor.Address, descriptor.Length))
            {
                Break(VirtqueueViolation.BufferUnmapped, $"Descriptor {index} of chain {chain.Head}: 0x{descriptor.Address:x}+{descriptor.Length} is outside guest memory.");
                return false;
            }

            bool writable = (descriptor.Flags & VirtqLayout.DescriptorFlagWrite) != 0;
            if (!writable && writableSeen)
            {
                Break(VirtqueueViolation.ReadableAfterWritable, $"Descriptor {index} of chain {chain.Head} is device-readable but follows a device-writable one.");
                return false;
            }

            writableSeen |= writable;
            chain.Add(descriptor.Address, descriptor.Length, writable);

            if ((descriptor.Flags & VirtqLayout.DescriptorFlagNext) == 0)
            {
                return true;
            }

            if (descriptor.Next >= tableSize)
            {
                Break(VirtqueueViolation.NextOutOfRange, $"Descriptor {index} of chain {chain.Head} names next {descriptor.Next}, outside a table of {tableSize}.");
                return false;
            }

            index = descriptor.Next;
        }
    }

    /// <summary>Validates an indirect descriptor and copies its table into <see cref="_indirectTable"/>.</summary>
    private bool FollowIndirect(DescriptorChain chain, in VirtqDescriptor descriptor, bool inIndirect, out int tableSize)
    {
        tableSize = 0;
        if (!_indirect)
        {
            Break(VirtqueueViolation.IndirectNotNegotiated, $"Chain {chain.Head} uses an indirect descriptor, but VIRTIO_RING_F_INDIRECT_DESC was not negotiated.");
            return false;
        }

        if (inIndirect)
        {
            Break(VirtqueueViolation.NestedIndirect, $"Chain {chain.Head} has an indirect descriptor inside an indirect table.");
            return false;
        }

        if ((descriptor.Flags & VirtqLayout.DescriptorFlagNext) != 0)
        {
            Break(VirtqueueViolation.IndirectWithNext, $"Chain {chain.Head} has an indirect descriptor with NEXT set.");
            return false;
        }

        if (descriptor.Length == 0 || descriptor.Length % VirtqDescriptor.Size != 0)
        {
            Break(VirtqueueViolation.IndirectLength, $"Chain {chain.Head} has an indirect table of {descriptor.Length} bytes, not a non-zero multiple of {VirtqDescriptor.Size}.");
            return false;
        }

        // Checked before copying so a hostile length cannot make us read a huge table: every entry counts against
        // the chain bound, so a table longer than it can never be walked legally anyway.
        uint entries = descriptor.Length / VirtqDescriptor.Size;
        if (entries > (uint)_indirectTable.Length)
        {
            Break(VirtqueueViolation.ChainTooLong, $"Chain {chain.Head} has an indirect table of {entries} descriptors, more than the chain bound {_indirectTable.Length}.");
            return false;
        }

        if (descriptor.Address > ulong.MaxValue - (descriptor.Length - 1))
        {
            Break(VirtqueueViolation.BufferOverflow, $"Chain {chain.Head}: indirect table 0x{descriptor.Address:x}+{descriptor.Length} wraps around the address space.");
            return false;
        }

        // Copied whole, once: the walk reads only this copy. (Through the current memory table, which retries a copy
        // that a table swap interrupted.)
        if (!_memory.TryRead(descriptor.Address, MemoryMarshal.AsBytes(_indirectTable.AsSpan(0, (int)entries))))
        {
            Break(VirtqueueViolation.BufferUnmapped, $"Chain {chain.Head}: indirect table 0x{descriptor.Address:x}+{descriptor.Length} is outside guest memory.");
            return false;
        }

        tableSize = (int)entries;
        return true;
    }

    private int NextWalkStamp()
    {
        if (++_walkStamp == int.MaxValue)
        {
            Array.Clear(_visitedDirect);
            Array.Clear(_visitedIndirect);
            _walkStamp = 1;
        }

        return _walkStamp;
    }
}
