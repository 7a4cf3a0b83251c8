namespace MemoryFs.Tests;

/// <summary>Node lifetime and attributes: LOOKUP, FORGET, BATCH_FORGET, GETATTR, SETATTR, STATX, SYMLINK, READLINK, MKNOD, LINK, ACCESS.</summary>
public sealed class NodeTests
{
    [Fact]
    public async Task LookupReturnsTheEntryAttributesAndTimeouts()
    {
        await using MemoryFsFixture f = await StartAsync(uid: 1000, gid: 1000, attributeTimeout: TimeSpan.FromMilliseconds(2500), entryTimeout: TimeSpan.FromSeconds(3));
        f.Client.Caller = new FuseCaller(1000, 1000, 42);
        ulong node = await f.CreateFileAsync(Root, "a.txt", Bytes("hello"));

        FuseEntryOut entry = await f.Client.LookupAsync(Root, "a.txt").Ok();

        Assert.Equal(node, entry.Nodeid);
        Assert.Equal(node, entry.Attr.Ino);
        Assert.NotEqual(0UL, entry.Generation);
        Assert.Equal(Linux.S_IFREG | 0x1A4, entry.Attr.Mode);
        Assert.Equal(5UL, entry.Attr.Size);
        Assert.Equal(1U, entry.Attr.Nlink);
        Assert.Equal(1000U, entry.Attr.Uid);
        Assert.Equal(1000U, entry.Attr.Gid);
        Assert.Equal(3UL, entry.EntryValid);
        Assert.Equal(0U, entry.EntryValidNsec);
        Assert.Equal(2UL, entry.AttrValid);
        Assert.Equal(500_000_000U, entry.AttrValidNsec);
        Assert.True(entry.Attr.Blksize > 0);
    }

    [Fact]
    public async Task LookupOfAMissingNameIsEnoentAndThroughAFileIsEnotdir()
    {
        await using MemoryFsFixture f = await StartAsync();
        ulong file = await f.CreateFileAsync(Root, "file", []);

        Assert.Equal(Errno.ENOENT, await f.Client.LookupAsync(Root, "missing").Err());
        Assert.Equal(Errno.ENOTDIR, await f.Client.LookupAsync(file, "x").Err());
        Assert.Equal(Errno.ENOENT, await f.Client.LookupAsync(12345, "x").Err());
    }

    [Fact]
    public async Task ForgetDropsLookupCountsAndFreesAnUnlinkedNode()
    {
        await using MemoryFsFixture f = await StartAsync();
        ulong node = await f.CreateFileAsync(Root, "f", Bytes("data"));
        Assert.Equal(1UL, f.Fs.GetLookupCount(node)); // from CREATE
        await f.Client.LookupAsync(Root, "f").Ok();
        await f.Client.LookupAsync(Root, "f").Ok();
        Assert.Equal(3UL, f.Fs.GetLookupCount(node));

        await f.Client.ForgetAsync(node, 2).Bounded();
        Assert.Equal(1UL, f.Fs.GetLookupCount(node));

        int nodes = f.Fs.NodeCount;
        await f.Client.UnlinkAsync(Root, "f").Ok();
        Assert.Equal(nodes, f.Fs.NodeCount); // the kernel still holds a reference
        Assert.Equal(0U, (await f.GetAttrAsync(node)).Nlink);

        await f.Client.ForgetAsync(node, 1).Bounded();
        Assert.Equal(0UL, f.Fs.GetLookupCount(node));
        Assert.Equal(nodes - 1, f.Fs.NodeCount);
        Assert.Equal(Errno.ENOENT, await f.Client.GetAttrAsync(node).Err());
    }

    [Fact]
    public async Task ForgetOfALinkedNodeKeepsIt()
    {
        await using MemoryFsFixture f = await StartAsync();
        ulong node = await f.CreateFileAsync(Root, "f", []);
        int nodes = f.Fs.NodeCount;

        await f.Client.ForgetAsync(node, 100).Bounded(); // more than held: clamps at zero

        Assert.Equal(0UL, f.Fs.GetLookupCount(node));
        Assert.Equal(nodes, f.Fs.NodeCount);
        Assert.Equal(node, (await f.Client.LookupAsync(Root, "f").Ok()).Nodeid);
        Assert.Equal(1UL, f.Fs.GetLookupCount(node));
    }

