using Microsoft.Win32.SafeHandles;
using System.Runtime.InteropServices;
using VirtioFs.Protocol;
using VirtioFs.Transport.VhostUser;

namespace VirtioFs.Transport.Tests.VhostUser;

public sealed class VirtioFsQueueChannelTests
{
    private static readonly TimeSpan WaitLimit = TimeSpan.FromSeconds(10);

    private sealed class AttrFs : FuseFileSystem
    {
        public int Forgets;

        public override ValueTask<FuseResult<FuseAttrOut>> GetAttrAsync(FuseRequestContext context, FuseGetattrIn args)
            => new(new FuseResult<FuseAttrOut>(new FuseAttrOut { AttrValid = 1, Attr = new FuseAttr { Ino = context.NodeId, Size = 4242, Nlink = 1 } }));

        public override void Forget(ulong nodeId, ulong lookupCount) => Interlocked.Increment(ref Forgets);
    }

    private static byte[] Request<T>(FuseOpcode opcode, ulong unique, ulong nodeId, T args)
        where T : struct
    {
        int size = Marshal.SizeOf<T>();
        var bytes = new byte[FuseInHeader.Size + size];
        var header = new FuseInHeader { Len = (uint)bytes.Length, Opcode = (uint)opcode, Unique = unique, Nodeid = nodeId, Uid = 1, Gid = 2, Pid = 3 };
        MemoryMarshal.Write(bytes, in header);
        MemoryMarshal.Write(bytes.AsSpan(FuseInHeader.Size), in args);
        return bytes;
    }

    private static byte[] Init(ulong unique) => Request(FuseOpcode.Init, unique, 0, new FuseInitIn { Major = 7, Minor = 45, MaxReadahead = 1 << 17 });

    private static async Task<(uint Id, uint Length)> WaitUsedAsync(GuestDriver driver)
    {
        var deadline = DateTime.UtcNow + WaitLimit;
        while (DateTime.UtcNow < deadline)
        {
            if (driver.TakeUsed() is { } used)
            {
                return used;
            }

            await Task.Delay(1);
        }

        throw new TimeoutException("The device returned no chain.");
    }

    /// <summary>Receives on a pool thread: the channel's receive blocks its thread until a kick or a shutdown.</summary>
    private static Task<FuseChannelRequest> ReceiveAsync(VirtioFsQueueChannel channel, byte[] buffer)
        => Task.Run(() => channel.ReceiveAsync(buffer, default).AsTask());

