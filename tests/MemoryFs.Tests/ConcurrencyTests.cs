namespace MemoryFs.Tests;

/// <summary>Many requests at once over one session (4 workers).</summary>
public sealed class ConcurrencyTests
{
    private static byte[] Pattern(int file, int length) => Enumerable.Range(0, length).Select(i => (byte)((i * 31) + (file * 17) + (i >> 8))).ToArray();

    [Fact]
    public async Task EightWritersAndReadersKeepTheirDataApart()
    {
        await using MemoryFsFixture f = await StartAsync(workers: 4);
        ulong dir = (await f.MkDirAsync(Root, "work")).Nodeid;
        const int Files = 8;
        const int Piece = 16 * 1024;
        const int Pieces = 24; // 384 KiB per file, across six 64 KiB chunks

        async Task<ulong> RunAsync(int index)
        {
            await Task.Yield();
            (ulong node, ulong fh, _) = await f.CreateAsync(dir, $"file{index}");
            byte[] expected = Pattern(index, Piece * Pieces);

            // Pieces written out of order, interleaved with reads of what is already there.
            foreach (int piece in Enumerable.Range(0, Pieces).OrderBy(p => (p * 7 + index) % Pieces))
            {
                ReadOnlyMemory<byte> slice = expected.AsMemory(piece * Piece, Piece);
                Assert.Equal(Piece, await f.Client.WriteAsync(node, fh, (ulong)(piece * Piece), slice).Ok());
                byte[] echo = await f.ReadAsync(node, fh, (ulong)(piece * Piece), Piece);
                Assert.Equal(slice.ToArray(), echo);
            }

            Assert.Equal((ulong)expected.Length, (await f.Client.GetAttrAsync(node, fh).Ok()).Attr.Size);
            await f.Client.ReleaseAsync(node, fh).Ok();
            return node;
        }

        ulong[] nodes = await Task.WhenAll(Enumerable.Range(0, Files).Select(RunAsync)).WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(Files, nodes.Distinct().Count());
        Assert.Equal(0, f.Fs.HandleCount);

        // Read everything back concurrently and check every byte.
        await Task.WhenAll(Enumerable.Range(0, Files).Select(async index =>
        {
            await Task.Yield();
            byte[] data = await f.ReadAllAsync(nodes[index]);
            Assert.Equal(Pattern(index, Piece * Pieces), data);
        })).WaitAsync(TimeSpan.FromSeconds(60));

        List<string> names = (await f.ListAsync(dir)).Select(e => e.Name).ToList();
        Assert.Equal(Files + 2, names.Count);
        Assert.All(Enumerable.Range(0, Files), i => Assert.Contains($"file{i}", names));
    }

    [Fact]
    public async Task ConcurrentCreatesAndLookupsInOneDirectory()
    {
        await using MemoryFsFixture f = await StartAsync(workers: 4);
        ulong dir = (await f.MkDirAsync(Root, "shared")).Nodeid;

        await Task.WhenAll(Enumerable.Range(0, 8).Select(async worker =>
        {
            await Task.Yield();
            for (int i = 0; i < 50; i++)
            {
                string name = $"w{worker}-{i}";
                FuseEntryOut entry = await f.Client.MkNodAsync(dir, name, Linux.S_IFREG | 0x1A4).Ok();
                Assert.Equal(entry.Nodeid, (await f.Client.LookupAsync(dir, name).Ok()).Nodeid);
                if (i % 5 == 0)
                {
                    await f.Client.UnlinkAsync(dir, name).Ok();
                }
            }
        })).WaitAsync(TimeSpan.FromSeconds(60));

        List<FuseDirectoryEntry> listing = await f.ListAsync(dir, 1024);
        Assert.Equal(8 * 40 + 2, listing.Count);
        Assert.Equal(listing.Count, listing.Select(e => e.Name).Distinct().Count());
    }
}