    [Fact]
    public async Task BatchForgetDropsSeveralCountsAndFreesUnlinkedNodes()
    {
        await using MemoryFsFixture f = await StartAsync();
        ulong a = await f.CreateFileAsync(Root, "a", []);
        ulong b = await f.CreateFileAsync(Root, "b", []);
        ulong c = (await f.MkDirAsync(Root, "c")).Nodeid;
        await f.Client.LookupAsync(Root, "a").Ok();
        await f.Client.LookupAsync(Root, "b").Ok();
        await f.Client.LookupAsync(Root, "b").Ok();
        Assert.Equal(2UL, f.Fs.GetLookupCount(a));
        Assert.Equal(3UL, f.Fs.GetLookupCount(b));
        await f.Client.UnlinkAsync(Root, "a").Ok();
        await f.Client.RmDirAsync(Root, "c").Ok();
        int nodes = f.Fs.NodeCount;

        await f.Client.BatchForgetAsync(new FuseForgetOne[]
        {
            new() { Nodeid = a, Nlookup = 2 },
            new() { Nodeid = b, Nlookup = 1 },
            new() { Nodeid = c, Nlookup = 1 },
        }).Bounded();

        Assert.Equal(0UL, f.Fs.GetLookupCount(a));
        Assert.Equal(2UL, f.Fs.GetLookupCount(b));
        Assert.Equal(nodes - 2, f.Fs.NodeCount); // a and c freed, b still named
        Assert.Equal(Errno.ENOENT, await f.Client.GetAttrAsync(a).Err());
        Assert.Equal(Errno.ENOENT, await f.Client.GetAttrAsync(c).Err());
        Assert.Equal(b, (await f.GetAttrAsync(b)).Ino);
    }

    [Fact]
    public async Task GetAttrOfTheRootAndOfAFile()
    {
        await using MemoryFsFixture f = await StartAsync(uid: 7, gid: 8, attributeTimeout: TimeSpan.FromSeconds(5));
        FuseAttrOut root = await f.Client.GetAttrAsync(Root).Ok();
        Assert.Equal(Root, root.Attr.Ino);
        Assert.Equal(Linux.S_IFDIR | 0x1ED, root.Attr.Mode);
        Assert.Equal(2U, root.Attr.Nlink);
        Assert.Equal(7U, root.Attr.Uid);
        Assert.Equal(8U, root.Attr.Gid);
        Assert.Equal(5UL, root.AttrValid);
        (ulong seconds, uint nanos) = f.Clock.Wire();
        Assert.Equal(seconds, root.Attr.Mtime);
        Assert.Equal(nanos, root.Attr.Mtimensec);

        (ulong node, ulong fh, _) = await f.CreateAsync(Root, "f");
        await f.Client.WriteAsync(node, fh, 0, new byte[100_000]).Ok();
        FuseAttrOut byHandle = await f.Client.GetAttrAsync(node, fh).Ok();
        Assert.Equal(100_000UL, byHandle.Attr.Size);
        Assert.Equal(Linux.S_IFREG | 0x1A4, byHandle.Attr.Mode);
        Assert.Equal(2UL * 64 * 1024 / 512, byHandle.Attr.Blocks); // two 64 KiB chunks allocated
        Assert.Equal(2U, (await f.GetAttrAsync(Root)).Nlink); // files do not count in a directory's nlink
    }

