using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;
using VirtioFs.Transport.VhostUser;

namespace VirtioFs.Transport.Tests.VhostUser;

/// <summary>
/// Every message the backend handles, as a front-end sends it: the reply or ack of each, and the exact outcome of each
/// malformed one (a non-zero ack with the connection kept, or the connection closed), the backend unharmed.
/// </summary>
public sealed class VhostUserFrontEndTests
{
    /// <summary>Asserts the backend closed the connection and <see cref="VhostUserFsBackend.RunAsync"/> ended normally (no reconnect).</summary>
    private static async Task AssertClosedAsync(TestBackend backend, TestVmm vmm)
    {
        vmm.AssertClosed();
        await backend.Running.WaitAsync(TestVmm.Timeout);
        Assert.True(backend.Running.IsCompletedSuccessfully);
    }

    /// <summary>Asserts a refusal acked non-zero, with the connection still open.</summary>
    private static void AssertNack(TestBackend backend, TestVmm vmm, VhostUserRequest request, ulong ack, string because)
    {
        Assert.NotEqual(0ul, ack);
        backend.AssertRefused(request, because);
        vmm.Sync();
    }

    // ---- Features ----

    [Fact]
    public async Task GetFeaturesOffersVersion1IndirectDescriptorsEventIndexAndProtocolFeatures()
    {
        await using TestBackend backend = TestBackend.Start();
        using TestVmm vmm = backend.Connect();
        Assert.Equal((1ul << 32) | (1ul << 30) | (1ul << 29) | (1ul << 28), vmm.Get(VhostUserRequest.GetFeatures));
        Assert.Equal(0ul, vmm.Request(VhostUserRequest.SetFeatures, TestVmm.U64(1ul << 32)));
        Assert.Equal(0ul, vmm.Request(VhostUserRequest.SetFeatures, TestVmm.U64(TestVmm.AllFeatures)));
    }

    [Fact]
    public async Task GetProtocolFeaturesOffersWhatTheDeviceImplements()
    {
        await using TestBackend backend = TestBackend.Start();
        using TestVmm vmm = backend.Connect();

        // MQ, REPLY_ACK, BACKEND_REQ, CONFIG, BACKEND_SEND_FD, RESET_DEVICE, CONFIGURE_MEM_SLOTS.
        ulong expected = (1ul << 0) | (1ul << 3) | (1ul << 5) | (1ul << 9) | (1ul << 10) | (1ul << 13) | (1ul << 15);
        Assert.Equal(expected, vmm.Get(VhostUserRequest.GetProtocolFeatures));
        Assert.Equal(0ul, vmm.Request(VhostUserRequest.SetProtocolFeatures, TestVmm.U64(expected)));
        Assert.Equal(0ul, vmm.Request(VhostUserRequest.SetProtocolFeatures, TestVmm.U64(1ul << 3)));
    }

    [Theory]
    [InlineData((uint)VhostUserRequest.SetFeatures, 1ul << 0, false)]
    [InlineData((uint)VhostUserRequest.SetFeatures, 1ul << 33, true)]
    [InlineData((uint)VhostUserRequest.SetProtocolFeatures, 1ul << 1, false)]
    [InlineData((uint)VhostUserRequest.SetProtocolFeatures, 1ul << 16, true)]
    public async Task FeaturesNeverOfferedCloseTheConnection(uint code, ulong extra, bool needReply)
    {
        var request = (VhostUserRequest)code;
        await using TestBackend backend = TestBackend.Start();
        using TestVmm vmm = backend.Connect();
        ulong offered = request == VhostUserRequest.SetFeatures ? TestVmm.AllFeatures : TestVmm.AllProtocolFeatures;
        vmm.Send(request, TestVmm.U64(offered | extra), needReply: needReply);
        if (needReply)
        {
            Assert.NotEqual(0ul, vmm.ReceiveU64(request));
        }

        await AssertClosedAsync(backend, vmm);
        backend.AssertRefused(request, "were never offered");
    }

    // ---- Owner, queues, slots ----

    [Fact]
    public async Task SetOwnerIsAckedAndGetQueueNumCountsHiprioAndRequestQueues()
    {
        await using TestBackend backend = TestBackend.Start(requestQueues: 3);
        using TestVmm vmm = backend.Connect();
        Assert.Equal(0ul, vmm.Request(VhostUserRequest.SetOwner));
        Assert.Equal(4ul, vmm.Get(VhostUserRequest.GetQueueNum));
    }

    [Theory]
    [InlineData(32)]
    [InlineData(5)]
    public async Task GetMaxMemSlotsReportsTheConfiguredSlots(int slots)
    {
        await using TestBackend backend = TestBackend.Start(maxMemorySlots: slots);
        using TestVmm vmm = backend.Connect();
        Assert.Equal((ulong)slots, vmm.Get(VhostUserRequest.GetMaxMemSlots));
    }

    [Fact]
    public async Task GetShmemConfigReportsNoRegionWithoutADaxWindow()
    {
        await using TestBackend backend = TestBackend.Start();
        using TestVmm vmm = backend.Connect();
        vmm.Send(VhostUserRequest.GetShmemConfig);
        Assert.Equal(new byte[8 + (8 * 8)], vmm.ReceiveReply(VhostUserRequest.GetShmemConfig));
        Assert.Equal(0ul, vmm.Get(VhostUserRequest.GetProtocolFeatures) & VhostUserProtocol.ProtocolShmem);
    }