    private static FuseOutHeader OutHeader(byte[] reply) => MemoryMarshal.Read<FuseOutHeader>(reply);

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, true)]
    public async Task GetattrRoundTripsThroughARealSession(bool indirect, bool eventIndex)
    {
        using var driver = new GuestDriver(size: 16, deviceQueue: false);
        using var vring = new TestVring(driver, eventIndex: eventIndex);
        await using var channel = new VirtioFsQueueChannel(vring.Vring, 1 << 17);
        var session = new FuseSession(new AttrFs());
        Task running = session.RunAsync(channel);

        (ushort initHead, TestBuffer[] initRoom) = driver.PostRequest(Init(1), [FuseInHeader.Size, FuseInitIn.Size], [FuseOutHeader.Size, FuseInitOut.Size], indirect);
        vring.Kick();
        (uint id, uint length) = await WaitUsedAsync(driver);
        Assert.Equal(initHead, id);
        Assert.Equal((uint)(FuseOutHeader.Size + FuseInitOut.Size), length);
        FuseOutHeader initOut = OutHeader(driver.Gather(initRoom, (int)length));
        Assert.Equal(0, initOut.Error);
        Assert.Equal(1ul, initOut.Unique);

        // Header and arguments scattered over three readable buffers; the reply over two writable ones.
        byte[] getattr = Request(FuseOpcode.GetAttr, 2, 77, new FuseGetattrIn());
        (ushort head, TestBuffer[] room) = driver.PostRequest(getattr, [20, 20, FuseGetattrIn.Size], [FuseOutHeader.Size + 8, 200], indirect);
        vring.Kick();
        (id, length) = await WaitUsedAsync(driver);
        Assert.Equal(head, id);
        Assert.Equal((uint)(FuseOutHeader.Size + FuseAttrOut.Size), length);
        byte[] reply = driver.Gather(room, (int)length);
        FuseOutHeader header = OutHeader(reply);
        Assert.Equal(0, header.Error);
        Assert.Equal(2ul, header.Unique);
        Assert.Equal(length, header.Len);
        FuseAttrOut attr = MemoryMarshal.Read<FuseAttrOut>(reply.AsSpan(FuseOutHeader.Size));
        Assert.Equal(77ul, attr.Attr.Ino);
        Assert.Equal(4242ul, attr.Attr.Size);
        Assert.True(vring.Calls >= 1);

        channel.Shutdown();
        await running.WaitAsync(WaitLimit);
    }

    [Fact]
    public async Task ForgetChainComesBackWithLengthZero()
    {
        using var driver = new GuestDriver(deviceQueue: false);
        using var vring = new TestVring(driver);
        await using var channel = new VirtioFsQueueChannel(vring.Vring, 1 << 17);
        var fs = new AttrFs();
        var session = new FuseSession(fs);
        Task running = session.RunAsync(channel);

        driver.PostRequest(Init(1), [FuseInHeader.Size + FuseInitIn.Size], [FuseOutHeader.Size + FuseInitOut.Size]);
        vring.Kick();
        await WaitUsedAsync(driver);

        (ushort head, _) = driver.PostRequest(Request(FuseOpcode.Forget, 3, 5, new FuseForgetIn { Nlookup = 1 }), [FuseInHeader.Size + FuseForgetIn.Size], []);
        vring.Kick();
        Assert.Equal((head, 0u), await WaitUsedAsync(driver));
        Assert.Equal(1, fs.Forgets);

        // A request that needs a reply but brought no room for one still gets its chain back, empty.
        (head, _) = driver.PostRequest(Request(FuseOpcode.GetAttr, 4, 1, new FuseGetattrIn()), [FuseInHeader.Size + FuseGetattrIn.Size], []);
        vring.Kick();
        Assert.Equal((head, 0u), await WaitUsedAsync(driver));

        channel.Shutdown();
        await running.WaitAsync(WaitLimit);
    }

    [Fact]
    public async Task ReceiveHandsOverTheRequestAndCompleteScattersTheReply()
    {
        using var driver = new GuestDriver(deviceQueue: false);
        using var vring = new TestVring(driver);
        await using var channel = new VirtioFsQueueChannel(vring.Vring, 4096);

        byte[] request = Request(FuseOpcode.GetAttr, 9, 1, new FuseGetattrIn());
        (ushort head, TestBuffer[] room) = driver.PostRequest(request, [7, request.Length - 7], [5, 11, 100]);
        var buffer = new byte[4096];
        FuseChannelRequest received = await ReceiveAsync(channel, buffer).WaitAsync(WaitLimit);
        Assert.Equal(request.Length, received.Length);
        Assert.Equal(116, received.ReplyCapacity);
        Assert.Equal(request, buffer[..request.Length]);

        byte[] reply = [.. Enumerable.Range(0, 30).Select(i => (byte)i)];
        await channel.CompleteAsync(received, reply, default);
        Assert.Equal((head, 30u), driver.TakeUsed());
        Assert.Equal(reply, driver.Gather(room, 30));
        Assert.Equal(1, vring.Calls);

        // A second completion of the same token is refused: the chain is the guest's again.
        await Assert.ThrowsAsync<FuseChannelException>(async () => await channel.CompleteAsync(received, reply, default));
    }

    [Fact]
    public async Task ReplyLargerThanTheRoomBecomesAnEioReply()
    {
        using var driver = new GuestDriver(deviceQueue: false);
        using var vring = new TestVring(driver);
        await using var channel = new VirtioFsQueueChannel(vring.Vring, 4096);
        (ushort head, TestBuffer[] room) = driver.PostRequest(Request(FuseOpcode.GetAttr, 9, 1, new FuseGetattrIn()), [56], [24]);
        FuseChannelRequest received = await ReceiveAsync(channel, new byte[4096]).WaitAsync(WaitLimit);

        var reply = new byte[FuseOutHeader.Size + FuseAttrOut.Size];
        var header = new FuseOutHeader { Len = (uint)reply.Length, Unique = 9 };
        MemoryMarshal.Write(reply, in header);
        await channel.CompleteAsync(received, reply, default);

        Assert.Equal((head, (uint)FuseOutHeader.Size), driver.TakeUsed());
        FuseOutHeader written = OutHeader(driver.Gather(room, FuseOutHeader.Size));
        Assert.Equal(-(int)Errno.EIO, written.Error);
        Assert.Equal(9ul, written.Unique);
        Assert.Equal((uint)FuseOutHeader.Size, written.Len);
        Assert.Equal(0xEE, driver.ReadGuest(room[0].Address + FuseOutHeader.Size, 1)[0]);
    }

    [Fact]
    public async Task ChainTooShortForAHeaderIsReturnedEmptyAndSkipped()
    {
        using var driver = new GuestDriver(deviceQueue: false);
        using var vring = new TestVring(driver);
        await using var channel = new VirtioFsQueueChannel(vring.Vring, 4096);
        (ushort shortHead, _) = driver.PostRequest(new byte[8], [8], [64]);
        byte[] request = Request(FuseOpcode.GetAttr, 4, 1, new FuseGetattrIn());
        driver.PostRequest(request, [request.Length], [64]);

        FuseChannelRequest received = await ReceiveAsync(channel, new byte[4096]).WaitAsync(WaitLimit);
        Assert.Equal(request.Length, received.Length);
        Assert.Equal((shortHead, 0u), driver.TakeUsed());
    }

    [Fact]
    public async Task ReceiveWaitsForAKickAndShutdownEndsTheStream()
    {
        using var driver = new GuestDriver(deviceQueue: false);
        using var vring = new TestVring(driver);
        await using var channel = new VirtioFsQueueChannel(vring.Vring, 4096);

        Task<FuseChannelRequest> waiting = ReceiveAsync(channel, new byte[4096]);
        await Task.Delay(20);
        Assert.False(waiting.IsCompleted);
        byte[] request = Request(FuseOpcode.GetAttr, 4, 1, new FuseGetattrIn());
        driver.PostRequest(request, [request.Length], [64]);
        vring.Kick();
        Assert.Equal(request.Length, (await waiting.WaitAsync(WaitLimit)).Length);

        Task<FuseChannelRequest> next = ReceiveAsync(channel, new byte[4096]);
        channel.Shutdown();
        Assert.True((await next.WaitAsync(WaitLimit)).IsEndOfStream);
        Assert.True((await ReceiveAsync(channel, new byte[4096]).WaitAsync(WaitLimit)).IsEndOfStream);
    }

    [Fact]
    public async Task CancellingTheTokenEndsAReceiveThatIsWaitingForAKick()
    {
        using var driver = new GuestDriver(deviceQueue: false);
        using var vring = new TestVring(driver);
        await using var channel = new VirtioFsQueueChannel(vring.Vring, 4096);
        using var cancel = new CancellationTokenSource();

        Task<FuseChannelRequest> waiting = Task.Run(() => channel.ReceiveAsync(new byte[4096], cancel.Token).AsTask());
        await Task.Delay(50);
        Assert.False(waiting.IsCompleted);

        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting.WaitAsync(WaitLimit));

        // The channel still works: a request posted afterwards is received.
        byte[] request = Request(FuseOpcode.GetAttr, 4, 1, new FuseGetattrIn());
        driver.PostRequest(request, [request.Length], [64]);
        vring.Kick();
        Assert.Equal(request.Length, (await ReceiveAsync(channel, new byte[4096]).WaitAsync(WaitLimit)).Length);
    }

    [Fact]
    public void AChainPoppedForASessionThatRetiredMeanwhileGoesToTheNextReceiver()
    {
        using var driver = new GuestDriver(deviceQueue: false);
        using var vring = new TestVring(driver);
        byte[] request = Request(FuseOpcode.Init, 7, 0, new FuseInitIn { Major = 7, Minor = 45 });
        (ushort head, _) = driver.PostRequest(request, [request.Length], [FuseOutHeader.Size]);
        var buffer = new byte[4096];

        // A retired session takes nothing; one that retires while popping (DESTROY handled meanwhile) hands the chain on.
        Assert.Equal(VringReceiveStatus.Idle, vring.Vring.TryReceive(buffer, () => true, out _, out _));
        int checks = 0;
        Assert.Equal(VringReceiveStatus.Idle, vring.Vring.TryReceive(buffer, () => ++checks > 1, out _, out _));
        Assert.Equal(VringReceiveStatus.Idle, vring.Vring.TryReceive(buffer, () => true, out _, out _));
        Assert.Equal(0, driver.UsedIndex);

        Array.Clear(buffer);
        Assert.Equal(VringReceiveStatus.Received, vring.Vring.TryReceive(buffer, () => false, out FuseChannelRequest received, out _));
        Assert.Equal(request.Length, received.Length);
        Assert.Equal(request, buffer[..request.Length]);
        Assert.Null(vring.Vring.Complete(received.Token, new byte[FuseOutHeader.Size]));
        Assert.Equal((head, (uint)FuseOutHeader.Size), driver.TakeUsed());
        Assert.Equal(VringReceiveStatus.Idle, vring.Vring.TryReceive(buffer, null, out _, out _));
    }

    [Fact]
    public void AChainHandedOnIsDroppedWhenTheRingStops()
    {
        using var driver = new GuestDriver(deviceQueue: false);
        using var vring = new TestVring(driver);
        byte[] request = Request(FuseOpcode.GetAttr, 7, 1, new FuseGetattrIn());
        (ushort head, _) = driver.PostRequest(request, [request.Length], [64]);
        int checks = 0;
        Assert.Equal(VringReceiveStatus.Idle, vring.Vring.TryReceive(new byte[4096], () => ++checks > 1, out _, out _));

        // GET_VRING_BASE: the VMM takes the ring back, the popped chain counted in its position and given back empty.
        Assert.Equal(1, vring.Vring.Detach(closeKick: false, TimeSpan.FromSeconds(1), out int abandoned));
        Assert.Equal(0, abandoned);
        Assert.Equal((head, 0u), driver.TakeUsed());
        vring.Vring.Attach(driver.Memory, indirect: true, eventIndex: false);
        Assert.Equal(VringReceiveStatus.Idle, vring.Vring.TryReceive(new byte[4096], null, out _, out _));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ARequestInFlightWhenTheGuestBrokeTheRingDoesNotHoldUpItsStop(bool completedBeforeStop)
    {
        using var driver = new GuestDriver(size: 8, deviceQueue: false);
        using var vring = new TestVring(driver);
        byte[] request = Request(FuseOpcode.GetAttr, 7, 1, new FuseGetattrIn());
        driver.PostRequest(request, [request.Length], [64]);
        var buffer = new byte[4096];
        Assert.Equal(VringReceiveStatus.Received, vring.Vring.TryReceive(buffer, null, out FuseChannelRequest received, out _));

        // The guest breaks the ring while the request is in flight; its reply can no longer be delivered, whether the
        // filesystem answers before the stop or is still running.
        driver.SetAvailIndex(100);
        Assert.Equal(VringReceiveStatus.Broken, vring.Vring.TryReceive(buffer, null, out _, out _));
        if (completedBeforeStop)
        {
            Assert.NotNull(vring.Vring.Complete(received.Token, new byte[FuseOutHeader.Size]));
        }

        // GET_VRING_BASE (the guest's reset) answers at once instead of waiting out the drain.
        var watch = System.Diagnostics.Stopwatch.StartNew();
        vring.Vring.Detach(closeKick: true, TimeSpan.FromSeconds(5), out int abandoned);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(2), $"Detach took {watch.Elapsed}.");
        Assert.Equal(completedBeforeStop ? 0 : 1, abandoned);
        if (!completedBeforeStop)
        {
            Assert.Null(vring.Vring.Complete(received.Token, new byte[FuseOutHeader.Size]));
        }
    }

    [Fact]
    public async Task BrokenQueueEndsTheChannelWithAChannelException()
    {
        using var driver = new GuestDriver(size: 8, deviceQueue: false);
        using var vring = new TestVring(driver);
        await using var channel = new VirtioFsQueueChannel(vring.Vring, 4096);
        driver.SetAvailIndex(100);
        FuseChannelException e = await Assert.ThrowsAsync<FuseChannelException>(() => ReceiveAsync(channel, new byte[4096]).WaitAsync(WaitLimit));
        VirtqueueException inner = Assert.IsType<VirtqueueException>(e.InnerException);
        Assert.Equal(VirtqueueViolation.AvailIndexJump, inner.Violation);
    }

    [Fact]
    public async Task BrokenQueueEndsTheSessionWithoutHarmingTheProcess()
    {
        using var driver = new GuestDriver(deviceQueue: false);
        using var vring = new TestVring(driver);
        SafeFileHandle err = EventFd.Create();
        vring.Vring.SetErr(err);
        await using var channel = new VirtioFsQueueChannel(vring.Vring, 1 << 17);
        var session = new FuseSession(new AttrFs());
        Task running = session.RunAsync(channel);
        driver.PostChain(new TestBuffer(0x10, 64, false));
        vring.Kick();
        FuseChannelException e = await Assert.ThrowsAsync<FuseChannelException>(() => running.WaitAsync(WaitLimit));
        Assert.Equal(VirtqueueViolation.BufferUnmapped, Assert.IsType<VirtqueueException>(e.InnerException).Violation);

        // The broken ring tells the VMM through its err eventfd.
        vring.Vring.SignalErrorIfBroken();
        Assert.Equal(1ul, TestVmm.ReadCounter(err));
    }

    [Fact]
    public async Task ManyRequestsWhileTheMemoryTableIsSwapped()
    {
        using var driver = new GuestDriver(size: 64, deviceQueue: false);
        using var vring = new TestVring(driver, eventIndex: true);
        await using var channel = new VirtioFsQueueChannel(vring.Vring, 1 << 17);
        var session = new FuseSession(new AttrFs(), new FuseSessionOptions { WorkersPerChannel = 2 });
        Task running = session.RunAsync(channel);

        using var stop = new CancellationTokenSource();
        var swapper = new Thread(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                driver.Memory.SetRegions([driver.Ram.Region(GuestDriver.Gpa, GuestDriver.Uaddr, 0, GuestDriver.RamSize)]);
            }
        });
        swapper.Start();
        try
        {
            driver.PostRequest(Init(1), [FuseInHeader.Size + FuseInitIn.Size], [FuseOutHeader.Size + FuseInitOut.Size]);
            vring.Kick();
            await WaitUsedAsync(driver);

            for (ulong unique = 2; unique < 200; unique++)
            {
                byte[] request = Request(FuseOpcode.GetAttr, unique, unique, new FuseGetattrIn());
                (ushort head, TestBuffer[] room) = driver.PostRequest(request, [request.Length], [FuseOutHeader.Size + FuseAttrOut.Size]);
                vring.Kick();
                (uint id, uint length) = await WaitUsedAsync(driver);
                Assert.Equal(head, id);
                byte[] reply = driver.Gather(room, (int)length);
                Assert.Equal(unique, OutHeader(reply).Unique);
                Assert.Equal(unique, MemoryMarshal.Read<FuseAttrOut>(reply.AsSpan(FuseOutHeader.Size)).Attr.Ino);
            }
        }
        finally
        {
            stop.Cancel();
            swapper.Join();
        }

        channel.Shutdown();
        await running.WaitAsync(WaitLimit);
    }
}
