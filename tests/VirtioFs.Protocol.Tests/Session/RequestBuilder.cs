using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;

namespace VirtioFs.Protocol.Tests.Session;

/// <summary>
/// Builds a request message byte by byte, the way the kernel lays it out:
/// <code>
/// fuse_in_header (40 bytes)            len | opcode | unique | nodeid | uid | gid | pid | total_extlen | padding
/// fixed arguments                      the opcode's fuse_*_in struct
/// names / data                         NUL-terminated names, WRITE/SETXATTR payloads
/// extension area (7.38+)               total_extlen * 8 bytes of fuse_ext_header records
/// </code>
/// The header is written field by field at the kernel's offsets; <see cref="WithLen"/> and <see cref="WithTotalExtlen"/>
/// override the computed values to build inconsistent requests.
/// </summary>
internal sealed class RequestBuilder
{
    public const int HeaderSize = 40;

    private readonly ArrayBufferWriter<byte> _body = new();
    private readonly ArrayBufferWriter<byte> _extensions = new();
    private readonly uint _opcode;
    private readonly ulong _unique;
    private readonly ulong _nodeId;
    private uint? _len;
    private ushort? _totalExtlen;

    public RequestBuilder(uint opcode, ulong unique = 0x0102030405060708, ulong nodeId = 1)
    {
        _opcode = opcode;
        _unique = unique;
        _nodeId = nodeId;
    }

    public RequestBuilder(FuseOpcode opcode, ulong unique = 0x0102030405060708, ulong nodeId = 1)
        : this((uint)opcode, unique, nodeId)
    {
    }

    public uint Uid { get; init; } = 1000;

    public uint Gid { get; init; } = 100;

    public uint Pid { get; init; } = 4242;

    /// <summary>Appends a blittable argument struct as its raw bytes.</summary>
    public RequestBuilder Args<T>(T value)
        where T : unmanaged
        => Bytes(MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in value)));

    public RequestBuilder Bytes(ReadOnlySpan<byte> bytes)
    {
        _body.Write(bytes);
        return this;
    }

    public RequestBuilder Zeros(int count) => Bytes(new byte[count]);

    public RequestBuilder U16(ushort value)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(_body.GetSpan(2), value);
        _body.Advance(2);
        return this;
    }

    public RequestBuilder U32(uint value)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(_body.GetSpan(4), value);
        _body.Advance(4);
        return this;
    }

    public RequestBuilder U64(ulong value)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(_body.GetSpan(8), value);
        _body.Advance(8);
        return this;
    }

    /// <summary>Appends a name and its NUL terminator.</summary>
    public RequestBuilder Name(string name) => Bytes(Encoding.UTF8.GetBytes(name)).Zeros(1);

    /// <summary>Appends one well-formed extension record: <c>fuse_ext_header{size, type}</c>, payload, zeros up to 8 bytes.</summary>
    public RequestBuilder Extension(uint type, ReadOnlySpan<byte> payload)
    {
        int size = (8 + payload.Length + 7) & ~7;
        byte[] record = new byte[size];
        BinaryPrimitives.WriteUInt32LittleEndian(record, (uint)size);
        BinaryPrimitives.WriteUInt32LittleEndian(record.AsSpan(4), type);
        payload.CopyTo(record.AsSpan(8));
        return RawExtension(record);
    }

    /// <summary>Appends a <c>FUSE_EXT_GROUPS</c> record (<c>fuse_supp_groups</c>: nr_groups, then the groups).</summary>
    public RequestBuilder SupplementaryGroups(params uint[] groups)
    {
        byte[] payload = new byte[4 + (4 * groups.Length)];
        BinaryPrimitives.WriteUInt32LittleEndian(payload, (uint)groups.Length);
        for (int i = 0; i < groups.Length; i++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(payload.AsSpan(4 + (4 * i)), groups[i]);
        }

        return Extension((uint)FuseExtensionType.Groups, payload);
    }

    /// <summary>Appends bytes to the extension area as they are (for malformed records).</summary>
    public RequestBuilder RawExtension(ReadOnlySpan<byte> bytes)
    {
        _extensions.Write(bytes);
        return this;
    }

    public RequestBuilder WithLen(uint len)
    {
        _len = len;
        return this;
    }

    public RequestBuilder WithTotalExtlen(ushort totalExtlen)
    {
        _totalExtlen = totalExtlen;
        return this;
    }

    public byte[] Build()
    {
        int length = HeaderSize + _body.WrittenCount + _extensions.WrittenCount;
        byte[] message = new byte[length];
        Span<byte> header = message;
        BinaryPrimitives.WriteUInt32LittleEndian(header, _len ?? (uint)length);
        BinaryPrimitives.WriteUInt32LittleEndian(header.Slice(4), _opcode);
        BinaryPrimitives.WriteUInt64LittleEndian(header.Slice(8), _unique);
        BinaryPrimitives.WriteUInt64LittleEndian(header.Slice(16), _nodeId);
        BinaryPrimitives.WriteUInt32LittleEndian(header.Slice(24), Uid);
        BinaryPrimitives.WriteUInt32LittleEndian(header.Slice(28), Gid);
        BinaryPrimitives.WriteUInt32LittleEndian(header.Slice(32), Pid);
        BinaryPrimitives.WriteUInt16LittleEndian(header.Slice(36), _totalExtlen ?? (ushort)(_extensions.WrittenCount / 8));
        _body.WrittenSpan.CopyTo(message.AsSpan(HeaderSize));
        _extensions.WrittenSpan.CopyTo(message.AsSpan(HeaderSize + _body.WrittenCount));
        return message;
    }

    /// <summary>A <c>FUSE_INIT</c> request as a kernel of protocol 7.<paramref name="minor"/> sends it:
    /// 16 bytes before 7.36, 64 bytes (with <c>flags2</c>) from 7.36.</summary>
    public static byte[] Init(uint minor, FuseInitFlags flags, uint maxReadahead = 131072, uint major = 7, bool? extended = null, ulong unique = 1)
    {
        var builder = new RequestBuilder(FuseOpcode.Init, unique, nodeId: 0)
            .U32(major).U32(minor).U32(maxReadahead).U32((uint)flags);
        if (extended ?? minor >= 36)
        {
            builder.U32((uint)((ulong)flags >> 32)).Zeros(11 * 4);
        }

        return builder.Build();
    }
}
