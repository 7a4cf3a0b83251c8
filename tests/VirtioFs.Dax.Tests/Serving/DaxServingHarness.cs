using System.Buffers.Binary;
using System.Runtime.InteropServices;
using VirtioFs.Protocol;
using VirtioFs.Transport;

namespace VirtioFs.Dax.Tests.Serving;

/// <summary>A <see cref="DaxMappingServer"/> over a recording window, served through a loopback session.</summary>
internal sealed class DaxServingHarness : IAsyncDisposable
{
    public const long MiB = 1024 * 1024;
    public const long WindowSize = 8 * MiB;
    public const int Page = 4096;

    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(10);
    private ulong _unique = 0x10_0000;

    private DaxServingHarness(DaxMappingServer server, RecordingWindow window, TestFileProvider files, FuseLoopbackHost host)
    {
        Server = server;
        Window = window;
        Files = files;
        Host = host;
    }

    public DaxMappingServer Server { get; }

    public RecordingWindow Window { get; }

    public TestFileProvider Files { get; }

    public FuseLoopbackHost Host { get; }

    public static async Task<DaxServingHarness> StartAsync(bool readOnlyExport = false)
    {
        var window = new RecordingWindow(new DaxWindowGeometry(WindowSize, mapAlignment: 12));
        var files = new TestFileProvider();
        var server = new DaxMappingServer(window, files, readOnlyExport);
        FuseLoopbackHost host = await FuseLoopbackHost.StartAsync(new EmptyFs(), new FuseSessionOptions { WorkersPerChannel = 2, MappingServer = server }).WaitAsync(Limit);
        return new DaxServingHarness(server, window, files, host);
    }

    public static FuseSetupmappingIn Args(ulong foffset, ulong len, ulong moffset, FuseSetupMappingFlags flags = FuseSetupMappingFlags.Read, ulong fh = FuseConstants.SetupMappingFhNone)
        => new() { Fh = fh, Foffset = foffset, Len = len, Flags = (ulong)flags, Moffset = moffset };

    public Task<Errno> SetupAsync(ulong nodeId, FuseSetupmappingIn args) => Host.Client.SetupMappingAsync(nodeId, args).AsTask().WaitAsync(Limit);

    public Task<Errno> RemoveAsync(ulong nodeId, params (ulong Moffset, ulong Len)[] ranges)
        => Host.Client.RemoveMappingAsync(nodeId, ranges.Select(r => new FuseRemovemappingOne { Moffset = r.Moffset, Len = r.Len }).ToArray()).AsTask().WaitAsync(Limit);

    /// <summary>Sends a hand-made request and returns the reply's error field.</summary>
    public async Task<int> SendRawAsync(FuseOpcode opcode, ulong nodeId, byte[] body)
    {
        ulong unique = Interlocked.Add(ref _unique, 2);
        byte[] message = new byte[FuseInHeader.Size + body.Length];
        var header = new FuseInHeader { Len = (uint)message.Length, Opcode = (uint)opcode, Unique = unique, Nodeid = nodeId, Uid = 1000, Gid = 1000, Pid = 42 };
        MemoryMarshal.Write(message, in header);
        body.CopyTo(message, FuseInHeader.Size);
        byte[]? reply = await Host.Client.SendRawAsync(message).WaitAsync(Limit);
        Assert.NotNull(reply);
        Assert.Equal(FuseOutHeader.Size, reply.Length);
        Assert.Equal(unique, BinaryPrimitives.ReadUInt64LittleEndian(reply.AsSpan(8)));
        return BinaryPrimitives.ReadInt32LittleEndian(reply.AsSpan(4));
    }

    public static byte[] Bytes<T>(T value)
        where T : unmanaged
        => MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in value)).ToArray();

    /// <summary>A REMOVEMAPPING body: the count, then the entries at offset 4 (unaligned).</summary>
    public static byte[] RemoveBody(uint count, params (ulong Moffset, ulong Len)[] entries)
    {
        byte[] body = new byte[FuseRemovemappingIn.Size + (entries.Length * FuseRemovemappingOne.Size)];
        BinaryPrimitives.WriteUInt32LittleEndian(body, count);
        for (int i = 0; i < entries.Length; i++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(body.AsSpan(4 + (16 * i)), entries[i].Moffset);
            BinaryPrimitives.WriteUInt64LittleEndian(body.AsSpan(12 + (16 * i)), entries[i].Len);
        }

        return body;
    }

    public ValueTask DisposeAsync() => Host.DisposeAsync();
}