    [Fact]
    public async Task SetAttrChangesModeOwnerAndGroup()
    {
        await using MemoryFsFixture f = await StartAsync();
        ulong node = await f.CreateFileAsync(Root, "f", []);

        FuseAttrOut mode = await f.Client.SetAttrAsync(node, new FuseSetattrIn { Valid = (uint)FuseSetAttrValid.Mode, Mode = Linux.S_IFREG | 0xDED /* 06755 */ }).Ok();
        Assert.Equal(Linux.S_IFREG | 0xDED, mode.Attr.Mode);

        // A mode without type bits keeps the type.
        FuseAttrOut bare = await f.Client.SetAttrAsync(node, new FuseSetattrIn { Valid = (uint)FuseSetAttrValid.Mode, Mode = 0x180 /* 0600 */ }).Ok();
        Assert.Equal(Linux.S_IFREG | 0x180, bare.Attr.Mode);

        FuseAttrOut owner = await f.Client.SetAttrAsync(node, new FuseSetattrIn { Valid = (uint)(FuseSetAttrValid.Uid | FuseSetAttrValid.Gid), Uid = 1234, Gid = 5678 }).Ok();
        Assert.Equal(1234U, owner.Attr.Uid);
        Assert.Equal(5678U, owner.Attr.Gid);

        FuseAttr after = await f.GetAttrAsync(node);
        Assert.Equal(Linux.S_IFREG | 0x180, after.Mode);
        Assert.Equal(1234U, after.Uid);
        Assert.Equal(5678U, after.Gid);
    }

    [Fact]
    public async Task SetAttrSizeGrowsWithZerosAndShrinksWithoutKeepingOldData()
    {
        await using MemoryFsFixture f = await StartAsync();
        ulong node = await f.CreateFileAsync(Root, "f", Bytes("hello world"));

        FuseAttrOut grown = await f.Client.SetAttrAsync(node, new FuseSetattrIn { Valid = (uint)FuseSetAttrValid.Size, Size = 16 }).Ok();
        Assert.Equal(16UL, grown.Attr.Size);
        Assert.Equal([.. Bytes("hello world"), 0, 0, 0, 0, 0], await f.ReadAllAsync(node));

        FuseAttrOut shrunk = await f.Client.SetAttrAsync(node, new FuseSetattrIn { Valid = (uint)FuseSetAttrValid.Size, Size = 2 }).Ok();
        Assert.Equal(2UL, shrunk.Attr.Size);
        Assert.Equal(Bytes("he"), await f.ReadAllAsync(node));

        // Growing again must not bring back the truncated bytes.
        await f.Client.SetAttrAsync(node, new FuseSetattrIn { Valid = (uint)FuseSetAttrValid.Size, Size = 8 }).Ok();
        Assert.Equal([(byte)'h', (byte)'e', 0, 0, 0, 0, 0, 0], await f.ReadAllAsync(node));

        // Large truncate down frees the storage.
        await f.Client.SetAttrAsync(node, new FuseSetattrIn { Valid = (uint)FuseSetAttrValid.Size, Size = 0 }).Ok();
        FuseAttr empty = await f.GetAttrAsync(node);
        Assert.Equal(0UL, empty.Size);
        Assert.Equal(0UL, empty.Blocks);
    }

    [Fact]
    public async Task SetAttrSizeOnADirectoryIsEisdir()
    {
        await using MemoryFsFixture f = await StartAsync();
        ulong dir = (await f.MkDirAsync(Root, "d")).Nodeid;
        Assert.Equal(Errno.EISDIR, await f.Client.SetAttrAsync(dir, new FuseSetattrIn { Valid = (uint)FuseSetAttrValid.Size, Size = 0 }).Err());
    }

