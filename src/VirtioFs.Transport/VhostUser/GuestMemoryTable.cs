using System.Diagnostics.CodeAnalysis;

namespace VirtioFs.Transport.VhostUser;

/// <summary>
/// An immutable set of non-overlapping <see cref="GuestMemoryRegion"/>s, sorted by guest-physical and by
/// VMM-virtual address for binary-search lookups.
/// </summary>
internal sealed class GuestMemoryTable
{
    private readonly GuestMemoryRegion[] _byGuest;
    private readonly GuestMemoryRegion[] _byUserspace;

    private GuestMemoryTable(GuestMemoryRegion[] byGuest, GuestMemoryRegion[] byUserspace)
    {
        _byGuest = byGuest;
        _byUserspace = byUserspace;
    }

    public static GuestMemoryTable Empty { get; } = new([], []);

    /// <summary>The regions, by guest-physical address.</summary>
    public IReadOnlyList<GuestMemoryRegion> Regions => _byGuest;

    /// <exception cref="ArgumentException">Two regions overlap in guest-physical or in VMM-virtual addresses.</exception>
    public static GuestMemoryTable Create(IReadOnlyList<GuestMemoryRegion> regions)
        => new(Sorted(regions, userspace: false), Sorted(regions, userspace: true));

    /// <summary>The region holding a guest-physical address, or null.</summary>
    public GuestMemoryRegion? FindGuest(ulong address) => Find(address, userspace: false);

    /// <summary>
    /// Translates a guest-physical range that must lie in one region (rings, or callers that need one pointer).
    /// </summary>
    /// <returns>The region and the range's offset in it, or null when the range is unmapped, crosses a region's end or wraps.</returns>
    public GuestMemoryRegion? TranslateGuest(ulong address, ulong length, out ulong offset) => Translate(address, length, userspace: false, out offset);

    /// <summary>Translates a VMM-virtual range (vring addresses) that must lie in one region.</summary>
    public GuestMemoryRegion? TranslateUserspace(ulong address, ulong length, out ulong offset) => Translate(address, length, userspace: true, out offset);

    /// <summary>Whether every byte of the guest-physical range is mapped (in one or in adjacent regions), without wrapping.</summary>
    public bool IsMapped(ulong address, ulong length)
    {
        while (length != 0)
        {
            if (!NextSegment(ref address, length, out _, out _, out ulong count))
            {
                return false;
            }

            length -= count;
        }

        return true;
    }

    /// <summary>
    /// Copies between guest-physical memory and <paramref name="buffer"/>: into the guest when <paramref name="toGuest"/>
    /// (the buffer is then only read), out of it otherwise. A buffer spanning adjacent regions is copied in segments.
    /// </summary>
    /// <returns>False when any byte of the range is unmapped or the range wraps.</returns>
    /// <exception cref="ObjectDisposedException">A region was unmapped by a table swap (the caller retries).</exception>
    public bool TryCopy(ulong address, Span<byte> buffer, bool toGuest)
    {
        while (!buffer.IsEmpty)
        {
            if (!NextSegment(ref address, (ulong)buffer.Length, out GuestMemoryRegion? region, out ulong offset, out ulong count))
            {
                return false;
            }

            // count <= buffer.Length, so it fits an int.
            Copy(region, offset, buffer[..(int)count], toGuest);
            buffer = buffer[(int)count..];
        }

        return true;
    }

    /// <summary>
    /// One block copy between a region and <paramref name="segment"/>, which <see cref="NextSegment"/> placed inside
    /// the region. (<see cref="System.Runtime.InteropServices.SafeBuffer.ReadSpan{T}"/> and its writing twin copy
    /// element by element: a 1 MiB request took milliseconds that way.)
    /// </summary>
    private static unsafe void Copy(GuestMemoryRegion region, ulong offset, Span<byte> segment, bool toGuest)
    {
        byte* start = null;
        region.Memory.AcquirePointer(ref start);
        try
        {
            var guest = new Span<byte>(start + region.MemoryOffset + offset, segment.Length);
            if (toGuest)
            {
                segment.CopyTo(guest);
            }
            else
            {
                guest.CopyTo(segment);
            }
        }
        finally
        {
            region.Memory.ReleasePointer();
        }
    }

    /// <summary>
    /// The part of [address, address + remaining) inside the region holding address (at most
    /// <paramref name="remaining"/> bytes); advances address past it.
    /// </summary>
    private bool NextSegment(ref ulong address, ulong remaining, [NotNullWhen(true)] out GuestMemoryRegion? region, out ulong offset, out ulong count)
    {
        region = FindGuest(address);
        if (region is null)
        {
            offset = 0;
            count = 0;
            return false;
        }

        offset = address - region.GuestPhysicalAddress;
        ulong room = region.Size - offset;
        count = Math.Min(room, remaining);
        if (remaining > room && address > ulong.MaxValue - room)
        {
            // More bytes wanted past a region that ends at the top of the address space.
            return false;
        }

        address += count;
        return true;
    }

    private static ulong Start(GuestMemoryRegion region, bool userspace) => userspace ? region.UserspaceAddress : region.GuestPhysicalAddress;

    /// <summary>The regions sorted by their start in one address space, checked not to overlap there.</summary>
    private static GuestMemoryRegion[] Sorted(IReadOnlyList<GuestMemoryRegion> regions, bool userspace)
    {
        GuestMemoryRegion[] sorted = [.. regions];
        Array.Sort(sorted, (a, b) => Start(a, userspace).CompareTo(Start(b, userspace)));
        for (int i = 1; i < sorted.Length; i++)
        {
            // Sorted starts: overlap iff the next start falls inside the previous region (start - prevStart < prevSize).
            if (Start(sorted[i], userspace) - Start(sorted[i - 1], userspace) < sorted[i - 1].Size)
            {
                string where = userspace ? " in the VMM's address space" : string.Empty;
                throw new ArgumentException($"Guest memory regions overlap{where}: {sorted[i - 1]} and {sorted[i]}.", nameof(regions));
            }
        }

        return sorted;
    }

    /// <summary>The region holding an address of one address space (binary search over its sorted starts), or null.</summary>
    private GuestMemoryRegion? Find(ulong address, bool userspace)
    {
        GuestMemoryRegion[] regions = userspace ? _byUserspace : _byGuest;
        int low = 0;
        int high = regions.Length - 1;
        while (low <= high)
        {
            int mid = low + ((high - low) >> 1);
            GuestMemoryRegion region = regions[mid];
            ulong start = Start(region, userspace);
            if (address < start)
            {
                high = mid - 1;
            }
            else if (address - start >= region.Size)
            {
                low = mid + 1;
            }
            else
            {
                return region;
            }
        }

        return null;
    }

    /// <summary>The region holding all of [address, address + length) in one address space, and the range's offset in it.</summary>
    private GuestMemoryRegion? Translate(ulong address, ulong length, bool userspace, out ulong offset)
    {
        GuestMemoryRegion? region = Find(address, userspace);

        // Found means address - start < Size, so Size - offset cannot underflow (and nothing is added that could wrap).
        offset = region is null ? 0 : address - Start(region, userspace);
        if (region is null || length > region.Size - offset)
        {
            offset = 0;
            return null;
        }

        return region;
    }
}
