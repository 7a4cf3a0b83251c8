using System.Buffers.Binary;

namespace VirtioFs.Protocol.Tests.Session;

/// <summary>
/// A copy of one reply as the session wrote it: <c>fuse_out_header</c> (len | error | unique, 16 bytes) and the body.
/// Body offsets passed to the accessors are relative to the end of the header, as in the kernel's reply structs.
/// </summary>
internal sealed class ReplyReader
{
    public const int HeaderSize = 16;

    public ReplyReader(ReadOnlySpan<byte> buffer, int length)
    {
        Length = length;
        Bytes = buffer.Slice(0, length).ToArray();
    }

    /// <summary>The length HandleRequestAsync returned (0: no reply).</summary>
    public int Length { get; }

    public byte[] Bytes { get; }

    public uint HeaderLen => BinaryPrimitives.ReadUInt32LittleEndian(Bytes);

    public int Error => BinaryPrimitives.ReadInt32LittleEndian(Bytes.AsSpan(4));

    public ulong Unique => BinaryPrimitives.ReadUInt64LittleEndian(Bytes.AsSpan(8));

    public ReadOnlySpan<byte> Body => Bytes.AsSpan(HeaderSize);

    public ushort U16(int offset) => BinaryPrimitives.ReadUInt16LittleEndian(Body.Slice(offset));

    public uint U32(int offset) => BinaryPrimitives.ReadUInt32LittleEndian(Body.Slice(offset));

    public int I32(int offset) => BinaryPrimitives.ReadInt32LittleEndian(Body.Slice(offset));

    public ulong U64(int offset) => BinaryPrimitives.ReadUInt64LittleEndian(Body.Slice(offset));

    /// <summary>Asserts an error reply: exactly a header with <c>-errno</c> and the request's unique.</summary>
    public void AssertError(Errno expected, ulong unique)
    {
        Assert.Equal(HeaderSize, Length);
        Assert.Equal((uint)HeaderSize, HeaderLen);
        Assert.Equal(-(int)expected, Error);
        Assert.Equal(unique, Unique);
    }

    /// <summary>Asserts a success reply with a body of <paramref name="bodyLength"/> bytes.</summary>
    public void AssertSuccess(int bodyLength, ulong unique)
    {
        Assert.True(Error == 0, $"expected success, got error {Error}");
        Assert.Equal(HeaderSize + bodyLength, Length);
        Assert.Equal((uint)Length, HeaderLen);
        Assert.Equal(unique, Unique);
    }

    /// <summary>Asserts that body bytes [<paramref name="offset"/>, <paramref name="offset"/> + <paramref name="count"/>) are zero.</summary>
    public void AssertZero(int offset, int count, string what)
    {
        ReadOnlySpan<byte> span = Body.Slice(offset, count);
        int bad = span.IndexOfAnyExcept((byte)0);
        Assert.True(bad < 0, $"{what}: body byte {offset + bad} is 0x{(bad < 0 ? 0 : span[bad]):x2}, expected 0");
    }
}
