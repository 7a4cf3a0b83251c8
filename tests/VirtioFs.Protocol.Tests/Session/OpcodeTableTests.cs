namespace VirtioFs.Protocol.Tests.Session;

/// <summary>
/// Walks every opcode of <c>enum fuse_opcode</c> (7.45) against <see cref="FuseOpcodeTable"/>: one row each, named
/// after the C constant, with the <c>sizeof</c> of the kernel's argument struct, the number of names, and no reply
/// exactly for FORGET, BATCH_FORGET and NOTIFY_REPLY. Then the version quirks, in the table and end to end.
/// </summary>
public class OpcodeTableTests
{
    public static TheoryData<uint> KernelOpcodeNumbers()
    {
        var data = new TheoryData<uint>();
        foreach (KernelOpcodes.Row row in KernelOpcodes.All)
        {
            data.Add(row.Opcode);
        }

        return data;
    }

    [Fact]
    public void The_kernel_list_covers_1_to_53_except_7_and_19()
    {
        uint[] expected = [.. Enumerable.Range(1, 53).Select(i => (uint)i).Where(i => i is not 7 and not 19)];
        Assert.Equal(expected, KernelOpcodes.All.Select(r => r.Opcode));
    }

    [Theory]
    [MemberData(nameof(KernelOpcodeNumbers))]
    public void Row_matches_the_kernel_header(uint opcode)
    {
        KernelOpcodes.Row kernel = KernelOpcodes.Get(opcode);

        FuseOpcodeInfo? row = FuseOpcodeTable.Get(opcode);

        Assert.NotNull(row);
        Assert.Equal((FuseOpcode)opcode, row.Opcode);
        Assert.Equal(kernel.CName["FUSE_".Length..], row.Name);
        Assert.Equal(kernel.Names, row.NameCount);
        Assert.Equal(kernel.NoReply, row.NoReply);
        if (opcode == (uint)FuseOpcode.Init)
        {
            // The row holds 7.45's 64-byte fuse_init_in; the INIT handler applies the 16-byte form of older kernels itself.
            Assert.Equal(64, row.LatestArgumentSize);
        }
        else
        {
            Assert.Equal(kernel.ArgumentSize, row.LatestArgumentSize);
            Assert.Equal(kernel.ArgumentSize, row.ArgumentSize(45, FuseSessionOptions.SupportedCapabilities));
        }
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(7u)]
    [InlineData(19u)]
    [InlineData(54u)]
    [InlineData(4096u)]
    [InlineData(uint.MaxValue)]
    public void Opcodes_outside_the_header_have_no_row(uint opcode)
    {
        Assert.Null(FuseOpcodeTable.Get(opcode));
    }

    [Fact]
    public void All_lists_exactly_the_kernel_opcodes_in_order()
    {
        Assert.Equal(KernelOpcodes.All.Select(r => r.Opcode), FuseOpcodeTable.All.Select(r => (uint)r.Opcode));
        Assert.Equal(53, FuseOpcodeTable.MaxOpcode);
    }

    [Fact]
    public void No_reply_is_exactly_forget_batch_forget_and_notify_reply()
    {
        Assert.Equal(
            [FuseOpcode.Forget, FuseOpcode.NotifyReply, FuseOpcode.BatchForget],
            FuseOpcodeTable.All.Where(r => r.NoReply).Select(r => r.Opcode));
    }

    [Fact]
    public void Name_counts_match_the_kernel()
    {
        var expected = new Dictionary<FuseOpcode, int>
        {
            [FuseOpcode.Lookup] = 1, [FuseOpcode.Symlink] = 2, [FuseOpcode.MkNod] = 1, [FuseOpcode.MkDir] = 1,
            [FuseOpcode.Unlink] = 1, [FuseOpcode.RmDir] = 1, [FuseOpcode.Rename] = 2, [FuseOpcode.Link] = 1,
            [FuseOpcode.SetXattr] = 1, [FuseOpcode.GetXattr] = 1, [FuseOpcode.RemoveXattr] = 1, [FuseOpcode.Create] = 1,
            [FuseOpcode.Rename2] = 2,
        };

        Assert.Equal(expected.OrderBy(p => p.Key), FuseOpcodeTable.All.Where(r => r.NameCount > 0).Select(r => KeyValuePair.Create(r.Opcode, r.NameCount)));
    }

    // ------------------------------------------------------------------ version quirks

