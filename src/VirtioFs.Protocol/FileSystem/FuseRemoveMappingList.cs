using System.Runtime.InteropServices;

namespace VirtioFs.Protocol;

/// <summary>
/// The <c>fuse_removemapping_one</c> entries of a <c>FUSE_REMOVEMAPPING</c> request. The entries start at body
/// offset 4 and so are not 8-byte aligned: they are read by copy, never by reference.
/// </summary>
/// <remarks>Points into the request buffer: valid only until the operation completes.</remarks>
public readonly struct FuseRemoveMappingList
{
    private readonly ReadOnlyMemory<byte> _entries;

    internal FuseRemoveMappingList(ReadOnlyMemory<byte> entries)
    {
        _entries = entries;
    }

    /// <summary>The number of entries.</summary>
    public int Count => _entries.Length / FuseRemovemappingOne.Size;

    /// <summary>Returns a copy of entry <paramref name="index"/>.</summary>
    /// <param name="index">Zero-based index below <see cref="Count"/>.</param>
    public FuseRemovemappingOne this[int index]
    {
        get
        {
            ArgumentOutOfRangeException.ThrowIfNegative(index);
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
            return MemoryMarshal.Read<FuseRemovemappingOne>(_entries.Span.Slice(index * FuseRemovemappingOne.Size));
        }
    }
}
