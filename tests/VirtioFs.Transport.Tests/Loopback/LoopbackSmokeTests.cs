using VirtioFs.Protocol;
using VirtioFs.Transport;

namespace VirtioFs.Transport.Tests.Loopback;

public sealed class LoopbackSmokeTests
{
    private sealed class OneFileFs : FuseFileSystem
    {
        public override ValueTask<FuseResult<FuseEntryOut>> LookupAsync(FuseRequestContext context, ReadOnlyMemory<byte> name)
            => new(name.Span.SequenceEqual("a"u8) && context.NodeId == FuseConstants.RootId
                ? new FuseEntryOut { Nodeid = 2, Attr = new FuseAttr { Ino = 2, Mode = FuseFileMode.RegularFile | 0x1A4, Size = 5, Nlink = 1 } }
                : Errno.ENOENT);

        public override ValueTask<FuseResult<int>> ReadAsync(FuseRequestContext context, FuseReadIn args, Memory<byte> buffer)
        {
            "hello"u8.CopyTo(buffer.Span);
            return new(5);
        }
    }

    [Fact]
    public async Task LookupAndReadRoundTrip()
    {
        await using FuseLoopbackHost host = await FuseLoopbackHost.StartAsync(new OneFileFs(), new FuseSessionOptions { WorkersPerChannel = 2 });
        Assert.Equal(45u, host.Init.Minor);
        FuseResult<FuseEntryOut> entry = await host.Client.LookupAsync(FuseConstants.RootId, "a");
        Assert.True(entry.IsSuccess);
        Assert.Equal(2ul, entry.Value.Nodeid);
        Assert.Equal(Errno.ENOENT, (await host.Client.LookupAsync(FuseConstants.RootId, "b")).Error);
        byte[] data = new byte[16];
        FuseResult<int> read = await host.Client.ReadAsync(2, 0, 0, data);
        Assert.Equal(5, read.Value);
        Assert.Equal("hello"u8.ToArray(), data[..5]);
        Assert.Equal(Errno.ENOSYS, (await host.Client.GetAttrAsync(2)).Error);
    }
}