    [Theory]
    [InlineData(FuseOpcode.MkNod, 9u, 8)]
    [InlineData(FuseOpcode.MkNod, 11u, 8)]
    [InlineData(FuseOpcode.MkNod, 12u, 16)]
    [InlineData(FuseOpcode.MkNod, 45u, 16)]
    [InlineData(FuseOpcode.Create, 11u, 8)]
    [InlineData(FuseOpcode.Create, 12u, 16)]
    [InlineData(FuseOpcode.Create, 45u, 16)]
    [InlineData(FuseOpcode.MkDir, 9u, 8)]
    [InlineData(FuseOpcode.Read, 9u, 40)]
    [InlineData(FuseOpcode.Write, 9u, 40)]
    [InlineData(FuseOpcode.GetAttr, 9u, 16)]
    [InlineData(FuseOpcode.TmpFile, 45u, 16)]
    public void Argument_size_follows_the_minor(FuseOpcode opcode, uint minor, int expected)
    {
        Assert.Equal(expected, FuseOpcodeTable.Get((uint)opcode)!.ArgumentSize(minor, FuseSessionOptions.DefaultCapabilities));
    }

    [Theory]
    [InlineData(false, 8)]
    [InlineData(true, 16)]
    public void Setxattr_size_follows_SetxattrExt(bool negotiated, int expected)
    {
        FuseInitFlags flags = negotiated ? FuseInitFlags.SetxattrExt : FuseSessionOptions.DefaultCapabilities & ~FuseInitFlags.SetxattrExt;

        Assert.Equal(expected, FuseOpcodeTable.Get((uint)FuseOpcode.SetXattr)!.ArgumentSize(45, flags));
    }

    [Fact]
    public async Task Mknod_of_a_7_11_kernel_carries_8_bytes()
    {
        var fs = new PlausibleFileSystem();
        SessionHarness harness = await SessionHarness.StartAsync(fs, minor: 11);

        ReplyReader reply = await harness.SendAsync(new RequestBuilder(FuseOpcode.MkNod, 20).U32(0x11A4).U32(0x0801).Name("fifo").Build());

        reply.AssertSuccess(128, 20);
        Assert.Equal(0x11A4u, fs.LastMknod.Mode);
        Assert.Equal(0x0801u, fs.LastMknod.Rdev);
        Assert.Equal(0u, fs.LastMknod.Umask);
        Assert.Equal("fifo", fs.LastName);
    }

    [Fact]
    public async Task Create_of_a_7_11_kernel_carries_8_bytes()
    {
        var fs = new PlausibleFileSystem();
        SessionHarness harness = await SessionHarness.StartAsync(fs, minor: 11);

        ReplyReader reply = await harness.SendAsync(new RequestBuilder(FuseOpcode.Create, 21).U32(0x42).U32(0x81A4).Name("file").Build());

        reply.AssertSuccess(144, 21);
        Assert.Equal(0x42u, fs.LastCreate.Flags);
        Assert.Equal(0x81A4u, fs.LastCreate.Mode);
        Assert.Equal(0u, fs.LastCreate.Umask);
        Assert.Equal("file", fs.LastName);
    }

    [Fact]
    public async Task Mknod_of_a_7_12_kernel_carries_16_bytes()
    {
        var fs = new PlausibleFileSystem();
        SessionHarness harness = await SessionHarness.StartAsync(fs, minor: 12);

        ReplyReader reply = await harness.SendAsync(new RequestBuilder(FuseOpcode.MkNod, 22).U32(0x21A4).U32(0x0103).U32(0x12).U32(0).Name("dev").Build());

        reply.AssertSuccess(128, 22);
        Assert.Equal(0x21A4u, fs.LastMknod.Mode);
        Assert.Equal(0x0103u, fs.LastMknod.Rdev);
        Assert.Equal(0x12u, fs.LastMknod.Umask);
        Assert.Equal("dev", fs.LastName);
    }

    [Fact]
    public async Task Setxattr_without_SetxattrExt_carries_8_bytes()
    {
        var fs = new PlausibleFileSystem();
        var options = new FuseSessionOptions { Capabilities = FuseSessionOptions.DefaultCapabilities & ~FuseInitFlags.SetxattrExt };
        SessionHarness harness = await SessionHarness.StartAsync(fs, options);

        ReplyReader reply = await harness.SendAsync(new RequestBuilder(FuseOpcode.SetXattr, 23).U32(3).U32(0).Name("user.k").Bytes("xyz"u8).Build());

        reply.AssertSuccess(0, 23);
        Assert.Equal("user.k", fs.LastName);
        Assert.Equal("xyz"u8.ToArray(), fs.LastXattrValue);
    }

    [Fact]
    public async Task Setxattr_with_SetxattrExt_carries_16_bytes()
    {
        var fs = new PlausibleFileSystem();
        SessionHarness harness = await SessionHarness.StartAsync(fs);

        ReplyReader reply = await harness.SendAsync(new RequestBuilder(FuseOpcode.SetXattr, 24).U32(3).U32(0).U32(0).U32(0).Name("user.k").Bytes("xyz"u8).Build());

        reply.AssertSuccess(0, 24);
        Assert.Equal("user.k", fs.LastName);
        Assert.Equal("xyz"u8.ToArray(), fs.LastXattrValue);
    }
}
