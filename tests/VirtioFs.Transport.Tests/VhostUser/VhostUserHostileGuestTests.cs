using VirtioFs.Protocol;
using VirtioFs.Transport.VhostUser;

namespace VirtioFs.Transport.Tests.VhostUser;

/// <summary>
/// A guest that breaks its virtqueues, through the whole backend: the device is lost (DeviceBroken, the ring's err
/// eventfd, the session ended, nothing written to the used ring) and the process and the VMM connection are not.
/// </summary>
public sealed class VhostUserHostileGuestTests
{
    /// <summary>What the guest does wrong (each on request queue 1 after a good INIT, unless it names the hiprio queue).</summary>
    public enum Hostile
    {
        BufferOutsideGuestMemory,
        BufferEndingPastGuestMemory,
        LengthOverflowingTheAddressSpace,
        DescriptorLoop,
        DescriptorNamingItself,
        LoopInAnIndirectTable,
        NestedIndirectTable,
        IndirectDescriptorWithNext,
        IndirectTableLengthNotAMultipleOf16,
        IndirectTableOutsideGuestMemory,
        ChainLongerThanTheBound,
        IndirectTableLargerThanTheBound,
        WritableBeforeReadable,
        NextOutsideTheTable,
        HeadOutsideTheTable,
        AvailIndexJumpingPastTheQueueSize,
        LoopOnTheHiprioQueue,
    }

    [Theory]
    [InlineData(Hostile.BufferOutsideGuestMemory, nameof(VirtqueueViolation.BufferUnmapped))]
    [InlineData(Hostile.BufferEndingPastGuestMemory, nameof(VirtqueueViolation.BufferUnmapped))]
    [InlineData(Hostile.LengthOverflowingTheAddressSpace, nameof(VirtqueueViolation.BufferOverflow))]
    [InlineData(Hostile.DescriptorLoop, nameof(VirtqueueViolation.ChainLoop))]
    [InlineData(Hostile.DescriptorNamingItself, nameof(VirtqueueViolation.ChainLoop))]
    [InlineData(Hostile.LoopInAnIndirectTable, nameof(VirtqueueViolation.ChainLoop))]
    [InlineData(Hostile.NestedIndirectTable, nameof(VirtqueueViolation.NestedIndirect))]
    [InlineData(Hostile.IndirectDescriptorWithNext, nameof(VirtqueueViolation.IndirectWithNext))]
    [InlineData(Hostile.IndirectTableLengthNotAMultipleOf16, nameof(VirtqueueViolation.IndirectLength))]
    [InlineData(Hostile.IndirectTableOutsideGuestMemory, nameof(VirtqueueViolation.BufferUnmapped))]
    [InlineData(Hostile.ChainLongerThanTheBound, nameof(VirtqueueViolation.ChainTooLong))]
    [InlineData(Hostile.IndirectTableLargerThanTheBound, nameof(VirtqueueViolation.ChainTooLong))]
    [InlineData(Hostile.WritableBeforeReadable, nameof(VirtqueueViolation.ReadableAfterWritable))]
    [InlineData(Hostile.NextOutsideTheTable, nameof(VirtqueueViolation.NextOutOfRange))]
    [InlineData(Hostile.HeadOutsideTheTable, nameof(VirtqueueViolation.HeadOutOfRange))]
    [InlineData(Hostile.AvailIndexJumpingPastTheQueueSize, nameof(VirtqueueViolation.AvailIndexJump))]
    [InlineData(Hostile.LoopOnTheHiprioQueue, nameof(VirtqueueViolation.ChainLoop))]
    public async Task AGuestBreakingARingLosesTheDeviceAndNothingElse(Hostile hostile, string violation)
    {
        await using TestBackend backend = TestBackend.Start();
        using TestVmm vmm = backend.Connect();
        vmm.StartDevice();
        FuseWire.InitOn(vmm, 1, 1);

        int queue = hostile == Hostile.LoopOnTheHiprioQueue ? 0 : 1;
        GuestDriver driver = vmm.Driver(queue);
        ushort used = driver.UsedIndex;
        Post(driver, hostile);
        vmm.KickQueue(queue);

        string reason = await backend.WaitBrokenAsync();
        Assert.Contains($"Virtqueue {queue} broken by the guest ({violation})", reason);
        vmm.WaitErr(queue);
        Assert.False(vmm.ErrSignalled(1 - queue));
        Assert.Equal(used, driver.UsedIndex);
        Assert.Null(driver.TakeUsed());
        await backend.FileSystem.WaitDestroyedAsync();
        Assert.Contains(backend.Logger.Entries, e => e.EventId.Id == 307 && e.Message.Contains($"({violation})"));

        // The VMM's connection is unharmed; stopping the rings and starting fresh ones makes the device serve again.
        vmm.Sync();
        Assert.Empty(backend.Broken);
        vmm.GetVringBase(0);
        vmm.GetVringBase(1);
        vmm.ResetQueue(0);
        vmm.ResetQueue(1);
        vmm.StartQueue(0);
        vmm.StartQueue(1);
        FuseWire.InitOn(vmm, 1, 1);
        FuseWire.GetAttrOn(vmm, 1, 2, 2);
        Assert.Equal(2, backend.Sessions);
    }

