namespace VirtioFs.Transport.VhostUser;

/// <summary>
/// An immutable set of non-overlapping <see cref="GuestMemoryRegion"/>s, sorted by guest-physical and by
/// VMM-virtual address for binary-search lookups.
/// </summary>
internal sealed unsafe class GuestMemoryTable
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
    {
        GuestMemoryRegion[] byGuest = [.. regions];
        GuestMemoryRegion[] byUserspace = [.. regions];
        Array.Sort(byGuest, static (a, b) => a.GuestPhysicalAddress.CompareTo(b.GuestPhysicalAddress));
        Array.Sort(byUserspace, static (a, b) => a.UserspaceAddress.CompareTo(b.UserspaceAddress));
        for (int i = 1; i < byGuest.Length; i++)
        {
            // Sorted starts: overlap iff the next start falls inside the previous region (start - prevStart < prevSize).
            if (byGuest[i].GuestPhysicalAddress - byGuest[i - 1].GuestPhysicalAddress < byGuest[i - 1].Size)
            {
                throw new ArgumentException($"Guest memory regions overlap: {byGuest[i - 1]} and {byGuest[i]}.", nameof(regions));
            }

            if (byUserspace[i].UserspaceAddress - byUserspace[i - 1].UserspaceAddress < byUserspace[i - 1].Size)
            {
                throw new ArgumentException($"Guest memory regions overlap in the VMM's address space: {byUserspace[i - 1]} and {byUserspace[i]}.", nameof(regions));
            }
        }

        return new GuestMemoryTable(byGuest, byUserspace);
    }

    /// <summary>The region holding a guest-physical address, or null.</summary>
    public GuestMemoryRegion? FindGuest(ulong address)
    {
        GuestMemoryRegion[] regions = _byGuest;
        int low = 0;
        int high = regions.Length - 1;
        while (low <= high)
        {
            int mid = low + ((high - low) >> 1);
            GuestMemoryRegion region = regions[mid];
            if (address < region.GuestPhysicalAddress)
            {
                high = mid - 1;
            }
            else if (address - region.GuestPhysicalAddress >= region.Size)
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

    /// <summary>The region holding a VMM-virtual address, or null.</summary>
    public GuestMemoryRegion? FindUserspace(ulong address)
    {
        GuestMemoryRegion[] regions = _byUserspace;
        int low = 0;
        int high = regions.Length - 1;
        while (low <= high)
        {
            int mid = low + ((high - low) >> 1);
            GuestMemoryRegion region = regions[mid];
            if (address < region.UserspaceAddress)
            {
                high = mid - 1;
            }
            else if (address - region.UserspaceAddress >= region.Size)
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

    /// <summary>
    /// Translates a guest-physical range that must lie in one region (rings, or callers that need one pointer).
    /// </summary>
    /// <returns>The region and the range's offset in it, or null when the range is unmapped, crosses a region's end or wraps.</returns>
    public GuestMemoryRegion? TranslateGuest(ulong address, ulong length, out ulong offset)
    {
        GuestMemoryRegion? region = FindGuest(address);
        if (region is null || !region.ContainsGuest(address, length))
        {
            offset = 0;
            return null;
        }

        offset = address - region.GuestPhysicalAddress;
        return region;
    }

    /// <summary>Translates a VMM-virtual range (vring addresses) that must lie in one region.</summary>
    public GuestMemoryRegion? TranslateUserspace(ulong address, ulong length, out ulong offset)
    {
        GuestMemoryRegion? region = FindUserspace(address);
        if (region is null || !region.ContainsUserspace(address, length))
        {
            offset = 0;
            return null;
        }

        offset = address - region.UserspaceAddress;
        return region;
    }

    /// <summary>Whether every byte of the guest-physical range is mapped (in one or in adjacent regions), without wrapping.</summary>
    public bool IsMapped(ulong address, ulong length)
    {
        while (length != 0)
        {
            GuestMemoryRegion? region = FindGuest(address);
            if (region is null)
            {
                return false;
            }

            ulong room = region.Size - (address - region.GuestPhysicalAddress);
            if (length <= room)
            {
                return true;
            }

            // The region ends at room bytes; a region ending at 2^64 has nothing after it.
            if (address > ulong.MaxValue - room)
            {
                return false;
            }

            address += room;
            length -= room;
        }

        return true;
    }

    /// <exception cref="ObjectDisposedException">A region was unmapped by a table swap (the caller retries).</exception>
    public bool TryRead(ulong address, Span<byte> destination)
    {
        while (!destination.IsEmpty)
        {
            if (!NextSegment(ref address, (ulong)destination.Length, out GuestMemoryRegion? region, out ulong offset, out int count))
            {
                return false;
            }

            region.Memory.ReadSpan(region.MemoryOffset + offset, destination[..count]);
            destination = destination[count..];
        }

        return true;
    }

    /// <exception cref="ObjectDisposedException">A region was unmapped by a table swap (the caller retries).</exception>
    public bool TryWrite(ulong address, ReadOnlySpan<byte> source)
    {
        while (!source.IsEmpty)
        {
            if (!NextSegment(ref address, (ulong)source.Length, out GuestMemoryRegion? region, out ulong offset, out int count))
            {
                return false;
            }

            region.Memory.WriteSpan(region.MemoryOffset + offset, source[..count]);
            source = source[count..];
        }

        return true;
    }

    /// <summary>The part of [address, address + remaining) inside the region holding address; advances address past it.</summary>
    private bool NextSegment(ref ulong address, ulong remaining, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out GuestMemoryRegion? region, out ulong offset, out int count)
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
        count = (int)Math.Min(room, remaining);
        if (remaining > room && address > ulong.MaxValue - room)
        {
            // More bytes wanted past a region that ends at the top of the address space.
            return false;
        }

        address += (ulong)count;
        return true;
    }
}
