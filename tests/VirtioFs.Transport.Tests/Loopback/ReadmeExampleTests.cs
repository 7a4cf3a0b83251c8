using VirtioFs.Protocol;
using VirtioFs.Transport;

namespace VirtioFs.Transport.Tests.Loopback;

/// <summary>The filesystem of README.md's example, kept here so the example stays true.</summary>
public sealed class ReadmeExampleTests
{
    private sealed class HelloFs : FuseFileSystem
    {
        private static readonly byte[] Content = "hello, world\n"u8.ToArray();

        public override ValueTask<FuseResult<FuseEntryOut>> LookupAsync(FuseRequestContext context, ReadOnlyMemory<byte> name)
            => new(context.NodeId == FuseConstants.RootId && name.Span.SequenceEqual("hello"u8)
                ? new FuseEntryOut { Nodeid = 2, EntryValid = 1, AttrValid = 1, Attr = Attributes() }
                : Errno.ENOENT);

        public override ValueTask<FuseResult<int>> ReadAsync(FuseRequestContext context, FuseReadIn args, Memory<byte> buffer)
        {
            if (args.Offset >= (ulong)Content.Length)
            {
                return new(0);
            }

            int n = Math.Min(buffer.Length, Content.Length - (int)args.Offset);
            Content.AsSpan((int)args.Offset, n).CopyTo(buffer.Span);
            return new(n);
        }

        private static FuseAttr Attributes() => new() { Ino = 2, Mode = FuseFileMode.RegularFile | 0x1A4, Nlink = 1, Size = (ulong)Content.Length };
    }

    [Fact]
    public async Task HelloFsServesItsFile()
    {
        await using var host = await FuseLoopbackHost.StartAsync(new HelloFs());
        FuseResult<FuseEntryOut> entry = await host.Client.LookupAsync(FuseConstants.RootId, "hello");
        byte[] data = new byte[64];
        FuseResult<int> read = await host.Client.ReadAsync(entry.Value.Nodeid, fh: 0, offset: 0, data);

        Assert.Equal(13UL, entry.Value.Attr.Size);
        Assert.Equal("hello, world\n", System.Text.Encoding.UTF8.GetString(data, 0, read.Value));
        Assert.Equal(0, (await host.Client.ReadAsync(2, 0, 13, data)).Value);
        Assert.Equal(Errno.ENOENT, (await host.Client.LookupAsync(FuseConstants.RootId, "other")).Error);
    }
}
