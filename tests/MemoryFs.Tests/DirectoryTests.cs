namespace MemoryFs.Tests;

/// <summary>Names and listings: MKDIR, UNLINK, RMDIR, RENAME, RENAME2, OPENDIR, READDIR, READDIRPLUS, RELEASEDIR, FSYNCDIR.</summary>
public sealed class DirectoryTests
{
    [Fact]
    public async Task MkDirAppliesTheUmaskAndGrowsTheParentsLinkCount()
    {
        await using MemoryFsFixture f = await StartAsync();
        Assert.Equal(2U, (await f.GetAttrAsync(Root)).Nlink);

        FuseEntryOut dir = await f.Client.MkDirAsync(Root, "d", 0x1FF, umask: 0x12).Ok();

        Assert.Equal(Linux.S_IFDIR | 0x1ED, dir.Attr.Mode);
        Assert.Equal(2U, dir.Attr.Nlink);
        Assert.Equal(3U, (await f.GetAttrAsync(Root)).Nlink);

        FuseEntryOut sub = await f.Client.MkDirAsync(dir.Nodeid, "sub", 0x1C0, umask: 0x3F).Ok();
        Assert.Equal(Linux.S_IFDIR | 0x1C0, sub.Attr.Mode);
        Assert.Equal(3U, (await f.GetAttrAsync(dir.Nodeid)).Nlink);
        Assert.Equal(3U, (await f.GetAttrAsync(Root)).Nlink);

        Assert.Equal(Errno.EEXIST, await f.Client.MkDirAsync(Root, "d", 0x1ED).Err());
        Assert.Equal(Errno.ENAMETOOLONG, await f.Client.MkDirAsync(Root, new string('n', 256), 0x1ED).Err());
        Assert.Equal(Linux.S_IFDIR | 0x1ED, (await f.Client.LookupAsync(Root, "d").Ok()).Attr.Mode);
    }

    [Fact]
    public async Task CreateUpdatesTheParentsMtimeAndCtime()
    {
        await using MemoryFsFixture f = await StartAsync();
        ulong dir = (await f.MkDirAsync(Root, "d")).Nodeid;
        FuseAttr before = await f.GetAttrAsync(dir);
        f.Clock.Advance(TimeSpan.FromSeconds(7.25));

        await f.CreateFileAsync(dir, "f", []);

        (ulong now, uint nowNs) = f.Clock.Wire();
        FuseAttr after = await f.GetAttrAsync(dir);
        Assert.Equal(before.Mtime + 7, after.Mtime);
        Assert.Equal(now, after.Mtime);
        Assert.Equal(nowNs, after.Mtimensec);
        Assert.Equal(now, after.Ctime);
        Assert.Equal(nowNs, after.Ctimensec);
        Assert.Equal(before.Atime, after.Atime);

        // Removing a name does the same.
        f.Clock.Advance(TimeSpan.FromSeconds(3));
        await f.Client.UnlinkAsync(dir, "f").Ok();
        (now, _) = f.Clock.Wire();
        FuseAttr removed = await f.GetAttrAsync(dir);
        Assert.Equal(now, removed.Mtime);
        Assert.Equal(now, removed.Ctime);
    }

    [Fact]
    public async Task UnlinkRemovesTheNameAndRefusesDirectories()
    {
        await using MemoryFsFixture f = await StartAsync();
        await f.MkDirAsync(Root, "d");
        ulong file = await f.CreateFileAsync(Root, "f", Bytes("x"));

        Assert.Equal(Errno.EISDIR, await f.Client.UnlinkAsync(Root, "d").Bounded());
        Assert.Equal(Errno.ENOENT, await f.Client.UnlinkAsync(Root, "missing").Bounded());

        await f.Client.UnlinkAsync(Root, "f").Ok();
        Assert.Equal(Errno.ENOENT, await f.Client.LookupAsync(Root, "f").Err());
        Assert.Equal(0U, (await f.GetAttrAsync(file)).Nlink); // still referenced by the kernel
        Assert.DoesNotContain(await f.ListAsync(Root), e => e.Name == "f");
    }