    [Fact]
    public async Task SetAttrTimesExplicitKeepNanosecondsAndNowUsesTheClock()
    {
        await using MemoryFsFixture f = await StartAsync();
        ulong node = await f.CreateFileAsync(Root, "f", []);
        f.Clock.Advance(TimeSpan.FromSeconds(30));

        FuseAttrOut set = await f.Client.SetAttrAsync(node, new FuseSetattrIn
        {
            Valid = (uint)(FuseSetAttrValid.Atime | FuseSetAttrValid.Mtime),
            Atime = 1_000_000_000,
            Atimensec = 123_456_789,
            Mtime = 1_100_000_000,
            Mtimensec = 987_654_321,
        }).Ok();
        (ulong now, uint nowNs) = f.Clock.Wire();
        Assert.Equal(1_000_000_000UL, set.Attr.Atime);
        Assert.Equal(123_456_789U, set.Attr.Atimensec);
        Assert.Equal(1_100_000_000UL, set.Attr.Mtime);
        Assert.Equal(987_654_321U, set.Attr.Mtimensec);
        Assert.Equal(now, set.Attr.Ctime); // any change sets ctime
        Assert.Equal(nowNs, set.Attr.Ctimensec);

        FuseAttr reread = await f.GetAttrAsync(node);
        Assert.Equal(123_456_789U, reread.Atimensec);
        Assert.Equal(987_654_321U, reread.Mtimensec);

        f.Clock.Advance(TimeSpan.FromSeconds(5.5));
        FuseAttrOut touched = await f.Client.SetAttrAsync(node, new FuseSetattrIn
        {
            Valid = (uint)(FuseSetAttrValid.Atime | FuseSetAttrValid.AtimeNow | FuseSetAttrValid.Mtime | FuseSetAttrValid.MtimeNow),
        }).Ok();
        (now, nowNs) = f.Clock.Wire();
        Assert.Equal(now, touched.Attr.Atime);
        Assert.Equal(nowNs, touched.Attr.Atimensec);
        Assert.Equal(now, touched.Attr.Mtime);
        Assert.Equal(nowNs, touched.Attr.Mtimensec);
        Assert.Equal(now, touched.Attr.Ctime);

        // Only mtime now: atime stays.
        f.Clock.Advance(TimeSpan.FromSeconds(1));
        FuseAttrOut mtimeOnly = await f.Client.SetAttrAsync(node, new FuseSetattrIn { Valid = (uint)(FuseSetAttrValid.Mtime | FuseSetAttrValid.MtimeNow) }).Ok();
        Assert.Equal(now, mtimeOnly.Attr.Atime);
        Assert.Equal(now + 1, mtimeOnly.Attr.Mtime);
    }

    [Fact]
    public async Task SetAttrWithInvalidNanosecondsIsEinvalAndChangesNothing()
    {
        await using MemoryFsFixture f = await StartAsync();
        ulong node = await f.CreateFileAsync(Root, "f", []);
        FuseAttr before = await f.GetAttrAsync(node);

        Assert.Equal(Errno.EINVAL, await f.Client.SetAttrAsync(node, new FuseSetattrIn
        {
            Valid = (uint)(FuseSetAttrValid.Mode | FuseSetAttrValid.Mtime),
            Mode = 0x1FF,
            Mtime = 5,
            Mtimensec = 1_000_000_000,
        }).Err());

        FuseAttr after = await f.GetAttrAsync(node);
        Assert.Equal(before.Mode, after.Mode);
        Assert.Equal(before.Mtime, after.Mtime);
    }

    [Fact]
    public async Task SymlinkAndReadLink()
    {
        await using MemoryFsFixture f = await StartAsync();
        FuseEntryOut link = await f.Client.SymlinkAsync(Root, "link", "some/where/else").Ok();

        Assert.Equal(Linux.S_IFLNK | 0x1FF, link.Attr.Mode);
        Assert.Equal((ulong)"some/where/else".Length, link.Attr.Size);
        Assert.Equal(1U, link.Attr.Nlink);
        Assert.Equal("some/where/else", await f.Client.ReadLinkAsync(link.Nodeid).Ok());
        Assert.Equal(link.Nodeid, (await f.Client.LookupAsync(Root, "link").Ok()).Nodeid);
        Assert.Equal(Errno.EEXIST, await f.Client.SymlinkAsync(Root, "link", "x").Err());

        ulong file = await f.CreateFileAsync(Root, "file", []);
        Assert.Equal(Errno.EINVAL, await f.Client.ReadLinkAsync(file).Err());
        Assert.Equal(Errno.ENAMETOOLONG, await f.Client.SymlinkAsync(Root, "long", new string('x', 4096)).Err());
    }