    private static void Post(GuestDriver driver, Hostile hostile)
    {
        const ushort Next = VirtqLayout.DescriptorFlagNext;
        const ushort Write = VirtqLayout.DescriptorFlagWrite;
        const ushort Indirect = VirtqLayout.DescriptorFlagIndirect;
        byte[] request = FuseWire.GetAttr(2, 1);
        ulong readable = driver.Allocate((uint)request.Length);
        driver.WriteGuest(readable, request);
        ulong writable = driver.Allocate(FuseWire.GetAttrRoom);

        // Descriptors 40.. are past the ones the good requests used.
        switch (hostile)
        {
            case Hostile.BufferOutsideGuestMemory:
                driver.WriteDescriptor(40, 0x10, 64, 0, 0);
                break;
            case Hostile.BufferEndingPastGuestMemory:
                driver.WriteDescriptor(40, TestVmm.RamGpa + TestVmm.RamSize - 8, 64, 0, 0);
                break;
            case Hostile.LengthOverflowingTheAddressSpace:
                driver.WriteDescriptor(40, ulong.MaxValue - 15, 64, 0, 0);
                break;
            case Hostile.DescriptorLoop:
                driver.WriteDescriptor(40, readable, (uint)request.Length, Next, 41);
                driver.WriteDescriptor(41, writable, FuseWire.GetAttrRoom, Next | Write, 40);
                break;
            case Hostile.DescriptorNamingItself:
                driver.WriteDescriptor(40, readable, (uint)request.Length, Next, 40);
                break;
            case Hostile.LoopInAnIndirectTable:
                driver.WriteDescriptor(40, IndirectTable(driver, (readable, (uint)request.Length, Next, 1), (writable, FuseWire.GetAttrRoom, Next | Write, 0)), 32, Indirect, 0);
                break;
            case Hostile.NestedIndirectTable:
                ulong inner = IndirectTable(driver, (readable, (uint)request.Length, 0, 0));
                driver.WriteDescriptor(40, IndirectTable(driver, (inner, 16, Indirect, 0)), 16, Indirect, 0);
                break;
            case Hostile.IndirectDescriptorWithNext:
                driver.WriteDescriptor(40, IndirectTable(driver, (readable, (uint)request.Length, 0, 0)), 16, Indirect | Next, 41);
                driver.WriteDescriptor(41, writable, FuseWire.GetAttrRoom, Write, 0);
                break;
            case Hostile.IndirectTableLengthNotAMultipleOf16:
                driver.WriteDescriptor(40, IndirectTable(driver, (readable, (uint)request.Length, 0, 0)), 24, Indirect, 0);
                break;
            case Hostile.IndirectTableOutsideGuestMemory:
                driver.WriteDescriptor(40, TestVmm.RamGpa + TestVmm.RamSize - 16, 32, Indirect, 0);
                break;
            case Hostile.ChainLongerThanTheBound:
                // Bound entries in the table, plus the descriptor naming it: one too many.
                int bound = VirtqLayout.ChainBound(TestVmm.QueueSize);
                driver.WriteDescriptor(40, IndirectTable(driver, [.. Enumerable.Range(0, bound).Select(i => (readable, 8u, i == bound - 1 ? (ushort)0 : Next, (ushort)(i + 1)))]), (uint)(16 * bound), Indirect, 0);
                break;
            case Hostile.IndirectTableLargerThanTheBound:
                uint length = 16 * (uint)(VirtqLayout.ChainBound(TestVmm.QueueSize) + 1);
                driver.WriteDescriptor(40, driver.Allocate(length), length, Indirect, 0);
                break;
            case Hostile.WritableBeforeReadable:
                driver.WriteDescriptor(40, writable, FuseWire.GetAttrRoom, Next | Write, 41);
                driver.WriteDescriptor(41, readable, (uint)request.Length, 0, 0);
                break;
            case Hostile.NextOutsideTheTable:
                driver.WriteDescriptor(40, readable, (uint)request.Length, Next, TestVmm.QueueSize);
                break;
            case Hostile.HeadOutsideTheTable:
                driver.PostHead(TestVmm.QueueSize);
                return;
            case Hostile.AvailIndexJumpingPastTheQueueSize:
                driver.SetAvailIndex((ushort)(driver.AvailIndex + TestVmm.QueueSize + 1));
                return;
            case Hostile.LoopOnTheHiprioQueue:
                driver.WriteDescriptor(40, readable, (uint)request.Length, Next, 41);
                driver.WriteDescriptor(41, readable, (uint)request.Length, Next, 40);
                break;
        }

        driver.PostHead(40);
    }