    [Fact]
    public async Task RmDirRefusesNonEmptyDirectoriesAndFiles()
    {
        await using MemoryFsFixture f = await StartAsync();
        ulong dir = (await f.MkDirAsync(Root, "d")).Nodeid;
        await f.CreateFileAsync(dir, "f", []);
        await f.CreateFileAsync(Root, "file", []);

        Assert.Equal(Errno.ENOTEMPTY, await f.Client.RmDirAsync(Root, "d").Bounded());
        Assert.Equal(Errno.ENOTDIR, await f.Client.RmDirAsync(Root, "file").Bounded());
        Assert.Equal(3U, (await f.GetAttrAsync(Root)).Nlink);

        await f.Client.UnlinkAsync(dir, "f").Ok();
        await f.Client.RmDirAsync(Root, "d").Ok();

        Assert.Equal(2U, (await f.GetAttrAsync(Root)).Nlink);
        Assert.Equal(0U, (await f.GetAttrAsync(dir)).Nlink);
        Assert.Equal(Errno.ENOENT, await f.Client.LookupAsync(Root, "d").Err());
        Assert.Equal(Errno.ENOENT, await f.Client.CreateAsync(dir, "new", Linux.O_RDWR | Linux.O_CREAT, Linux.S_IFREG | 0x1A4).Err());
    }

    [Fact]
    public async Task RenameReplacesAnExistingFile()
    {
        await using MemoryFsFixture f = await StartAsync();
        ulong dir = (await f.MkDirAsync(Root, "d")).Nodeid;
        ulong a = await f.CreateFileAsync(Root, "a", Bytes("AAA"));
        ulong b = await f.CreateFileAsync(dir, "b", Bytes("B"));

        await f.Client.RenameAsync(Root, "a", dir, "b").Ok();

        Assert.Equal(Errno.ENOENT, await f.Client.LookupAsync(Root, "a").Err());
        FuseEntryOut moved = await f.Client.LookupAsync(dir, "b").Ok();
        Assert.Equal(a, moved.Nodeid);
        Assert.Equal(3UL, moved.Attr.Size);
        Assert.Equal(Bytes("AAA"), await f.ReadAllAsync(a));
        Assert.Equal(0U, (await f.GetAttrAsync(b)).Nlink); // the replaced node lost its name

        List<FuseDirectoryEntry> listing = await f.ListAsync(dir);
        Assert.Single(listing, e => e.Name == "b");
        Assert.Equal(a, listing.Single(e => e.Name == "b").Ino);
    }

    [Fact]
    public async Task RenameOfADirectoryIntoItsOwnSubdirectoryIsEinval()
    {
        await using MemoryFsFixture f = await StartAsync();
        ulong d = (await f.MkDirAsync(Root, "d")).Nodeid;
        ulong sub = (await f.MkDirAsync(d, "sub")).Nodeid;
        ulong deeper = (await f.MkDirAsync(sub, "deeper")).Nodeid;

        Assert.Equal(Errno.EINVAL, await f.Client.RenameAsync(Root, "d", sub, "x").Bounded());
        Assert.Equal(Errno.EINVAL, await f.Client.RenameAsync(Root, "d", deeper, "x").Bounded());
        Assert.Equal(Errno.EINVAL, await f.Client.RenameAsync(Root, "d", d, "x").Bounded());
        Assert.Equal(d, (await f.Client.LookupAsync(Root, "d").Ok()).Nodeid);

        // Moving a directory elsewhere changes the link counts of both parents.
        ulong other = (await f.MkDirAsync(Root, "other")).Nodeid;
        await f.Client.RenameAsync(d, "sub", other, "sub").Ok();
        Assert.Equal(2U, (await f.GetAttrAsync(d)).Nlink);
        Assert.Equal(3U, (await f.GetAttrAsync(other)).Nlink);
        Assert.Equal(sub, (await f.Client.LookupAsync(other, "sub").Ok()).Nodeid);
        Assert.Equal(other, (await f.Client.LookupAsync(sub, "..").Ok()).Nodeid);
    }

