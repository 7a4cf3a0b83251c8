using System.Runtime.InteropServices;

namespace VirtioFs.Protocol;

/// <summary>
/// Packs directory entries into a <c>READDIR</c> or <c>READDIRPLUS</c> reply: <c>fuse_dirent</c>
/// (or <c>fuse_direntplus</c>) records, each padded with zeros to 8 bytes.
/// </summary>
/// <remarks>One writer per session worker is reused for every request; do not keep it after the operation completes.</remarks>
public sealed class FuseDirectoryWriter
{
    /// <summary>The longest name an entry may carry (the kernel's <c>FUSE_NAME_MAX</c>).</summary>
    public const int MaxNameLength = 1024;

    private Memory<byte> _buffer;

    internal FuseDirectoryWriter()
    {
    }

    /// <summary>Whether this is a <c>READDIRPLUS</c> reply (use <see cref="TryAddPlus"/>) rather than <c>READDIR</c> (use <see cref="TryAdd"/>).</summary>
    public bool IsPlus { get; private set; }

    /// <summary>The number of reply bytes written so far.</summary>
    public int BytesWritten { get; private set; }

    /// <summary>The number of entries written so far.</summary>
    public int Count { get; private set; }

    internal void Reset(Memory<byte> buffer, bool plus)
    {
        _buffer = buffer;
        IsPlus = plus;
        BytesWritten = 0;
        Count = 0;
    }

    /// <summary>Adds a <c>READDIR</c> entry.</summary>
    /// <param name="ino">The entry's inode number (<c>d_ino</c>).</param>
    /// <param name="nextOffset">The offset of the entry after this one, passed back in a later <c>READDIR</c>.</param>
    /// <param name="type">The entry's type.</param>
    /// <param name="name">The entry's name (1 to <see cref="MaxNameLength"/> bytes, no NUL).</param>
    /// <returns>False when the entry does not fit; stop listing then.</returns>
    /// <exception cref="InvalidOperationException">The reply is a <c>READDIRPLUS</c> reply.</exception>
    /// <exception cref="ArgumentException">The name is empty or too long.</exception>
    public bool TryAdd(ulong ino, ulong nextOffset, FuseDirentType type, ReadOnlySpan<byte> name)
    {
        if (IsPlus)
        {
            ThrowHelper.ThrowInvalidOperation("This is a READDIRPLUS reply: use TryAddPlus.");
        }

        return TryWrite(0, ino, nextOffset, type, name, default);
    }

    /// <summary>Adds a <c>READDIRPLUS</c> entry; when it returns true and <paramref name="entry"/> has a non-zero node id, that node's lookup count grows by one.</summary>
    /// <param name="entry">The entry (node id 0 for entries such as "." and ".." that give no lookup).</param>
    /// <param name="nextOffset">The offset of the entry after this one.</param>
    /// <param name="name">The entry's name (1 to <see cref="MaxNameLength"/> bytes, no NUL).</param>
    /// <returns>False when the entry does not fit; stop listing then, and do not count a lookup.</returns>
    /// <exception cref="InvalidOperationException">The reply is a <c>READDIR</c> reply.</exception>
    /// <exception cref="ArgumentException">The name is empty or too long.</exception>
    public bool TryAddPlus(in FuseEntryOut entry, ulong nextOffset, ReadOnlySpan<byte> name)
    {
        if (!IsPlus)
        {
            ThrowHelper.ThrowInvalidOperation("This is a READDIR reply: use TryAdd.");
        }

        return TryWrite(FuseEntryOut.Size, entry.Attr.Ino, nextOffset, FuseFileMode.ToDirentType(entry.Attr.Mode), name, entry);
    }

    private bool TryWrite(int prefix, ulong ino, ulong nextOffset, FuseDirentType type, ReadOnlySpan<byte> name, in FuseEntryOut entry)
    {
        if (name.IsEmpty || name.Length > MaxNameLength)
        {
            ThrowHelper.ThrowArgument(nameof(name), "A directory entry name must be 1 to 1024 bytes long.");
        }

        int recordLength = prefix + FuseDirent.Size + name.Length;
        int padded = FuseConstants.DirentAlign(recordLength);
        Span<byte> free = _buffer.Span.Slice(BytesWritten);
        if (padded > free.Length)
        {
            return false;
        }

        Span<byte> record = free.Slice(0, padded);
        if (prefix != 0)
        {
            MemoryMarshal.Write(record, in entry);
        }

        var dirent = new FuseDirent { Ino = ino, Off = nextOffset, Namelen = (uint)name.Length, Type = (uint)type };
        MemoryMarshal.Write(record.Slice(prefix), in dirent);
        name.CopyTo(record.Slice(prefix + FuseDirent.Size));
        record.Slice(recordLength).Clear();
        BytesWritten += padded;
        Count++;
        return true;
    }
}
