namespace MemoryFs.Tests;

/// <summary>Sparse files: WRITE past 4 GiB, FALLOCATE (allocate, punch), LSEEK SEEK_DATA/SEEK_HOLE.</summary>
public sealed class SparseAndSeekTests
{
    private const ulong Chunk = 64 * 1024;

    [Fact]
    public async Task WritePastFourGibCreatesASparseFile()
    {
        await using MemoryFsFixture f = await StartAsync();
        (ulong node, ulong fh, _) = await f.CreateAsync(Root, "sparse");
        await f.Client.WriteAsync(node, fh, 0, Bytes("head")).Ok();
        ulong far = (5UL << 30) + 12345;

        Assert.Equal(4, await f.Client.WriteAsync(node, fh, far, Bytes("tail")).Ok());

        FuseAttr attr = await f.GetAttrAsync(node);
        Assert.Equal(far + 4, attr.Size);
        Assert.Equal(2 * Chunk / 512, attr.Blocks); // one chunk at each end
        Assert.Equal(Bytes("head"), await f.ReadAsync(node, fh, 0, 4));
        Assert.Equal(new byte[4096], await f.ReadAsync(node, fh, 4UL << 30, 4096)); // the hole reads as zeros
        Assert.Equal([0, 0, 0, 0, 0, 0, 0, 0, .. Bytes("tail")], await f.ReadAsync(node, fh, far - 8, 100));
        Assert.Empty(await f.ReadAsync(node, fh, far + 4, 100));
        await f.Client.ReleaseAsync(node, fh).Ok();
    }

    [Fact]
    public async Task FallocateModeZeroExtendsTheSize()
    {
        await using MemoryFsFixture f = await StartAsync();
        (ulong node, ulong fh, _) = await f.CreateAsync(Root, "f");
        await f.Client.WriteAsync(node, fh, 0, Bytes("abc")).Ok();

        await f.Client.FallocateAsync(node, fh, 0, 1UL << 20).Ok();

        FuseAttr attr = await f.GetAttrAsync(node);
        Assert.Equal(1UL << 20, attr.Size);
        Assert.Equal((1UL << 20) / 512, attr.Blocks);
        byte[] all = await f.ReadAsync(node, fh, 0, 1 << 20);
        Assert.Equal(1 << 20, all.Length);
        Assert.Equal(Bytes("abc"), all[..3]);
        Assert.All(all[3..], b => Assert.Equal(0, b));

        // KEEP_SIZE allocates without changing the size.
        await f.Client.FallocateAsync(node, fh, 1UL << 20, 1UL << 20, Linux.FALLOC_FL_KEEP_SIZE).Ok();
        FuseAttr kept = await f.GetAttrAsync(node);
        Assert.Equal(1UL << 20, kept.Size);
        Assert.Equal((2UL << 20) / 512, kept.Blocks);

        // A read-only handle cannot allocate.
        ulong ro = await f.OpenAsync(node, Linux.O_RDONLY);
        Assert.Equal(Errno.EBADF, await f.Client.FallocateAsync(node, ro, 0, 10).Bounded());
        await f.Client.ReleaseAsync(node, ro).Ok();
        await f.Client.ReleaseAsync(node, fh).Ok();
    }