    [Fact]
    public async Task RenameTypeMismatchesAndNonEmptyTargets()
    {
        await using MemoryFsFixture f = await StartAsync();
        await f.MkDirAsync(Root, "dir");
        ulong full = (await f.MkDirAsync(Root, "full")).Nodeid;
        await f.CreateFileAsync(full, "x", []);
        await f.MkDirAsync(Root, "empty");
        await f.CreateFileAsync(Root, "file", []);

        Assert.Equal(Errno.EISDIR, await f.Client.RenameAsync(Root, "file", Root, "dir").Bounded());
        Assert.Equal(Errno.ENOTDIR, await f.Client.RenameAsync(Root, "dir", Root, "file").Bounded());
        Assert.Equal(Errno.ENOTEMPTY, await f.Client.RenameAsync(Root, "dir", Root, "full").Bounded());
        await f.Client.RenameAsync(Root, "dir", Root, "empty").Ok();
        Assert.Equal(3U + 1, (await f.GetAttrAsync(Root)).Nlink); // "full" and "empty" remain
    }

    [Fact]
    public async Task Rename2NoReplaceRefusesAnExistingTarget()
    {
        await using MemoryFsFixture f = await StartAsync();
        ulong a = await f.CreateFileAsync(Root, "a", Bytes("a"));
        ulong b = await f.CreateFileAsync(Root, "b", Bytes("b"));

        Assert.Equal(Errno.EEXIST, await f.Client.Rename2Async(Root, "a", Root, "b", FuseRenameFlags.NoReplace).Bounded());
        Assert.Equal(a, (await f.Client.LookupAsync(Root, "a").Ok()).Nodeid);
        Assert.Equal(b, (await f.Client.LookupAsync(Root, "b").Ok()).Nodeid);

        await f.Client.Rename2Async(Root, "a", Root, "c", FuseRenameFlags.NoReplace).Ok();
        Assert.Equal(a, (await f.Client.LookupAsync(Root, "c").Ok()).Nodeid);
        Assert.Equal(Errno.ENOENT, await f.Client.LookupAsync(Root, "a").Err());
        Assert.Equal(Errno.EINVAL, await f.Client.Rename2Async(Root, "b", Root, "d", FuseRenameFlags.NoReplace | FuseRenameFlags.Exchange).Bounded());
    }

    [Fact]
    public async Task Rename2ExchangeSwapsTheTwoNodes()
    {
        await using MemoryFsFixture f = await StartAsync();
        ulong dir = (await f.MkDirAsync(Root, "d")).Nodeid;
        ulong file = await f.CreateFileAsync(Root, "file", Bytes("file content"));
        ulong sub = (await f.MkDirAsync(dir, "sub")).Nodeid;
        ulong other = await f.CreateFileAsync(dir, "other", Bytes("other"));

        await f.Client.Rename2Async(Root, "file", dir, "other", FuseRenameFlags.Exchange).Ok();

        Assert.Equal(other, (await f.Client.LookupAsync(Root, "file").Ok()).Nodeid);
        Assert.Equal(file, (await f.Client.LookupAsync(dir, "other").Ok()).Nodeid);
        Assert.Equal(Bytes("other"), await f.ReadAllAsync((await f.Client.LookupAsync(Root, "file").Ok()).Nodeid));
        Assert.Equal(Bytes("file content"), await f.ReadAllAsync((await f.Client.LookupAsync(dir, "other").Ok()).Nodeid));

        // A file and a directory in different parents: the directory's ".." and the link counts follow.
        await f.Client.Rename2Async(Root, "file", dir, "sub", FuseRenameFlags.Exchange).Ok();
        Assert.Equal(sub, (await f.Client.LookupAsync(Root, "file").Ok()).Nodeid);
        Assert.Equal(other, (await f.Client.LookupAsync(dir, "sub").Ok()).Nodeid);
        Assert.Equal(Root, (await f.Client.LookupAsync(sub, "..").Ok()).Nodeid);
        Assert.Equal(2U, (await f.GetAttrAsync(dir)).Nlink);
        Assert.Equal(4U, (await f.GetAttrAsync(Root)).Nlink); // d and sub

        Assert.Equal(Errno.ENOENT, await f.Client.Rename2Async(Root, "file", Root, "missing", FuseRenameFlags.Exchange).Bounded());
    }

