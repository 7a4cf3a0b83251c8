namespace MemoryFs.Tests;

/// <summary>Extended attributes: SETXATTR, GETXATTR, LISTXATTR, REMOVEXATTR.</summary>
public sealed class XattrTests
{
    [Fact]
    public async Task SetThenGetWithSizeQueryAndErange()
    {
        await using MemoryFsFixture f = await StartAsync();
        ulong node = await f.CreateFileAsync(Root, "f", []);
        f.Clock.Advance(TimeSpan.FromSeconds(4));

        await f.Client.SetXattrAsync(node, "user.color", Bytes("blue")).Ok();

        Assert.Equal(f.Clock.Wire().Seconds, (await f.GetAttrAsync(node)).Ctime);
        Assert.Equal(4, await f.Client.GetXattrAsync(node, "user.color", Memory<byte>.Empty).Ok());
        Assert.Equal(Errno.ERANGE, await f.Client.GetXattrAsync(node, "user.color", new byte[3]).Err());
        byte[] buffer = new byte[64];
        int length = await f.Client.GetXattrAsync(node, "user.color", buffer).Ok();
        Assert.Equal(Bytes("blue"), buffer.AsSpan(0, length).ToArray());

        // Overwrite with a longer value, then an empty one.
        await f.Client.SetXattrAsync(node, "user.color", Bytes("ultramarine")).Ok();
        length = await f.Client.GetXattrAsync(node, "user.color", buffer).Ok();
        Assert.Equal(Bytes("ultramarine"), buffer.AsSpan(0, length).ToArray());
        await f.Client.SetXattrAsync(node, "user.empty", ReadOnlyMemory<byte>.Empty).Ok();
        Assert.Equal(0, await f.Client.GetXattrAsync(node, "user.empty", Memory<byte>.Empty).Ok());
        Assert.Equal(0, await f.Client.GetXattrAsync(node, "user.empty", buffer).Ok());

        // Binary values survive.
        byte[] binary = [0, 1, 2, 255, 0, 128];
        await f.Client.SetXattrAsync(node, "user.bin", binary).Ok();
        length = await f.Client.GetXattrAsync(node, "user.bin", buffer).Ok();
        Assert.Equal(binary, buffer.AsSpan(0, length).ToArray());
    }

    [Fact]
    public async Task CreateAndReplaceFlagsAreHonoured()
    {
        await using MemoryFsFixture f = await StartAsync();
        ulong node = await f.CreateFileAsync(Root, "f", []);
        byte[] buffer = new byte[16];

        Assert.Equal(Errno.ENODATA, await f.Client.SetXattrAsync(node, "user.a", Bytes("1"), Linux.XATTR_REPLACE).Bounded());
        Assert.Equal(Errno.ENODATA, await f.Client.GetXattrAsync(node, "user.a", buffer).Err());

        await f.Client.SetXattrAsync(node, "user.a", Bytes("1"), Linux.XATTR_CREATE).Ok();
        Assert.Equal(Errno.EEXIST, await f.Client.SetXattrAsync(node, "user.a", Bytes("2"), Linux.XATTR_CREATE).Bounded());
        int length = await f.Client.GetXattrAsync(node, "user.a", buffer).Ok();
        Assert.Equal(Bytes("1"), buffer.AsSpan(0, length).ToArray());

        await f.Client.SetXattrAsync(node, "user.a", Bytes("3"), Linux.XATTR_REPLACE).Ok();
        length = await f.Client.GetXattrAsync(node, "user.a", buffer).Ok();
        Assert.Equal(Bytes("3"), buffer.AsSpan(0, length).ToArray());

        Assert.Equal(Errno.E2BIG, await f.Client.SetXattrAsync(node, "user.big", new byte[65537]).Bounded());
    }

    [Fact]
    public async Task ListXattrWithSizeQueryAndErange()
    {
        await using MemoryFsFixture f = await StartAsync();
        ulong node = await f.CreateFileAsync(Root, "f", []);
        Assert.Equal(0, await f.Client.ListXattrAsync(node, Memory<byte>.Empty).Ok());

        await f.Client.SetXattrAsync(node, "user.one", Bytes("1")).Ok();
        await f.Client.SetXattrAsync(node, "user.two", Bytes("22")).Ok();
        await f.Client.SetXattrAsync(node, "trusted.three", Bytes("333")).Ok();

        int size = await f.Client.ListXattrAsync(node, Memory<byte>.Empty).Ok();
        Assert.Equal("user.one".Length + "user.two".Length + "trusted.three".Length + 3, size);
        Assert.Equal(Errno.ERANGE, await f.Client.ListXattrAsync(node, new byte[size - 1]).Err());

        byte[] buffer = new byte[size];
        Assert.Equal(size, await f.Client.ListXattrAsync(node, buffer).Ok());
        Assert.Equal(0, buffer[^1]);
        string[] names = Text(buffer[..^1]).Split('\0');
        Assert.Equal(["trusted.three", "user.one", "user.two"], names.Order());
    }

    [Fact]
    public async Task RemoveXattrRemovesAndMissingIsEnodata()
    {
        await using MemoryFsFixture f = await StartAsync();
        ulong dir = (await f.MkDirAsync(Root, "d")).Nodeid;
        await f.Client.SetXattrAsync(dir, "user.keep", Bytes("k")).Ok();
        await f.Client.SetXattrAsync(dir, "user.drop", Bytes("d")).Ok();
        f.Clock.Advance(TimeSpan.FromSeconds(9));

        await f.Client.RemoveXattrAsync(dir, "user.drop").Ok();

        Assert.Equal(f.Clock.Wire().Seconds, (await f.GetAttrAsync(dir)).Ctime);
        Assert.Equal(Errno.ENODATA, await f.Client.GetXattrAsync(dir, "user.drop", new byte[8]).Err());
        Assert.Equal(Errno.ENODATA, await f.Client.GetXattrAsync(dir, "user.drop", Memory<byte>.Empty).Err());
        Assert.Equal(Errno.ENODATA, await f.Client.RemoveXattrAsync(dir, "user.drop").Bounded());
        Assert.Equal(Errno.ENODATA, await f.Client.RemoveXattrAsync(dir, "user.never").Bounded());
        byte[] list = new byte[64];
        int length = await f.Client.ListXattrAsync(dir, list).Ok();
        Assert.Equal(Bytes("user.keep\0"), list.AsSpan(0, length).ToArray());
    }

    [Fact]
    public async Task XattrsBelongToTheNodeNotTheName()
    {
        await using MemoryFsFixture f = await StartAsync();
        ulong node = await f.CreateFileAsync(Root, "f", []);
        await f.Client.SetXattrAsync(node, "user.tag", Bytes("v")).Ok();
        await f.Client.LinkAsync(node, Root, "g").Ok();
        await f.Client.RenameAsync(Root, "f", Root, "h").Ok();

        ulong viaLink = (await f.Client.LookupAsync(Root, "g").Ok()).Nodeid;
        Assert.Equal(1, await f.Client.GetXattrAsync(viaLink, "user.tag", Memory<byte>.Empty).Ok());
        Assert.Equal(Errno.ENODATA, await f.Client.GetXattrAsync(Root, "user.tag", Memory<byte>.Empty).Err());
    }
}
