namespace MemoryFs.Tests;

/// <summary>File handles and contents: CREATE, OPEN, READ, WRITE, RELEASE, FSYNC, FLUSH, TMPFILE, COPY_FILE_RANGE(_64), STATFS.</summary>
public sealed class FileTests
{
    [Fact]
    public async Task CreateReturnsEntryAndHandleAndAppliesTheUmask()
    {
        await using MemoryFsFixture f = await StartAsync();
        f.Client.Caller = new FuseCaller(1000, 100, 5);
        int handles = f.Fs.HandleCount;

        FuseCreateOut created = await f.Client.CreateAsync(Root, "new", Linux.O_RDWR | Linux.O_CREAT, Linux.S_IFREG | 0x1B6, umask: 0x12).Ok();

        Assert.NotEqual(0UL, created.Entry.Nodeid);
        Assert.Equal(Linux.S_IFREG | 0x1A4, created.Entry.Attr.Mode);
        Assert.Equal(0UL, created.Entry.Attr.Size);
        Assert.Equal(1U, created.Entry.Attr.Nlink);
        Assert.Equal(1000U, created.Entry.Attr.Uid);
        Assert.Equal(100U, created.Entry.Attr.Gid);
        Assert.Equal(handles + 1, f.Fs.HandleCount);
        Assert.Equal(1UL, f.Fs.GetLookupCount(created.Entry.Nodeid));
        await f.Client.ReleaseAsync(created.Entry.Nodeid, created.Open.Fh).Ok();
    }

    [Fact]
    public async Task CreateWithOExclOnAnExistingNameIsEexist()
    {
        await using MemoryFsFixture f = await StartAsync();
        ulong node = await f.CreateFileAsync(Root, "f", Bytes("keep"));

        Assert.Equal(Errno.EEXIST, await f.Client.CreateAsync(Root, "f", Linux.O_RDWR | Linux.O_CREAT | Linux.O_EXCL, Linux.S_IFREG | 0x1A4).Err());
        Assert.Equal(Bytes("keep"), await f.ReadAllAsync(node));

        // Without O_EXCL the existing file is opened (and counted as a lookup).
        FuseCreateOut reopened = await f.Client.CreateAsync(Root, "f", Linux.O_RDWR | Linux.O_CREAT, Linux.S_IFREG | 0x1A4).Ok();
        Assert.Equal(node, reopened.Entry.Nodeid);
        Assert.Equal(4UL, reopened.Entry.Attr.Size);
        Assert.Equal(2UL, f.Fs.GetLookupCount(node));
        await f.Client.ReleaseAsync(node, reopened.Open.Fh).Ok();

        await f.MkDirAsync(Root, "d");
        Assert.Equal(Errno.EISDIR, await f.Client.CreateAsync(Root, "d", Linux.O_RDWR | Linux.O_CREAT, Linux.S_IFREG | 0x1A4).Err());
    }

    [Fact]
    public async Task OpenWithOTruncEmptiesTheFile()
    {
        await using MemoryFsFixture f = await StartAsync();
        ulong node = await f.CreateFileAsync(Root, "f", new byte[200_000]);
        Assert.Equal(200_000UL, (await f.GetAttrAsync(node)).Size);
        f.Clock.Advance(TimeSpan.FromSeconds(2));

        ulong fh = await f.OpenAsync(node, Linux.O_WRONLY | Linux.O_TRUNC);

        FuseAttr attr = await f.GetAttrAsync(node);
        Assert.Equal(0UL, attr.Size);
        Assert.Equal(0UL, attr.Blocks);
        Assert.Equal(f.Clock.Wire().Seconds, attr.Mtime);
        Assert.Equal(f.Clock.Wire().Seconds, attr.Ctime);
        Assert.Equal(2, await f.Client.WriteAsync(node, fh, 0, Bytes("ok")).Ok());
        await f.Client.ReleaseAsync(node, fh).Ok();
        Assert.Equal(Bytes("ok"), await f.ReadAllAsync(node));

        // Without O_TRUNC the contents stay.
        ulong keep = await f.OpenAsync(node, Linux.O_RDWR);
        Assert.Equal(2UL, (await f.GetAttrAsync(node)).Size);
        await f.Client.ReleaseAsync(node, keep).Ok();

        ulong dir = (await f.MkDirAsync(Root, "d")).Nodeid;
        Assert.Equal(Errno.EISDIR, await f.Client.OpenAsync(dir, Linux.O_RDONLY).Err());
    }

