using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using VirtioFs.Transport.VhostUser;

namespace VirtioFs.Transport.Tests.VhostUser;

/// <summary>
/// A vhost-user front-end (the VMM's side of <c>vhost-user-fs-pci</c>) in test code: guest RAM in a memfd shared with
/// the backend, one split virtqueue per device queue laid out in it (a <see cref="GuestDriver"/> over a window of the
/// RAM each), kick/call/err eventfds, and the front-end's messages over the Unix socket.
/// </summary>
/// <remarks>
/// Every wait is bounded by <see cref="Timeout"/>: a reply that does not come, a used element or a signal that does
/// not arrive fails the test instead of hanging it.
/// </remarks>
internal sealed unsafe class TestVmm : IDisposable
{
    /// <summary>The longest any single wait may take.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    public const ulong RamGpa = 0x4000_0000;
    public const ulong RamUaddr = 0x7f12_0000_0000;
    public const ulong RamSize = 4 << 20;

    /// <summary>Each queue's share of the RAM: rings in the first page, buffers after it.</summary>
    public const ulong WindowSize = 512 << 10;
    public const ulong RingArea = 4096;
    public const int QueueSize = 64;

    /// <summary>The features a QEMU front-end takes from a virtio-fs backend offering ours.</summary>
    public const ulong AllFeatures = VhostUserProtocol.OfferedFeatures;

    public const ulong AllProtocolFeatures = VhostUserProtocol.OfferedProtocolFeatures;

    private readonly VhostUserSocket _socket;
    private readonly VhostUserMessage _message = new();
    private readonly GuestDriver?[] _drivers;

    private TestVmm(VhostUserSocket socket, int queues)
    {
        _socket = socket;
        Ram = TestMemfd.Create(RamSize);
        _drivers = new GuestDriver?[queues];
        Kick = new SafeFileHandle[queues];
        Call = new SafeFileHandle[queues];
        Err = new SafeFileHandle[queues];
        for (int i = 0; i < queues; i++)
        {
            Kick[i] = EventFd.Create();
            Call[i] = EventFd.Create();
            Err[i] = EventFd.Create();
        }
    }

    /// <summary>The guest's RAM.</summary>
    public TestMemfd Ram { get; }

    public int QueueCount => _drivers.Length;

    /// <summary>The VMM's ends of each queue's eventfds (the backend gets its own descriptors of the same eventfds).</summary>
    public SafeFileHandle[] Kick { get; }

    public SafeFileHandle[] Call { get; }

    public SafeFileHandle[] Err { get; }

    /// <summary>The raw connection, for tests that break framing.</summary>
    public VhostUserSocket Socket => _socket;

    /// <summary>The guest driver of a queue (made by <see cref="ResetQueue"/> or <see cref="StartQueue"/>).</summary>
    public GuestDriver Driver(int queue) => _drivers[queue] ?? throw new InvalidOperationException($"Queue {queue} was never laid out.");

