using System.Buffers.Binary;
using System.Runtime.InteropServices;
using VirtioFs.Protocol;
using VirtioFs.Samples.Passthrough;
using VirtioFs.Transport;

namespace VirtioFs.Passthrough.Tests;

/// <summary>Requests no kernel sends, over the loopback (no mount): the server answers them and keeps serving.</summary>
public sealed class HostileRequestTests : IDisposable
{
    private readonly string _source = Path.Combine("/tmp", "ptfs-hostile-" + Guid.NewGuid().ToString("N")[..12]);

    public HostileRequestTests() => Directory.CreateDirectory(_source);

    [KernelFact] // root: the caller's credentials are switched only by a root server
    public async Task A_request_with_a_hundred_thousand_supplementary_groups_is_answered()
    {
        using PassthroughFileSystem fs = InProcess.Create(_source);
        await using FuseLoopbackHost host = await FuseLoopbackHost.StartAsync(fs, new FuseSessionOptions { Capabilities = PassthroughFileSystem.Capabilities(fs.Options) });

        byte[]? reply = await host.Client.SendRawAsync(MkdirWithGroups("d", uid: 1000, gid: 1000, groupCount: 100_000));

        // Answered (the root directory is not writable by uid 1000 unless a group helps; the errno does not matter),
        // and the server still serves.
        Assert.NotNull(reply);
        Assert.True(reply.Length >= 16);
        Assert.True((await host.Client.LookupAsync(FuseConstants.RootId, "missing")).Error == Errno.ENOENT);
    }

    public void Dispose() => Directory.Delete(_source, recursive: true);

    /// <summary>MKDIR of <paramref name="name"/> in the root, by a caller, with a supplementary-groups extension.</summary>
    private static byte[] MkdirWithGroups(string name, uint uid, uint gid, int groupCount)
    {
        int args = FuseMkdirIn.Size + name.Length + 1;
        int padded = (args + 7) & ~7;
        int extension = 8 + 4 + (4 * groupCount);
        int extensionPadded = (extension + 7) & ~7;
        var message = new byte[FuseInHeader.Size + padded + extensionPadded];
        var header = new FuseInHeader
        {
            Len = (uint)message.Length,
            Opcode = (uint)FuseOpcode.MkDir,
            Unique = 0x7000,
            Nodeid = FuseConstants.RootId,
            Uid = uid,
            Gid = gid,
            Pid = (uint)Environment.ProcessId,
            TotalExtlen = (ushort)(extensionPadded / 8),
        };
        MemoryMarshal.Write(message, in header);
        Span<byte> body = message.AsSpan(FuseInHeader.Size);
        var mkdir = new FuseMkdirIn { Mode = 0x1ED };
        MemoryMarshal.Write(body, in mkdir);
        System.Text.Encoding.ASCII.GetBytes(name, body.Slice(FuseMkdirIn.Size));
        Span<byte> ext = body.Slice(padded);
        BinaryPrimitives.WriteUInt32LittleEndian(ext, (uint)extensionPadded);
        BinaryPrimitives.WriteUInt32LittleEndian(ext.Slice(4), (uint)FuseExtensionType.Groups);
        BinaryPrimitives.WriteUInt32LittleEndian(ext.Slice(8), (uint)groupCount);
        for (int i = 0; i < groupCount; i++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(ext.Slice(12 + (4 * i)), (uint)(2000 + i));
        }

        return message;
    }
}