    [Fact]
    public async Task ReadIsShortAtEndOfFileAndEmptyPastIt()
    {
        await using MemoryFsFixture f = await StartAsync();
        ulong node = await f.CreateFileAsync(Root, "f", Bytes("0123456789"));
        ulong fh = await f.OpenAsync(node, Linux.O_RDONLY);

        Assert.Equal(Bytes("0123"), await f.ReadAsync(node, fh, 0, 4));
        Assert.Equal(Bytes("56789"), await f.ReadAsync(node, fh, 5, 100));
        Assert.Empty(await f.ReadAsync(node, fh, 10, 100));
        Assert.Empty(await f.ReadAsync(node, fh, 1_000_000, 100));
        Assert.Equal(Errno.EBADF, await f.Client.WriteAsync(node, fh, 0, Bytes("x")).Err());
        await f.Client.ReleaseAsync(node, fh).Ok();

        ulong writeOnly = await f.OpenAsync(node, Linux.O_WRONLY);
        Assert.Equal(Errno.EBADF, await f.Client.ReadAsync(node, writeOnly, 0, new byte[4]).Err());
        await f.Client.ReleaseAsync(node, writeOnly).Ok();
    }

    [Fact]
    public async Task WriteOverwritesExtendsAndAppends()
    {
        await using MemoryFsFixture f = await StartAsync();
        (ulong node, ulong fh, _) = await f.CreateAsync(Root, "f");
        await f.Client.WriteAsync(node, fh, 0, Bytes("hello world")).Ok();
        await f.Client.WriteAsync(node, fh, 6, Bytes("WORLD!!")).Ok();
        Assert.Equal(Bytes("hello WORLD!!"), await f.ReadAsync(node, fh, 0, 100));

        // Data across a 64 KiB chunk boundary.
        byte[] big = Enumerable.Range(0, 150_000).Select(i => (byte)(i * 7)).ToArray();
        Assert.Equal(big.Length, await f.Client.WriteAsync(node, fh, 1000, big).Ok());
        byte[] back = await f.ReadAsync(node, fh, 1000, big.Length);
        Assert.Equal(big, back);
        await f.Client.ReleaseAsync(node, fh).Ok();

        ulong append = await f.OpenAsync(node, Linux.O_WRONLY | Linux.O_APPEND);
        await f.Client.WriteAsync(node, append, 0, Bytes("END")).Ok(); // offset ignored with O_APPEND
        await f.Client.ReleaseAsync(node, append).Ok();
        FuseAttr attr = await f.GetAttrAsync(node);
        Assert.Equal(151_003UL, attr.Size);
        ulong reader = await f.OpenAsync(node, Linux.O_RDONLY);
        Assert.Equal(Bytes("END"), await f.ReadAsync(node, reader, 151_000, 10));
        await f.Client.ReleaseAsync(node, reader).Ok();
    }

    [Fact]
    public async Task WriteUpdatesMtimeAndCtimeButReadDoesNotTouchTimes()
    {
        await using MemoryFsFixture f = await StartAsync();
        (ulong node, ulong fh, FuseEntryOut entry) = await f.CreateAsync(Root, "f");
        f.Clock.Advance(TimeSpan.FromSeconds(100.5));

        await f.Client.WriteAsync(node, fh, 0, Bytes("x")).Ok();

        (ulong now, uint nowNs) = f.Clock.Wire();
        FuseAttr written = await f.GetAttrAsync(node);
        Assert.Equal(now, written.Mtime);
        Assert.Equal(nowNs, written.Mtimensec);
        Assert.Equal(now, written.Ctime);
        Assert.Equal(nowNs, written.Ctimensec);
        Assert.Equal(entry.Attr.Atime, written.Atime);
        Assert.Equal(entry.Attr.Atimensec, written.Atimensec);

        f.Clock.Advance(TimeSpan.FromSeconds(1));
        await f.ReadAsync(node, fh, 0, 1);
        FuseAttr read = await f.GetAttrAsync(node);
        Assert.Equal(written.Atime, read.Atime);
        Assert.Equal(written.Mtime, read.Mtime);
        Assert.Equal(written.Ctime, read.Ctime);
        await f.Client.ReleaseAsync(node, fh).Ok();
    }

