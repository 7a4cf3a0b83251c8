namespace MemoryFs.Tests;

/// <summary>
/// What a change of data, size or owner drops (the VFS's <c>file_remove_privs</c> and <c>chown</c> rules, which MemoryFs
/// applies itself because it negotiates <c>FUSE_HANDLE_KILLPRIV_V2</c>): the file capability always, the set-id bits
/// when the kernel's kill flag says so, and on every chown of a non-directory.
/// </summary>
public sealed class PrivilegeTests
{
    private const string Capability = "security.capability";

    /// <summary>A version-2 <c>vfs_cap_data</c> (magic, then permitted/inheritable pairs): CAP_NET_RAW permitted.</summary>
    private static readonly byte[] CapabilityValue = [0, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];

    private const uint SetIdExecutable = 0xDED; // 06755: set-group-id means "set group id" (group execute is on)
    private const uint SetIdLockMarked = 0xDE5; // 06745: set-group-id without group execute marks mandatory locking

    [Fact]
    public async Task WriteDropsTheCapabilityAlwaysAndTheSetIdBitsOnlyWithTheKillFlag()
    {
        await using MemoryFsFixture f = await StartAsync();
        (ulong node, ulong fh, _) = await f.CreateAsync(Root, "f");
        await PrivilegeAsync(f, node, SetIdExecutable);

        // A caller with CAP_FSETID: the kernel sends no kill flag, the set-id bits stay, the capability goes.
        Assert.Equal(1, await f.Client.WriteAsync(node, fh, 0, Bytes("a")).Ok());
        Assert.Equal(Errno.ENODATA, await f.Client.GetXattrAsync(node, Capability, new byte[64]).Err());
        Assert.Equal(Linux.S_IFREG | SetIdExecutable, (await f.GetAttrAsync(node)).Mode);

        await PrivilegeAsync(f, node, SetIdExecutable);
        Assert.Equal(1, await f.Client.WriteAsync(node, fh, 1, Bytes("b"), FuseWriteFlags.KillSuidGid).Ok());
        Assert.Equal(Errno.ENODATA, await f.Client.GetXattrAsync(node, Capability, new byte[64]).Err());
        Assert.Equal(Linux.S_IFREG | 0x1ED, (await f.GetAttrAsync(node)).Mode);

        // Without group execute, set-group-id is a locking mark and survives the kill.
        await PrivilegeAsync(f, node, SetIdLockMarked);
        Assert.Equal(1, await f.Client.WriteAsync(node, fh, 2, Bytes("c"), FuseWriteFlags.KillSuidGid).Ok());
        Assert.Equal(Linux.S_IFREG | 0x5E5 /* 02745 */, (await f.GetAttrAsync(node)).Mode);

        Assert.Equal(Bytes("abc"), await f.ReadAllAsync(node));
        await f.Client.ReleaseAsync(node, fh).Ok();
    }

    [Fact]
    public async Task ChownOfAFileDropsSetIdBitsAndCapabilityButADirectoryKeepsThem()
    {
        await using MemoryFsFixture f = await StartAsync();
        ulong file = await f.CreateFileAsync(Root, "f", Bytes("x"));
        await PrivilegeAsync(f, file, SetIdExecutable);

        FuseAttrOut owned = await f.Client.SetAttrAsync(file, new FuseSetattrIn { Valid = (uint)FuseSetAttrValid.Uid, Uid = 1000 }).Ok();

        Assert.Equal(Linux.S_IFREG | 0x1ED, owned.Attr.Mode);
        Assert.Equal(1000U, owned.Attr.Uid);
        Assert.Equal(Errno.ENODATA, await f.Client.GetXattrAsync(file, Capability, new byte[64]).Err());

        // A group change alone does it too.
        await PrivilegeAsync(f, file, SetIdExecutable);
        Assert.Equal(Linux.S_IFREG | 0x1ED, (await f.Client.SetAttrAsync(file, new FuseSetattrIn { Valid = (uint)FuseSetAttrValid.Gid, Gid = 50 }).Ok()).Attr.Mode);

        // A mode sent with the owner is applied after the drop (the kernel computes it when it handles set-id itself).
        FuseAttrOut both = await f.Client.SetAttrAsync(file, new FuseSetattrIn { Valid = (uint)(FuseSetAttrValid.Uid | FuseSetAttrValid.Mode), Uid = 7, Mode = SetIdExecutable }).Ok();
        Assert.Equal(Linux.S_IFREG | SetIdExecutable, both.Attr.Mode);

        ulong dir = (await f.MkDirAsync(Root, "d")).Nodeid;
        await f.Client.SetAttrAsync(dir, new FuseSetattrIn { Valid = (uint)FuseSetAttrValid.Mode, Mode = 0xDED }).Ok();
        FuseAttrOut dirOwned = await f.Client.SetAttrAsync(dir, new FuseSetattrIn { Valid = (uint)(FuseSetAttrValid.Uid | FuseSetAttrValid.Gid), Uid = 1000, Gid = 50 }).Ok();
        Assert.Equal(Linux.S_IFDIR | 0xDED, dirOwned.Attr.Mode);
    }

