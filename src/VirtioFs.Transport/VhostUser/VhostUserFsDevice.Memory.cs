using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace VirtioFs.Transport.VhostUser;

/// <summary>Guest memory messages: <c>SET_MEM_TABLE</c>, <c>ADD_MEM_REG</c>, <c>REM_MEM_REG</c>.</summary>
internal sealed partial class VhostUserFsDevice
{
    private Outcome SetMemTable(VhostUserMessage message, out string? reason)
    {
        ReadOnlySpan<byte> body = message.Body;
        uint count = body.Length >= 8 ? BinaryPrimitives.ReadUInt32LittleEndian(body) : 0;
        int limit = Math.Min(VhostUserProtocol.MaxMessageFds, _options.MaxMemorySlots);
        if (count == 0 || count > limit || body.Length != 8 + (count * VhostUserProtocol.MemoryRegionSize))
        {
            reason = $"a memory table of {message.Header.Size} bytes announcing {count} region(s) (1 to {limit})";
            return Outcome.Refused;
        }

        var regions = new List<GuestMemoryRegion>((int)count);
        for (int i = 0; i < count; i++)
        {
            VhostUserMemoryRegion description = MemoryMarshal.Read<VhostUserMemoryRegion>(body.Slice(8 + (i * VhostUserProtocol.MemoryRegionSize)));
            using SafeFileHandle fd = message.TakeFd(i);
            if (MapRegion(fd, description, out reason) is not { } region)
            {
                DisposeAll(regions);
                return Outcome.Refused;
            }

            regions.Add(region);
        }

        return ReplaceRegions(regions, regions, out reason);
    }

    private Outcome AddMemoryRegion(VhostUserMessage message, out string? reason)
    {
        IReadOnlyList<GuestMemoryRegion> current = _memory.Table.Regions;
        if (current.Count >= _options.MaxMemorySlots)
        {
            reason = $"all {_options.MaxMemorySlots} memory slots are in use";
            return Outcome.Refused;
        }

        using SafeFileHandle fd = message.TakeFd(0);
        if (MapRegion(fd, MemoryMarshal.Read<VhostUserMemoryRegion>(message.Body[8..]), out reason) is not { } region)
        {
            return Outcome.Refused;
        }

        return ReplaceRegions([.. current, region], [region], out reason);
    }

    private Outcome RemoveMemoryRegion(VhostUserMemoryRegion description, out string? reason)
    {
        IReadOnlyList<GuestMemoryRegion> current = _memory.Table.Regions;
        var remaining = current.Where(r => r.GuestPhysicalAddress != description.GuestPhysicalAddress || r.Size != description.Size).ToList();
        if (remaining.Count == current.Count)
        {
            reason = $"no memory region at gpa 0x{description.GuestPhysicalAddress:x}+0x{description.Size:x}";
            return Outcome.Refused;
        }

        // Rings in the removed region keep their own mapping until they stop.
        return ReplaceRegions(remaining, [], out reason);
    }

    /// <summary>Swaps in a new table; on overlap the table is unchanged and <paramref name="added"/> is unmapped.</summary>
    private Outcome ReplaceRegions(List<GuestMemoryRegion> regions, List<GuestMemoryRegion> added, out string? reason)
    {
        try
        {
            _memory.SetRegions(regions);
        }
        catch (ArgumentException ex)
        {
            DisposeAll(added);
            reason = ex.Message;
            return Outcome.Refused;
        }

        reason = null;
        foreach (VhostUserVring vring in _vrings)
        {
            if (TryStart(vring, out string? failure) != Outcome.Ok)
            {
                // The memory is fine; the ring's addresses are not. Its start is refused when it is kicked or enabled again.
                Log.Refused(_logger, VhostUserRequest.SetMemTable, failure ?? "ring start failed");
            }
        }

        return Outcome.Ok;
    }

    /// <summary>Maps one region; refuses one whose file is shorter than <c>mmap_offset + size</c> (touching it would raise SIGBUS).</summary>
    private static GuestMemoryRegion? MapRegion(SafeFileHandle fd, in VhostUserMemoryRegion description, out string? reason)
    {
        reason = null;
        long fileSize = Interop.LSeek(fd, 0, Interop.SEEK_END);
        if (fileSize < 0)
        {
            reason = $"the descriptor of region gpa 0x{description.GuestPhysicalAddress:x} cannot be sized: {Interop.LastErrno}";
            return null;
        }

        if (description.Size == 0 || description.MmapOffset > (ulong)fileSize || (ulong)fileSize - description.MmapOffset < description.Size)
        {
            reason = $"region gpa 0x{description.GuestPhysicalAddress:x}+0x{description.Size:x} at file offset 0x{description.MmapOffset:x} does not fit its file of 0x{fileSize:x} bytes";
            return null;
        }

        GuestMemoryRegion? region = GuestMemoryRegion.Map(fd, description.GuestPhysicalAddress, description.Size, description.UserspaceAddress, description.MmapOffset, out int errno);
        if (region is null)
        {
            reason = $"mapping region gpa 0x{description.GuestPhysicalAddress:x}+0x{description.Size:x} failed: {(Protocol.Errno)errno}";
        }

        return region;
    }

    private static void DisposeAll(List<GuestMemoryRegion> regions)
    {
        foreach (GuestMemoryRegion region in regions)
        {
            region.Dispose();
        }
    }
}
