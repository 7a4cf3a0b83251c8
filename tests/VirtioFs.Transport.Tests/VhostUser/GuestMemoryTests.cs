using VirtioFs.Transport.VhostUser;

namespace VirtioFs.Transport.Tests.VhostUser;

public sealed unsafe class GuestMemoryTests
{
    [Fact]
    public void LookupFindsEachRegionByGuestAndUserspaceAddress()
    {
        using var ram = new GuestRam(0x3000);
        using var memory = new GuestMemory();

        // Given out of order: the table sorts them.
        memory.SetRegions([
            ram.Region(0x9000, 0x100000, 0x2000, 0x1000),
            ram.Region(0x1000, 0x300000, 0x0000, 0x1000),
            ram.Region(0x5000, 0x200000, 0x1000, 0x1000),
        ]);
        GuestMemoryTable table = memory.Table;

        Assert.Equal(0x1000ul, table.FindGuest(0x1000)!.GuestPhysicalAddress);
        Assert.Equal(0x5000ul, table.FindGuest(0x5fff)!.GuestPhysicalAddress);
        Assert.Equal(0x9000ul, table.FindGuest(0x9abc)!.GuestPhysicalAddress);
        Assert.Null(table.FindGuest(0x0fff));
        Assert.Null(table.FindGuest(0x2000));
        Assert.Null(table.FindGuest(0xa000));
        Assert.Null(table.FindGuest(ulong.MaxValue));

        Assert.Equal(0x9000ul, table.TranslateUserspace(0x100010, 16, out ulong offset)!.GuestPhysicalAddress);
        Assert.Equal(0x10ul, offset);
        Assert.Null(table.TranslateUserspace(0x100ff8, 16, out _));
        Assert.Null(table.TranslateUserspace(0x400000, 1, out _));

        Assert.NotNull(table.TranslateGuest(0x5ff0, 16, out offset));
        Assert.Equal(0xff0ul, offset);
        Assert.Null(table.TranslateGuest(0x5ff0, 17, out _));
        Assert.Null(table.TranslateGuest(0x5ff0, ulong.MaxValue, out _));
    }

    [Fact]
    public void ReadsAndWritesGoToTheRightHostBytes()
    {
        using var ram = new GuestRam(0x2000);
        using var memory = new GuestMemory();
        memory.SetRegions([ram.Region(0x10000, 0x500000, 0x1000, 0x1000)]);

        Assert.True(memory.TryWrite(0x10010, [1, 2, 3]));
        Assert.Equal(1, ram.Base[0x1010]);
        Assert.Equal(3, ram.Base[0x1012]);
        var copy = new byte[3];
        Assert.True(memory.TryRead(0x10010, copy));
        Assert.Equal([1, 2, 3], copy);
        Assert.False(memory.TryRead(0x10ffe, new byte[3]));
        Assert.False(memory.TryWrite(0xffff, [1]));
    }

    [Fact]
    public void BufferAcrossAdjacentRegionsIsCopiedInSegmentsAndAcrossAGapRefused()
    {
        using var ram = new GuestRam(0x3000);
        using var memory = new GuestMemory();

        // Guest-adjacent regions whose host bytes are not adjacent (host 0x2000.., then 0x0000..), then a gap.
        memory.SetRegions([
            ram.Region(0x1000, 0x100000, 0x2000, 0x1000),
            ram.Region(0x2000, 0x200000, 0x0000, 0x1000),
            ram.Region(0x4000, 0x300000, 0x1000, 0x1000),
        ]);

        byte[] data = [.. Enumerable.Range(1, 8).Select(i => (byte)i)];
        Assert.True(memory.Table.IsMapped(0x1ffc, 8));
        Assert.True(memory.TryWrite(0x1ffc, data));
        Assert.Equal(1, ram.Base[0x2ffc]);
        Assert.Equal(5, ram.Base[0x0000]);
        var back = new byte[8];
        Assert.True(memory.TryRead(0x1ffc, back));
        Assert.Equal(data, back);

        Assert.False(memory.Table.IsMapped(0x2ffc, 8));
        Assert.False(memory.TryRead(0x2ffc, back));
        Assert.Null(memory.Table.TranslateGuest(0x1ffc, 8, out _));
    }

    [Fact]
    public void RegionAtTheTopOfTheAddressSpaceDoesNotWrap()
    {
        using var ram = new GuestRam(0x1000);
        using var memory = new GuestMemory();
        memory.SetRegions([ram.Region(ulong.MaxValue - 0xfff, 0x100000, 0, 0x1000)]);

        Assert.True(memory.Table.IsMapped(ulong.MaxValue - 0xf, 16));
        Assert.False(memory.Table.IsMapped(ulong.MaxValue - 0xf, 17));
        Assert.True(memory.TryRead(ulong.MaxValue - 0xf, new byte[16]));
        Assert.False(memory.TryRead(ulong.MaxValue - 0xf, new byte[17]));
        Assert.Throws<ArgumentOutOfRangeException>(() => ram.Region(ulong.MaxValue - 0xffe, 0x100000, 0, 0x1000));
    }

    [Fact]
    public void OverlappingRegionsAreRejected()
    {
        using var ram = new GuestRam(0x2000);
        using var memory = new GuestMemory();
        Assert.Throws<ArgumentException>(() => memory.SetRegions([ram.Region(0x1000, 0x100000, 0, 0x1000), ram.Region(0x1fff, 0x200000, 0, 0x1000)]));
        Assert.Throws<ArgumentException>(() => memory.SetRegions([ram.Region(0x1000, 0x100000, 0, 0x1000), ram.Region(0x8000, 0x100800, 0, 0x1000)]));
        Assert.Throws<ArgumentOutOfRangeException>(() => ram.Region(0x1000, 0x100000, 0x1800, 0x1000));
    }

    [Fact]
    public void ReplacedRegionsAreDisposedAndReadsFollowTheNewTable()
    {
        using var ram = new GuestRam(0x2000);
        using var memory = new GuestMemory();
        GuestMemoryRegion first = ram.Region(0x1000, 0x100000, 0, 0x1000);
        memory.SetRegions([first]);
        ram.Base[0x1000] = 42;

        memory.SetRegions([ram.Region(0x1000, 0x100000, 0x1000, 0x1000)]);
        Assert.True(first.Memory.IsClosed);
        var one = new byte[1];
        Assert.True(memory.TryRead(0x1000, one));
        Assert.Equal(42, one[0]);
    }

    [Fact]
    public void TableSwapsWhileReadingNeverFailAReadOfMappedMemory()
    {
        using var ram = new GuestRam(0x1000);
        using var memory = new GuestMemory();
        new Span<byte>(ram.Base, 0x1000).Fill(7);
        memory.SetRegions([ram.Region(0x1000, 0x100000, 0, 0x1000)]);

        using var stop = new CancellationTokenSource();
        var swapper = new Thread(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                memory.SetRegions([ram.Region(0x1000, 0x100000, 0, 0x1000)]);
            }
        });
        swapper.Start();

        var buffer = new byte[256];
        for (int i = 0; i < 20000; i++)
        {
            Assert.True(memory.TryRead(0x1000 + (ulong)(i % 3000), buffer));
            Assert.Equal(7, buffer[255]);
        }

        stop.Cancel();
        Assert.True(swapper.Join(TimeSpan.FromSeconds(10)));
    }
}