    [Fact]
    public async Task PunchHoleZeroesTheRangeAndSeekHoleFindsIt()
    {
        await using MemoryFsFixture f = await StartAsync();
        (ulong node, ulong fh, _) = await f.CreateAsync(Root, "f");
        byte[] data = Enumerable.Repeat((byte)0xAB, (int)(4 * Chunk)).ToArray();
        await f.Client.WriteAsync(node, fh, 0, data).Ok();
        Assert.Equal(4 * Chunk, await f.Client.LseekAsync(node, fh, 0, Linux.SEEK_HOLE).Ok()); // only the implicit hole at EOF

        await f.Client.FallocateAsync(node, fh, Chunk, 2 * Chunk, Linux.FALLOC_FL_KEEP_SIZE | Linux.FALLOC_FL_PUNCH_HOLE).Ok();

        FuseAttr attr = await f.GetAttrAsync(node);
        Assert.Equal(4 * Chunk, attr.Size);
        Assert.Equal(2 * Chunk / 512, attr.Blocks);
        byte[] back = await f.ReadAsync(node, fh, 0, (int)(4 * Chunk));
        Assert.All(back[..(int)Chunk], b => Assert.Equal(0xAB, b));
        Assert.All(back[(int)Chunk..(int)(3 * Chunk)], b => Assert.Equal(0, b));
        Assert.All(back[(int)(3 * Chunk)..], b => Assert.Equal(0xAB, b));

        Assert.Equal(Chunk, await f.Client.LseekAsync(node, fh, 0, Linux.SEEK_HOLE).Ok());
        Assert.Equal(3 * Chunk, await f.Client.LseekAsync(node, fh, Chunk, Linux.SEEK_DATA).Ok());
        Assert.Equal(Chunk + 10, await f.Client.LseekAsync(node, fh, Chunk + 10, Linux.SEEK_HOLE).Ok());

        // An unaligned punch zeroes the bytes even where it cannot free a whole chunk.
        await f.Client.FallocateAsync(node, fh, 100, 50, Linux.FALLOC_FL_KEEP_SIZE | Linux.FALLOC_FL_PUNCH_HOLE).Ok();
        byte[] edge = await f.ReadAsync(node, fh, 98, 54);
        Assert.Equal([0xAB, 0xAB, .. new byte[50], 0xAB, 0xAB], edge);

        // PUNCH_HOLE without KEEP_SIZE is not a valid mode.
        Assert.Equal(Errno.EOPNOTSUPP, await f.Client.FallocateAsync(node, fh, 0, 10, Linux.FALLOC_FL_PUNCH_HOLE).Bounded());
        await f.Client.ReleaseAsync(node, fh).Ok();
    }

    [Fact]
    public async Task LseekDataAndHoleOnASparseFile()
    {
        await using MemoryFsFixture f = await StartAsync();
        (ulong node, ulong fh, _) = await f.CreateAsync(Root, "f");
        await f.Client.WriteAsync(node, fh, 0, Bytes("A")).Ok();
        await f.Client.WriteAsync(node, fh, 1UL << 20, Bytes("B")).Ok();
        ulong size = (1UL << 20) + 1;

        Assert.Equal(0UL, await f.Client.LseekAsync(node, fh, 0, Linux.SEEK_DATA).Ok());
        Assert.Equal(Chunk, await f.Client.LseekAsync(node, fh, 0, Linux.SEEK_HOLE).Ok());
        Assert.Equal(1UL << 20, await f.Client.LseekAsync(node, fh, Chunk, Linux.SEEK_DATA).Ok());
        Assert.Equal(5000UL, await f.Client.LseekAsync(node, fh, 5000, Linux.SEEK_DATA).Ok()); // inside the allocated first chunk
        Assert.Equal(1UL << 20, await f.Client.LseekAsync(node, fh, Chunk + 5000, Linux.SEEK_DATA).Ok());
        Assert.Equal(200_000UL, await f.Client.LseekAsync(node, fh, 200_000, Linux.SEEK_HOLE).Ok());
        Assert.Equal(size, await f.Client.LseekAsync(node, fh, 1UL << 20, Linux.SEEK_HOLE).Ok()); // the implicit hole at EOF
        Assert.Equal(1UL << 20, await f.Client.LseekAsync(node, fh, 1UL << 20, Linux.SEEK_DATA).Ok());

        // At or past EOF: ENXIO for both.
        Assert.Equal(Errno.ENXIO, await f.Client.LseekAsync(node, fh, size, Linux.SEEK_DATA).Err());
        Assert.Equal(Errno.ENXIO, await f.Client.LseekAsync(node, fh, size, Linux.SEEK_HOLE).Err());
        Assert.Equal(Errno.ENXIO, await f.Client.LseekAsync(node, fh, size + 1_000_000, Linux.SEEK_DATA).Err());

        // Only a hole after the offset: no data.
        await f.Client.SetAttrAsync(node, new FuseSetattrIn { Valid = (uint)FuseSetAttrValid.Size, Size = 4UL << 20 }).Ok();
        Assert.Equal(Errno.ENXIO, await f.Client.LseekAsync(node, fh, (1UL << 20) + Chunk, Linux.SEEK_DATA).Err());
        Assert.Equal((1UL << 20) + Chunk, await f.Client.LseekAsync(node, fh, (1UL << 20) + 1, Linux.SEEK_HOLE).Ok());
        await f.Client.ReleaseAsync(node, fh).Ok();
    }

