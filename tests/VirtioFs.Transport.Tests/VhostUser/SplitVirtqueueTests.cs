using VirtioFs.Transport.VhostUser;

namespace VirtioFs.Transport.Tests.VhostUser;

public sealed unsafe class SplitVirtqueueTests
{
    private static byte[] Pattern(int length, int seed = 1) => [.. Enumerable.Range(0, length).Select(i => (byte)(i * 7 + seed))];

    private static DescriptorChain Pop(GuestDriver driver)
    {
        Assert.Equal(VirtqueuePopStatus.Popped, driver.Queue.TryPop(out DescriptorChain? chain));
        return chain!;
    }

    private static void AssertBroken(GuestDriver driver, VirtqueueViolation violation)
    {
        Assert.Equal(VirtqueuePopStatus.Broken, driver.Queue.TryPop(out _));
        Assert.True(driver.Queue.IsBroken);
        Assert.Equal(violation, driver.Queue.Violation);
        Assert.False(string.IsNullOrEmpty(driver.Queue.ViolationMessage));

        // Broken for good.
        Assert.Equal(VirtqueuePopStatus.Broken, driver.Queue.TryPop(out _));
    }

    [Fact]
    public void EmptyQueuePopsNothing()
    {
        using var driver = new GuestDriver();
        Assert.Equal(VirtqueuePopStatus.Empty, driver.Queue.TryPop(out _));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void RequestAndReplyRoundTripAcrossSplitBuffers(bool indirect)
    {
        using var driver = new GuestDriver();
        byte[] request = Pattern(100);
        (ushort head, TestBuffer[] writable) = driver.PostRequest(request, [40, 1, 59], [10, 30, 100], indirect);

        DescriptorChain chain = Pop(driver);
        Assert.Equal(head, chain.Head);
        Assert.Equal(100ul, chain.ReadableLength);
        Assert.Equal(140ul, chain.WritableLength);
        Assert.Equal(3, chain.Readable.Length);
        Assert.Equal(3, chain.Writable.Length);

        var copy = new byte[200];
        Assert.Equal(100, driver.Queue.ReadRequest(chain, copy));
        Assert.Equal(request, copy[..100]);

        byte[] reply = Pattern(55, 3);
        Assert.Equal(VirtqueuePushStatus.Completed, driver.Queue.TryComplete(chain, reply, out bool signal));
        Assert.True(signal);
        Assert.Equal((head, 55u), driver.TakeUsed());
        Assert.Equal(reply, driver.Gather(writable, 55));

        // Bytes past the reply are untouched.
        Assert.Equal(0xEE, driver.ReadGuest(writable[2].Address + 15, 1)[0]);
    }

    [Fact]
    public void ReadRequestStopsAtTheDestination()
    {
        using var driver = new GuestDriver();
        driver.PostRequest(Pattern(64), [32, 32], [16]);
        DescriptorChain chain = Pop(driver);
        var small = new byte[40];
        Assert.Equal(40, driver.Queue.ReadRequest(chain, small));
        Assert.Equal(Pattern(64)[..40], small);
    }

    [Fact]
    public void ReplyLargerThanTheWritableRoomIsRefusedAndNothingIsWritten()
    {
        using var driver = new GuestDriver();
        (_, TestBuffer[] writable) = driver.PostRequest(Pattern(8), [8], [16, 16]);
        DescriptorChain chain = Pop(driver);

        Assert.Equal(VirtqueuePushStatus.ReplyTooLarge, driver.Queue.TryComplete(chain, new byte[33], out bool signal));
        Assert.False(signal);
        Assert.Null(driver.TakeUsed());
        Assert.All(driver.Gather(writable, 32), b => Assert.Equal(0xEE, b));
        Assert.True(chain.InFlight);
        Assert.False(driver.Queue.IsBroken);

        // The caller can still return it.
        Assert.Equal(VirtqueuePushStatus.Completed, driver.Queue.TryComplete(chain, [], out _));
        Assert.Equal((chain.Head, 0u), driver.TakeUsed());
    }

    [Fact]
    public void CompletingAChainTwiceIsACallerBug()
    {
        using var driver = new GuestDriver();
        driver.PostRequest(Pattern(8), [8], [16]);
        DescriptorChain chain = Pop(driver);
        driver.Queue.TryComplete(chain, [], out _);
        Assert.Throws<InvalidOperationException>(() => driver.Queue.TryComplete(chain, [], out _));
    }

    [Fact]
    public void ChainsAreReturnedOutOfOrderAndHeadsReused()
    {
        using var driver = new GuestDriver(size: 4);
        for (int round = 0; round < 5; round++)
        {
            driver.PostChain(new TestBuffer(driver.Allocate(8), 8, false), new TestBuffer(driver.Allocate(8), 8, true));
            driver.PostChain(new TestBuffer(driver.Allocate(8), 8, false), new TestBuffer(driver.Allocate(8), 8, true));
            DescriptorChain a = Pop(driver);
            DescriptorChain b = Pop(driver);
            driver.Queue.TryComplete(b, [1], out _);
            driver.Queue.TryComplete(a, [1, 2], out _);
            Assert.Equal((b.Head, 1u), driver.TakeUsed());
            Assert.Equal((a.Head, 2u), driver.TakeUsed());
        }
    }

    [Fact]
    public void WithoutEventIndexTheRingFlagsSuppressBothDirections()
    {
        using var driver = new GuestDriver(eventIndex: false);
        driver.Queue.DisableNotifications();
        Assert.Equal(1, driver.UsedFlags);
        Assert.False(driver.Queue.EnableNotifications());
        Assert.Equal(0, driver.UsedFlags);

        driver.PostRequest(Pattern(8), [8], [8]);
        driver.PostRequest(Pattern(8), [8], [8]);
        Assert.True(driver.Queue.EnableNotifications());

        driver.AvailFlags = 1;
        driver.Queue.TryComplete(Pop(driver), [], out bool signal);
        Assert.False(signal);
        driver.AvailFlags = 0;
        driver.Queue.TryComplete(Pop(driver), [], out signal);
        Assert.True(signal);
    }

    [Fact]
    public void EventIndexSignalsOnlyWhenTheUsedIndexPassesUsedEvent()
    {
        using var driver = new GuestDriver(eventIndex: true);
        for (int i = 0; i < 4; i++)
        {
            driver.PostRequest(Pattern(8), [8], [8]);
        }

        DescriptorChain[] chains = [Pop(driver), Pop(driver), Pop(driver), Pop(driver)];

        // The driver wants to hear when the used index goes past 2 (i.e. reaches 3).
        driver.UsedEvent = 2;
        var signals = new List<bool>();
        foreach (DescriptorChain chain in chains)
        {
            driver.Queue.TryComplete(chain, [], out bool signal);
            signals.Add(signal);
        }

        // The first completion always signals (nothing signalled yet); then only the step 2 -> 3.
        Assert.Equal([true, false, true, false], signals);
    }

    [Fact]
    public void EventIndexPublishesAvailEventWhenEnablingKicksAndLeavesFlagsAlone()
    {
        using var driver = new GuestDriver(eventIndex: true);
        driver.PostRequest(Pattern(8), [8], [8]);
        driver.PostRequest(Pattern(8), [8], [8]);
        Pop(driver);
        Pop(driver);

        driver.Queue.DisableNotifications();
        Assert.Equal(0, driver.UsedFlags);
        Assert.False(driver.Queue.EnableNotifications());
        Assert.Equal(2, driver.AvailEvent);

        // What a driver computes before kicking: vring_need_event(avail_event, new, old).
        Assert.True(VirtqLayout.NeedEvent(driver.AvailEvent, 3, 2));
        Assert.False(VirtqLayout.NeedEvent(driver.AvailEvent, 4, 3));

        driver.PostRequest(Pattern(8), [8], [8]);
        Assert.True(driver.Queue.EnableNotifications());
    }

    [Fact]
    public void NeedEventHandlesWrapAround()
    {
        Assert.True(VirtqLayout.NeedEvent(0xffff, 0, 0xffff));
        Assert.True(VirtqLayout.NeedEvent(0xfffe, 2, 0xfffd));
        Assert.False(VirtqLayout.NeedEvent(5, 2, 0xfffd));
        Assert.False(VirtqLayout.NeedEvent(7, 7, 7));
    }

    // ----- hostile drivers -----

    [Fact]
    public void DescriptorOutsideEveryRegionBreaksTheQueue()
    {
        using var driver = new GuestDriver();
        driver.PostChain(new TestBuffer(GuestDriver.Gpa + GuestDriver.RamSize, 8, false));
        AssertBroken(driver, VirtqueueViolation.BufferUnmapped);
    }

    [Fact]
    public void DescriptorRunningOffTheRegionBreaksTheQueue()
    {
        using var driver = new GuestDriver();
        driver.PostChain(new TestBuffer(GuestDriver.Gpa + GuestDriver.RamSize - 8, 9, false));
        AssertBroken(driver, VirtqueueViolation.BufferUnmapped);
    }

    [Fact]
    public void DescriptorWrappingTheAddressSpaceBreaksTheQueue()
    {
        using var driver = new GuestDriver();
        driver.PostChain(new TestBuffer(ulong.MaxValue - 3, 16, false));
        AssertBroken(driver, VirtqueueViolation.BufferOverflow);
    }

    [Fact]
    public void LoopInTheNextChainBreaksTheQueue()
    {
        using var driver = new GuestDriver();
        ulong data = driver.Allocate(8);
        driver.WriteDescriptor(0, data, 8, 1, 1);
        driver.WriteDescriptor(1, data, 8, 1, 2);
        driver.WriteDescriptor(2, data, 8, 1, 1);
        driver.PostHead(0);
        AssertBroken(driver, VirtqueueViolation.ChainLoop);
    }

    [Fact]
    public void AnIndirectTableLongerThanTheQueueIsServed()
    {
        // Linux sends a 1 MiB virtio-fs request as one indirect table of about 260 entries, also on a 128-entry queue.
        using var driver = new GuestDriver(size: 8);
        ulong data = driver.Allocate(8);
        ushort head = driver.PostIndirect([.. Enumerable.Range(0, 300).Select(_ => new TestBuffer(data, 8, false))]);
        DescriptorChain chain = Pop(driver);
        Assert.Equal(head, chain.Head);
        Assert.Equal(300 * 8ul, chain.ReadableLength);
    }

    [Fact]
    public void ChainLongerThanTheChainBoundBreaksTheQueue()
    {
        // An indirect table of bound entries plus the descriptor naming it: one more than allowed.
        using var driver = new GuestDriver(size: 8);
        ulong data = driver.Allocate(8);
        driver.PostIndirect([.. Enumerable.Range(0, VirtqLayout.ChainBound(8)).Select(_ => new TestBuffer(data, 8, false))]);
        AssertBroken(driver, VirtqueueViolation.ChainTooLong);
    }

    [Fact]
    public void IndirectTableLargerThanTheChainBoundBreaksTheQueueBeforeItIsRead()
    {
        using var driver = new GuestDriver(size: 8);
        uint length = 16 * (uint)(VirtqLayout.ChainBound(8) + 1);
        driver.WriteDescriptor(0, driver.Allocate(length), length, 4, 0);
        driver.PostHead(0);
        AssertBroken(driver, VirtqueueViolation.ChainTooLong);
    }

    [Fact]
    public void NextOutsideTheTableBreaksTheQueue()
    {
        using var driver = new GuestDriver(size: 8);
        driver.WriteDescriptor(0, driver.Allocate(8), 8, 1, 8);
        driver.PostHead(0);
        AssertBroken(driver, VirtqueueViolation.NextOutOfRange);
    }

    [Fact]
    public void NestedIndirectBreaksTheQueue()
    {
        using var driver = new GuestDriver();
        ulong inner = driver.Allocate(16);
        ulong outer = driver.Allocate(16);
        GuestDriver.WriteDescriptorAt(driver.Host(outer), inner, 16, 4, 0);
        driver.WriteDescriptor(0, outer, 16, 4, 0);
        driver.PostHead(0);
        AssertBroken(driver, VirtqueueViolation.NestedIndirect);
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(24u)]
    public void IndirectLengthNotAMultipleOf16BreaksTheQueue(uint length)
    {
        using var driver = new GuestDriver();
        driver.WriteDescriptor(0, driver.Allocate(32), length, 4, 0);
        driver.PostHead(0);
        AssertBroken(driver, VirtqueueViolation.IndirectLength);
    }

    [Fact]
    public void IndirectWithNextBreaksTheQueue()
    {
        using var driver = new GuestDriver();
        driver.WriteDescriptor(0, driver.Allocate(16), 16, 4 | 1, 1);
        driver.PostHead(0);
        AssertBroken(driver, VirtqueueViolation.IndirectWithNext);
    }

    [Fact]
    public void IndirectWithoutTheFeatureBreaksTheQueue()
    {
        using var driver = new GuestDriver(indirect: false);
        driver.PostIndirect(new TestBuffer(driver.Allocate(8), 8, false));
        AssertBroken(driver, VirtqueueViolation.IndirectNotNegotiated);
    }

    [Fact]
    public void IndirectTableOutsideGuestMemoryBreaksTheQueue()
    {
        using var driver = new GuestDriver();
        driver.WriteDescriptor(0, GuestDriver.Gpa + GuestDriver.RamSize - 16, 32, 4, 0);
        driver.PostHead(0);
        AssertBroken(driver, VirtqueueViolation.BufferUnmapped);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void WritableBeforeReadableBreaksTheQueue(bool indirect)
    {
        using var driver = new GuestDriver();
        TestBuffer[] buffers = [new(driver.Allocate(8), 8, true), new(driver.Allocate(8), 8, false)];
        if (indirect)
        {
            driver.PostIndirect(buffers);
        }
        else
        {
            driver.PostChain(buffers);
        }

        AssertBroken(driver, VirtqueueViolation.ReadableAfterWritable);
    }

    [Fact]
    public void AvailIndexJumpingMoreThanTheQueueSizeBreaksTheQueue()
    {
        using var driver = new GuestDriver(size: 8);
        driver.SetAvailIndex(9);
        AssertBroken(driver, VirtqueueViolation.AvailIndexJump);
    }

    [Fact]
    public void HeadOutsideTheTableBreaksTheQueue()
    {
        using var driver = new GuestDriver(size: 8);
        driver.PostHead(8);
        AssertBroken(driver, VirtqueueViolation.HeadOutOfRange);
    }

    [Fact]
    public void HeadPostedTwiceWhileInFlightBreaksTheQueue()
    {
        using var driver = new GuestDriver();
        ushort head = driver.PostChain(new TestBuffer(driver.Allocate(8), 8, false));
        Pop(driver);
        driver.PostHead(head);
        AssertBroken(driver, VirtqueueViolation.HeadInUse);
    }

    [Fact]
    public void ChangingADescriptorAfterThePopDoesNotChangeWhatWasValidated()
    {
        using var driver = new GuestDriver();
        ulong data = driver.Allocate(8);
        driver.PostChain(new TestBuffer(data, 8, false), new TestBuffer(driver.Allocate(8), 8, true));
        DescriptorChain chain = Pop(driver);

        // The guest points the descriptor elsewhere after validation: the device uses its copy.
        driver.WriteDescriptor(0, 0xdead_0000, 1 << 20, 0, 0);
        Assert.Equal(data, chain.Readable[0].Address);
        Assert.Equal(8, driver.Queue.ReadRequest(chain, new byte[8]));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(65536)]
    public void InvalidQueueSizesAreRefused(int size)
    {
        using var ram = new GuestRam(1 << 20);
        using var memory = new GuestMemory();
        memory.SetRegions([ram.Region(0, 0x100000, 0, 1 << 20)]);
        VirtqueueException e = Assert.Throws<VirtqueueException>(() => new SplitVirtqueue(memory, size, 0x100000, 0x140000, 0x180000, true, true));
        Assert.Equal(VirtqueueViolation.InvalidQueueSize, e.Violation);
    }

    [Theory]
    [InlineData(0x100008ul, 0x140000ul, 0x180000ul, (int)VirtqueueViolation.RingMisaligned)]
    [InlineData(0x100000ul, 0x140001ul, 0x180000ul, (int)VirtqueueViolation.RingMisaligned)]
    [InlineData(0x100000ul, 0x140000ul, 0x180002ul, (int)VirtqueueViolation.RingMisaligned)]
    [InlineData(0x300000ul, 0x140000ul, 0x180000ul, (int)VirtqueueViolation.RingUnmapped)]
    [InlineData(0x100000ul, 0x140000ul, 0x1ffff0ul, (int)VirtqueueViolation.RingUnmapped)]
    public void RingsOutsideMemoryOrMisalignedAreRefused(ulong desc, ulong avail, ulong used, int violation)
    {
        using var ram = new GuestRam(1 << 20);
        using var memory = new GuestMemory();
        memory.SetRegions([ram.Region(0, 0x100000, 0, 1 << 20)]);
        VirtqueueException e = Assert.Throws<VirtqueueException>(() => new SplitVirtqueue(memory, 256, desc, avail, used, true, true));
        Assert.Equal((VirtqueueViolation)violation, e.Violation);
    }

    [Fact]
    public void BufferAcrossAdjacentRegionsIsServedInSegments()
    {
        using var driver = new GuestDriver();

        // Split the RAM into two guest-adjacent regions at a point inside a request buffer.
        ulong buffer = driver.Allocate(64);
        ulong split = buffer + 32 - GuestDriver.Gpa;
        driver.Memory.SetRegions([
            driver.Ram.Region(GuestDriver.Gpa, GuestDriver.Uaddr, 0, split),
            driver.Ram.Region(GuestDriver.Gpa + split, GuestDriver.Uaddr + split, split, GuestDriver.RamSize - split),
        ]);
        driver.WriteGuest(buffer, Pattern(64));
        driver.PostChain(new TestBuffer(buffer, 64, false));
        var copy = new byte[64];
        Assert.Equal(64, driver.Queue.ReadRequest(Pop(driver), copy));
        Assert.Equal(Pattern(64), copy);
    }
}
