using System.Runtime.InteropServices;
using VirtioFs.Protocol;

namespace VirtioFs.Transport.Tests.VhostUser;

/// <summary>FUSE requests as a guest kernel sends them, and reply parsing.</summary>
internal static class FuseWire
{
    public static byte[] Request<T>(FuseOpcode opcode, ulong unique, ulong nodeId, T args, ReadOnlySpan<byte> tail = default)
        where T : struct
    {
        int size = Marshal.SizeOf<T>();
        var bytes = new byte[FuseInHeader.Size + size + tail.Length];
        var header = new FuseInHeader { Len = (uint)bytes.Length, Opcode = (uint)opcode, Unique = unique, Nodeid = nodeId, Uid = 1, Gid = 2, Pid = 3 };
        MemoryMarshal.Write(bytes, in header);
        MemoryMarshal.Write(bytes.AsSpan(FuseInHeader.Size), in args);
        tail.CopyTo(bytes.AsSpan(FuseInHeader.Size + size));
        return bytes;
    }

    /// <summary>A request with no arguments (DESTROY).</summary>
    public static byte[] Bare(FuseOpcode opcode, ulong unique)
    {
        var bytes = new byte[FuseInHeader.Size];
        var header = new FuseInHeader { Len = (uint)bytes.Length, Opcode = (uint)opcode, Unique = unique, Uid = 1, Gid = 2, Pid = 3 };
        MemoryMarshal.Write(bytes, in header);
        return bytes;
    }

    public static byte[] Init(ulong unique) => Request(FuseOpcode.Init, unique, 0, new FuseInitIn { Major = 7, Minor = 45, MaxReadahead = 1 << 17 });

    public const int InitRoom = FuseOutHeader.Size + FuseInitOut.Size;

    public static byte[] GetAttr(ulong unique, ulong nodeId) => Request(FuseOpcode.GetAttr, unique, nodeId, new FuseGetattrIn());

    public const int GetAttrRoom = FuseOutHeader.Size + FuseAttrOut.Size;

    public static byte[] Lookup(ulong unique, string name)
    {
        byte[] bytes = [.. System.Text.Encoding.UTF8.GetBytes(name), 0];
        var request = new byte[FuseInHeader.Size + bytes.Length];
        var header = new FuseInHeader { Len = (uint)request.Length, Opcode = (uint)FuseOpcode.Lookup, Unique = unique, Nodeid = 1, Uid = 1, Gid = 2, Pid = 3 };
        MemoryMarshal.Write(request, in header);
        bytes.CopyTo(request.AsSpan(FuseInHeader.Size));
        return request;
    }

    public static byte[] Forget(ulong unique, ulong nodeId, ulong count) => Request(FuseOpcode.Forget, unique, nodeId, new FuseForgetIn { Nlookup = count });

    public static FuseOutHeader Header(byte[] reply) => MemoryMarshal.Read<FuseOutHeader>(reply);

    /// <summary>Asserts a successful reply to <paramref name="unique"/> of exactly <paramref name="length"/> bytes.</summary>
    public static void AssertOk(byte[] reply, ulong unique, int length)
    {
        Assert.Equal(length, reply.Length);
        FuseOutHeader header = Header(reply);
        Assert.Equal(0, header.Error);
        Assert.Equal(unique, header.Unique);
        Assert.Equal((uint)length, header.Len);
    }

    /// <summary>INIT on a queue, asserting the reply.</summary>
    public static void InitOn(TestVmm vmm, int queue, ulong unique)
    {
        byte[] reply = vmm.Roundtrip(queue, Init(unique), InitRoom);
        AssertOk(reply, unique, InitRoom);
        FuseInitOut init = MemoryMarshal.Read<FuseInitOut>(reply.AsSpan(FuseOutHeader.Size));
        Assert.Equal(7u, init.Major);
    }

    /// <summary>GETATTR on a queue, asserting the attributes the test filesystem gives.</summary>
    public static void GetAttrOn(TestVmm vmm, int queue, ulong unique, ulong nodeId)
    {
        byte[] reply = vmm.Roundtrip(queue, GetAttr(unique, nodeId), GetAttrRoom);
        AssertOk(reply, unique, GetAttrRoom);
        FuseAttrOut attr = MemoryMarshal.Read<FuseAttrOut>(reply.AsSpan(FuseOutHeader.Size));
        Assert.Equal(nodeId, attr.Attr.Ino);
        Assert.Equal(4242ul, attr.Attr.Size);
    }
}