    [Fact]
    public async Task ReadDirListsAThousandEntriesAcrossSmallCalls()
    {
        await using MemoryFsFixture f = await StartAsync();
        ulong dir = (await f.MkDirAsync(Root, "big")).Nodeid;
        var ids = new Dictionary<string, ulong>();
        for (int i = 0; i < 1000; i++)
        {
            string name = $"entry-{i:D4}";
            ids[name] = (await f.Client.MkNodAsync(dir, name, Linux.S_IFREG | 0x1A4).Ok()).Nodeid;
        }

        ulong fh = (await f.Client.OpenDirAsync(dir).Ok()).Fh;
        var seen = new List<FuseDirectoryEntry>();
        ulong offset = 0;
        int calls = 0;
        while (true)
        {
            IReadOnlyList<FuseDirectoryEntry> batch = await f.Client.ReadDirAsync(dir, fh, offset, 512).Ok();
            if (batch.Count == 0)
            {
                break;
            }

            calls++;
            Assert.True(calls < 1000, "READDIR does not end");
            foreach (FuseDirectoryEntry e in batch)
            {
                Assert.True(e.NextOffset > offset, $"offset {e.NextOffset} after {offset} does not advance");
                offset = e.NextOffset;
            }

            seen.AddRange(batch);
        }

        await f.Client.ReleaseDirAsync(dir, fh).Ok();

        Assert.True(calls > 10, $"only {calls} READDIR calls");
        Assert.Equal(".", seen[0].Name);
        Assert.Equal(dir, seen[0].Ino);
        Assert.Equal(FuseDirentType.Dir, seen[0].Type);
        Assert.Equal("..", seen[1].Name);
        Assert.Equal(Root, seen[1].Ino);
        Assert.Equal(1002, seen.Count);
        Assert.Equal(seen.Count, seen.Select(e => e.Name).Distinct().Count());
        foreach (FuseDirectoryEntry e in seen.Skip(2))
        {
            Assert.Equal(ids[e.Name], e.Ino);
            Assert.Equal(FuseDirentType.Reg, e.Type);
        }

        // Resuming at any offset gives exactly the entries after it.
        FuseDirectoryEntry middle = seen[500];
        ulong fh2 = (await f.Client.OpenDirAsync(dir).Ok()).Fh;
        IReadOnlyList<FuseDirectoryEntry> resumed = await f.Client.ReadDirAsync(dir, fh2, middle.NextOffset, 4096).Ok();
        Assert.Equal(seen[501].Name, resumed[0].Name);
        Assert.Equal(seen[501].NextOffset, resumed[0].NextOffset);
        await f.Client.ReleaseDirAsync(dir, fh2).Ok();
    }

    [Fact]
    public async Task ReadDirResumesCorrectlyWhileEntriesAreRemovedAndAdded()
    {
        await using MemoryFsFixture f = await StartAsync();
        ulong dir = (await f.MkDirAsync(Root, "d")).Nodeid;
        for (int i = 0; i < 300; i++)
        {
            await f.Client.MkNodAsync(dir, $"n{i}", Linux.S_IFREG | 0x1A4).Ok();
        }

        ulong fh = (await f.Client.OpenDirAsync(dir).Ok()).Fh;
        var names = new List<string>();
        ulong offset = 0;
        IReadOnlyList<FuseDirectoryEntry> first = await f.Client.ReadDirAsync(dir, fh, offset, 2048).Ok();
        names.AddRange(first.Select(e => e.Name));
        offset = first[^1].NextOffset;
        int listed = names.Count - 2;
        Assert.InRange(listed, 10, 200);

        // Remove 150 entries, most of them already listed (forces the directory to compact its order), and add new ones.
        for (int i = 0; i < 150; i++)
        {
            await f.Client.UnlinkAsync(dir, $"n{i}").Ok();
        }

        for (int i = 0; i < 20; i++)
        {
            await f.Client.MkNodAsync(dir, $"new{i}", Linux.S_IFREG | 0x1A4).Ok();
        }

        while (true)
        {
            IReadOnlyList<FuseDirectoryEntry> batch = await f.Client.ReadDirAsync(dir, fh, offset, 2048).Ok();
            if (batch.Count == 0)
            {
                break;
            }

            names.AddRange(batch.Select(e => e.Name));
            offset = batch[^1].NextOffset;
        }

        await f.Client.ReleaseDirAsync(dir, fh).Ok();

        Assert.Equal(names.Count, names.Distinct().Count());
        for (int i = 150; i < 300; i++)
        {
            Assert.Contains($"n{i}", names); // never removed: listed exactly once
        }

        for (int i = 0; i < 20; i++)
        {
            Assert.Contains($"new{i}", names); // added after the position: listed
        }

        for (int i = Math.Max(listed, 0); i < 150; i++)
        {
            Assert.DoesNotContain($"n{i}", names); // removed before being reached
        }
    }