    [Fact]
    public async Task MkNodCreatesFifoCharacterDeviceAndRegularFile()
    {
        await using MemoryFsFixture f = await StartAsync();
        FuseEntryOut fifo = await f.Client.MkNodAsync(Root, "fifo", Linux.S_IFIFO | 0x1B6, umask: 0x12).Ok();
        Assert.Equal(Linux.S_IFIFO | 0x1A4, fifo.Attr.Mode);
        Assert.Equal(0U, fifo.Attr.Rdev);
        Assert.Equal(0UL, fifo.Attr.Size);

        uint dev = Linux.MakeDev(0x12, 0x345);
        FuseEntryOut chr = await f.Client.MkNodAsync(Root, "chr", Linux.S_IFCHR | 0x1B0, dev).Ok();
        Assert.Equal(Linux.S_IFCHR | 0x1B0, chr.Attr.Mode);
        Assert.Equal(dev, chr.Attr.Rdev);
        FuseStatx statx = (await f.Client.StatxAsync(chr.Nodeid, default).Ok()).Stat;
        Assert.Equal(0x12U, statx.RdevMajor);
        Assert.Equal(0x345U, statx.RdevMinor);

        FuseEntryOut reg = await f.Client.MkNodAsync(Root, "reg", Linux.S_IFREG | 0x1FF, umask: 0x3F).Ok();
        Assert.Equal(Linux.S_IFREG | 0x1C0, reg.Attr.Mode);
        FuseEntryOut untyped = await f.Client.MkNodAsync(Root, "untyped", 0x1A4).Ok();
        Assert.Equal(Linux.S_IFREG | 0x1A4, untyped.Attr.Mode);

        // A regular file from MKNOD can be opened and written.
        ulong fh = await f.OpenAsync(reg.Nodeid, Linux.O_RDWR);
        Assert.Equal(3, await f.Client.WriteAsync(reg.Nodeid, fh, 0, Bytes("abc")).Ok());
        await f.Client.ReleaseAsync(reg.Nodeid, fh).Ok();

        Assert.Equal(Errno.EPERM, await f.Client.MkNodAsync(Root, "dir", Linux.S_IFDIR | 0x1ED).Err());
        Assert.Equal(Errno.EEXIST, await f.Client.MkNodAsync(Root, "fifo", Linux.S_IFIFO | 0x1A4).Err());
    }

    [Fact]
    public async Task LinkAddsANameToTheSameNode()
    {
        await using MemoryFsFixture f = await StartAsync();
        ulong dir = (await f.MkDirAsync(Root, "d")).Nodeid;
        ulong node = await f.CreateFileAsync(Root, "orig", Bytes("shared"));

        FuseEntryOut link = await f.Client.LinkAsync(node, dir, "alias").Ok();

        Assert.Equal(node, link.Nodeid);
        Assert.Equal(2U, link.Attr.Nlink);
        Assert.Equal(2U, (await f.GetAttrAsync(node)).Nlink);
        Assert.Equal(node, (await f.Client.LookupAsync(dir, "alias").Ok()).Nodeid);
        Assert.Equal(Bytes("shared"), await f.ReadAllAsync(link.Nodeid));

        await f.Client.UnlinkAsync(Root, "orig").Ok();
        Assert.Equal(1U, (await f.GetAttrAsync(node)).Nlink);
        Assert.Equal(Bytes("shared"), await f.ReadAllAsync(node));

        Assert.Equal(Errno.EPERM, await f.Client.LinkAsync(dir, Root, "dirlink").Err());
        Assert.Equal(Errno.EEXIST, await f.Client.LinkAsync(node, dir, "alias").Err());
    }