    /// <summary>Connects to a backend's socket (the backend accepts it when it gets to it; messages wait meanwhile).</summary>
    public static TestVmm Connect(string path, int queues)
    {
        // Non-blocking while connecting: a full backlog fails the test (EAGAIN) instead of blocking it.
        const int SOCK_NONBLOCK = 0x800;
        const int F_SETFL = 4;
        int fd = Interop.Socket(Interop.AF_UNIX, Interop.SOCK_STREAM | Interop.SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        Assert.True(fd >= 0, $"socket: {Interop.LastErrno}");
        SafeFileHandle handle = Interop.Own(fd);
        Assert.True(Interop.TryMakeUnixAddress(path, out Interop.SockAddrUnix address));
        if (Interop.Connect(handle, &address, (uint)sizeof(Interop.SockAddrUnix)) != 0)
        {
            Protocol.Errno errno = Interop.LastErrno;
            handle.Dispose();
            Assert.Fail($"connect to {path}: {errno}");
        }

        Assert.Equal(0, Interop.Fcntl(fd, F_SETFL, 0));
        return new TestVmm(new VhostUserSocket(handle), queues);
    }

    // ---- Messages ----

    public void Send(VhostUserRequest request, ReadOnlySpan<byte> payload = default, ReadOnlySpan<SafeFileHandle> fds = default, bool needReply = false)
        => SendRaw((uint)request, VhostUserProtocol.Version | (needReply ? VhostUserProtocol.FlagNeedReply : 0), payload, fds);

    public void SendRaw(uint request, uint flags, ReadOnlySpan<byte> payload = default, ReadOnlySpan<SafeFileHandle> fds = default)
        => _socket.Send(request, flags, payload, fds);

    /// <summary>Sends a message with any number of descriptors (<see cref="VhostUserSocket.Send"/> stops at the 8 the protocol allows).</summary>
    public void SendWithFds(VhostUserRequest request, uint flags, ReadOnlySpan<byte> payload, SafeFileHandle[] fds)
    {
        var header = new VhostUserHeader { Request = (uint)request, Flags = flags, Size = (uint)payload.Length };
        int dataLength = 4 * fds.Length;
        int controlLength = Interop.CmsgHeaderSize + ((dataLength + 7) & ~7);
        byte* control = stackalloc byte[controlLength];
        new Span<byte>(control, controlLength).Clear();
        *(nuint*)control = (nuint)(Interop.CmsgHeaderSize + dataLength);
        *(int*)(control + 8) = Interop.SOL_SOCKET;
        *(int*)(control + 12) = Interop.SCM_RIGHTS;
        for (int i = 0; i < fds.Length; i++)
        {
            ((int*)(control + Interop.CmsgHeaderSize))[i] = (int)fds[i].DangerousGetHandle();
        }

        var message = new byte[VhostUserProtocol.HeaderSize + payload.Length];
        MemoryMarshal.Write(message, in header);
        payload.CopyTo(message.AsSpan(VhostUserProtocol.HeaderSize));
        fixed (byte* bytes = message)
        {
            var iov = new Interop.IoVec { Base = bytes, Length = (nuint)message.Length };
            var msg = new Interop.MsgHdr { Iov = &iov, IovLength = 1, Control = control, ControlLength = (nuint)controlLength };
            Assert.Equal(message.Length, (int)Interop.SendMsg(_socket.Handle, &msg, Interop.MSG_NOSIGNAL));
        }

        GC.KeepAlive(fds);
    }

    /// <summary>The next message from the backend, or null when it closed the connection.</summary>
    /// <exception cref="TimeoutException">Nothing came within <see cref="Timeout"/>.</exception>
    public VhostUserMessage? Receive()
    {
        if (!WaitReadable(_socket.Handle, Timeout))
        {
            throw new TimeoutException("The backend sent nothing.");
        }

        try
        {
            return _socket.TryReceive(_message) ? _message : null;
        }
        catch (VhostUserException)
        {
            // ECONNRESET after the backend closed with our data unread.
            return null;
        }
    }

    /// <summary>Receives the reply to <paramref name="request"/>, checking its header; returns its payload.</summary>
    public byte[] ReceiveReply(VhostUserRequest request)
    {
        VhostUserMessage reply = Receive() ?? throw new Xunit.Sdk.XunitException($"The backend closed the connection instead of answering {request}.");
        Assert.Equal((uint)request, reply.Header.Request);
        Assert.Equal(VhostUserProtocol.Version | VhostUserProtocol.FlagReply, reply.Header.Flags);
        Assert.Empty(reply.Fds);
        return reply.Body.ToArray();
    }

    public ulong ReceiveU64(VhostUserRequest request)
    {
        byte[] payload = ReceiveReply(request);
        Assert.Equal(8, payload.Length);
        return BinaryPrimitives.ReadUInt64LittleEndian(payload);
    }

    /// <summary>Sends with NEED_REPLY and returns the ack (0: done).</summary>
    public ulong Request(VhostUserRequest request, ReadOnlySpan<byte> payload = default, ReadOnlySpan<SafeFileHandle> fds = default)
    {
        Send(request, payload, fds, needReply: true);
        return ReceiveU64(request);
    }

    /// <summary>Sends a request that has a reply of its own and returns the u64 it carries.</summary>
    public ulong Get(VhostUserRequest request)
    {
        Send(request);
        return ReceiveU64(request);
    }

    /// <summary>Asserts the backend closed the connection (without another message first).</summary>
    public void AssertClosed()
    {
        VhostUserMessage? message = Receive();
        Assert.True(message is null, message is null ? null : $"Expected the connection to close, got {(VhostUserRequest)message.Header.Request}.");
    }

    /// <summary>A round trip (GET_QUEUE_NUM): the connection is open, and nothing else was queued for us before it.</summary>
    public void Sync() => Assert.Equal((ulong)QueueCount, Get(VhostUserRequest.GetQueueNum));

    public static byte[] U64(ulong value)
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, value);
        return bytes;
    }

    public static byte[] VringState(uint index, uint num)
    {
        var state = new VringState { Index = index, Num = num };
        return [.. MemoryMarshal.AsBytes(new ReadOnlySpan<VringState>(in state))];
    }

    public static byte[] VringAddress(uint index, VringAddress address, uint flags = 0)
    {
        address.Index = index;
        address.Flags = flags;
        return [.. MemoryMarshal.AsBytes(new ReadOnlySpan<VringAddress>(in address))];
    }

    public static byte[] MemoryTable(params VhostUserMemoryRegion[] regions)
    {
        var bytes = new byte[8 + (regions.Length * VhostUserProtocol.MemoryRegionSize)];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, (uint)regions.Length);
        MemoryMarshal.AsBytes(regions.AsSpan()).CopyTo(bytes.AsSpan(8));
        return bytes;
    }

    /// <summary>An ADD_MEM_REG / REM_MEM_REG payload: <c>{ u64 padding; region; }</c>.</summary>
    public static byte[] SingleRegion(VhostUserMemoryRegion region)
    {
        var bytes = new byte[8 + VhostUserProtocol.MemoryRegionSize];
        MemoryMarshal.Write(bytes.AsSpan(8), in region);
        return bytes;
    }

    /// <summary>The whole RAM as one region.</summary>
    public VhostUserMemoryRegion RamRegion => new() { GuestPhysicalAddress = RamGpa, Size = RamSize, UserspaceAddress = RamUaddr, MmapOffset = 0 };

    // ---- Front-end sequences ----

    /// <summary>What QEMU does at connection: features, owner, protocol features, queue count.</summary>
    public void Negotiate(ulong features = AllFeatures, ulong protocolFeatures = AllProtocolFeatures)
    {
        Assert.Equal(VhostUserProtocol.OfferedFeatures, Get(VhostUserRequest.GetFeatures));
        Assert.Equal(VhostUserProtocol.OfferedProtocolFeatures, Get(VhostUserRequest.GetProtocolFeatures));
        Assert.Equal(0ul, Request(VhostUserRequest.SetProtocolFeatures, U64(protocolFeatures)));
        Assert.True(Get(VhostUserRequest.GetQueueNum) >= (ulong)QueueCount);
        Assert.Equal(0ul, Request(VhostUserRequest.SetOwner));
        Assert.Equal(0ul, Request(VhostUserRequest.SetFeatures, U64(features)));
    }

    public void SetMemTable() => Assert.Equal(0ul, Request(VhostUserRequest.SetMemTable, MemoryTable(RamRegion), [Ram.Fd]));

    /// <summary>Zeroes a queue's window of RAM and lays out fresh rings there (a guest driver resetting the queue).</summary>
    public GuestDriver ResetQueue(int queue)
    {
        ulong offset = (ulong)queue * WindowSize;
        Assert.True(offset + WindowSize <= RamSize);
        new Span<byte>(Ram.Base + offset, (int)WindowSize).Clear();
        _drivers[queue] = new GuestDriver(Ram.Base + offset, RamGpa + offset, RamUaddr + offset, WindowSize, RingArea, QueueSize);
        return _drivers[queue]!;
    }

    /// <summary>Configures and starts a queue as QEMU's <c>vhost_virtqueue_start</c> does, then enables it; every step acked.</summary>
    public void StartQueue(int queue, ushort availBase = 0, bool enable = true)
    {
        GuestDriver driver = _drivers[queue] ?? ResetQueue(queue);
        uint index = (uint)queue;
        Assert.Equal(0ul, Request(VhostUserRequest.SetVringNum, VringState(index, QueueSize)));
        Assert.Equal(0ul, Request(VhostUserRequest.SetVringBase, VringState(index, availBase)));
        Assert.Equal(0ul, Request(VhostUserRequest.SetVringAddr, VringAddress(index, driver.RingAddress)));
        Assert.Equal(0ul, Request(VhostUserRequest.SetVringKick, U64(index), [Kick[queue]]));
        Assert.Equal(0ul, Request(VhostUserRequest.SetVringCall, U64(index), [Call[queue]]));
        Assert.Equal(0ul, Request(VhostUserRequest.SetVringErr, U64(index), [Err[queue]]));
        if (enable)
        {
            Assert.Equal(0ul, Request(VhostUserRequest.SetVringEnable, VringState(index, 1)));
        }
    }

    /// <summary>The whole device start: negotiation, memory, every queue.</summary>
    public void StartDevice()
    {
        Negotiate();
        SetMemTable();
        for (int i = 0; i < QueueCount; i++)
        {
            StartQueue(i);
        }
    }

    /// <summary>GET_VRING_BASE: stops the queue and returns where the backend would go on.</summary>
    public uint GetVringBase(int queue)
    {
        Send(VhostUserRequest.GetVringBase, VringState((uint)queue, 0));
        byte[] reply = ReceiveReply(VhostUserRequest.GetVringBase);
        Assert.Equal(8, reply.Length);
        VringState state = MemoryMarshal.Read<VringState>(reply);
        Assert.Equal((uint)queue, state.Index);
        return state.Num;
    }

    // ---- The guest's side of the queues ----

    public void KickQueue(int queue) => Assert.True(EventFd.Signal(Kick[queue]));

    /// <summary>Posts a request with <paramref name="room"/> bytes of reply room (none: an out-only chain) and kicks.</summary>
    public (ushort Head, TestBuffer[] Room) Post(int queue, byte[] request, int room, bool indirect = false)
    {
        (ushort head, TestBuffer[] writable) = Driver(queue).PostRequest(request, [request.Length], room == 0 ? [] : [room], indirect);
        KickQueue(queue);
        return (head, writable);
    }

    /// <summary>
    /// Waits for the next used element as a driver does: take it if there, else re-arm interrupts (used_event with
    /// EVENT_IDX) and sleep on the call eventfd.
    /// </summary>
    public (uint Id, uint Length) WaitUsed(int queue)
    {
        GuestDriver driver = Driver(queue);
        DateTime deadline = DateTime.UtcNow + Timeout;
        while (true)
        {
            if (driver.TakeUsed() is { } used)
            {
                return used;
            }

            driver.UsedEvent = driver.UsedSeen;
            Interlocked.MemoryBarrier();
            if (driver.TakeUsed() is { } raced)
            {
                return raced;
            }

            TimeSpan left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero || !WaitReadable(Call[queue], left))
            {
                throw new TimeoutException($"Queue {queue}: the backend returned no chain (used idx {driver.UsedIndex}).");
            }

            ReadCounter(Call[queue]);
        }
    }

    /// <summary>Posts a request, waits for its chain and returns the reply bytes.</summary>
    public byte[] Roundtrip(int queue, byte[] request, int room)
    {
        (ushort head, TestBuffer[] writable) = Post(queue, request, room);
        (uint id, uint length) = WaitUsed(queue);
        Assert.Equal(head, id);
        return Driver(queue).Gather(writable, (int)length);
    }

    /// <summary>Waits until the backend signals the queue's err eventfd.</summary>
    public void WaitErr(int queue)
    {
        Assert.True(WaitReadable(Err[queue], Timeout), $"Queue {queue}: the err eventfd was not signalled.");
        Assert.True(ReadCounter(Err[queue]) > 0);
    }

    /// <summary>Whether the err eventfd was signalled (without waiting).</summary>
    public bool ErrSignalled(int queue) => ReadCounter(Err[queue]) > 0;

    /// <summary>Waits until a descriptor is readable (POLLIN, or hang-up/error, which make a read return at once).</summary>
    public static bool WaitReadable(SafeFileHandle fd, TimeSpan timeout)
    {
        bool added = false;
        fd.DangerousAddRef(ref added);
        try
        {
            DateTime deadline = DateTime.UtcNow + timeout;
            while (true)
            {
                var poll = new Interop.PollFd { Fd = (int)fd.DangerousGetHandle(), Events = Interop.POLLIN };
                int left = (int)Math.Max(0, Math.Ceiling((deadline - DateTime.UtcNow).TotalMilliseconds));
                int ready = Interop.Poll(&poll, 1, left);
                if (ready > 0)
                {
                    return true;
                }

                if (ready == 0 || Interop.LastErrno != Protocol.Errno.EINTR)
                {
                    return false;
                }
            }
        }
        finally
        {
            fd.DangerousRelease();
        }
    }

    /// <summary>Reads and resets a non-blocking eventfd's counter; 0 when it was not signalled.</summary>
    public static ulong ReadCounter(SafeFileHandle eventFd)
    {
        ulong value;
        return Interop.Read(eventFd, (byte*)&value, sizeof(ulong)) == sizeof(ulong) ? value : 0;
    }

    public void Dispose()
    {
        _socket.Dispose();
        _message.Dispose();
        foreach (SafeFileHandle fd in Kick.Concat(Call).Concat(Err))
        {
            fd.Dispose();
        }

        Ram.Dispose();
    }
}