    [Fact]
    public async Task ReadDirPlusCarriesAttributesAndCountsLookupsExceptDotAndDotDot()
    {
        await using MemoryFsFixture f = await StartAsync();
        ulong dir = (await f.MkDirAsync(Root, "d")).Nodeid;
        ulong file = await f.CreateFileAsync(dir, "file", Bytes("12345"));
        ulong sub = (await f.MkDirAsync(dir, "sub")).Nodeid;
        FuseEntryOut link = await f.Client.SymlinkAsync(dir, "link", "file").Ok();
        ulong dirLookups = f.Fs.GetLookupCount(dir);
        ulong rootLookups = f.Fs.GetLookupCount(Root);
        Assert.Equal(1UL, f.Fs.GetLookupCount(file));

        ulong fh = (await f.Client.OpenDirAsync(dir).Ok()).Fh;
        IReadOnlyList<FuseDirectoryEntry> entries = await f.Client.ReadDirPlusAsync(dir, fh, 0, 8192).Ok();
        Assert.Empty(await f.Client.ReadDirPlusAsync(dir, fh, entries[^1].NextOffset, 8192).Ok());
        await f.Client.ReleaseDirAsync(dir, fh).Ok();

        Assert.Equal([".", "..", "file", "sub", "link"], entries.Select(e => e.Name));
        Assert.All(entries, e => Assert.NotNull(e.Entry));
        Assert.Equal(0UL, entries[0].Entry!.Value.Nodeid);
        Assert.Equal(0UL, entries[1].Entry!.Value.Nodeid);
        Assert.Equal(Linux.S_IFDIR | 0x1ED, entries[0].Entry!.Value.Attr.Mode);

        FuseEntryOut fileEntry = entries[2].Entry!.Value;
        Assert.Equal(file, fileEntry.Nodeid);
        Assert.Equal(5UL, fileEntry.Attr.Size);
        Assert.Equal(Linux.S_IFREG | 0x1A4, fileEntry.Attr.Mode);
        Assert.Equal(FuseDirentType.Reg, entries[2].Type);
        Assert.Equal(sub, entries[3].Entry!.Value.Nodeid);
        Assert.Equal(2U, entries[3].Entry!.Value.Attr.Nlink);
        Assert.Equal(FuseDirentType.Dir, entries[3].Type);
        Assert.Equal(link.Nodeid, entries[4].Entry!.Value.Nodeid);
        Assert.Equal(Linux.S_IFLNK | 0x1FF, entries[4].Entry!.Value.Attr.Mode);
        Assert.Equal(FuseDirentType.Lnk, entries[4].Type);
        Assert.True(fileEntry.EntryValid > 0 || fileEntry.EntryValidNsec > 0);

        Assert.Equal(2UL, f.Fs.GetLookupCount(file));
        Assert.Equal(2UL, f.Fs.GetLookupCount(sub));
        Assert.Equal(2UL, f.Fs.GetLookupCount(link.Nodeid));
        Assert.Equal(dirLookups, f.Fs.GetLookupCount(dir)); // "." not counted
        Assert.Equal(rootLookups, f.Fs.GetLookupCount(Root)); // ".." not counted
    }

