using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using VirtioFs.Dax;
using VirtioFs.Protocol;
using VirtioFs.Transport.VhostUser;

namespace VirtioFs.Transport.Tests.VhostUser;

/// <summary>How the test VMM answers back-end requests that want a reply.</summary>
public enum AckMode
{
    Ack,
    Nack,
    Silent,
    WrongReply,
}

/// <summary>Maps one host file as node <paramref name="node"/>, opened for what each mapping asks.</summary>
internal sealed class HostFileProvider(string path, ulong node) : IDaxFileProvider
{
    public ValueTask<FuseResult<DaxFileReference>> OpenForMappingAsync(FuseRequestContext context, ulong nodeId, ulong? fileHandle, bool writable)
    {
        if (nodeId != node)
        {
            return new(Errno.ENOENT);
        }

        SafeFileHandle handle = File.OpenHandle(path, FileMode.Open, writable ? FileAccess.ReadWrite : FileAccess.Read);
        return new(new DaxFileReference(nodeId, FuseFileMode.RegularFile | 0x1A4, handle, writable));
    }
}

/// <summary>One back-end request the VMM received.</summary>
internal readonly record struct ShmemRequest(VhostUserBackendRequest Request, uint Flags, VhostUserShmemMapping Mapping, bool HadFd);

/// <summary>The VMM's end of a back-end channel: a socket pair, a thread answering requests, and a window it maps into.</summary>
internal sealed class TestBackendChannel : IDisposable
{
    private readonly VhostUserSocket _socket;
    private readonly SafeMappedRegionHandle _window;
    private readonly Thread _thread;
    private readonly ConcurrentQueue<ShmemRequest> _received = new();
    private readonly SemaphoreSlim _arrived = new(0);

    public const long WindowSize = 8 << 20;
    public static readonly TimeSpan Limit = TimeSpan.FromSeconds(10);

    public TestBackendChannel(VhostUserSocket socket)
    {
        _socket = socket;
        _window = SafeMappedRegionHandle.Reserve(WindowSize, out int errno) ?? throw new IOException($"reserve failed: {errno}");
        _thread = new Thread(Serve) { IsBackground = true, Name = "test-vmm-backend-channel" };
        _thread.Start();
    }

    public volatile AckMode Mode = AckMode.Ack;

    public List<ShmemRequest> Received => [.. _received];

    public static TestBackendChannel Attach(VhostUserDaxWindow window, bool replyAck, bool sendFd)
    {
        (SafeFileHandle backend, TestBackendChannel channel) = Create();
        window.Attach(new VhostUserSocket(backend), replyAck, sendFd);
        return channel;
    }

    /// <summary>A socket pair: the back-end's end (for SET_BACKEND_REQ_FD) and the VMM's channel over the other.</summary>
    public static unsafe (SafeFileHandle BackendEnd, TestBackendChannel Channel) Create()
    {
        int* fds = stackalloc int[2];
        Assert.Equal(0, Interop.SocketPair(Interop.AF_UNIX, Interop.SOCK_STREAM | Interop.SOCK_CLOEXEC, 0, fds));
        return (Interop.Own(fds[0]), new TestBackendChannel(new VhostUserSocket(Interop.Own(fds[1]))));
    }

    public async Task<ShmemRequest> WaitForAsync(int count)
    {
        while (_received.Count < count)
        {
            Assert.True(await _arrived.WaitAsync(Limit), "the VMM received nothing");
        }

        return _received.ElementAt(count - 1);
    }

    public unsafe byte[] WindowBytes(long offset, int length) => new ReadOnlySpan<byte>((byte*)_window.DangerousGetHandle() + offset, length).ToArray();

    public unsafe void WriteWindow(long offset, ReadOnlySpan<byte> bytes) => bytes.CopyTo(new Span<byte>((byte*)_window.DangerousGetHandle() + offset, bytes.Length));

    /// <summary>How many bytes of the window range are mapped to a file (from /proc/self/maps: anything not "---p").</summary>
    public long WindowProtectionMapped(long offset, long length)
    {
        long start = _window.DangerousGetHandle() + offset, end = start + length, mapped = 0;
        foreach (string line in File.ReadLines("/proc/self/maps"))
        {
            string[] parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            string[] range = parts[0].Split('-');
            long from = Convert.ToInt64(range[0], 16), to = Convert.ToInt64(range[1], 16);
            if (to > start && from < end && parts[1] != "---p")
            {
                mapped += Math.Min(to, end) - Math.Max(from, start);
            }
        }

        return mapped;
    }

    public void Dispose()
    {
        _socket.Close();
        Assert.True(_thread.Join(Limit), "the test VMM's channel thread did not end");
        _socket.Dispose();
        _window.Dispose();
    }

    private void Serve()
    {
        using var message = new VhostUserMessage();
        try
        {
            while (_socket.TryReceive(message))
            {
                var mapping = MemoryMarshal.Read<VhostUserShmemMapping>(message.Body);
                var request = (VhostUserBackendRequest)message.Header.Request;
                bool hadFd = message.Fds.Count == 1;
                if (request == VhostUserBackendRequest.ShmemMap && hadFd)
                {
                    using SafeFileHandle fd = message.TakeFd(0);
                    Place(mapping, fd);
                }
                else if (request == VhostUserBackendRequest.ShmemUnmap)
                {
                    Place(mapping, null);
                }

                _received.Enqueue(new ShmemRequest(request, message.Header.Flags, mapping, hadFd));
                _arrived.Release();
                if ((message.Header.Flags & VhostUserProtocol.FlagNeedReply) != 0)
                {
                    Answer(message.Header.Request);
                }
            }
        }
        catch (VhostUserException)
        {
            // The window closed the channel.
        }
    }

    private void Answer(uint request)
    {
        Span<byte> status = stackalloc byte[8];
        switch (Mode)
        {
            case AckMode.Ack:
                _socket.Send(request, VhostUserProtocol.Version | VhostUserProtocol.FlagReply, status);
                break;
            case AckMode.Nack:
                BinaryPrimitives.WriteUInt64LittleEndian(status, 1);
                _socket.Send(request, VhostUserProtocol.Version | VhostUserProtocol.FlagReply, status);
                break;
            case AckMode.WrongReply:
                _socket.Send(request + 1, VhostUserProtocol.Version | VhostUserProtocol.FlagReply, status);
                break;
        }
    }

    /// <summary>Maps (or, with no file, unmaps) a range of the VMM's window, as a VMM does for SHMEM_MAP/SHMEM_UNMAP.</summary>
    private unsafe void Place(in VhostUserShmemMapping mapping, SafeFileHandle? fd)
    {
        if (mapping.ShmOffset > WindowSize || mapping.Length > WindowSize - mapping.ShmOffset)
        {
            return;
        }

        void* at = (byte*)_window.DangerousGetHandle() + mapping.ShmOffset;
        void* placed = fd is null
            ? Interop.MMap(at, (nuint)mapping.Length, Interop.PROT_NONE, Interop.MAP_PRIVATE | Interop.MAP_ANONYMOUS | Interop.MAP_NORESERVE | Interop.MAP_FIXED, -1, 0)
            : Interop.MMap(
                at,
                (nuint)mapping.Length,
                Interop.PROT_READ | ((mapping.Flags & VhostUserProtocol.ShmemMapWritable) != 0 ? Interop.PROT_WRITE : 0),
                Interop.MAP_SHARED | Interop.MAP_FIXED,
                (int)fd.DangerousGetHandle(),
                (long)mapping.FileOffset);
        Assert.True(placed == at, $"mmap into the test VMM's window failed: {Marshal.GetLastPInvokeError()}");
    }
}
