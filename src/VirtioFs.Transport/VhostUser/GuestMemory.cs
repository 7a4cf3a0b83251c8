using System.Runtime.InteropServices;

namespace VirtioFs.Transport.VhostUser;

/// <summary>
/// The guest's RAM as the VMM last described it: an immutable <see cref="GuestMemoryTable"/> replaced as a whole
/// (<c>VHOST_USER_SET_MEM_TABLE</c>, memory hot-plug) while queue workers read through it without a lock.
/// </summary>
/// <remarks>
/// A buffer that crosses from one region into an adjacent one is copied as several segments (adjacent DIMMs are
/// physically contiguous to the guest, so its allocator may hand out such a buffer); a buffer that reaches a gap
/// is refused. A region replaced while a copy is reading it stays mapped until that copy ends (its
/// <see cref="System.Runtime.InteropServices.SafeBuffer"/> reference count); a copy that starts on a table already
/// replaced retries on the new one.
/// </remarks>
internal sealed class GuestMemory : IDisposable
{
    private GuestMemoryTable _table = GuestMemoryTable.Empty;

    /// <summary>The current table.</summary>
    public GuestMemoryTable Table => Volatile.Read(ref _table);

    /// <summary>Replaces the table; regions of the old table not in the new one are disposed (unmapped when their last reader is done).</summary>
    /// <exception cref="ArgumentException">Regions overlap.</exception>
    public void SetRegions(IReadOnlyList<GuestMemoryRegion> regions)
    {
        GuestMemoryTable next = GuestMemoryTable.Create(regions);
        GuestMemoryTable previous = Interlocked.Exchange(ref _table, next);
        foreach (GuestMemoryRegion region in previous.Regions)
        {
            if (!next.Regions.Contains(region))
            {
                region.Dispose();
            }
        }
    }

    /// <summary>Copies guest-physical memory out; false when any byte of the range is unmapped or the range wraps.</summary>
    public bool TryRead(ulong address, Span<byte> destination) => TryCopy(address, destination, toGuest: false);

    /// <summary>Copies into guest-physical memory; false when any byte of the range is unmapped or the range wraps.</summary>
    public bool TryWrite(ulong address, ReadOnlySpan<byte> source)
        => TryCopy(address, MemoryMarshal.CreateSpan(ref MemoryMarshal.GetReference(source), source.Length), toGuest: true);

    /// <summary>Unmaps every region (once their readers are done).</summary>
    public void Dispose() => SetRegions([]);

    /// <summary>Copies through the current table (<see cref="GuestMemoryTable.TryCopy"/> only reads the buffer when copying into the guest).</summary>
    private bool TryCopy(ulong address, Span<byte> buffer, bool toGuest)
    {
        while (true)
        {
            GuestMemoryTable table = Table;
            try
            {
                return table.TryCopy(address, buffer, toGuest);
            }
            catch (ObjectDisposedException) when (!ReferenceEquals(table, Table))
            {
                // The table was replaced and a region unmapped between lookup and copy: copy again from the new one.
            }
        }
    }
}