    [Fact]
    public async Task ReadDirPlusCountsOnlyTheEntriesThatFit()
    {
        await using MemoryFsFixture f = await StartAsync();
        ulong dir = (await f.MkDirAsync(Root, "d")).Nodeid;
        var nodes = new List<ulong>();
        for (int i = 0; i < 10; i++)
        {
            nodes.Add((await f.Client.MkNodAsync(dir, $"f{i}", Linux.S_IFREG | 0x1A4).Ok()).Nodeid);
        }

        ulong fh = (await f.Client.OpenDirAsync(dir).Ok()).Fh;

        // A direntplus record here is 128 + 24 + name, padded to 8: 160 bytes. Room for "." ".." and three entries.
        IReadOnlyList<FuseDirectoryEntry> part = await f.Client.ReadDirPlusAsync(dir, fh, 0, 5 * 160 + 100).Ok();
        Assert.Equal(5, part.Count);
        Assert.Equal(2UL, f.Fs.GetLookupCount(nodes[0]));
        Assert.Equal(2UL, f.Fs.GetLookupCount(nodes[2]));
        Assert.Equal(1UL, f.Fs.GetLookupCount(nodes[3]));

        var rest = new List<FuseDirectoryEntry>();
        ulong offset = part[^1].NextOffset;
        while (true)
        {
            IReadOnlyList<FuseDirectoryEntry> batch = await f.Client.ReadDirPlusAsync(dir, fh, offset, 400).Ok();
            if (batch.Count == 0)
            {
                break;
            }

            rest.AddRange(batch);
            offset = batch[^1].NextOffset;
        }

        await f.Client.ReleaseDirAsync(dir, fh).Ok();
        Assert.Equal(7, rest.Count);
        Assert.All(nodes, n => Assert.Equal(2UL, f.Fs.GetLookupCount(n)));
    }

    [Fact]
    public async Task OpenDirAndReleaseDirTrackHandlesAndFsyncDirSucceeds()
    {
        await using MemoryFsFixture f = await StartAsync();
        ulong dir = (await f.MkDirAsync(Root, "d")).Nodeid;
        ulong file = await f.CreateFileAsync(Root, "f", []);
        int handles = f.Fs.HandleCount;

        ulong fh = (await f.Client.OpenDirAsync(dir).Ok()).Fh;
        Assert.Equal(handles + 1, f.Fs.HandleCount);
        await f.Client.FsyncDirAsync(dir, fh).Ok();
        await f.Client.FsyncDirAsync(dir, fh, dataOnly: true).Ok();
        IReadOnlyList<FuseDirectoryEntry> entries = await f.Client.ReadDirAsync(dir, fh, 0).Ok();
        Assert.Equal([".", ".."], entries.Select(e => e.Name));

        await f.Client.ReleaseDirAsync(dir, fh).Ok();
        Assert.Equal(handles, f.Fs.HandleCount);
        Assert.Equal(Errno.EBADF, await f.Client.ReleaseDirAsync(dir, fh).Bounded());
        Assert.Equal(Errno.ENOTDIR, await f.Client.OpenDirAsync(file).Err());
    }

    [Fact]
    public async Task AnOpenRemovedDirectoryListsAsEnoent()
    {
        await using MemoryFsFixture f = await StartAsync();
        ulong dir = (await f.MkDirAsync(Root, "d")).Nodeid;
        ulong fh = (await f.Client.OpenDirAsync(dir).Ok()).Fh;
        await f.Client.RmDirAsync(Root, "d").Ok();

        Assert.Equal(Errno.ENOENT, await f.Client.ReadDirAsync(dir, fh, 0).Err());
        await f.Client.ReleaseDirAsync(dir, fh).Ok();
    }

