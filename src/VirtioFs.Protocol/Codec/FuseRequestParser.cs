using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace VirtioFs.Protocol;

/// <summary>
/// Reads requests: <c>fuse_in_header</c>, then the opcode's fixed arguments, then NUL-terminated names or data,
/// then (7.38+) <c>total_extlen * 8</c> bytes of extensions. Every length is checked before it is used;
/// structs are copied out of the buffer (<see cref="MemoryMarshal.Read{T}"/>) before they are looked at.
/// </summary>
internal static class FuseRequestParser
{
    /// <summary>Where <c>unique</c> sits in <c>fuse_in_header</c>, for answering requests whose header is truncated.</summary>
    public const int UniqueOffset = 8;

    /// <summary>Where <c>opcode</c> sits in <c>fuse_in_header</c>.</summary>
    public const int OpcodeOffset = 4;

    /// <summary>Splits a request into header and body; the body excludes the extension area.</summary>
    /// <returns><see cref="Errno.Success"/>, <see cref="Errno.EIO"/> when the lengths are inconsistent, <see cref="Errno.EINVAL"/> for a bad extension area.</returns>
    public static Errno ReadHeader(ReadOnlyMemory<byte> request, out FuseInHeader header, out ReadOnlyMemory<byte> body, out FuseRequestExtensions extensions)
    {
        header = default;
        body = default;
        extensions = default;
        ReadOnlySpan<byte> span = request.Span;
        if (span.Length < FuseInHeader.Size)
        {
            return Errno.EIO;
        }

        header = MemoryMarshal.Read<FuseInHeader>(span);
        if (header.Len != (uint)span.Length)
        {
            return Errno.EIO;
        }

        int extLength = header.TotalExtlen * 8;
        int bodyLength = span.Length - FuseInHeader.Size;
        if (extLength > bodyLength)
        {
            return Errno.EINVAL;
        }

        body = request.Slice(FuseInHeader.Size, bodyLength - extLength);
        if (extLength == 0)
        {
            return Errno.Success;
        }

        return ReadExtensions(request.Slice(FuseInHeader.Size + bodyLength - extLength, extLength), out extensions);
    }

    /// <summary>Validates the extension area: a sequence of <c>fuse_ext_header</c> records, each a multiple of 8 bytes.</summary>
    private static Errno ReadExtensions(ReadOnlyMemory<byte> area, out FuseRequestExtensions extensions)
    {
        extensions = default;
        ReadOnlyMemory<byte> secctx = default;
        int secctxCount = 0;
        ReadOnlyMemory<byte> groups = default;
        int offset = 0;
        while (offset < area.Length)
        {
            ReadOnlySpan<byte> rest = area.Span.Slice(offset);
            if (rest.Length < FuseExtHeader.StructSize)
            {
                return Errno.EINVAL;
            }

            FuseExtHeader ext = MemoryMarshal.Read<FuseExtHeader>(rest);
            if (ext.Size < FuseExtHeader.StructSize || ext.Size > (uint)rest.Length || ext.Size % 8 != 0)
            {
                return Errno.EINVAL;
            }

            ReadOnlyMemory<byte> payload = area.Slice(offset + FuseExtHeader.StructSize, (int)ext.Size - FuseExtHeader.StructSize);
            if (ext.Type <= FuseConstants.MaxNrSecctx)
            {
                // fuse_secctx_header shares the layout: size, then nr_secctx in the "type" slot.
                secctx = payload;
                secctxCount = (int)ext.Type;
            }
            else if (ext.Type == (uint)FuseExtensionType.Groups)
            {
                if (payload.Length < sizeof(uint))
                {
                    return Errno.EINVAL;
                }

                uint count = BinaryPrimitives.ReadUInt32LittleEndian(payload.Span);
                if (count > (uint)(payload.Length - sizeof(uint)) / sizeof(uint))
                {
                    return Errno.EINVAL;
                }

                groups = payload.Slice(sizeof(uint), (int)count * sizeof(uint));
            }

            // Unknown extension types are skipped, as the kernel adds them only for capabilities we negotiated.
            offset += (int)ext.Size;
        }

        extensions = new FuseRequestExtensions(secctx, secctxCount, groups);
        return Errno.Success;
    }

    /// <summary>Copies the fixed arguments of <paramref name="size"/> bytes into a <typeparamref name="T"/>; a shorter
    /// (older minor) layout leaves the remaining fields zero.</summary>
    public static T ReadArgs<T>(ReadOnlySpan<byte> body, int size)
        where T : unmanaged
    {
        if (size >= Unsafe.SizeOf<T>())
        {
            return MemoryMarshal.Read<T>(body);
        }

        T value = default;
        body.Slice(0, size).CopyTo(MemoryMarshal.AsBytes(new Span<T>(ref value)));
        return value;
    }

    /// <summary>Takes the next NUL-terminated, non-empty name from <paramref name="rest"/>.</summary>
    /// <returns>False when there is no NUL inside <paramref name="rest"/> or the name is empty.</returns>
    public static bool TryTakeName(ref ReadOnlyMemory<byte> rest, out ReadOnlyMemory<byte> name)
    {
        int nul = rest.Span.IndexOf((byte)0);
        if (nul <= 0)
        {
            name = default;
            return false;
        }

        name = rest.Slice(0, nul);
        rest = rest.Slice(nul + 1);
        return true;
    }
}
