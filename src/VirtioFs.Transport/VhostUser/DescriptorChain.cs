namespace VirtioFs.Transport.VhostUser;

/// <summary>One guest buffer of a chain: a guest-physical range, already checked to be mapped and not to wrap.</summary>
internal readonly record struct VirtqBuffer(ulong Address, uint Length);

/// <summary>
/// A descriptor chain popped from a <see cref="SplitVirtqueue"/>: its head and its buffers, copied out of the
/// descriptor table (readable ones first, then writable ones). Owned by the queue, one per head, reused.
/// </summary>
internal sealed class DescriptorChain
{
    private VirtqBuffer[] _buffers = new VirtqBuffer[4];
    private int _count;
    private int _readableCount;

    public ushort Head { get; private set; }

    /// <summary>Counts how often this head was popped; lets a stale completion be told from a current one.</summary>
    public int Generation { get; private set; }

    /// <summary>Whether the device holds the chain (popped, not yet returned).</summary>
    public bool InFlight { get; set; }

    /// <summary>Total bytes of the readable buffers (the request).</summary>
    public ulong ReadableLength { get; private set; }

    /// <summary>Total bytes of the writable buffers (room for the reply).</summary>
    public ulong WritableLength { get; private set; }

    public ReadOnlySpan<VirtqBuffer> Readable => _buffers.AsSpan(0, _readableCount);

    public ReadOnlySpan<VirtqBuffer> Writable => _buffers.AsSpan(_readableCount, _count - _readableCount);

    internal void Reset(ushort head)
    {
        Head = head;
        Generation++;
        _count = 0;
        _readableCount = 0;
        ReadableLength = 0;
        WritableLength = 0;
    }

    /// <summary>Appends a buffer; the walk guarantees no readable buffer follows a writable one.</summary>
    internal void Add(ulong address, uint length, bool writable)
    {
        if (_count == _buffers.Length)
        {
            Array.Resize(ref _buffers, _buffers.Length * 2);
        }

        _buffers[_count++] = new VirtqBuffer(address, length);
        if (writable)
        {
            WritableLength += length;
        }
        else
        {
            _readableCount++;
            ReadableLength += length;
        }
    }
}
