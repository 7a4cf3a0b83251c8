using System.Collections.Concurrent;
using VirtioFs.Protocol;

namespace VirtioFs.Dax.Tests;

/// <summary>
/// An in-memory peer: keeps which file range each window range shows (as a real shared mapping would) and the files'
/// contents as 64-bit words, so reads and writes through the window go to the file the mapping names. It records every
/// rule broken: removing or remapping a range a test holds a lease on, touching an unmapped range, writing through a
/// read-only mapping, a lease that shows another file range than it claims.
/// </summary>
internal sealed class ModelChannel : IDaxMappingChannel
{
    private readonly Lock _gate = new();
    private readonly Mapping?[] _window;
    private readonly long[][] _files;

    public ModelChannel(DaxWindowGeometry geometry, int files, int rangesPerFile)
    {
        Geometry = geometry;
        _window = new Mapping?[geometry.RangeCount];
        HeldLeases = new int[geometry.RangeCount];
        WordsPerRange = (int)(geometry.RangeSize / sizeof(long));
        _files = new long[files][];
        for (int f = 0; f < files; f++)
        {
            _files[f] = new long[rangesPerFile * WordsPerRange];
            for (int w = 0; w < _files[f].Length; w++)
            {
                _files[f][w] = InitialWord(f, w);
            }
        }
    }

    public readonly record struct Mapping(ulong NodeId, ulong FileOffset, bool Writable);

    public DaxWindowGeometry Geometry { get; }

    public int WordsPerRange { get; }

    /// <summary>Leases the test holds per range; the allocator must leave those ranges alone.</summary>
    public int[] HeldLeases { get; }

    public ConcurrentQueue<string> Violations { get; } = new();

    public int SetupCalls;
    public int RemoveCalls;
    public int RemovedEntries;

    /// <summary>When set, answers SETUPMAPPING with this error.</summary>
    public Errno SetupError { get; set; }

    public static long InitialWord(int file, int word) => ((long)(file + 1) << 40) | (uint)word;

    public static ulong NodeOf(int file) => (ulong)file + 100;

    public static int FileOf(ulong nodeId) => (int)(nodeId - 100);

    public Mapping? MappingOf(int range)
    {
        lock (_gate)
        {
            return _window[range];
        }
    }

    public ValueTask<Errno> SetupMappingAsync(ulong nodeId, ulong fileOffset, ulong length, ulong windowOffset, bool writable, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref SetupCalls);
        if (SetupError != Errno.Success)
        {
            return new(SetupError);
        }

        if ((long)length != Geometry.RangeSize || fileOffset % length != 0 || windowOffset % length != 0 || !Geometry.Contains(windowOffset, length))
        {
            Violations.Enqueue($"malformed SETUPMAPPING {fileOffset}/{length}@{windowOffset}");
            return new(Errno.EINVAL);
        }

        int range = (int)(windowOffset / length);
        lock (_gate)
        {
            Mapping? old = _window[range];
            if (Volatile.Read(ref HeldLeases[range]) != 0 && (old is null || old.Value.NodeId != nodeId || old.Value.FileOffset != fileOffset))
            {
                Violations.Enqueue($"range {range} remapped while a lease is held");
            }

            _window[range] = new Mapping(nodeId, fileOffset, writable);
        }

        return new(Errno.Success);
    }

    public ValueTask<Errno> RemoveMappingAsync(ulong nodeId, ReadOnlyMemory<DaxRemoval> ranges, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref RemoveCalls);
        Interlocked.Add(ref RemovedEntries, ranges.Length);
        if (ranges.Length is 0 or > FuseConstants.RemoveMappingMaxEntries)
        {
            Violations.Enqueue($"REMOVEMAPPING with {ranges.Length} entries");
        }

        lock (_gate)
        {
            foreach (DaxRemoval removal in ranges.Span)
            {
                int range = (int)(removal.WindowOffset / (ulong)Geometry.RangeSize);
                if (Volatile.Read(ref HeldLeases[range]) != 0)
                {
                    Violations.Enqueue($"range {range} removed while a lease is held");
                }

                if (_window[range] is { } mapping && mapping.NodeId != nodeId)
                {
                    Violations.Enqueue($"range {range} of node {mapping.NodeId} removed in the name of node {nodeId}");
                }

                _window[range] = null;
            }
        }

        return new(Errno.Success);
    }

    /// <summary>Reads the word at <paramref name="fileOffset"/> through the window range of <paramref name="lease"/>.</summary>
    public long Read(in DaxMappingLease lease, ulong nodeId, ulong fileOffset)
    {
        long[] file = Resolve(lease, nodeId, fileOffset, write: false, out int word);
        return Volatile.Read(ref file[word]);
    }

    public void Write(in DaxMappingLease lease, ulong nodeId, ulong fileOffset, long value)
    {
        long[] file = Resolve(lease, nodeId, fileOffset, write: true, out int word);
        Volatile.Write(ref file[word], value);
    }

    private long[] Resolve(in DaxMappingLease lease, ulong nodeId, ulong fileOffset, bool write, out int word)
    {
        long windowOffset = lease.WindowOffsetOf(fileOffset);
        int range = (int)(windowOffset / Geometry.RangeSize);
        Mapping? mapping = MappingOf(range);
        if (mapping is not { } m)
        {
            throw new InvalidOperationException($"fault: window range {range} is not mapped");
        }

        if (m.NodeId != nodeId || m.FileOffset != lease.FileOffset)
        {
            throw new InvalidOperationException($"window range {range} shows node {m.NodeId}@{m.FileOffset}, the lease claims node {nodeId}@{lease.FileOffset}");
        }

        if (write && !m.Writable)
        {
            throw new InvalidOperationException($"fault: write through read-only range {range}");
        }

        // The file offset is the mapping's file offset plus the offset inside the window range.
        ulong inFile = m.FileOffset + (ulong)(windowOffset - range * Geometry.RangeSize);
        word = (int)(inFile / sizeof(long));
        return _files[FileOf(m.NodeId)];
    }
}

/// <summary>A clock whose timestamps count calls, so that access order is exact.</summary>
internal sealed class CountingTimeProvider : TimeProvider
{
    private long _now;

    public override long GetTimestamp() => Interlocked.Increment(ref _now);
}
