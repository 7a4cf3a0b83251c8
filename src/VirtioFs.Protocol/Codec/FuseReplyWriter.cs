using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace VirtioFs.Protocol;

/// <summary>
/// Writes replies: a <c>fuse_out_header</c> (<c>len</c>, <c>-errno</c>, <c>unique</c>) followed by the opcode's
/// reply struct or data. Structs are written whole from values whose padding fields are private and so zero;
/// data replies are written in place by the filesystem after the header.
/// </summary>
internal static class FuseReplyWriter
{
    public const int HeaderSize = FuseOutHeader.Size;

    /// <summary>Writes an error (or an empty success) reply.</summary>
    public static int WriteStatus(Span<byte> reply, ulong unique, Errno error)
    {
        var header = new FuseOutHeader { Len = HeaderSize, Error = -(int)error, Unique = unique };
        MemoryMarshal.Write(reply, in header);
        return HeaderSize;
    }

    /// <summary>Writes a success reply carrying the first <paramref name="size"/> bytes of <paramref name="value"/>
    /// (a shorter size serves older minors' compat layouts); <see cref="Errno.ERANGE"/> when it does not fit the reply room.</summary>
    public static int WriteStruct<T>(Span<byte> reply, ulong unique, in T value, int size)
        where T : unmanaged
    {
        int total = HeaderSize + size;
        if (total > reply.Length)
        {
            return WriteStatus(reply, unique, Errno.ERANGE);
        }

        ReadOnlySpan<byte> bytes = MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in value));
        bytes.Slice(0, size).CopyTo(reply.Slice(HeaderSize));
        WriteHeader(reply, unique, total);
        return total;
    }

    /// <summary>Writes a success reply of the full struct.</summary>
    public static int WriteStruct<T>(Span<byte> reply, ulong unique, in T value)
        where T : unmanaged
        => WriteStruct(reply, unique, in value, Unsafe.SizeOf<T>());

    /// <summary>Finishes a success reply whose <paramref name="dataLength"/> bytes of payload are already in place after the header.</summary>
    public static int WriteDataHeader(Span<byte> reply, ulong unique, int dataLength)
    {
        int total = HeaderSize + dataLength;
        WriteHeader(reply, unique, total);
        return total;
    }

    private static void WriteHeader(Span<byte> reply, ulong unique, int total)
    {
        var header = new FuseOutHeader { Len = (uint)total, Error = 0, Unique = unique };
        MemoryMarshal.Write(reply, in header);
    }
}