    [Fact]
    public async Task GetShmemConfigReportsTheDaxWindowAsRegionZero()
    {
        await using TestBackend backend = TestBackend.Start(daxWindow: new VhostUserDaxWindow(8 << 20));
        using TestVmm vmm = backend.Connect();
        Assert.Equal(TestVmm.AllProtocolFeatures | VhostUserProtocol.ProtocolShmem, vmm.Get(VhostUserRequest.GetProtocolFeatures));
        Assert.Equal(0ul, vmm.Request(VhostUserRequest.SetProtocolFeatures, TestVmm.U64(TestVmm.AllProtocolFeatures | VhostUserProtocol.ProtocolShmem)));
        vmm.Send(VhostUserRequest.GetShmemConfig);
        byte[] reply = vmm.ReceiveReply(VhostUserRequest.GetShmemConfig);
        Assert.Equal(8 + (8 * 8), reply.Length);
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(reply));
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(reply.AsSpan(4)));
        Assert.Equal(8ul << 20, BinaryPrimitives.ReadUInt64LittleEndian(reply.AsSpan(8)));
        Assert.All(reply[16..], b => Assert.Equal(0, b));
    }

    // ---- Config space ----

    /// <summary>A GET/SET_CONFIG payload: the header and room for <paramref name="length"/> bytes, or only its first <paramref name="payloadLength"/> bytes.</summary>
    private static byte[] ConfigRequest(uint offset, uint length, int payloadLength = -1)
    {
        var bytes = new byte[VhostUserConfigHeader.Size + (int)length];
        var header = new VhostUserConfigHeader { Offset = offset, Length = length };
        MemoryMarshal.Write(bytes, in header);
        return payloadLength >= 0 ? bytes[..payloadLength] : bytes;
    }

    [Fact]
    public async Task GetConfigReturnsTheTagAndTheNumberOfRequestQueues()
    {
        await using TestBackend backend = TestBackend.Start(requestQueues: 2);
        using TestVmm vmm = backend.Connect();
        byte[] request = ConfigRequest(0, 40);
        request.AsSpan(VhostUserConfigHeader.Size).Fill(0xff);
        vmm.Send(VhostUserRequest.GetConfig, request);
        byte[] reply = vmm.ReceiveReply(VhostUserRequest.GetConfig);

        Assert.Equal(VhostUserConfigHeader.Size + 40, reply.Length);
        Assert.Equal(request[..VhostUserConfigHeader.Size], reply[..VhostUserConfigHeader.Size]);
        byte[] tag = new byte[36];
        Encoding.UTF8.GetBytes("testfs").CopyTo(tag, 0);
        Assert.Equal(tag, reply[VhostUserConfigHeader.Size..(VhostUserConfigHeader.Size + 36)]);
        Assert.Equal(2u, BinaryPrimitives.ReadUInt32LittleEndian(reply.AsSpan(VhostUserConfigHeader.Size + 36)));
    }

    [Fact]
    public async Task GetConfigReadsAPartOfTheSpace()
    {
        await using TestBackend backend = TestBackend.Start(requestQueues: 3);
        using TestVmm vmm = backend.Connect();
        vmm.Send(VhostUserRequest.GetConfig, ConfigRequest(36, 4));
        byte[] reply = vmm.ReceiveReply(VhostUserRequest.GetConfig);
        Assert.Equal(VhostUserConfigHeader.Size + 4, reply.Length);
        Assert.Equal(3u, BinaryPrimitives.ReadUInt32LittleEndian(reply.AsSpan(VhostUserConfigHeader.Size)));

        vmm.Send(VhostUserRequest.GetConfig, ConfigRequest(0, 4));
        Assert.Equal("test"u8.ToArray(), vmm.ReceiveReply(VhostUserRequest.GetConfig)[VhostUserConfigHeader.Size..]);
    }

    [Theory]
    [InlineData(0u, 41u, -1)]
    [InlineData(40u, 1u, -1)]
    [InlineData(37u, 4u, -1)]
    [InlineData(0xffff_fff0u, 0x20u, -1)]
    [InlineData(0u, 40u, VhostUserConfigHeader.Size)]
    [InlineData(0u, 0u, 8)]
    public async Task GetConfigOutsideTheConfigSpaceGetsAnEmptyReply(uint offset, uint length, int payloadLength)
    {
        await using TestBackend backend = TestBackend.Start();
        using TestVmm vmm = backend.Connect();
        vmm.Send(VhostUserRequest.GetConfig, ConfigRequest(offset, length, payloadLength));
        Assert.Empty(vmm.ReceiveReply(VhostUserRequest.GetConfig));

        // The refusal is logged after its (empty) reply went: the next round trip orders them.
        vmm.Sync();
        backend.AssertRefused(VhostUserRequest.GetConfig, "outside");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task SetConfigIsRefused(bool needReply)
    {
        await using TestBackend backend = TestBackend.Start();
        using TestVmm vmm = backend.Connect();
        vmm.Send(VhostUserRequest.SetConfig, ConfigRequest(0, 4), needReply: needReply);
        if (needReply)
        {
            AssertNack(backend, vmm, VhostUserRequest.SetConfig, vmm.ReceiveU64(VhostUserRequest.SetConfig), "read-only");
        }
        else
        {
            await AssertClosedAsync(backend, vmm);
        }
    }

    // ---- Backend channel ----

    [Fact]
    public async Task SetBackendReqFdTakesOneDescriptor()
    {
        await using TestBackend backend = TestBackend.Start();
        using TestVmm vmm = backend.Connect();
        (SafeFileHandle ours, SafeFileHandle theirs) = SocketPair();
        using (ours)
        using (theirs)
        {
            Assert.Equal(0ul, vmm.Request(VhostUserRequest.SetBackendReqFd, default, [theirs]));
            AssertNack(backend, vmm, VhostUserRequest.SetBackendReqFd, vmm.Request(VhostUserRequest.SetBackendReqFd), "0 file descriptor(s), expected 1");
        }
    }

    [Fact]
    public async Task ABackendChannelThatIsNotASocketIsNackedAndTheConnectionStays()
    {
        await using TestBackend backend = TestBackend.Start(daxWindow: new VhostUserDaxWindow(8 << 20));
        using TestVmm vmm = backend.Connect();
        using SafeFileHandle notASocket = EventFd.Create();
        AssertNack(backend, vmm, VhostUserRequest.SetBackendReqFd, vmm.Request(VhostUserRequest.SetBackendReqFd, default, [notASocket]), "not a socket");

        // A good channel afterwards is taken.
        (SafeFileHandle ours, SafeFileHandle theirs) = SocketPair();
        using (ours)
        using (theirs)
        {
            Assert.Equal(0ul, vmm.Request(VhostUserRequest.SetBackendReqFd, default, [theirs]));
        }
    }

    private static unsafe (SafeFileHandle, SafeFileHandle) SocketPair()
    {
        int* fds = stackalloc int[2];
        Assert.Equal(0, Interop.SocketPair(Interop.AF_UNIX, Interop.SOCK_STREAM | Interop.SOCK_CLOEXEC, 0, fds));
        return (Interop.Own(fds[0]), Interop.Own(fds[1]));
    }

    // ---- Device reset ----

    [Theory]
    [InlineData((uint)VhostUserRequest.ResetOwner)]
    [InlineData((uint)VhostUserRequest.ResetDevice)]
    public async Task ResetStopsTheSessionAndForgetsTheRingsUntilTheyAreSetUpAgain(uint code)
    {
        var reset = (VhostUserRequest)code;
        await using TestBackend backend = TestBackend.Start();
        using TestVmm vmm = backend.Connect();
        vmm.StartDevice();
        FuseWire.InitOn(vmm, 1, 1);

        Assert.Equal(0ul, vmm.Request(reset));
        await backend.FileSystem.WaitDestroyedAsync();
        Assert.Equal(0u, vmm.GetVringBase(1));

        // A reset device starts like a new one.
        vmm.Negotiate();
        for (int i = 0; i < vmm.QueueCount; i++)
        {
            vmm.ResetQueue(i);
            vmm.StartQueue(i);
        }

        await backend.WaitSessionsAsync(2);
        FuseWire.InitOn(vmm, 1, 1);
        Assert.Equal(2, backend.FileSystem.Inits);
    }

    // ---- Memory table ----

    [Fact]
    public async Task SetMemTableWhileRingsRunKeepsThemServing()
    {
        await using TestBackend backend = TestBackend.Start();
        using TestVmm vmm = backend.Connect();
        vmm.StartDevice();
        FuseWire.InitOn(vmm, 1, 1);

        // QEMU resends the table on memory hot-plug; the running rings go on.
        using TestMemfd extra = TestMemfd.Create(1 << 20);
        VhostUserMemoryRegion hotplugged = new() { GuestPhysicalAddress = 0x8000_0000, Size = 1 << 20, UserspaceAddress = 0x7f13_0000_0000 };
        Assert.Equal(0ul, vmm.Request(VhostUserRequest.SetMemTable, TestVmm.MemoryTable(vmm.RamRegion, hotplugged), [vmm.Ram.Fd, extra.Fd]));
        FuseWire.GetAttrOn(vmm, 1, 2, 9);

        // A request whose reply goes into the new region.
        byte[] request = FuseWire.GetAttr(3, 10);
        GuestDriver driver = vmm.Driver(1);
        ulong readable = driver.Allocate((uint)request.Length);
        driver.WriteGuest(readable, request);
        ushort head = driver.PostChain(new TestBuffer(readable, (uint)request.Length, false), new TestBuffer(0x8000_0000, FuseWire.GetAttrRoom, true));
        vmm.KickQueue(1);
        Assert.Equal((head, (uint)FuseWire.GetAttrRoom), vmm.WaitUsed(1));
        byte[] reply = extra.Read(0, FuseWire.GetAttrRoom);
        FuseWire.AssertOk(reply, 3, FuseWire.GetAttrRoom);
    }

    /// <summary>What is wrong with a memory table: its payload and its descriptors, and the reason the refusal logs.</summary>
    public enum BadTable
    {
        NoRegions,
        NineRegionsEightFds,
        NineRegionsNineFds,
        PayloadLongerThanAnnounced,
        MissingFd,
        ExtraFd,
        LargerThanItsFile,
        OffsetPastItsFile,
        EmptyRegion,
        GuestAddressWraps,
        FdNotSizable,
        FdOfAnEventfd,
        OverlappingGuestAddresses,
        OverlappingUserspaceAddresses,
    }

    [Fact]
    public async Task AMemoryTableWithMoreRegionsThanTheMemorySlotsIsRefused()
    {
        await using TestBackend backend = TestBackend.Start(maxMemorySlots: 1);
        using TestVmm vmm = backend.Connect();
        vmm.Negotiate();
        using TestMemfd other = TestMemfd.Create(64 << 10);
        VhostUserMemoryRegion second = new() { GuestPhysicalAddress = 0x8000_0000, Size = other.Size, UserspaceAddress = 0x7f13_0000_0000 };

        Assert.NotEqual(0ul, vmm.Request(VhostUserRequest.SetMemTable, TestVmm.MemoryTable(vmm.RamRegion, second), [vmm.Ram.Fd, other.Fd]));
        backend.AssertRefused(VhostUserRequest.SetMemTable, "announcing 2 region(s) (1 to 1)");
        vmm.SetMemTable();
    }

    [Theory]
    [InlineData(BadTable.NoRegions, "announcing 0 region(s)")]
    [InlineData(BadTable.NineRegionsEightFds, "8 file descriptor(s), expected 9")]
    [InlineData(BadTable.NineRegionsNineFds, "more file descriptors than one message may carry")]
    [InlineData(BadTable.PayloadLongerThanAnnounced, "a memory table of 72 bytes announcing 1 region(s)")]
    [InlineData(BadTable.MissingFd, "1 file descriptor(s), expected 2")]
    [InlineData(BadTable.ExtraFd, "2 file descriptor(s), expected 1")]
    [InlineData(BadTable.LargerThanItsFile, "does not fit its file")]
    [InlineData(BadTable.OffsetPastItsFile, "does not fit its file")]
    [InlineData(BadTable.EmptyRegion, "does not fit its file")]
    [InlineData(BadTable.GuestAddressWraps, "failed: EINVAL")]
    [InlineData(BadTable.FdNotSizable, "cannot be sized: ESPIPE")]
    [InlineData(BadTable.FdOfAnEventfd, "does not fit its file of 0x0 bytes")]
    [InlineData(BadTable.OverlappingGuestAddresses, "regions overlap")]
    [InlineData(BadTable.OverlappingUserspaceAddresses, "overlap in the VMM's address space")]
    public async Task ABadMemoryTableIsRefusedAndTheCurrentOneStays(BadTable bad, string because)
    {
        await using TestBackend backend = TestBackend.Start();
        using TestVmm vmm = backend.Connect();
        vmm.Negotiate();
        vmm.SetMemTable();

        using TestMemfd small = TestMemfd.Create(64 << 10);
        using SafeFileHandle eventFd = EventFd.Create();
        VhostUserMemoryRegion ram = vmm.RamRegion;
        VhostUserMemoryRegion other = new() { GuestPhysicalAddress = 0x8000_0000, Size = small.Size, UserspaceAddress = 0x7f13_0000_0000 };
        SafeFileHandle[] nine = [.. Enumerable.Repeat(vmm.Ram.Fd, 9)];
        VhostUserMemoryRegion[] nineRegions = [.. Enumerable.Range(0, 9).Select(i => new VhostUserMemoryRegion
        {
            GuestPhysicalAddress = (ulong)i << 32, Size = 4096, UserspaceAddress = 0x7f00_0000_0000 + ((ulong)i << 32), MmapOffset = 0,
        })];

        ulong ack;
        switch (bad)
        {
            case BadTable.NoRegions:
                ack = vmm.Request(VhostUserRequest.SetMemTable, TestVmm.MemoryTable());
                break;
            case BadTable.NineRegionsEightFds:
                ack = vmm.Request(VhostUserRequest.SetMemTable, TestVmm.MemoryTable(nineRegions), nine[..8]);
                break;
            case BadTable.NineRegionsNineFds:
                vmm.SendWithFds(VhostUserRequest.SetMemTable, VhostUserProtocol.Version | VhostUserProtocol.FlagNeedReply, TestVmm.MemoryTable(nineRegions), nine);
                ack = vmm.ReceiveU64(VhostUserRequest.SetMemTable);
                break;
            case BadTable.PayloadLongerThanAnnounced:
                byte[] table = TestVmm.MemoryTable(ram, other);
                BinaryPrimitives.WriteUInt32LittleEndian(table, 1);
                ack = vmm.Request(VhostUserRequest.SetMemTable, table, [vmm.Ram.Fd]);
                break;
            case BadTable.MissingFd:
                ack = vmm.Request(VhostUserRequest.SetMemTable, TestVmm.MemoryTable(ram, other), [vmm.Ram.Fd]);
                break;
            case BadTable.ExtraFd:
                ack = vmm.Request(VhostUserRequest.SetMemTable, TestVmm.MemoryTable(ram), [vmm.Ram.Fd, small.Fd]);
                break;
            case BadTable.LargerThanItsFile:
                // Mapping it would work; touching its end would raise SIGBUS.
                other.Size = small.Size + 4096;
                ack = vmm.Request(VhostUserRequest.SetMemTable, TestVmm.MemoryTable(other), [small.Fd]);
                break;
            case BadTable.OffsetPastItsFile:
                other.MmapOffset = small.Size;
                other.Size = 4096;
                ack = vmm.Request(VhostUserRequest.SetMemTable, TestVmm.MemoryTable(other), [small.Fd]);
                break;
            case BadTable.EmptyRegion:
                other.Size = 0;
                ack = vmm.Request(VhostUserRequest.SetMemTable, TestVmm.MemoryTable(other), [small.Fd]);
                break;
            case BadTable.GuestAddressWraps:
                other.GuestPhysicalAddress = ulong.MaxValue - 4095;
                other.Size = 8192;
                ack = vmm.Request(VhostUserRequest.SetMemTable, TestVmm.MemoryTable(other), [small.Fd]);
                break;
            case BadTable.FdNotSizable:
                (SafeFileHandle one, SafeFileHandle two) = SocketPair();
                using (one)
                using (two)
                {
                    ack = vmm.Request(VhostUserRequest.SetMemTable, TestVmm.MemoryTable(other), [one]);
                }

                break;
            case BadTable.FdOfAnEventfd:
                ack = vmm.Request(VhostUserRequest.SetMemTable, TestVmm.MemoryTable(other), [eventFd]);
                break;
            case BadTable.OverlappingGuestAddresses:
                other.GuestPhysicalAddress = ram.GuestPhysicalAddress + ram.Size - 4096;
                ack = vmm.Request(VhostUserRequest.SetMemTable, TestVmm.MemoryTable(ram, other), [vmm.Ram.Fd, small.Fd]);
                break;
            default:
                other.UserspaceAddress = ram.UserspaceAddress + 4096;
                ack = vmm.Request(VhostUserRequest.SetMemTable, TestVmm.MemoryTable(ram, other), [vmm.Ram.Fd, small.Fd]);
                break;
        }

        AssertNack(backend, vmm, VhostUserRequest.SetMemTable, ack, because);

        // The table from before is still the one rings start in.
        for (int i = 0; i < vmm.QueueCount; i++)
        {
            vmm.StartQueue(i);
        }

        FuseWire.InitOn(vmm, 1, 1);
    }

    [Fact]
    public async Task ARefusedMemoryTableWithoutNeedReplyClosesTheConnection()
    {
        await using TestBackend backend = TestBackend.Start();
        using TestVmm vmm = backend.Connect();
        using TestMemfd small = TestMemfd.Create(64 << 10);
        VhostUserMemoryRegion region = new() { GuestPhysicalAddress = 0, Size = 1 << 20, UserspaceAddress = 0x7f13_0000_0000 };
        vmm.Send(VhostUserRequest.SetMemTable, TestVmm.MemoryTable(region), [small.Fd]);
        await AssertClosedAsync(backend, vmm);
    }

    [Fact]
    public async Task RingsStartInMemoryAddedRegionByRegionAndRemovingARegionLeavesTheOthers()
    {
        await using TestBackend backend = TestBackend.Start();
        using TestVmm vmm = backend.Connect();
        vmm.Negotiate();

        // QEMU with CONFIGURE_MEM_SLOTS: one ADD_MEM_REG per region; here the RAM's two halves, one memfd.
        const ulong Half = TestVmm.RamSize / 2;
        VhostUserMemoryRegion low = vmm.RamRegion with { Size = Half };
        VhostUserMemoryRegion high = new() { GuestPhysicalAddress = TestVmm.RamGpa + Half, Size = Half, UserspaceAddress = TestVmm.RamUaddr + Half, MmapOffset = Half };
        Assert.Equal(0ul, vmm.Request(VhostUserRequest.AddMemReg, TestVmm.SingleRegion(low), [vmm.Ram.Fd]));
        Assert.Equal(0ul, vmm.Request(VhostUserRequest.AddMemReg, TestVmm.SingleRegion(high), [vmm.Ram.Fd]));
        vmm.StartQueue(0);
        vmm.StartQueue(1);
        FuseWire.InitOn(vmm, 1, 1);

        // A buffer that crosses from one region into the other.
        GuestDriver driver = vmm.Driver(1);
        byte[] request = FuseWire.GetAttr(2, 4);
        ulong start = TestVmm.RamGpa + Half - 20;
        vmm.Ram.Write(Half - 20, request);
        ulong room = driver.Allocate(FuseWire.GetAttrRoom);
        ushort head = driver.PostChain(new TestBuffer(start, (uint)request.Length, false), new TestBuffer(room, FuseWire.GetAttrRoom, true));
        vmm.KickQueue(1);
        Assert.Equal((head, (uint)FuseWire.GetAttrRoom), vmm.WaitUsed(1));
        FuseWire.AssertOk(driver.ReadGuest(room, FuseWire.GetAttrRoom), 2, FuseWire.GetAttrRoom);

        // The rings are in the low half: removing the high one leaves them serving. Removing it again is refused.
        Assert.Equal(0ul, vmm.Request(VhostUserRequest.RemMemReg, TestVmm.SingleRegion(high)));
        FuseWire.GetAttrOn(vmm, 1, 3, 5);
        AssertNack(backend, vmm, VhostUserRequest.RemMemReg, vmm.Request(VhostUserRequest.RemMemReg, TestVmm.SingleRegion(high)), "no memory region at gpa");

        // Some front-ends send the region's descriptor with REM_MEM_REG.
        Assert.Equal(0ul, vmm.Request(VhostUserRequest.AddMemReg, TestVmm.SingleRegion(high), [vmm.Ram.Fd]));
        Assert.Equal(0ul, vmm.Request(VhostUserRequest.RemMemReg, TestVmm.SingleRegion(high), [vmm.Ram.Fd]));
        FuseWire.GetAttrOn(vmm, 1, 4, 6);
    }

    [Fact]
    public async Task AddMemRegRefusesRegionsBeyondTheSlotsOverlapsAndBadShapes()
    {
        await using TestBackend backend = TestBackend.Start(maxMemorySlots: 2);
        using TestVmm vmm = backend.Connect();
        using TestMemfd small = TestMemfd.Create(64 << 10);
        VhostUserMemoryRegion first = new() { GuestPhysicalAddress = 0x1000_0000, Size = small.Size, UserspaceAddress = 0x7f10_0000_0000 };
        VhostUserMemoryRegion second = first with { GuestPhysicalAddress = 0x2000_0000, UserspaceAddress = 0x7f20_0000_0000 };
        VhostUserMemoryRegion third = first with { GuestPhysicalAddress = 0x3000_0000, UserspaceAddress = 0x7f30_0000_0000 };
        Assert.Equal(0ul, vmm.Request(VhostUserRequest.AddMemReg, TestVmm.SingleRegion(first), [small.Fd]));

        VhostUserMemoryRegion overlapping = second with { GuestPhysicalAddress = first.GuestPhysicalAddress + 4096 };
        AssertNack(backend, vmm, VhostUserRequest.AddMemReg, vmm.Request(VhostUserRequest.AddMemReg, TestVmm.SingleRegion(overlapping), [small.Fd]), "regions overlap");
        VhostUserMemoryRegion tooLarge = second with { Size = small.Size * 2 };
        AssertNack(backend, vmm, VhostUserRequest.AddMemReg, vmm.Request(VhostUserRequest.AddMemReg, TestVmm.SingleRegion(tooLarge), [small.Fd]), "does not fit its file");
        AssertNack(backend, vmm, VhostUserRequest.AddMemReg, vmm.Request(VhostUserRequest.AddMemReg, TestVmm.SingleRegion(second)), "0 file descriptor(s), expected 1");
        AssertNack(backend, vmm, VhostUserRequest.AddMemReg, vmm.Request(VhostUserRequest.AddMemReg, TestVmm.SingleRegion(second)[8..], [small.Fd]), "payload of 32 bytes, expected 40");

        Assert.Equal(0ul, vmm.Request(VhostUserRequest.AddMemReg, TestVmm.SingleRegion(second), [small.Fd]));
        AssertNack(backend, vmm, VhostUserRequest.AddMemReg, vmm.Request(VhostUserRequest.AddMemReg, TestVmm.SingleRegion(third), [small.Fd]), "all 2 memory slots are in use");

        // A slot freed is a slot to use again.
        Assert.Equal(0ul, vmm.Request(VhostUserRequest.RemMemReg, TestVmm.SingleRegion(first)));
        Assert.Equal(0ul, vmm.Request(VhostUserRequest.AddMemReg, TestVmm.SingleRegion(third), [small.Fd]));
    }

    // ---- Vring configuration ----

    [Theory]
    [InlineData(0u)]
    [InlineData(3u)]
    [InlineData(65536u)]
    public async Task SetVringNumRefusesSizesThatAreNotAPowerOfTwoUpTo32768(uint size)
    {
        await using TestBackend backend = TestBackend.Start();
        using TestVmm vmm = backend.Connect();
        Assert.Equal(0ul, vmm.Request(VhostUserRequest.SetVringNum, TestVmm.VringState(1, 32768)));
        AssertNack(backend, vmm, VhostUserRequest.SetVringNum, vmm.Request(VhostUserRequest.SetVringNum, TestVmm.VringState(1, size)), "is not a power of two");
    }

    [Theory]
    [InlineData((uint)VhostUserRequest.SetVringNum)]
    [InlineData((uint)VhostUserRequest.SetVringBase)]
    [InlineData((uint)VhostUserRequest.SetVringEnable)]
    public async Task VringMessagesForAQueueThatDoesNotExistAreRefused(uint code)
    {
        var request = (VhostUserRequest)code;
        await using TestBackend backend = TestBackend.Start();
        using TestVmm vmm = backend.Connect();
        vmm.Negotiate();
        AssertNack(backend, vmm, request, vmm.Request(request, TestVmm.VringState(2, 1)), "vring 2 does not exist");
        AssertNack(backend, vmm, request, vmm.Request(request, TestVmm.VringState(uint.MaxValue, 1)), $"vring {uint.MaxValue} does not exist");
    }

    [Theory]
    [InlineData((uint)VhostUserRequest.SetVringKick)]
    [InlineData((uint)VhostUserRequest.SetVringCall)]
    [InlineData((uint)VhostUserRequest.SetVringErr)]
    public async Task VringDescriptorsAreCheckedForIndexBitsAndCount(uint code)
    {
        var request = (VhostUserRequest)code;
        await using TestBackend backend = TestBackend.Start();
        using TestVmm vmm = backend.Connect();
        using SafeFileHandle fd = EventFd.Create();
        AssertNack(backend, vmm, request, vmm.Request(request, TestVmm.U64(2), [fd]), "vring 2 does not exist");
        AssertNack(backend, vmm, request, vmm.Request(request, TestVmm.U64(1 | (1ul << 9)), [fd]), "has unknown bits");
        AssertNack(backend, vmm, request, vmm.Request(request, TestVmm.U64(1)), "0 file descriptor(s), expected 1");
        AssertNack(backend, vmm, request, vmm.Request(request, TestVmm.U64(1 | (1ul << 8)), [fd]), "1 file descriptor(s), expected 0");
        AssertNack(backend, vmm, request, vmm.Request(request, TestVmm.U64(1), [fd, fd]), "2 file descriptor(s), expected 1");
        AssertNack(backend, vmm, request, vmm.Request(request, TestVmm.U64(1)[..4], [fd]), "payload of 4 bytes, expected 8");
        Assert.Equal(0ul, vmm.Request(request, TestVmm.U64(1), [fd]));

        ulong noFd = vmm.Request(request, TestVmm.U64(1 | (1ul << 8)));
        if (request == VhostUserRequest.SetVringKick)
        {
            AssertNack(backend, vmm, request, noFd, "polling rings");
        }
        else
        {
            Assert.Equal(0ul, noFd);
        }
    }

    [Fact]
    public async Task SetVringAddrRefusesDirtyLoggingAndRingsOutsideMemoryDoNotStart()
    {
        await using TestBackend backend = TestBackend.Start();
        using TestVmm vmm = backend.Connect();
        vmm.Negotiate();
        vmm.SetMemTable();
        GuestDriver driver = vmm.ResetQueue(1);
        AssertNack(backend, vmm, VhostUserRequest.SetVringAddr, vmm.Request(VhostUserRequest.SetVringAddr, TestVmm.VringAddress(1, driver.RingAddress, flags: 1)), "dirty logging");
        AssertNack(backend, vmm, VhostUserRequest.SetVringAddr, vmm.Request(VhostUserRequest.SetVringAddr, TestVmm.VringAddress(3, driver.RingAddress)), "vring 3 does not exist");
        AssertNack(backend, vmm, VhostUserRequest.SetVringAddr, vmm.Request(VhostUserRequest.SetVringAddr, TestVmm.VringAddress(1, driver.RingAddress)[..32]), "payload of 32 bytes, expected 40");

        // A used ring past the end of guest memory: the ring cannot start, so enabling it is refused.
        Assert.Equal(0ul, vmm.Request(VhostUserRequest.SetVringNum, TestVmm.VringState(1, TestVmm.QueueSize)));
        VringAddress outside = driver.RingAddress with { Used = TestVmm.RamUaddr + TestVmm.RamSize - 8 };
        Assert.Equal(0ul, vmm.Request(VhostUserRequest.SetVringAddr, TestVmm.VringAddress(1, outside)));
        Assert.Equal(0ul, vmm.Request(VhostUserRequest.SetVringKick, TestVmm.U64(1), [vmm.Kick[1]]));
        Assert.Equal(0ul, vmm.Request(VhostUserRequest.SetVringCall, TestVmm.U64(1), [vmm.Call[1]]));
        AssertNack(backend, vmm, VhostUserRequest.SetVringEnable, vmm.Request(VhostUserRequest.SetVringEnable, TestVmm.VringState(1, 1)), "is not inside one memory region");

        // A misaligned descriptor table likewise.
        VringAddress misaligned = driver.RingAddress with { Descriptor = driver.RingAddress.Descriptor + 8 };
        Assert.Equal(0ul, vmm.Request(VhostUserRequest.SetVringAddr, TestVmm.VringAddress(1, misaligned)));
        AssertNack(backend, vmm, VhostUserRequest.SetVringEnable, vmm.Request(VhostUserRequest.SetVringEnable, TestVmm.VringState(1, 1)), "is not 16-byte aligned");

        // Fixed, it starts.
        Assert.Equal(0ul, vmm.Request(VhostUserRequest.SetVringAddr, TestVmm.VringAddress(1, driver.RingAddress)));
        Assert.Equal(0ul, vmm.Request(VhostUserRequest.SetVringEnable, TestVmm.VringState(1, 1)));
        FuseWire.InitOn(vmm, 1, 1);
    }

    [Fact]
    public async Task ARunningRingRefusesNewSizeAddressAndBase()
    {
        await using TestBackend backend = TestBackend.Start();
        using TestVmm vmm = backend.Connect();
        vmm.StartDevice();
        AssertNack(backend, vmm, VhostUserRequest.SetVringNum, vmm.Request(VhostUserRequest.SetVringNum, TestVmm.VringState(1, 32)), "vring 1 is running");
        AssertNack(backend, vmm, VhostUserRequest.SetVringAddr, vmm.Request(VhostUserRequest.SetVringAddr, TestVmm.VringAddress(1, vmm.Driver(1).RingAddress)), "vring 1 is running");
        AssertNack(backend, vmm, VhostUserRequest.SetVringBase, vmm.Request(VhostUserRequest.SetVringBase, TestVmm.VringState(1, 0)), "vring 1 is running");
        FuseWire.InitOn(vmm, 1, 1);
    }

    [Fact]
    public async Task SetVringBaseIsWhereServingStartsAndGetVringBaseWhereItStopped()
    {
        await using TestBackend backend = TestBackend.Start();
        using TestVmm vmm = backend.Connect();
        vmm.Negotiate();
        vmm.SetMemTable();
        AssertNack(backend, vmm, VhostUserRequest.SetVringBase, vmm.Request(VhostUserRequest.SetVringBase, TestVmm.VringState(1, 65536)), "is not a 16-bit index");

        // A ring that never ran reports the base it was given.
        Assert.Equal(0ul, vmm.Request(VhostUserRequest.SetVringBase, TestVmm.VringState(1, 65530)));
        Assert.Equal(65530u, vmm.GetVringBase(1));

        vmm.StartQueue(0);
        vmm.ResetQueue(1).SetAvailIndex(65530);
        vmm.StartQueue(1, availBase: 65530);
        FuseWire.InitOn(vmm, 1, 1);
        for (ulong unique = 2; unique < 10; unique++)
        {
            FuseWire.GetAttrOn(vmm, 1, unique, unique);
        }

        // Nine chains from 65530: the index wrapped.
        Assert.Equal(3u, vmm.GetVringBase(1));
    }

    [Fact]
    public async Task ADisabledRingServesNothingAndResumesWhereItWasWhenEnabled()
    {
        await using TestBackend backend = TestBackend.Start();
        using TestVmm vmm = backend.Connect();
        vmm.StartDevice();
        FuseWire.InitOn(vmm, 1, 1);

        Assert.Equal(0ul, vmm.Request(VhostUserRequest.SetVringEnable, TestVmm.VringState(1, 0)));
        (ushort head, TestBuffer[] room) = vmm.Post(1, FuseWire.GetAttr(2, 8), FuseWire.GetAttrRoom);

        // The ring was detached before the ack: the chain stays the guest's until the ring is enabled again.
        vmm.Sync();
        Assert.Equal(1, vmm.Driver(1).UsedIndex);
        Assert.Equal(0ul, vmm.Request(VhostUserRequest.SetVringEnable, TestVmm.VringState(1, 1)));
        Assert.Equal((head, (uint)FuseWire.GetAttrRoom), vmm.WaitUsed(1));
        FuseWire.AssertOk(vmm.Driver(1).Gather(room, FuseWire.GetAttrRoom), 2, FuseWire.GetAttrRoom);

        AssertNack(backend, vmm, VhostUserRequest.SetVringEnable, vmm.Request(VhostUserRequest.SetVringEnable, TestVmm.VringState(1, 2)), "enable value 2");
        Assert.Equal(2u, vmm.GetVringBase(1));
    }

    [Fact]
    public async Task WithoutProtocolFeaturesARingStartsAtItsKickAndCannotBeEnabled()
    {
        await using TestBackend backend = TestBackend.Start();
        using TestVmm vmm = backend.Connect();
        vmm.Negotiate(features: TestVmm.AllFeatures & ~VhostUserProtocol.FeatureProtocolFeatures);
        vmm.SetMemTable();
        AssertNack(backend, vmm, VhostUserRequest.SetVringEnable, vmm.Request(VhostUserRequest.SetVringEnable, TestVmm.VringState(1, 1)), "without VHOST_USER_F_PROTOCOL_FEATURES");
        vmm.StartQueue(0, enable: false);
        vmm.StartQueue(1, enable: false);
        FuseWire.InitOn(vmm, 1, 1);
    }

    [Fact]
    public async Task AReplacedCallEventfdIsTheOneSignalled()
    {
        await using TestBackend backend = TestBackend.Start();
        using TestVmm vmm = backend.Connect();
        vmm.StartDevice();

        // Replaced while the ring runs (QEMU does when the guest masks the queue's interrupt), before any completion.
        using SafeFileHandle old = vmm.Call[1];
        vmm.Call[1] = EventFd.Create();
        Assert.Equal(0ul, vmm.Request(VhostUserRequest.SetVringCall, TestVmm.U64(1), [vmm.Call[1]]));
        FuseWire.InitOn(vmm, 1, 1);
        FuseWire.GetAttrOn(vmm, 1, 2, 2);
        Assert.Equal(0ul, TestVmm.ReadCounter(old));
    }

    [Fact]
    public async Task GetVringBaseOfAQueueThatDoesNotExistClosesTheConnection()
    {
        await using TestBackend backend = TestBackend.Start();
        using TestVmm vmm = backend.Connect();
        vmm.Send(VhostUserRequest.GetVringBase, TestVmm.VringState(2, 0));
        await AssertClosedAsync(backend, vmm);
        backend.AssertRefused(VhostUserRequest.GetVringBase, "vring 2 does not exist");
    }

    // ---- Framing and unknown requests ----

    [Theory]
    [InlineData(VhostUserProtocol.Version | VhostUserProtocol.FlagReply)]
    [InlineData(0u)]
    [InlineData(2u)]
    [InlineData(3u | VhostUserProtocol.FlagNeedReply)]
    public async Task AMessageThatIsNotAVersion1RequestClosesTheConnection(uint flags)
    {
        await using TestBackend backend = TestBackend.Start();
        using TestVmm vmm = backend.Connect();
        vmm.SendRaw((uint)VhostUserRequest.GetFeatures, flags);
        await AssertClosedAsync(backend, vmm);
    }

    [Theory]
    [InlineData(0u, false)]
    [InlineData(45u, false)]
    [InlineData(1000u, true)]
    [InlineData(uint.MaxValue, false)]
    public async Task AnUnknownRequestClosesTheConnection(uint code, bool needReply)
    {
        await using TestBackend backend = TestBackend.Start();
        using TestVmm vmm = backend.Connect();
        vmm.SendRaw(code, VhostUserProtocol.Version | (needReply ? VhostUserProtocol.FlagNeedReply : 0), TestVmm.U64(0));
        if (needReply)
        {
            Assert.NotEqual(0ul, vmm.ReceiveU64((VhostUserRequest)code));
        }

        await AssertClosedAsync(backend, vmm);
        backend.AssertRefused((VhostUserRequest)code, $"unknown request {code}");
    }

    [Theory]
    [InlineData((uint)VhostUserRequest.SetLogBase)]
    [InlineData((uint)VhostUserRequest.SetInflightFd)]
    [InlineData((uint)VhostUserRequest.SetStatus)]
    public async Task AKnownRequestTheDeviceDoesNotSupportIsNackedOrClosesWithoutNeedReply(uint code)
    {
        var request = (VhostUserRequest)code;
        await using TestBackend backend = TestBackend.Start();
        using TestVmm vmm = backend.Connect();
        AssertNack(backend, vmm, request, vmm.Request(request, TestVmm.U64(0)), "is not supported by this device");
        vmm.Send(request, TestVmm.U64(0));
        await AssertClosedAsync(backend, vmm);
    }

    [Theory]
    [InlineData((uint)VhostUserRequest.SetOwner, 8)]
    [InlineData((uint)VhostUserRequest.SetFeatures, 4)]
    [InlineData((uint)VhostUserRequest.SetProtocolFeatures, 16)]
    [InlineData((uint)VhostUserRequest.SetVringNum, 4)]
    [InlineData((uint)VhostUserRequest.SetVringEnable, 12)]
    [InlineData((uint)VhostUserRequest.RemMemReg, 8)]
    [InlineData((uint)VhostUserRequest.ResetDevice, 1)]
    public async Task ARequestOfTheWrongSizeIsNacked(uint code, int size)
    {
        var request = (VhostUserRequest)code;
        await using TestBackend backend = TestBackend.Start();
        using TestVmm vmm = backend.Connect();
        AssertNack(backend, vmm, request, vmm.Request(request, new byte[size]), $"payload of {size} bytes");
    }

    [Theory]
    [InlineData((uint)VhostUserRequest.GetFeatures, 8)]
    [InlineData((uint)VhostUserRequest.GetProtocolFeatures, 4)]
    [InlineData((uint)VhostUserRequest.GetQueueNum, 8)]
    [InlineData((uint)VhostUserRequest.GetMaxMemSlots, 8)]
    [InlineData((uint)VhostUserRequest.GetVringBase, 4)]
    [InlineData((uint)VhostUserRequest.GetVringBase, 16)]
    [InlineData((uint)VhostUserRequest.GetShmemConfig, 8)]
    public async Task ARequestWithAReplyOfTheWrongSizeClosesTheConnection(uint code, int size)
    {
        var request = (VhostUserRequest)code;
        await using TestBackend backend = TestBackend.Start();
        using TestVmm vmm = backend.Connect();

        // The front-end waits for a reply we could not give: closing is the only answer it understands.
        vmm.Send(request, new byte[size], needReply: true);
        await AssertClosedAsync(backend, vmm);
        backend.AssertRefused(request, $"payload of {size} bytes");
    }

    [Fact]
    public async Task DescriptorsWithARequestThatTakesNoneAreNackedAndClosed()
    {
        await using TestBackend backend = TestBackend.Start();
        using TestVmm vmm = backend.Connect();
        using SafeFileHandle fd = EventFd.Create();
        AssertNack(backend, vmm, VhostUserRequest.SetOwner, vmm.Request(VhostUserRequest.SetOwner, default, [fd]), "1 file descriptor(s), expected 0");
        AssertNack(backend, vmm, VhostUserRequest.SetFeatures, vmm.Request(VhostUserRequest.SetFeatures, TestVmm.U64(TestVmm.AllFeatures), [fd, fd, fd]), "3 file descriptor(s), expected 0");
        SafeFileHandle[] nine = [.. Enumerable.Repeat(fd, 9)];
        vmm.SendWithFds(VhostUserRequest.SetOwner, VhostUserProtocol.Version | VhostUserProtocol.FlagNeedReply, [], nine);
        AssertNack(backend, vmm, VhostUserRequest.SetOwner, vmm.ReceiveU64(VhostUserRequest.SetOwner), "more file descriptors than one message may carry");
    }

    [Fact]
    public async Task APayloadLargerThanAnyRequestClosesTheConnection()
    {
        await using TestBackend backend = TestBackend.Start();
        using TestVmm vmm = backend.Connect();
        vmm.Send(VhostUserRequest.SetConfig, new byte[VhostUserProtocol.MaxPayloadSize + 1], needReply: true);
        vmm.AssertClosed();
        Assert.Contains(backend.Logger.Entries, e => e.EventId.Id == 303 && e.Message.Contains("announces a payload of 4097 bytes"));

        // Not one whole message came: that was no VMM, and the backend waits for one.
        using TestVmm next = backend.Connect();
        next.StartDevice();
        FuseWire.InitOn(next, 1, 1);
        Assert.False(backend.Running.IsCompleted);
    }

    [Fact]
    public async Task AConnectionEndingInsideAMessageIsClosed()
    {
        await using TestBackend backend = TestBackend.Start();
        using TestVmm vmm = backend.Connect();
        vmm.StartDevice();
        FuseWire.InitOn(vmm, 1, 1);

        // A header announcing 8 bytes, 4 of them, and the VMM's side shut.
        var partial = new byte[VhostUserProtocol.HeaderSize + 4];
        var header = new VhostUserHeader { Request = (uint)VhostUserRequest.SetFeatures, Flags = VhostUserProtocol.Version, Size = 8 };
        MemoryMarshal.Write(partial, in header);
        unsafe
        {
            fixed (byte* bytes = partial)
            {
                Assert.Equal(partial.Length, (int)Interop.Write(vmm.Socket.Handle, bytes, (nuint)partial.Length));
            }
        }

        Assert.Equal(0, Interop.Shutdown(vmm.Socket.Handle, 1));
        await AssertClosedAsync(backend, vmm);
        await backend.FileSystem.WaitDestroyedAsync();
        Assert.Contains(backend.Logger.Entries, e => e.EventId.Id == 303 && e.Message.Contains("ended inside a message"));
    }
}