    [Fact]
    public async Task ReleaseDropsTheHandleAndAStaleHandleIsEbadf()
    {
        await using MemoryFsFixture f = await StartAsync();
        int handles = f.Fs.HandleCount;
        (ulong node, ulong fh, _) = await f.CreateAsync(Root, "f");
        ulong second = await f.OpenAsync(node, Linux.O_RDONLY);
        Assert.Equal(handles + 2, f.Fs.HandleCount);

        await f.Client.ReleaseAsync(node, fh).Ok();
        Assert.Equal(handles + 1, f.Fs.HandleCount);
        await f.Client.ReleaseAsync(node, second).Ok();
        Assert.Equal(handles, f.Fs.HandleCount);

        Assert.Equal(Errno.EBADF, await f.Client.ReleaseAsync(node, fh).Bounded());
        Assert.Equal(Errno.EBADF, await f.Client.ReadAsync(node, fh, 0, new byte[1]).Err());
    }

    [Fact]
    public async Task AnUnlinkedOpenFileStaysReadableUntilReleased()
    {
        await using MemoryFsFixture f = await StartAsync();
        (ulong node, ulong fh, _) = await f.CreateAsync(Root, "f");
        await f.Client.WriteAsync(node, fh, 0, Bytes("still here")).Ok();
        await f.Client.ForgetAsync(node, 1).Bounded();
        int nodes = f.Fs.NodeCount;

        await f.Client.UnlinkAsync(Root, "f").Ok();

        Assert.Equal(nodes, f.Fs.NodeCount);
        Assert.Equal(Bytes("still here"), await f.ReadAsync(node, fh, 0, 100));
        await f.Client.ReleaseAsync(node, fh).Ok();
        Assert.Equal(nodes - 1, f.Fs.NodeCount);
    }

    [Fact]
    public async Task FsyncSucceedsOnAnOpenFileAndKeepsTheData()
    {
        await using MemoryFsFixture f = await StartAsync();
        (ulong node, ulong fh, _) = await f.CreateAsync(Root, "f");
        await f.Client.WriteAsync(node, fh, 0, Bytes("synced")).Ok();

        await f.Client.FsyncAsync(node, fh).Ok();
        await f.Client.FsyncAsync(node, fh, dataOnly: true).Ok();

        Assert.Equal(Bytes("synced"), await f.ReadAsync(node, fh, 0, 100));
        await f.Client.ReleaseAsync(node, fh).Ok();
    }

    [Fact]
    public async Task FlushSucceedsAndAStaleHandleIsEbadf()
    {
        await using MemoryFsFixture f = await StartAsync();
        (ulong node, ulong fh, _) = await f.CreateAsync(Root, "f");
        await f.Client.WriteAsync(node, fh, 0, Bytes("abc")).Ok();

        await f.Client.FlushAsync(node, fh, lockOwner: 77).Ok();

        Assert.Equal(Bytes("abc"), await f.ReadAsync(node, fh, 0, 10));
        await f.Client.ReleaseAsync(node, fh).Ok();
        Assert.Equal(Errno.EBADF, await f.Client.FlushAsync(node, fh).Bounded());
    }

    [Fact]
    public async Task TmpFileHasNoNameUntilLinked()
    {
        await using MemoryFsFixture f = await StartAsync();
        ulong dir = (await f.MkDirAsync(Root, "d")).Nodeid;
        int nodes = f.Fs.NodeCount;

        FuseCreateOut tmp = await f.Client.TmpFileAsync(dir, Linux.O_RDWR, Linux.S_IFREG | 0x1B6, umask: 0x12).Ok();
        ulong node = tmp.Entry.Nodeid;
        Assert.Equal(0U, tmp.Entry.Attr.Nlink);
        Assert.Equal(Linux.S_IFREG | 0x1A4, tmp.Entry.Attr.Mode);
        Assert.Equal(nodes + 1, f.Fs.NodeCount);
        Assert.Equal([".", ".."], (await f.ListAsync(dir)).Select(e => e.Name));
        await f.Client.WriteAsync(node, tmp.Open.Fh, 0, Bytes("temporary")).Ok();

        FuseEntryOut linked = await f.Client.LinkAsync(node, dir, "named").Ok();

        Assert.Equal(node, linked.Nodeid);
        Assert.Equal(1U, linked.Attr.Nlink);
        Assert.Equal(9UL, linked.Attr.Size);
        Assert.Equal(node, (await f.Client.LookupAsync(dir, "named").Ok()).Nodeid);
        await f.Client.ReleaseAsync(node, tmp.Open.Fh).Ok();
        Assert.Equal(Bytes("temporary"), await f.ReadAllAsync(node));
    }

