using System.Runtime.InteropServices;
using VirtioFs.Transport.VhostUser;

namespace VirtioFs.Transport.Tests.VhostUser;

/// <summary>A view of native memory the test owns: disposing it does not free the memory (the <see cref="GuestRam"/> does).</summary>
internal sealed unsafe class UnownedBuffer : SafeBuffer
{
    public UnownedBuffer(byte* pointer, ulong length)
        : base(ownsHandle: false)
    {
        SetHandle((nint)pointer);
        Initialize(length);
    }

    protected override bool ReleaseHandle() => true;
}

/// <summary>Native memory standing in for guest RAM.</summary>
internal sealed unsafe class GuestRam : IDisposable
{
    public GuestRam(ulong size)
    {
        Size = size;
        Base = (byte*)NativeMemory.AllocZeroed((nuint)size);
    }

    public byte* Base { get; }

    public ulong Size { get; }

    /// <summary>A region over [offset, offset + size) of this RAM.</summary>
    public GuestMemoryRegion Region(ulong guestPhysicalAddress, ulong userspaceAddress, ulong offset, ulong size)
        => new(guestPhysicalAddress, size, userspaceAddress, new UnownedBuffer(Base, Size), offset);

    public void Dispose() => NativeMemory.Free(Base);
}

/// <summary>One buffer of a chain the test driver posts.</summary>
internal readonly record struct TestBuffer(ulong Address, uint Length, bool Writable);

/// <summary>
/// Plays the guest's virtio driver: lays out a descriptor table and the two rings in one region of test RAM, posts
/// chains (direct, chained, indirect), and reads the used ring back.
/// </summary>
internal sealed unsafe class GuestDriver : IDisposable
{
    public const ulong Gpa = 0x1000_0000;
    public const ulong Uaddr = 0x7f00_1000_0000;
    public const ulong RamSize = 1 << 20;
    private const ulong DataStart = 256 << 10;

    private readonly int _size;
    private ulong _nextData = DataStart;
    private int _nextDescriptor;
    private ushort _availIndex;
    private ushort _usedSeen;

    public GuestDriver(int size = 16, bool indirect = true, bool eventIndex = false)
    {
        _size = size;
        Ram = new GuestRam(RamSize);
        Memory = new GuestMemory();
        Memory.SetRegions([Ram.Region(Gpa, Uaddr, 0, RamSize)]);
        DescOffset = 0;
        AvailOffset = (ulong)(16 * size);
        UsedOffset = (AvailOffset + 6 + (2 * (ulong)size) + 3) & ~3ul;
        Queue = new SplitVirtqueue(Memory, size, Uaddr + DescOffset, Uaddr + AvailOffset, Uaddr + UsedOffset, indirect, eventIndex);
    }

    public GuestRam Ram { get; }

    public GuestMemory Memory { get; }

    public SplitVirtqueue Queue { get; }

    public ulong DescOffset { get; }

    public ulong AvailOffset { get; }

    public ulong UsedOffset { get; }

    public ushort AvailIndex => _availIndex;

    public ushort UsedIndex => Volatile.Read(ref *(ushort*)(Ram.Base + UsedOffset + 2));

    public ushort UsedFlags => Volatile.Read(ref *(ushort*)(Ram.Base + UsedOffset));

    public ushort AvailEvent => Volatile.Read(ref *(ushort*)(Ram.Base + UsedOffset + 4 + (8 * (ulong)_size)));

    public ushort UsedEvent
    {
        set => Volatile.Write(ref *(ushort*)(Ram.Base + AvailOffset + 4 + (2 * (ulong)_size)), value);
    }

    public ushort AvailFlags
    {
        set => Volatile.Write(ref *(ushort*)(Ram.Base + AvailOffset), value);
    }

    /// <summary>Room for guest data: a fresh guest-physical range (never reused by one driver).</summary>
    public ulong Allocate(uint length)
    {
        ulong address = Gpa + _nextData;
        _nextData = (_nextData + length + 15) & ~15ul;
        Assert.True(_nextData <= RamSize, "test RAM exhausted");
        return address;
    }

    /// <summary>Host pointer of a guest-physical address (test RAM is one block at <see cref="Gpa"/>).</summary>
    public byte* Host(ulong guestPhysicalAddress) => Ram.Base + (guestPhysicalAddress - Gpa);

    public void WriteGuest(ulong address, ReadOnlySpan<byte> bytes) => bytes.CopyTo(new Span<byte>(Host(address), bytes.Length));

    public byte[] ReadGuest(ulong address, int length) => new ReadOnlySpan<byte>(Host(address), length).ToArray();

    public void WriteDescriptor(int index, ulong address, uint length, ushort flags, ushort next)
        => WriteDescriptorAt(Ram.Base + DescOffset + (16 * (ulong)index), address, length, flags, next);

    public static void WriteDescriptorAt(byte* at, ulong address, uint length, ushort flags, ushort next)
    {
        *(ulong*)at = address;
        *(uint*)(at + 8) = length;
        *(ushort*)(at + 12) = flags;
        *(ushort*)(at + 14) = next;
    }