    [Fact]
    public async Task StatxMatchesGetAttr()
    {
        await using MemoryFsFixture f = await StartAsync(uid: 0, gid: 0);
        f.Client.Caller = new FuseCaller(500, 600, 1);
        ulong node = await f.CreateFileAsync(Root, "f", new byte[12345]);
        DateTimeOffset born = f.Clock.GetUtcNow();
        f.Clock.Advance(TimeSpan.FromSeconds(10));
        await f.Client.SetAttrAsync(node, new FuseSetattrIn { Valid = (uint)FuseSetAttrValid.Mode, Mode = 0x1E4 }).Ok();

        FuseStatxOut statx = await f.Client.StatxAsync(node, new FuseStatxIn { SxMask = 0xfff }).Ok();
        FuseAttr attr = await f.GetAttrAsync(node);

        const uint BasicStats = 0x7ff, BirthTime = 0x800;
        Assert.Equal(BasicStats | BirthTime, statx.Stat.Mask & (BasicStats | BirthTime));
        Assert.Equal(attr.Size, statx.Stat.Size);
        Assert.Equal(12345UL, statx.Stat.Size);
        Assert.Equal((ushort)attr.Mode, statx.Stat.Mode);
        Assert.Equal((ushort)(Linux.S_IFREG | 0x1E4), statx.Stat.Mode);
        Assert.Equal(attr.Ino, statx.Stat.Ino);
        Assert.Equal(attr.Nlink, statx.Stat.Nlink);
        Assert.Equal(500U, statx.Stat.Uid);
        Assert.Equal(600U, statx.Stat.Gid);
        Assert.Equal(attr.Blocks, statx.Stat.Blocks);
        Assert.Equal(attr.Blksize, statx.Stat.Blksize);
        Assert.Equal((long)attr.Mtime, statx.Stat.Mtime.TvSec);
        Assert.Equal(attr.Mtimensec, statx.Stat.Mtime.TvNsec);
        Assert.Equal((long)attr.Ctime, statx.Stat.Ctime.TvSec);
        Assert.Equal(born.ToUnixTimeSeconds(), statx.Stat.Btime.TvSec);
        Assert.True(statx.Stat.Ctime.TvSec > statx.Stat.Btime.TvSec);
    }

    [Fact]
    public async Task AccessChecksTheCallersClass()
    {
        await using MemoryFsFixture f = await StartAsync(uid: 1000, gid: 1000);
        f.Client.Caller = new FuseCaller(1000, 1000, 10);
        ulong node = await f.CreateFileAsync(Root, "f", [], mode: Linux.S_IFREG | 0x1A0 /* 0640 */);

        // Owner: rw-
        await f.Client.AccessAsync(node, Linux.R_OK | Linux.W_OK).Ok();
        Assert.Equal(Errno.EACCES, await f.Client.AccessAsync(node, Linux.X_OK).Bounded());

        // Group member, not owner: r--
        f.Client.Caller = new FuseCaller(2000, 1000, 11);
        await f.Client.AccessAsync(node, Linux.R_OK).Ok();
        Assert.Equal(Errno.EACCES, await f.Client.AccessAsync(node, Linux.W_OK).Bounded());

        // Others: ---, but existence (F_OK) is fine.
        f.Client.Caller = new FuseCaller(3000, 3000, 12);
        Assert.Equal(Errno.EACCES, await f.Client.AccessAsync(node, Linux.R_OK).Bounded());
        await f.Client.AccessAsync(node, Linux.F_OK).Ok();
        await f.Client.AccessAsync(Root, Linux.R_OK | Linux.X_OK).Ok(); // root dir is 0755
        Assert.Equal(Errno.EACCES, await f.Client.AccessAsync(Root, Linux.W_OK).Bounded());

        // Root: anything but executing a file nobody may execute.
        f.Client.Caller = new FuseCaller(0, 0, 13);
        await f.Client.AccessAsync(node, Linux.R_OK | Linux.W_OK).Ok();
        Assert.Equal(Errno.EACCES, await f.Client.AccessAsync(node, Linux.X_OK).Bounded());

        Assert.Equal(Errno.ENOENT, await f.Client.AccessAsync(99999, Linux.F_OK).Bounded());
    }
}

internal static class FixtureCreateExtensions
{
    /// <summary>Creates a file with a given mode holding <paramref name="content"/>, closes it and returns its node.</summary>
    public static async Task<ulong> CreateFileAsync(this MemoryFsFixture f, ulong parent, string name, byte[] content, uint mode)
    {
        (ulong node, ulong fh, _) = await f.CreateAsync(parent, name, mode: mode);
        if (content.Length > 0)
        {
            await f.Client.WriteAsync(node, fh, 0, content).Ok();
        }

        await f.Client.ReleaseAsync(node, fh).Ok();
        return node;
    }
}