    [Fact]
    public async Task NewNodesInASetGidDirectoryTakeItsGroup()
    {
        await using MemoryFsFixture f = await StartAsync();
        ulong dir = (await f.MkDirAsync(Root, "d")).Nodeid;
        await f.Client.SetAttrAsync(dir, new FuseSetattrIn { Valid = (uint)(FuseSetAttrValid.Mode | FuseSetAttrValid.Gid), Mode = 0xDED /* 06755 */, Gid = 50 }).Ok();
        f.Client.Caller = new FuseCaller(10, 20, 1);

        FuseEntryOut sub = await f.MkDirAsync(dir, "sub");
        (_, ulong fh, FuseEntryOut file) = await f.CreateAsync(dir, "file");

        Assert.Equal(50U, sub.Attr.Gid);
        Assert.Equal(Linux.S_IFDIR | 0x5ED, sub.Attr.Mode); // the set-group-id bit passes to subdirectories
        Assert.Equal(50U, file.Attr.Gid);
        Assert.Equal(10U, file.Attr.Uid);
        await f.Client.ReleaseAsync(file.Nodeid, fh).Ok();
    }

    [Fact]
    public async Task DirectoriesMovedBetweenParentsKeepLinkCountsAndDotDotRight()
    {
        await using MemoryFsFixture f = await StartAsync();
        ulong a = (await f.MkDirAsync(Root, "a")).Nodeid;
        ulong b = (await f.MkDirAsync(Root, "b")).Nodeid;
        ulong x = (await f.MkDirAsync(a, "x")).Nodeid;
        ulong y = await f.CreateFileAsync(b, "y", []);

        await f.Client.Rename2Async(a, "x", b, "y", FuseRenameFlags.Exchange).Ok();
        Assert.Equal(2U, (await f.GetAttrAsync(a)).Nlink);
        Assert.Equal(3U, (await f.GetAttrAsync(b)).Nlink);
        Assert.Equal(b, (await f.Client.LookupAsync(x, "..").Ok()).Nodeid);

        // A directory renamed over an empty directory in another parent.
        ulong e = (await f.MkDirAsync(a, "e")).Nodeid;
        await f.Client.RenameAsync(b, "y", a, "e").Ok();
        Assert.Equal(3U, (await f.GetAttrAsync(a)).Nlink);
        Assert.Equal(2U, (await f.GetAttrAsync(b)).Nlink);
        Assert.Equal(0U, (await f.GetAttrAsync(e)).Nlink);
        Assert.Equal(a, (await f.Client.LookupAsync(x, "..").Ok()).Nodeid);
        Assert.Equal(Errno.ENOENT, await f.Client.LookupAsync(e, "..").Err());

        // Nothing can be created in a removed directory.
        await f.Client.RmDirAsync(Root, "b").Ok();
        Assert.Equal(Errno.ENOENT, await f.Client.LinkAsync(y, b, "z").Err());
        Assert.Equal(Errno.ENOENT, await f.Client.MkDirAsync(b, "z", 0x1ED).Err());
        Assert.Equal(Errno.ENOENT, await f.Client.RenameAsync(a, "e", b, "z").Bounded());
    }

    [Fact]
    public async Task RenameUpdatesBothParentsAndTheMovedNodesCtime()
    {
        await using MemoryFsFixture f = await StartAsync();
        ulong a = (await f.MkDirAsync(Root, "a")).Nodeid;
        ulong b = (await f.MkDirAsync(Root, "b")).Nodeid;
        ulong node = await f.CreateFileAsync(a, "n", Bytes("q"));
        FuseAttr before = await f.GetAttrAsync(node);
        f.Clock.Advance(TimeSpan.FromSeconds(10));

        await f.Client.RenameAsync(a, "n", b, "m").Ok();

        (ulong now, uint nowNs) = f.Clock.Wire();
        Assert.Equal((now, nowNs), ((await f.GetAttrAsync(a)).Mtime, (await f.GetAttrAsync(a)).Mtimensec));
        Assert.Equal(now, (await f.GetAttrAsync(b)).Mtime);
        Assert.Equal(now, (await f.GetAttrAsync(b)).Ctime);
        FuseAttr after = await f.GetAttrAsync(node);
        Assert.Equal(now, after.Ctime);
        Assert.Equal(before.Mtime, after.Mtime);
    }
}