    [Fact]
    public async Task TmpFileWithOExclCannotBeLinkedAndIsFreedOnRelease()
    {
        await using MemoryFsFixture f = await StartAsync();
        int nodes = f.Fs.NodeCount;
        FuseCreateOut tmp = await f.Client.TmpFileAsync(Root, Linux.O_RDWR | Linux.O_EXCL, Linux.S_IFREG | 0x180).Ok();
        ulong node = tmp.Entry.Nodeid;

        Assert.Equal(Errno.ENOENT, await f.Client.LinkAsync(node, Root, "name").Err());

        await f.Client.ReleaseAsync(node, tmp.Open.Fh).Ok();
        await f.Client.ForgetAsync(node, 1).Bounded();
        Assert.Equal(nodes, f.Fs.NodeCount);
    }

    [Fact]
    public async Task CopyFileRangeCopiesData()
    {
        await using MemoryFsFixture f = await StartAsync();
        ulong src = await f.CreateFileAsync(Root, "src", Bytes("hello world"));
        (ulong dst, ulong dstFh, _) = await f.CreateAsync(Root, "dst");
        ulong srcFh = await f.OpenAsync(src, Linux.O_RDONLY);
        f.Clock.Advance(TimeSpan.FromSeconds(3));

        ulong copied = await f.Client.CopyFileRangeAsync(src, new FuseCopyFileRangeIn
        {
            FhIn = srcFh,
            OffIn = 6,
            NodeidOut = dst,
            FhOut = dstFh,
            OffOut = 2,
            Len = 5,
        }).Ok();

        Assert.Equal(5UL, copied);
        Assert.Equal([0, 0, .. Bytes("world")], await f.ReadAsync(dst, dstFh, 0, 100));
        FuseAttr attr = await f.GetAttrAsync(dst);
        Assert.Equal(7UL, attr.Size);
        Assert.Equal(f.Clock.Wire().Seconds, attr.Mtime);

        // A length past the source's end is clamped.
        ulong clamped = await f.Client.CopyFileRangeAsync(src, new FuseCopyFileRangeIn
        {
            FhIn = srcFh,
            OffIn = 0,
            NodeidOut = dst,
            FhOut = dstFh,
            OffOut = 0,
            Len = 1000,
        }).Ok();
        Assert.Equal(11UL, clamped);
        Assert.Equal(Bytes("hello world"), await f.ReadAsync(dst, dstFh, 0, 100));

        await f.Client.ReleaseAsync(src, srcFh).Ok();
        await f.Client.ReleaseAsync(dst, dstFh).Ok();
    }

    [Fact]
    public async Task CopyFileRange64CopiesLargeSparseRanges()
    {
        await using MemoryFsFixture f = await StartAsync();
        (ulong src, ulong srcFh, _) = await f.CreateAsync(Root, "src");
        byte[] head = Enumerable.Range(0, 100_000).Select(i => (byte)(i % 251)).ToArray();
        await f.Client.WriteAsync(src, srcFh, 0, head).Ok();
        await f.Client.WriteAsync(src, srcFh, 3UL << 20, Bytes("tail")).Ok();
        (ulong dst, ulong dstFh, _) = await f.CreateAsync(Root, "dst");

        ulong copied = await f.Client.CopyFileRange64Async(src, new FuseCopyFileRangeIn
        {
            FhIn = srcFh,
            NodeidOut = dst,
            FhOut = dstFh,
            OffOut = 4096,
            Len = 1UL << 40,
        }).Ok();

        ulong size = (3UL << 20) + 4;
        Assert.Equal(size, copied);
        FuseAttr attr = await f.GetAttrAsync(dst);
        Assert.Equal(size + 4096, attr.Size);
        Assert.Equal(new byte[4096], await f.ReadAsync(dst, dstFh, 0, 4096));
        Assert.Equal(head, await f.ReadAsync(dst, dstFh, 4096, head.Length));
        Assert.Equal(new byte[1000], await f.ReadAsync(dst, dstFh, 4096 + 200_000, 1000));
        Assert.Equal(Bytes("tail"), await f.ReadAsync(dst, dstFh, 4096 + (3UL << 20), 100));
        Assert.True(attr.Blocks < (3UL << 20) / 512, "holes were filled in");

        await f.Client.ReleaseAsync(src, srcFh).Ok();
        await f.Client.ReleaseAsync(dst, dstFh).Ok();
    }