    /// <summary>Publishes a head in the available ring.</summary>
    public void PostHead(ushort head)
    {
        *(ushort*)(Ram.Base + AvailOffset + 4 + (2 * (ulong)(_availIndex & (_size - 1)))) = head;
        _availIndex++;
        Volatile.Write(ref *(ushort*)(Ram.Base + AvailOffset + 2), _availIndex);
    }

    /// <summary>Sets the available index without posting (hostile drivers).</summary>
    public void SetAvailIndex(ushort value)
    {
        _availIndex = value;
        Volatile.Write(ref *(ushort*)(Ram.Base + AvailOffset + 2), value);
    }

    /// <summary>Posts the buffers as a chain in the descriptor table; returns its head.</summary>
    public ushort PostChain(params TestBuffer[] buffers)
    {
        ushort head = (ushort)_nextDescriptor;
        for (int i = 0; i < buffers.Length; i++)
        {
            int index = (_nextDescriptor + i) % _size;
            bool last = i == buffers.Length - 1;
            ushort flags = (ushort)((buffers[i].Writable ? 2 : 0) | (last ? 0 : 1));
            WriteDescriptor(index, buffers[i].Address, buffers[i].Length, flags, (ushort)((index + 1) % _size));
        }

        _nextDescriptor = (_nextDescriptor + buffers.Length) % _size;
        PostHead(head);
        return head;
    }

    /// <summary>Posts the buffers as an indirect table (in guest data memory) named by one descriptor; returns its head.</summary>
    public ushort PostIndirect(params TestBuffer[] buffers)
    {
        ulong table = Allocate((uint)(16 * buffers.Length));
        for (int i = 0; i < buffers.Length; i++)
        {
            bool last = i == buffers.Length - 1;
            ushort flags = (ushort)((buffers[i].Writable ? 2 : 0) | (last ? 0 : 1));
            WriteDescriptorAt(Host(table + (16 * (ulong)i)), buffers[i].Address, buffers[i].Length, flags, (ushort)(i + 1));
        }

        ushort head = (ushort)_nextDescriptor;
        WriteDescriptor(head, table, (uint)(16 * buffers.Length), 4, 0);
        _nextDescriptor = (_nextDescriptor + 1) % _size;
        PostHead(head);
        return head;
    }

    /// <summary>Posts a request split into readable pieces and reply room split into writable pieces.</summary>
    public (ushort Head, TestBuffer[] Writable) PostRequest(byte[] request, int[] readPieces, int[] writePieces, bool indirect = false)
    {
        var buffers = new List<TestBuffer>();
        int offset = 0;
        foreach (int piece in readPieces)
        {
            ulong address = Allocate((uint)piece);
            WriteGuest(address, request.AsSpan(offset, piece));
            buffers.Add(new TestBuffer(address, (uint)piece, false));
            offset += piece;
        }

        Assert.Equal(request.Length, offset);
        var writable = new List<TestBuffer>();
        foreach (int piece in writePieces)
        {
            ulong address = Allocate((uint)piece);
            new Span<byte>(Host(address), piece).Fill(0xEE);
            writable.Add(new TestBuffer(address, (uint)piece, true));
        }

        buffers.AddRange(writable);
        ushort head = indirect ? PostIndirect([.. buffers]) : PostChain([.. buffers]);
        return (head, [.. writable]);
    }

    /// <summary>Gathers the bytes written into writable buffers.</summary>
    public byte[] Gather(TestBuffer[] writable, int length)
    {
        var result = new byte[length];
        int offset = 0;
        foreach (TestBuffer buffer in writable)
        {
            int count = Math.Min((int)buffer.Length, length - offset);
            ReadGuest(buffer.Address, count).CopyTo(result, offset);
            offset += count;
        }

        return result;
    }

    /// <summary>The next used element the driver has not seen, or null.</summary>
    public (uint Id, uint Length)? TakeUsed()
    {
        if (UsedIndex == _usedSeen)
        {
            return null;
        }

        byte* element = Ram.Base + UsedOffset + 4 + (8 * (ulong)(_usedSeen & (_size - 1)));
        _usedSeen++;
        return (*(uint*)element, *(uint*)(element + 4));
    }

    public void Dispose()
    {
        Queue.Dispose();
        Memory.Dispose();
        Ram.Dispose();
    }
}

/// <summary>Kicks and calls in memory: a kick counter the device waits on, and a count of calls.</summary>
internal sealed class TestNotifier : IVirtqueueNotifier
{
    private readonly SemaphoreSlim _kicks = new(0);
    private int _calls;

    public int Calls => Volatile.Read(ref _calls);

    public void Kick() => _kicks.Release();

    public async ValueTask WaitForKickAsync(CancellationToken cancellationToken)
    {
        await _kicks.WaitAsync(cancellationToken).ConfigureAwait(false);

        // Coalesce pending kicks, as reading an eventfd does.
        while (_kicks.Wait(0))
        {
        }
    }

    public void SignalCall() => Interlocked.Increment(ref _calls);
}
