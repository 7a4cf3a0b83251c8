namespace MemoryFs.Tests;

/// <summary>Session-wide behaviour: INIT with older kernels, DESTROY, SYNCFS, and the opcodes MemoryFs leaves to the default (ENOSYS).</summary>
public sealed class LifecycleTests
{
    [Fact]
    public async Task InitNegotiatesTheRequestedCapabilities()
    {
        await using MemoryFsFixture f = await StartAsync();
        Assert.Equal(7U, f.Host.Init.Major);
        Assert.Equal(45U, f.Host.Init.Minor);
        FuseInitFlags flags = f.Client.NegotiatedFlags;
        Assert.True(flags.HasFlag(FuseInitFlags.PosixLocks));
        Assert.True(flags.HasFlag(FuseInitFlags.FlockLocks));
        Assert.True(flags.HasFlag(FuseInitFlags.DoReaddirplus));
        Assert.False(flags.HasFlag(FuseInitFlags.WritebackCache));
    }

    [Theory]
    [InlineData(26U)]
    [InlineData(31U)]
    [InlineData(36U)]
    public async Task OlderKernelsCanUseTheFileSystem(uint minor)
    {
        await using MemoryFsFixture f = await StartAsync(new FuseClientInitOptions { Minor = minor });
        Assert.Equal(minor, f.Host.Init.Minor);
        Assert.Equal(minor, f.Client.ProtocolMinor);

        FuseEntryOut dir = await f.Client.MkDirAsync(Root, "dir", 0x1FF, umask: 0x12).Ok();
        Assert.Equal(Linux.S_IFDIR | 0x1ED, dir.Attr.Mode);
        FuseCreateOut created = await f.Client.CreateAsync(dir.Nodeid, "file", Linux.O_RDWR | Linux.O_CREAT, Linux.S_IFREG | 0x1A4).Ok();
        ulong node = created.Entry.Nodeid;
        byte[] payload = Enumerable.Range(0, 70_000).Select(i => (byte)(i ^ (int)minor)).ToArray();

        Assert.Equal(payload.Length, await f.Client.WriteAsync(node, created.Open.Fh, 10, payload).Ok());
        byte[] back = await f.ReadAsync(node, created.Open.Fh, 10, payload.Length);
        Assert.Equal(payload, back);
        FuseAttr attr = (await f.Client.GetAttrAsync(node).Ok()).Attr;
        Assert.Equal(10UL + (ulong)payload.Length, attr.Size);
        Assert.Equal(Linux.S_IFREG | 0x1A4, attr.Mode);
        Assert.Equal(node, (await f.Client.LookupAsync(dir.Nodeid, "file").Ok()).Nodeid);
        Assert.Contains(await f.ListAsync(dir.Nodeid), e => e.Name == "file" && e.Ino == node);
        await f.Client.SetXattrAsync(node, "user.k", Bytes("v")).Ok();
        Assert.Equal(1, await f.Client.GetXattrAsync(node, "user.k", Memory<byte>.Empty).Ok());
        await f.Client.ReleaseAsync(node, created.Open.Fh).Ok();
    }

    [Fact]
    public async Task DestroyEndsTheSessionAndLaterRequestsFail()
    {
        await using MemoryFsFixture f = await StartAsync();
        await f.CreateFileAsync(Root, "f", Bytes("x"));

        await f.Client.DestroyAsync().Ok();

        Assert.True(f.Host.Session.IsDestroyed);
        await f.Host.Completion.Bounded(); // the session stops serving and closes the channel
        await Assert.ThrowsAsync<FuseChannelException>(async () => await f.Client.LookupAsync(Root, "f").Bounded());
    }

    [Fact]
    public async Task SyncFsSucceeds()
    {
        await using MemoryFsFixture f = await StartAsync();
        ulong node = await f.CreateFileAsync(Root, "f", Bytes("data"));
        await f.Client.SyncFsAsync().Ok();
        await f.Client.SyncFsAsync(node).Ok();
        Assert.Equal(Bytes("data"), await f.ReadAllAsync(node));
    }

    [Fact]
    public async Task UnimplementedOpcodesAnswerEnosys()
    {
        await using MemoryFsFixture f = await StartAsync();
        (ulong node, ulong fh, _) = await f.CreateAsync(Root, "f");

        Assert.Equal(Errno.ENOSYS, await f.Client.BmapAsync(node, 0, 4096).Err());
        Assert.Equal(Errno.ENOSYS, await f.Client.IoctlAsync(node, fh, 0x5401, 0, ReadOnlyMemory<byte>.Empty, 0).Err());
        Assert.Equal(Errno.ENOSYS, await f.Client.PollAsync(node, fh, 1, FusePollFlags.None, 1).Err());
        Assert.Equal(Errno.ENOSYS, await f.Client.SetupMappingAsync(node, new FuseSetupmappingIn { Fh = fh, Len = 4096 }).Bounded());
        Assert.Equal(Errno.ENOSYS, await f.Client.RemoveMappingAsync(node, new[] { new FuseRemovemappingOne { Moffset = 0, Len = 4096 } }).Bounded());

        // The session still serves afterwards.
        Assert.Equal(node, (await f.Client.LookupAsync(Root, "f").Ok()).Nodeid);
        await f.Client.ReleaseAsync(node, fh).Ok();
    }

    [Fact]
    public async Task NodesAreFreedOnlyWhenNameLookupAndHandleAreAllGone()
    {
        await using MemoryFsFixture f = await StartAsync();
        int baseline = f.Fs.NodeCount;
        (ulong node, ulong fh, _) = await f.CreateAsync(Root, "f");
        await f.Client.WriteAsync(node, fh, 0, new byte[300_000]).Ok();
        Assert.Equal(baseline + 1, f.Fs.NodeCount);

        await f.Client.UnlinkAsync(Root, "f").Ok();
        Assert.Equal(baseline + 1, f.Fs.NodeCount); // lookup and handle
        await f.Client.ForgetAsync(node, 1).Bounded();
        Assert.Equal(baseline + 1, f.Fs.NodeCount); // handle
        Assert.Equal(300_000UL, (await f.Client.GetAttrAsync(node, fh).Ok()).Attr.Size);
        await f.Client.ReleaseAsync(node, fh).Ok();
        Assert.Equal(baseline, f.Fs.NodeCount);
        Assert.Equal(0, f.Fs.HandleCount);

        // A removed directory goes when forgotten.
        ulong dir = (await f.MkDirAsync(Root, "d")).Nodeid;
        await f.Client.RmDirAsync(Root, "d").Ok();
        Assert.Equal(baseline + 1, f.Fs.NodeCount);
        await f.Client.ForgetAsync(dir, 1).Bounded();
        Assert.Equal(baseline, f.Fs.NodeCount);

        // The root is never freed.
        await f.Client.ForgetAsync(Root, 1000).Bounded();
        Assert.Equal(Root, (await f.GetAttrAsync(Root)).Ino);
    }
}