    [Fact]
    public async Task LseekOnAnEmptyFileIsEnxio()
    {
        await using MemoryFsFixture f = await StartAsync();
        (ulong node, ulong fh, _) = await f.CreateAsync(Root, "empty");
        Assert.Equal(Errno.ENXIO, await f.Client.LseekAsync(node, fh, 0, Linux.SEEK_DATA).Err());
        Assert.Equal(Errno.ENXIO, await f.Client.LseekAsync(node, fh, 0, Linux.SEEK_HOLE).Err());
        await f.Client.ReleaseAsync(node, fh).Ok();
    }

    /// <summary>
    /// BUG (src/VirtioFs.Protocol/Session/FuseSession.Dispatch.cs, case FuseOpcode.CopyFileRange): the 32-bit opcode passes
    /// the full 64-bit length to the filesystem, which copies all of it, then reports min(copied, uint.MaxValue). The reply
    /// then claims 4294967295 bytes while 5 GiB + 4 were written; the kernel trusts the count (and sizes its cache by it).
    /// The length should be capped before the call (the kernel itself caps it to UINT_MAX &amp; PAGE_MASK on new kernels).
    /// </summary>
    [Fact]
    public async Task CopyFileRange32ReportsExactlyTheBytesItCopiedPastFourGib()
    {
        await using MemoryFsFixture f = await StartAsync();
        (ulong src, ulong srcFh, _) = await f.CreateAsync(Root, "src");
        await f.Client.WriteAsync(src, srcFh, 5UL << 30, Bytes("tail")).Ok();
        (ulong dst, ulong dstFh, _) = await f.CreateAsync(Root, "dst");

        ulong copied = await f.Client.CopyFileRangeAsync(src, new FuseCopyFileRangeIn
        {
            FhIn = srcFh,
            NodeidOut = dst,
            FhOut = dstFh,
            Len = (5UL << 30) + 4,
        }).Ok();

        Assert.True(copied <= uint.MaxValue);
        Assert.Equal((await f.GetAttrAsync(dst)).Size, copied); // bytes reported == bytes written (dst was empty, offset 0)
        await f.Client.ReleaseAsync(src, srcFh).Ok();
        await f.Client.ReleaseAsync(dst, dstFh).Ok();
    }

    /// <summary>
    /// BUG (samples/MemoryFs/MemoryFileSystem.Files.cs, Write: FitsInFile check): a write that starts below the largest file
    /// size (2^63 - 64 KiB) but would end past it fails whole with EFBIG. POSIX write(2): "only as many bytes as there is room
    /// for shall be written" (EFBIG only when no byte fits), as Linux's generic_write_check_limits does. The kernel's FUSE
    /// limit (s_maxbytes = LLONG_MAX) is larger, so it forwards such writes unchanged.
    /// </summary>
    [Fact]
    public async Task AWriteStraddlingTheMaximumFileSizeIsShortNotEfbig()
    {
        await using MemoryFsFixture f = await StartAsync();
        (ulong node, ulong fh, _) = await f.CreateAsync(Root, "f");
        const ulong MaxLength = (ulong)(long.MaxValue / 65536 * 65536);

        FuseResult<int> result = await f.Client.WriteAsync(node, fh, MaxLength - 5, new byte[10]).Bounded();
        Assert.Equal(Errno.EFBIG, await f.Client.WriteAsync(node, fh, MaxLength, new byte[10]).Err()); // no room at all: EFBIG is right

        Assert.True(result.IsSuccess, $"write across the size limit failed with {result.Error}");
        Assert.Equal(5, result.Value);
        Assert.Equal(MaxLength, (await f.GetAttrAsync(node)).Size);
        await f.Client.ReleaseAsync(node, fh).Ok();
    }
}