    [Fact]
    public async Task TruncateDropsTheCapabilityAndTheSetIdBitsOnlyWithTheKillFlag()
    {
        await using MemoryFsFixture f = await StartAsync();
        ulong node = await f.CreateFileAsync(Root, "f", Bytes("hello"));
        await PrivilegeAsync(f, node, SetIdExecutable);

        FuseAttrOut truncated = await f.Client.SetAttrAsync(node, new FuseSetattrIn { Valid = (uint)FuseSetAttrValid.Size, Size = 2 }).Ok();
        Assert.Equal(Linux.S_IFREG | SetIdExecutable, truncated.Attr.Mode);
        Assert.Equal(Errno.ENODATA, await f.Client.GetXattrAsync(node, Capability, new byte[64]).Err());

        await PrivilegeAsync(f, node, SetIdExecutable);
        FuseAttrOut killed = await f.Client.SetAttrAsync(node, new FuseSetattrIn { Valid = (uint)(FuseSetAttrValid.Size | FuseSetAttrValid.KillSuidGid), Size = 1 }).Ok();
        Assert.Equal(Linux.S_IFREG | 0x1ED, killed.Attr.Mode);
        Assert.Equal(Errno.ENODATA, await f.Client.GetXattrAsync(node, Capability, new byte[64]).Err());
        Assert.Equal(Bytes("h"), await f.ReadAllAsync(node));
    }

    [Fact]
    public async Task OtherAttributeChangesAndOtherXattrsKeepEverything()
    {
        await using MemoryFsFixture f = await StartAsync();
        ulong node = await f.CreateFileAsync(Root, "f", Bytes("x"));
        await PrivilegeAsync(f, node, SetIdExecutable);
        await f.Client.SetXattrAsync(node, "user.keep", Bytes("v")).Ok();

        await f.Client.SetAttrAsync(node, new FuseSetattrIn { Valid = (uint)(FuseSetAttrValid.Atime | FuseSetAttrValid.Mtime), Atime = 5, Mtime = 6 }).Ok();
        ulong fh = await f.OpenAsync(node, Linux.O_RDONLY);
        Assert.Equal(Bytes("x"), await f.ReadAsync(node, fh, 0, 10));
        await f.Client.ReleaseAsync(node, fh).Ok();

        Assert.Equal(Linux.S_IFREG | SetIdExecutable, (await f.GetAttrAsync(node)).Mode);
        Assert.Equal(CapabilityValue.Length, await f.Client.GetXattrAsync(node, Capability, new byte[64]).Ok());

        fh = await f.OpenAsync(node, Linux.O_WRONLY);
        await f.Client.WriteAsync(node, fh, 0, Bytes("y")).Ok();
        await f.Client.ReleaseAsync(node, fh).Ok();
        Assert.Equal(1, await f.Client.GetXattrAsync(node, "user.keep", new byte[8]).Ok());
    }

    /// <summary>Gives the node a set-id mode and a file capability.</summary>
    private static async Task PrivilegeAsync(MemoryFsFixture f, ulong node, uint mode)
    {
        await f.Client.SetAttrAsync(node, new FuseSetattrIn { Valid = (uint)FuseSetAttrValid.Mode, Mode = mode }).Ok();
        await f.Client.SetXattrAsync(node, Capability, CapabilityValue).Ok();
    }
}
