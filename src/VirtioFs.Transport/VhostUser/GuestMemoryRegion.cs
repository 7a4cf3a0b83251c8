using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace VirtioFs.Transport.VhostUser;

/// <summary>
/// One region of guest RAM as <c>VHOST_USER_SET_MEM_TABLE</c> describes it (vhost-user.rst, "Memory region
/// description"): <c>{ u64 guest_phys_addr; u64 memory_size; u64 userspace_addr; u64 mmap_offset; }</c>, plus where
/// its bytes are in our address space. Guest-physical addresses come from descriptors; VMM-virtual
/// (<c>userspace_addr</c>) addresses come from <c>VHOST_USER_SET_VRING_ADDR</c>.
/// </summary>
/// <remarks>
/// The bytes are reached only through <see cref="Memory"/> (a <see cref="SafeBuffer"/>), whose reference count keeps
/// a region mapped while a reader uses it even after the table that held it was replaced.
/// </remarks>
internal sealed class GuestMemoryRegion : IDisposable
{
    /// <summary>Creates a region over memory already in our address space (tests, or any caller owning a buffer).</summary>
    /// <param name="guestPhysicalAddress">The region's first guest-physical address.</param>
    /// <param name="size">The region's length in bytes; not zero.</param>
    /// <param name="userspaceAddress">The region's first address in the VMM's address space.</param>
    /// <param name="memory">The bytes; the region owns it and disposes it.</param>
    /// <param name="memoryOffset">Where the region starts in <paramref name="memory"/> (the <c>mmap_offset</c> for a mapped fd).</param>
    public GuestMemoryRegion(ulong guestPhysicalAddress, ulong size, ulong userspaceAddress, SafeBuffer memory, ulong memoryOffset)
    {
        ArgumentNullException.ThrowIfNull(memory);
        if (size == 0)
        {
            throw new ArgumentOutOfRangeException(nameof(size), "A region cannot be empty.");
        }

        // The ends must be representable: lookups compute address - start and compare with Size, never start + size.
        if (guestPhysicalAddress > ulong.MaxValue - (size - 1) || userspaceAddress > ulong.MaxValue - (size - 1))
        {
            throw new ArgumentOutOfRangeException(nameof(size), "The region wraps around the address space.");
        }

        if (memoryOffset > memory.ByteLength || memory.ByteLength - memoryOffset < size)
        {
            throw new ArgumentOutOfRangeException(nameof(memoryOffset), "The region does not fit in its memory.");
        }

        GuestPhysicalAddress = guestPhysicalAddress;
        Size = size;
        UserspaceAddress = userspaceAddress;
        MemoryOffset = memoryOffset;
        Memory = memory;
    }

    public ulong GuestPhysicalAddress { get; }

    public ulong Size { get; }

    public ulong UserspaceAddress { get; }

    /// <summary>Offset of the region's first byte in <see cref="Memory"/>.</summary>
    public ulong MemoryOffset { get; }

    public SafeBuffer Memory { get; }

    /// <summary>
    /// Maps a region the VMM shared as <paramref name="fd"/>. The whole file prefix up to <c>mmap_offset + size</c> is
    /// mapped (as libvhost-user does) because <c>mmap_offset</c> need not be page-aligned.
    /// </summary>
    /// <returns>The region, or null with <paramref name="errno"/> set (or <c>EINVAL</c> for impossible values).</returns>
    public static GuestMemoryRegion? Map(SafeFileHandle fd, ulong guestPhysicalAddress, ulong size, ulong userspaceAddress, ulong mmapOffset, out int errno)
    {
        const int EINVAL = 22;
        if (size == 0 || mmapOffset > ulong.MaxValue - size || mmapOffset + size > long.MaxValue
            || guestPhysicalAddress > ulong.MaxValue - (size - 1) || userspaceAddress > ulong.MaxValue - (size - 1))
        {
            errno = EINVAL;
            return null;
        }

        SafeMappedRegionHandle? mapping = SafeMappedRegionHandle.MapShared(fd, mmapOffset + size, out errno);
        return mapping is null ? null : new GuestMemoryRegion(guestPhysicalAddress, size, userspaceAddress, mapping, mmapOffset);
    }

    /// <summary>Unmaps the region once no reader holds it any more.</summary>
    public void Dispose() => Memory.Dispose();

    public override string ToString() => $"gpa 0x{GuestPhysicalAddress:x}+0x{Size:x} (uaddr 0x{UserspaceAddress:x})";
}
