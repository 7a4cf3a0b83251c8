using System.Runtime.InteropServices;
using VirtioFs.Protocol;
using VirtioFs.Transport.VhostUser;

namespace VirtioFs.Transport.Tests.VhostUser;

/// <summary>The backend end to end: a <see cref="TestVmm"/> drives it as QEMU and a guest kernel would.</summary>
public sealed class VhostUserFsBackendTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    public async Task ASessionServesInitGetattrAndForgetThenANewSessionServesTheMountAfterDestroy(int workers)
    {
        await using TestBackend backend = TestBackend.Start(sessionOptions: () => new FuseSessionOptions { WorkersPerChannel = workers });
        using TestVmm vmm = backend.Connect();
        vmm.StartDevice();
        await backend.WaitSessionsAsync(1);

        FuseWire.InitOn(vmm, 1, 1);
        FuseWire.GetAttrOn(vmm, 1, 2, 77);
        byte[] lookup = vmm.Roundtrip(1, FuseWire.Lookup(3, "hello"), FuseOutHeader.Size + FuseEntryOut.Size);
        FuseWire.AssertOk(lookup, 3, FuseOutHeader.Size + FuseEntryOut.Size);
        Assert.Equal(2ul, MemoryMarshal.Read<FuseEntryOut>(lookup.AsSpan(FuseOutHeader.Size)).Nodeid);

        // FORGET goes on the hiprio queue as an out-only chain: it comes back with length 0.
        (ushort head, _) = vmm.Post(0, FuseWire.Forget(4, 2, 1), room: 0);
        Assert.Equal((head, 0u), vmm.WaitUsed(0));
        await backend.FileSystem.WaitForgottenAsync();
        Assert.Equal(1, backend.FileSystem.Forgets);

        // The guest unmounts: DESTROY is answered, the session ends, and a fresh one (from the factory) serves the next
        // mount's INIT over the same rings.
        byte[] destroy = vmm.Roundtrip(1, FuseWire.Bare(FuseOpcode.Destroy, 5), FuseOutHeader.Size);
        FuseWire.AssertOk(destroy, 5, FuseOutHeader.Size);
        await backend.FileSystem.WaitDestroyedAsync();
        await backend.WaitSessionsAsync(2);
        FuseWire.InitOn(vmm, 1, 6);
        FuseWire.GetAttrOn(vmm, 1, 7, 1);
        Assert.Equal(2, backend.FileSystem.Inits);
        Assert.Equal(2, backend.Sessions);

        // Both rings moved by what they served, and nothing else.
        Assert.Equal(6u, vmm.GetVringBase(1));
        Assert.Equal(1u, vmm.GetVringBase(0));
        Assert.Empty(backend.Broken);
    }

    [Fact]
    public async Task AMountRightAfterDestroyIsServedByTheNextSession()
    {
        // Several workers per queue: while one answers DESTROY, the others of the old session wait on the ring. The
        // next mount's INIT, posted as soon as DESTROY's chain is back, must reach the next session, not the old one
        // (which would answer EIO: "second INIT").
        await using TestBackend backend = TestBackend.Start(requestQueues: 2, sessionOptions: () => new FuseSessionOptions { WorkersPerChannel = 4 });
        using TestVmm vmm = backend.Connect();
        vmm.StartDevice();
        for (int mount = 1; mount <= 20; mount++)
        {
            int queue = 1 + (mount % 2);
            FuseWire.InitOn(vmm, queue, (ulong)(10 * mount));
            FuseWire.GetAttrOn(vmm, 3 - queue, (ulong)((10 * mount) + 1), 7);
            byte[] destroy = vmm.Roundtrip(queue, FuseWire.Bare(FuseOpcode.Destroy, (ulong)((10 * mount) + 2)), FuseOutHeader.Size);
            FuseWire.AssertOk(destroy, (ulong)((10 * mount) + 2), FuseOutHeader.Size);
            Assert.Equal(mount, backend.FileSystem.Inits);
        }

        await backend.WaitSessionsAsync(21);
        Assert.Equal(20, backend.FileSystem.Destroys);
    }

    [Fact]
    public async Task TwoRequestQueuesAreBothServedByOneSession()
    {
        await using TestBackend backend = TestBackend.Start(requestQueues: 2);
        using TestVmm vmm = backend.Connect();
        Assert.Equal(3, vmm.QueueCount);
        vmm.StartDevice();

        FuseWire.InitOn(vmm, 1, 1);
        FuseWire.GetAttrOn(vmm, 2, 2, 20);
        FuseWire.GetAttrOn(vmm, 1, 3, 10);

        // Requests in flight on both queues at once.
        (ushort head1, TestBuffer[] room1) = vmm.Post(1, FuseWire.GetAttr(4, 11), FuseWire.GetAttrRoom);
        (ushort head2, TestBuffer[] room2) = vmm.Post(2, FuseWire.GetAttr(5, 21), FuseWire.GetAttrRoom);
        (uint id2, uint length2) = vmm.WaitUsed(2);
        (uint id1, uint length1) = vmm.WaitUsed(1);
        Assert.Equal((head1, (uint)FuseWire.GetAttrRoom), (id1, length1));
        Assert.Equal((head2, (uint)FuseWire.GetAttrRoom), (id2, length2));
        FuseWire.AssertOk(vmm.Driver(1).Gather(room1, FuseWire.GetAttrRoom), 4, FuseWire.GetAttrRoom);
        FuseWire.AssertOk(vmm.Driver(2).Gather(room2, FuseWire.GetAttrRoom), 5, FuseWire.GetAttrRoom);

        Assert.Equal(1, backend.Sessions);
        Assert.Equal(3u, vmm.GetVringBase(1));
        Assert.Equal(2u, vmm.GetVringBase(2));
    }

    [Fact]
    public async Task IndirectChainsAndEventIndexAreServed()
    {
        await using TestBackend backend = TestBackend.Start();
        using TestVmm vmm = backend.Connect();
        vmm.StartDevice();
        FuseWire.InitOn(vmm, 1, 1);

        // Many requests in a row with EVENT_IDX negotiated: each completion is signalled because the driver re-arms
        // used_event before sleeping; indirect and direct chains alternate.
        for (ulong unique = 2; unique < 2 + (2 * TestVmm.QueueSize); unique++)
        {
            byte[] request = FuseWire.GetAttr(unique, unique);
            (ushort head, TestBuffer[] room) = vmm.Driver(1).PostRequest(request, [20, request.Length - 20], [FuseOutHeader.Size, FuseAttrOut.Size], indirect: unique % 2 == 0);
            vmm.KickQueue(1);
            Assert.Equal((head, (uint)FuseWire.GetAttrRoom), vmm.WaitUsed(1));
            byte[] reply = vmm.Driver(1).Gather(room, FuseWire.GetAttrRoom);
            FuseWire.AssertOk(reply, unique, FuseWire.GetAttrRoom);
            Assert.Equal(unique, MemoryMarshal.Read<FuseAttrOut>(reply.AsSpan(FuseOutHeader.Size)).Attr.Ino);
        }

        // The ring wrapped twice, every chain served once.
        Assert.Equal((uint)(1 + (2 * TestVmm.QueueSize)), vmm.GetVringBase(1));
    }

    [Fact]
    public async Task DisconnectEndsRunAsyncAndTheSession()
    {
        await using TestBackend backend = TestBackend.Start();
        using (TestVmm vmm = backend.Connect())
        {
            vmm.StartDevice();
            FuseWire.InitOn(vmm, 1, 1);
            Assert.False(backend.Running.IsCompleted);
        }

        await backend.Running.WaitAsync(TestVmm.Timeout);
        await backend.FileSystem.WaitDestroyedAsync();
        Assert.Equal(1, backend.Sessions);
    }

    [Fact]
    public async Task WithReconnectASecondVmmIsServedAfterTheFirstLeft()
    {
        await using TestBackend backend = TestBackend.Start(reconnect: true);
        using (TestVmm first = backend.Connect())
        {
            first.StartDevice();
            FuseWire.InitOn(first, 1, 1);
        }

        await backend.FileSystem.WaitDestroyedAsync();
        using (TestVmm second = backend.Connect())
        {
            second.StartDevice();
            FuseWire.InitOn(second, 1, 1);
            FuseWire.GetAttrOn(second, 1, 2, 5);
        }

        await backend.FileSystem.WaitDestroyedAsync();
        Assert.Equal(2, backend.Sessions);
        Assert.False(backend.Running.IsCompleted);
    }

    [Fact]
    public async Task CancellingRunAsyncClosesTheConnectionAndRemovesTheSocket()
    {
        await using TestBackend backend = TestBackend.Start(reconnect: true);
        using TestVmm vmm = backend.Connect();
        vmm.StartDevice();
        FuseWire.InitOn(vmm, 1, 1);
        await backend.StopAsync();

        Assert.True(backend.Running.IsCompletedSuccessfully);
        await backend.FileSystem.WaitDestroyedAsync();
        vmm.AssertClosed();
        Assert.False(File.Exists(backend.SocketPath));
    }

    [Fact]
    public async Task ABrokenRingIsReportedAndAfterGetVringBaseOnEveryRingARestartServesAgain()
    {
        await using TestBackend backend = TestBackend.Start();
        using TestVmm vmm = backend.Connect();
        vmm.StartDevice();
        FuseWire.InitOn(vmm, 1, 1);

        // A buffer outside guest memory.
        GuestDriver driver = vmm.Driver(1);
        driver.PostChain(new TestBuffer(0x10, 64, false));
        vmm.KickQueue(1);
        string reason = await backend.WaitBrokenAsync();
        Assert.Contains("Virtqueue 1", reason);
        Assert.Contains($"({VirtqueueViolation.BufferUnmapped})", reason);
        vmm.WaitErr(1);
        Assert.False(vmm.ErrSignalled(0));
        Assert.Equal(1, driver.UsedIndex);
        await backend.FileSystem.WaitDestroyedAsync();

        // The guest broke the device, not the VMM the connection.
        vmm.Sync();

        // The guest resets the device: QEMU stops every ring, then starts them again over fresh rings.
        Assert.Equal(1u, vmm.GetVringBase(0) + vmm.GetVringBase(1));
        for (int i = 0; i < vmm.QueueCount; i++)
        {
            vmm.ResetQueue(i);
            vmm.StartQueue(i);
        }

        await backend.WaitSessionsAsync(2);
        FuseWire.InitOn(vmm, 1, 1);
        FuseWire.GetAttrOn(vmm, 1, 2, 3);
        Assert.Empty(backend.Broken);
        Assert.False(vmm.ErrSignalled(1));
    }

    [Fact]
    public async Task TheLastRingStoppingEndsTheSessionAndTheNextStartMakesANewOne()
    {
        await using TestBackend backend = TestBackend.Start();
        using TestVmm vmm = backend.Connect();
        vmm.StartDevice();
        FuseWire.InitOn(vmm, 1, 1);

        Assert.Equal(0u, vmm.GetVringBase(0));
        Assert.Equal(1u, vmm.GetVringBase(1));
        await backend.FileSystem.WaitDestroyedAsync();

        // QEMU's vm stop / cont: the rings restart where they stopped.
        vmm.StartQueue(0, availBase: 0);
        vmm.StartQueue(1, availBase: 1);
        await backend.WaitSessionsAsync(2);
        FuseWire.InitOn(vmm, 1, 2);
        Assert.Equal(2u, vmm.GetVringBase(1));
    }

    [Fact]
    public async Task StoppingARingWaitsForItsRequestsInFlightSoTheirRepliesReachTheGuest()
    {
        await using TestBackend backend = TestBackend.Start();
        using TestVmm vmm = backend.Connect();
        vmm.StartDevice();
        FuseWire.InitOn(vmm, 1, 1);

        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        backend.FileSystem.GetAttrGate = gate.Task;
        (ushort head, _) = vmm.Post(1, FuseWire.GetAttr(2, 5), FuseOutHeader.Size + FuseAttrOut.Size);
        Assert.True(await backend.FileSystem.GetAttrStarted.WaitAsync(TestVmm.Timeout), "GETATTR never reached the filesystem.");

        // The VM stops while GETATTR is in flight: GET_VRING_BASE counts it as served, so its reply must land first.
        Task<uint> stopped = Task.Run(() => vmm.GetVringBase(1));
        Assert.False(await Task.WhenAny(stopped, Task.Delay(300)) == stopped, "GET_VRING_BASE was answered while a request was in flight.");
        gate.SetResult();
        Assert.Equal(2u, await stopped.WaitAsync(TestVmm.Timeout));
        Assert.Equal((head, (uint)(FuseOutHeader.Size + FuseAttrOut.Size)), vmm.Driver(1).TakeUsed());
        Assert.Empty(backend.Broken);
    }

    [Fact]
    public async Task ADeviceBrokenHandlerThatThrowsIsLoggedAndTheBackendGoesOn()
    {
        await using TestBackend backend = TestBackend.Start();
        backend.Backend.DeviceBroken += (_, _) => throw new InvalidOperationException("handler failure");
        using TestVmm vmm = backend.Connect();
        vmm.StartDevice();
        FuseWire.InitOn(vmm, 1, 1);

        vmm.Driver(1).PostChain(new TestBuffer(0x10, 64, false));
        vmm.KickQueue(1);
        await backend.WaitBrokenAsync();
        vmm.WaitErr(1);

        // The connection is served as before, and the handler's exception is in the log.
        vmm.Sync();
        DateTime deadline = DateTime.UtcNow + TestVmm.Timeout;
        while (!backend.Logger.Entries.Any(e => e.EventId.Id == 313 && e.Exception is InvalidOperationException))
        {
            Assert.True(DateTime.UtcNow < deadline, "The handler's exception was not logged.");
            await Task.Delay(10);
        }

        Assert.False(backend.Running.IsCompleted);
    }
}
