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
/// Plays the guest's virtio driver: lays out a descriptor table and the two rings at the start of a window of guest
/// RAM, posts chains (direct, chained, indirect) with buffers from the rest of the window, and reads the used ring back.
/// </summary>
/// <remarks>
/// Standalone (the parameterless form), the driver owns 1 MiB of test RAM and a <see cref="GuestMemory"/> over it;
/// over a window (<see cref="GuestDriver(byte*, ulong, ulong, ulong, ulong, int)"/>) the RAM and the device's view of
/// it belong to someone else (the <see cref="TestVmm"/>'s memfd).
/// </remarks>
internal sealed unsafe class GuestDriver : IDisposable
{
    public const ulong Gpa = 0x1000_0000;
    public const ulong Uaddr = 0x7f00_1000_0000;
    public const ulong RamSize = 1 << 20;
    private const ulong DataStart = 256 << 10;

    private readonly int _size;
    private readonly byte* _window;
    private readonly ulong _windowGpa;
    private readonly ulong _windowUaddr;
    private readonly ulong _windowLength;
    private readonly GuestRam? _ram;
    private readonly GuestMemory? _memory;
    private readonly SplitVirtqueue? _queue;
    private ulong _nextData;
    private int _nextDescriptor;
    private ushort _availIndex;
    private ushort _usedSeen;

    /// <summary>A driver with its own test RAM at <see cref="Gpa"/> (VMM-virtual <see cref="Uaddr"/>).</summary>
    /// <param name="size">The queue size.</param>
    /// <param name="indirect">Whether the device queue accepts indirect descriptors.</param>
    /// <param name="eventIndex">Whether the device queue uses event indexes.</param>
    /// <param name="deviceQueue">Whether to attach a <see cref="SplitVirtqueue"/> here (false when a <see cref="TestVring"/> attaches its own).</param>
    public GuestDriver(int size = 16, bool indirect = true, bool eventIndex = false, bool deviceQueue = true)
        : this(new GuestRam(RamSize), size)
    {
        _memory = new GuestMemory();
        _memory.SetRegions([Ram.Region(Gpa, Uaddr, 0, RamSize)]);
        if (deviceQueue)
        {
            _queue = new SplitVirtqueue(_memory, size, Uaddr + DescOffset, Uaddr + AvailOffset, Uaddr + UsedOffset, indirect, eventIndex);
        }
    }

    /// <summary>A driver over a window of guest RAM someone else owns (and has zeroed): rings first, buffers from <paramref name="dataOffset"/>.</summary>
    /// <param name="window">Host address of the window's first byte.</param>
    /// <param name="gpa">Its guest-physical address.</param>
    /// <param name="uaddr">Its VMM-virtual address.</param>
    /// <param name="length">The window's length.</param>
    /// <param name="dataOffset">Where buffers start in the window (past the rings).</param>
    /// <param name="size">The queue size.</param>
    public GuestDriver(byte* window, ulong gpa, ulong uaddr, ulong length, ulong dataOffset, int size)
    {
        _size = size;
        _window = window;
        _windowGpa = gpa;
        _windowUaddr = uaddr;
        _windowLength = length;
        _nextData = dataOffset;
        DescOffset = 0;
        AvailOffset = (ulong)(16 * size);
        UsedOffset = (AvailOffset + 6 + (2 * (ulong)size) + 3) & ~3ul;
        Assert.True(UsedOffset + VirtqLayout.UsedRingSize(size) <= dataOffset, "the rings overlap the data");
    }

    private GuestDriver(GuestRam ram, int size)
        : this(ram.Base, Gpa, Uaddr, RamSize, DataStart, size)
    {
        _ram = ram;
    }

    public GuestRam Ram => _ram ?? throw new InvalidOperationException("This driver runs over RAM it does not own.");

    public GuestMemory Memory => _memory ?? throw new InvalidOperationException("This driver runs over RAM it does not own.");

    public SplitVirtqueue Queue => _queue ?? throw new InvalidOperationException("This driver has no device queue of its own.");

    public int QueueSize => _size;

    /// <summary>The rings' addresses as SET_VRING_ADDR gives them (VMM-virtual).</summary>
    public VringAddress RingAddress => new() { Descriptor = _windowUaddr + DescOffset, Available = _windowUaddr + AvailOffset, Used = _windowUaddr + UsedOffset };

    /// <summary>Offsets of the rings in the window.</summary>
    public ulong DescOffset { get; }

    public ulong AvailOffset { get; }

    public ulong UsedOffset { get; }

    public ushort AvailIndex => _availIndex;

    /// <summary>Used elements taken with <see cref="TakeUsed"/> so far.</summary>
    public ushort UsedSeen => _usedSeen;

    public ushort UsedIndex => Volatile.Read(ref *(ushort*)(_window + UsedOffset + 2));

    public ushort UsedFlags => Volatile.Read(ref *(ushort*)(_window + UsedOffset));

    public ushort AvailEvent => Volatile.Read(ref *(ushort*)(_window + UsedOffset + 4 + (8 * (ulong)_size)));

    public ushort UsedEvent
    {
        set => Volatile.Write(ref *(ushort*)(_window + AvailOffset + 4 + (2 * (ulong)_size)), value);
    }

    public ushort AvailFlags
    {
        set => Volatile.Write(ref *(ushort*)(_window + AvailOffset), value);
    }

    /// <summary>Room for guest data: a fresh guest-physical range (never reused by one driver).</summary>
    public ulong Allocate(uint length)
    {
        ulong address = _windowGpa + _nextData;
        _nextData = (_nextData + length + 15) & ~15ul;
        Assert.True(_nextData <= _windowLength, "test RAM exhausted");
        return address;
    }

    /// <summary>Host pointer of a guest-physical address in the window.</summary>
    public byte* Host(ulong guestPhysicalAddress) => _window + (guestPhysicalAddress - _windowGpa);

    public void WriteGuest(ulong address, ReadOnlySpan<byte> bytes) => bytes.CopyTo(new Span<byte>(Host(address), bytes.Length));

    public byte[] ReadGuest(ulong address, int length) => new ReadOnlySpan<byte>(Host(address), length).ToArray();

    public void WriteDescriptor(int index, ulong address, uint length, ushort flags, ushort next)
        => WriteDescriptorAt(_window + DescOffset + (16 * (ulong)index), address, length, flags, next);

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
        *(ushort*)(_window + AvailOffset + 4 + (2 * (ulong)(_availIndex & (_size - 1)))) = head;
        _availIndex++;
        Volatile.Write(ref *(ushort*)(_window + AvailOffset + 2), _availIndex);
    }

    /// <summary>Sets the available index without posting (hostile drivers).</summary>
    public void SetAvailIndex(ushort value)
    {
        _availIndex = value;
        Volatile.Write(ref *(ushort*)(_window + AvailOffset + 2), value);
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

        byte* element = _window + UsedOffset + 4 + (8 * (ulong)(_usedSeen & (_size - 1)));
        _usedSeen++;
        return (*(uint*)element, *(uint*)(element + 4));
    }

    public void Dispose()
    {
        _queue?.Dispose();
        _memory?.Dispose();
        _ram?.Dispose();
    }
}