    [Fact]
    public async Task StatFsNumbersAreConsistent()
    {
        await using MemoryFsFixture f = await StartAsync();
        FuseKstatfs before = await f.Client.StatFsAsync().Ok();
        Assert.Equal(4096U, before.Bsize);
        Assert.Equal(4096U, before.Frsize);
        Assert.Equal(255U, before.Namelen);
        Assert.True(before.Blocks > 0);
        Assert.True(before.Bfree <= before.Blocks);
        Assert.True(before.Bavail <= before.Bfree);
        Assert.True(before.Ffree <= before.Files);
        Assert.Equal((ulong)f.Fs.NodeCount, before.Files - before.Ffree);

        (ulong node, ulong fh, _) = await f.CreateAsync(Root, "f");
        await f.Client.WriteAsync(node, fh, 0, new byte[1 << 20]).Ok();
        FuseKstatfs after = await f.Client.StatFsAsync(node).Ok();
        Assert.Equal(before.Blocks, after.Blocks);
        Assert.Equal(before.Bfree - (1UL << 20) / 4096, after.Bfree);
        Assert.Equal(before.Ffree - 1, after.Ffree);
        Assert.Equal((ulong)f.Fs.NodeCount, after.Files - after.Ffree);

        // Freeing the file gives the space back.
        await f.Client.ReleaseAsync(node, fh).Ok();
        await f.Client.UnlinkAsync(Root, "f").Ok();
        await f.Client.ForgetAsync(node, 1).Bounded();
        FuseKstatfs freed = await f.Client.StatFsAsync().Ok();
        Assert.Equal(before.Bfree, freed.Bfree);
        Assert.Equal(before.Ffree, freed.Ffree);
    }

    [Fact]
    public async Task CopyFileRangeWithinOneFileRefusesOverlap()
    {
        await using MemoryFsFixture f = await StartAsync();
        (ulong node, ulong fh, _) = await f.CreateAsync(Root, "f");
        await f.Client.WriteAsync(node, fh, 0, Bytes("0123456789")).Ok();

        Assert.Equal(Errno.EINVAL, await f.Client.CopyFileRangeAsync(node, new FuseCopyFileRangeIn { FhIn = fh, NodeidOut = node, FhOut = fh, OffIn = 0, OffOut = 5, Len = 6 }).Err());
        Assert.Equal(5UL, await f.Client.CopyFileRangeAsync(node, new FuseCopyFileRangeIn { FhIn = fh, NodeidOut = node, FhOut = fh, OffIn = 0, OffOut = 5, Len = 5 }).Ok());
        Assert.Equal(Bytes("0123401234"), await f.ReadAsync(node, fh, 0, 100));
        await f.Client.ReleaseAsync(node, fh).Ok();
    }

    [Fact]
    public async Task HandlesOfTheWrongKindAreRefused()
    {
        await using MemoryFsFixture f = await StartAsync();
        ulong node = await f.CreateFileAsync(Root, "f", Bytes("q"));
        ulong fh = await f.OpenAsync(node, Linux.O_RDONLY);
        ulong dirFh = (await f.Client.OpenDirAsync(Root).Ok()).Fh;

        Assert.Equal(Errno.ENOTDIR, await f.Client.ReadDirAsync(node, fh, 0).Err());
        Assert.Equal(Errno.EISDIR, await f.Client.ReadAsync(Root, dirFh, 0, new byte[10]).Err());

        await f.Client.ReleaseAsync(node, fh).Ok();
        await f.Client.ReleaseDirAsync(Root, dirFh).Ok();
    }
}