    /// <summary>Writes an indirect table into guest data memory; returns its address.</summary>
    private static unsafe ulong IndirectTable(GuestDriver driver, params (ulong Address, uint Length, ushort Flags, ushort Next)[] entries)
    {
        ulong table = driver.Allocate((uint)(16 * entries.Length));
        for (int i = 0; i < entries.Length; i++)
        {
            GuestDriver.WriteDescriptorAt(driver.Host(table + (16 * (ulong)i)), entries[i].Address, entries[i].Length, entries[i].Flags, entries[i].Next);
        }

        return table;
    }

    // ---- Chains the device answers without breaking ----

    [Theory]
    [InlineData(0)]
    [InlineData(8)]
    [InlineData(FuseOutHeader.Size - 1)]
    public async Task ReplyRoomTooSmallForAHeaderGetsTheChainBackEmpty(int room)
    {
        await using TestBackend backend = TestBackend.Start();
        using TestVmm vmm = backend.Connect();
        vmm.StartDevice();
        FuseWire.InitOn(vmm, 1, 1);

        (ushort head, TestBuffer[] writable) = vmm.Post(1, FuseWire.GetAttr(2, 5), room);
        Assert.Equal((head, 0u), vmm.WaitUsed(1));
        if (room > 0)
        {
            Assert.All(vmm.Driver(1).ReadGuest(writable[0].Address, room), b => Assert.Equal(0xEE, b));
        }

        FuseWire.GetAttrOn(vmm, 1, 3, 5);
        Assert.Empty(backend.Broken);
    }

    [Theory]
    [InlineData(FuseOutHeader.Size)]
    [InlineData(FuseWire.GetAttrRoom - 1)]
    public async Task ReplyRoomTooSmallForTheReplyGetsERange(int room)
    {
        await using TestBackend backend = TestBackend.Start();
        using TestVmm vmm = backend.Connect();
        vmm.StartDevice();
        FuseWire.InitOn(vmm, 1, 1);

        byte[] reply = vmm.Roundtrip(1, FuseWire.GetAttr(2, 5), room);
        Assert.Equal(FuseOutHeader.Size, reply.Length);
        FuseOutHeader header = FuseWire.Header(reply);
        Assert.Equal(-(int)Errno.ERANGE, header.Error);
        Assert.Equal(2ul, header.Unique);
        Assert.Equal((uint)FuseOutHeader.Size, header.Len);
        FuseWire.GetAttrOn(vmm, 1, 3, 5);
        Assert.Empty(backend.Broken);
    }

    [Fact]
    public async Task AChainTooShortForAHeaderIsReturnedEmptyAndTheNextServed()
    {
        await using TestBackend backend = TestBackend.Start();
        using TestVmm vmm = backend.Connect();
        vmm.StartDevice();
        FuseWire.InitOn(vmm, 1, 1);

        GuestDriver driver = vmm.Driver(1);
        (ushort shortHead, _) = driver.PostRequest(new byte[FuseInHeader.Size - 1], [FuseInHeader.Size - 1], [64]);
        ushort writableOnly = driver.PostChain(new TestBuffer(driver.Allocate(64), 64, true));
        vmm.KickQueue(1);
        Assert.Equal((shortHead, 0u), vmm.WaitUsed(1));
        Assert.Equal((writableOnly, 0u), vmm.WaitUsed(1));
        FuseWire.GetAttrOn(vmm, 1, 2, 5);
        Assert.Empty(backend.Broken);
    }

    [Fact]
    public async Task ARequestLargerThanTheSessionsBufferIsDroppedWithItsChainReturned()
    {
        await using TestBackend backend = TestBackend.Start();
        using TestVmm vmm = backend.Connect();
        vmm.StartDevice();
        FuseWire.InitOn(vmm, 1, 1);

        // A WRITE-sized chain beyond max_write + 4 KiB: readable pieces of 64 KiB over one indirect table.
        GuestDriver driver = vmm.Driver(1);
        ulong piece = driver.Allocate(64 << 10);
        driver.WriteGuest(piece, FuseWire.GetAttr(2, 5));
        TestBuffer[] buffers = [.. Enumerable.Repeat(new TestBuffer(piece, 64 << 10, false), 20), new TestBuffer(driver.Allocate(64), 64, true)];
        ushort head = driver.PostIndirect(buffers);
        vmm.KickQueue(1);
        Assert.Equal((head, 0u), vmm.WaitUsed(1));
        FuseWire.GetAttrOn(vmm, 1, 3, 5);
        Assert.Empty(backend.Broken);
    }
}
