using System.Buffers.Binary;

namespace VirtioFs.Protocol.Tests.Session;

/// <summary>
/// Requests a confused or hostile client could send after a valid INIT (protocol 7.45, every flag offered): each gets
/// a well-defined errno, or is dropped when no reply is possible, and never reaches the filesystem half-parsed.
/// </summary>
public class MalformedRequestTests
{
    private const ulong Unique = 0x1122334455667788;

    // ------------------------------------------------------------------ header

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(8)]
    [InlineData(15)]
    public async Task Shorter_than_a_reply_header_is_dropped(int length)
    {
        SessionHarness harness = await SessionHarness.StartAsync(new PlausibleFileSystem());
        byte[] request = GetAttr().AsSpan(0, length).ToArray();

        ReplyReader reply = await harness.SendAsync(request);

        Assert.Equal(0, reply.Length);
    }

    [Theory]
    [InlineData(16)]
    [InlineData(24)]
    [InlineData(39)]
    public async Task Truncated_header_is_EIO_with_the_unique_at_offset_8(int length)
    {
        SessionHarness harness = await SessionHarness.StartAsync(new PlausibleFileSystem());
        byte[] request = GetAttr().AsSpan(0, length).ToArray();

        ReplyReader reply = await harness.SendAsync(request);

        reply.AssertError(Errno.EIO, Unique);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(8)]
    [InlineData(-1)]
    [InlineData(-16)]
    public async Task Header_len_not_matching_the_message_is_EIO(int delta)
    {
        SessionHarness harness = await SessionHarness.StartAsync(new PlausibleFileSystem());
        byte[] request = GetAttr();
        BinaryPrimitives.WriteUInt32LittleEndian(request, (uint)(request.Length + delta));

        ReplyReader reply = await harness.SendAsync(request);

        reply.AssertError(Errno.EIO, Unique);
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(16u)]
    [InlineData(uint.MaxValue)]
    public async Task Header_len_edge_values_are_EIO(uint len)
    {
        SessionHarness harness = await SessionHarness.StartAsync(new PlausibleFileSystem());
        byte[] request = new RequestBuilder(FuseOpcode.GetAttr, Unique).Args(new FuseGetattrIn()).WithLen(len).Build();

        ReplyReader reply = await harness.SendAsync(request);

        reply.AssertError(Errno.EIO, Unique);
    }

    [Fact]
    public async Task Header_len_mismatch_on_a_no_reply_opcode_is_dropped()
    {
        var fs = new PlausibleFileSystem();
        SessionHarness harness = await SessionHarness.StartAsync(fs);
        byte[] request = new RequestBuilder(FuseOpcode.Forget, Unique, nodeId: 9).U64(1).WithLen(47).Build();

        ReplyReader reply = await harness.SendAsync(request);

        Assert.Equal(0, reply.Length);
        Assert.Empty(fs.Forgotten);
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(7u)]
    [InlineData(19u)]
    [InlineData(54u)]
    [InlineData(4096u)]
    [InlineData(436207616u)]
    [InlineData(uint.MaxValue)]
    public async Task Unknown_opcode_is_ENOSYS(uint opcode)
    {
        SessionHarness harness = await SessionHarness.StartAsync(new PlausibleFileSystem());

        ReplyReader reply = await harness.SendAsync(new RequestBuilder(opcode, Unique).Zeros(16).Build());

        reply.AssertError(Errno.ENOSYS, Unique);
    }

    // ------------------------------------------------------------------ arguments and names

    public static TheoryData<uint> OpcodesWithAMinimum()
    {
        // Every row of the session's table except INIT (tested on its own) and the opcodes without arguments or names;
        // the minimum itself comes from the kernel header, not from the table under test.
        var data = new TheoryData<uint>();
        foreach (FuseOpcodeInfo info in FuseOpcodeTable.All)
        {
            KernelOpcodes.Row row = KernelOpcodes.Get((uint)info.Opcode);
            if (info.Opcode != FuseOpcode.Init && (row.ArgumentSize > 0 || row.Names > 0))
            {
                data.Add(row.Opcode);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(OpcodesWithAMinimum))]
    public async Task Body_one_byte_shorter_than_the_minimum_is_EINVAL(uint opcode)
    {
        KernelOpcodes.Row row = KernelOpcodes.Get(opcode);
        var fs = new PlausibleFileSystem();
        SessionHarness harness = await SessionHarness.StartAsync(fs);

        // The smallest valid body: the fixed arguments, then one-letter names.
        var minimum = new List<byte>(new byte[row.ArgumentSize]);
        for (int i = 0; i < row.Names; i++)
        {
            minimum.AddRange("a\0"u8.ToArray());
        }

        var bodies = new List<byte[]> { minimum.Take(minimum.Count - 1).ToArray() };
        if (row.ArgumentSize > 0 && row.Names > 0)
        {
            bodies.Add(new byte[row.ArgumentSize - 1]);
        }

        foreach (byte[] body in bodies)
        {
            ReplyReader reply = await harness.SendAsync(new RequestBuilder(opcode, Unique, nodeId: 3).Bytes(body).Build());

            if (row.NoReply)
            {
                Assert.Equal(0, reply.Length);
            }
            else
            {
                reply.AssertError(Errno.EINVAL, Unique);
            }
        }

        Assert.Empty(fs.Forgotten);
        Assert.Equal(0, fs.BatchForgetCalls);
        Assert.Null(fs.LastName);
    }

    [Theory]
    [InlineData(FuseConstants.NameMax, false)]
    [InlineData(FuseConstants.NameMax + 1, true)]
    [InlineData(64 * 1024, true)]
    public async Task Lookup_names_are_bounded_by_FUSE_NAME_MAX(int length, bool tooLong)
    {
        var fs = new PlausibleFileSystem();
        SessionHarness harness = await SessionHarness.StartAsync(fs);

        ReplyReader reply = await harness.SendAsync(new RequestBuilder(FuseOpcode.Lookup, Unique).Name(new string('n', length)).Build());

        if (tooLong)
        {
            reply.AssertError(Errno.ENAMETOOLONG, Unique);
            Assert.Null(fs.LastName);
        }
        else
        {
            reply.AssertSuccess(FuseEntryOut.Size, Unique);
            Assert.Equal(length, fs.LastName!.Length);
        }
    }

    [Theory]
    [InlineData(FuseConstants.SymlinkTargetMax, false)]
    [InlineData(FuseConstants.SymlinkTargetMax + 1, true)]
    public async Task Symlink_targets_are_bounded_by_PATH_MAX(int length, bool tooLong)
    {
        SessionHarness harness = await SessionHarness.StartAsync(new PlausibleFileSystem());

        ReplyReader reply = await harness.SendAsync(new RequestBuilder(FuseOpcode.Symlink, Unique).Name("link").Name(new string('t', length)).Build());

        Assert.Equal(tooLong, reply.Error == -(int)Errno.ENAMETOOLONG);
    }

    [Fact]
    public async Task Rename_with_an_overlong_new_name_is_ENAMETOOLONG()
    {
        SessionHarness harness = await SessionHarness.StartAsync(new PlausibleFileSystem());

        ReplyReader reply = await harness.SendAsync(new RequestBuilder(FuseOpcode.Rename, Unique)
            .Args(new FuseRenameIn { Newdir = 1 }).Name("old").Name(new string('n', FuseConstants.NameMax + 1)).Build());

        reply.AssertError(Errno.ENAMETOOLONG, Unique);
    }

    [Fact]
    public async Task Lookup_with_a_terminated_name_reaches_the_filesystem()
    {
        var fs = new PlausibleFileSystem();
        SessionHarness harness = await SessionHarness.StartAsync(fs);

        ReplyReader reply = await harness.SendAsync(new RequestBuilder(FuseOpcode.Lookup, Unique).Name("file.txt").Build());

        reply.AssertSuccess(FuseEntryOut.Size, Unique);
        Assert.Equal("file.txt", fs.LastName);
    }

    [Theory]
    [InlineData(new byte[] { (byte)'a', (byte)'b', (byte)'c' })]
    [InlineData(new byte[] { 0 })]
    [InlineData(new byte[] { 0, (byte)'a', 0 })]
    [InlineData(new byte[0])]
    public async Task Lookup_with_an_unterminated_or_empty_name_is_EINVAL(byte[] name)
    {
        var fs = new PlausibleFileSystem();
        SessionHarness harness = await SessionHarness.StartAsync(fs);

        ReplyReader reply = await harness.SendAsync(new RequestBuilder(FuseOpcode.Lookup, Unique).Bytes(name).Build());

        reply.AssertError(Errno.EINVAL, Unique);
        Assert.Null(fs.LastName);
    }

    [Theory]
    [InlineData("link\0")]
    [InlineData("link\0target")]
    [InlineData("link\0\0")]
    public async Task Symlink_without_two_names_is_EINVAL(string body)
    {
        SessionHarness harness = await SessionHarness.StartAsync(new PlausibleFileSystem());

        ReplyReader reply = await harness.SendAsync(new RequestBuilder(FuseOpcode.Symlink, Unique).Bytes(System.Text.Encoding.ASCII.GetBytes(body)).Build());

        reply.AssertError(Errno.EINVAL, Unique);
    }

    [Fact]
    public async Task Write_size_larger_than_the_data_is_EINVAL()
    {
        SessionHarness harness = await SessionHarness.StartAsync(new PlausibleFileSystem());

        ReplyReader tooLong = await harness.SendAsync(new RequestBuilder(FuseOpcode.Write, Unique).Args(new FuseWriteIn { Fh = 1, Size = 10 }).Zeros(9).Build());
        ReplyReader exact = await harness.SendAsync(new RequestBuilder(FuseOpcode.Write, Unique + 1).Args(new FuseWriteIn { Fh = 1, Size = 9 }).Zeros(9).Build());

        tooLong.AssertError(Errno.EINVAL, Unique);
        exact.AssertSuccess(8, Unique + 1);
        Assert.Equal(9u, exact.U32(0));
    }

    [Theory]
    [InlineData(uint.MaxValue, 2)]
    [InlineData(3u, 2)]
    [InlineData(1u, 0)]
    public async Task Batch_forget_with_a_count_beyond_the_body_is_dropped_unseen(uint count, int entries)
    {
        var fs = new PlausibleFileSystem();
        SessionHarness harness = await SessionHarness.StartAsync(fs);
        var builder = new RequestBuilder(FuseOpcode.BatchForget, Unique).U32(count).U32(0);
        for (int i = 0; i < entries; i++)
        {
            builder.U64(10 + (ulong)i).U64(1);
        }

        ReplyReader reply = await harness.SendAsync(builder.Build());

        Assert.Equal(0, reply.Length);
        Assert.Equal(0, fs.BatchForgetCalls);
        Assert.Empty(fs.Forgotten);
    }

    [Fact]
    public async Task Batch_forget_with_a_matching_count_reaches_the_filesystem()
    {
        var fs = new PlausibleFileSystem();
        SessionHarness harness = await SessionHarness.StartAsync(fs);

        ReplyReader reply = await harness.SendAsync(new RequestBuilder(FuseOpcode.BatchForget, Unique).U32(2).U32(0).U64(10).U64(3).U64(11).U64(4).Build());

        Assert.Equal(0, reply.Length);
        Assert.Equal(1, fs.BatchForgetCalls);
        Assert.Equal([(10UL, 3UL), (11UL, 4UL)], fs.Forgotten.Select(f => (f.Nodeid, f.Nlookup)));
    }

    [Theory]
    [InlineData(0u, 0)]
    [InlineData(257u, 257)]
    [InlineData(2u, 1)]
    [InlineData(2u, 3)]
    [InlineData(uint.MaxValue, 2)]
    public async Task Removemapping_with_a_bad_count_is_EINVAL(uint count, int entries)
    {
        var fs = new PlausibleFileSystem();
        SessionHarness harness = await SessionHarness.StartAsync(fs);

        ReplyReader reply = await harness.SendAsync(RemoveMapping(count, entries));

        reply.AssertError(Errno.EINVAL, Unique);
        Assert.Empty(fs.RemovedRanges);
    }

    [Fact]
    public async Task Removemapping_with_256_entries_reaches_the_filesystem()
    {
        var fs = new PlausibleFileSystem();
        SessionHarness harness = await SessionHarness.StartAsync(fs);

        ReplyReader reply = await harness.SendAsync(RemoveMapping(256, 256));

        reply.AssertSuccess(0, Unique);
        Assert.Equal(256, fs.RemovedRanges.Count);
        Assert.Equal(255UL * 0x200000, fs.RemovedRanges[255].Moffset);
        Assert.Equal(0x200000UL, fs.RemovedRanges[255].Len);
    }

    [Theory]
    [InlineData(41, Errno.EINVAL)]
    [InlineData(48, Errno.EINVAL)]
    [InlineData(40, Errno.Success)]
    public async Task Setupmapping_body_must_be_exactly_40_bytes(int bodyLength, Errno expected)
    {
        SessionHarness harness = await SessionHarness.StartAsync(new PlausibleFileSystem());

        ReplyReader reply = await harness.SendAsync(new RequestBuilder(FuseOpcode.SetupMapping, Unique).Zeros(bodyLength).Build());

        reply.AssertError(expected, Unique);
    }

    // ------------------------------------------------------------------ extensions

    [Theory]
    [InlineData(3)]
    [InlineData(100)]
    [InlineData(ushort.MaxValue)]
    public async Task Total_extlen_past_the_body_is_EINVAL(ushort totalExtlen)
    {
        SessionHarness harness = await SessionHarness.StartAsync(new PlausibleFileSystem());

        ReplyReader reply = await harness.SendAsync(new RequestBuilder(FuseOpcode.GetAttr, Unique).Args(new FuseGetattrIn()).WithTotalExtlen(totalExtlen).Build());

        reply.AssertError(Errno.EINVAL, Unique);
    }

    public static TheoryData<string, byte[]> BadExtensionAreas => new()
    {
        { "size 0", Ext(0, 32, 8) },
        { "size 4, smaller than the header", Ext(4, 32, 8) },
        { "size 12, not a multiple of 8", Ext(12, 32, 8) },
        { "size 24, larger than the 16-byte area", Ext(24, 32, 8) },
        { "size 0xffffffff", Ext(uint.MaxValue, 32, 8) },
        { "groups without nr_groups", Ext(8, 32, 0) },
        { "nr_groups beyond the record", ExtGroups(nrGroups: 10, present: 1) },
        { "second record truncated", [.. Ext(16, 40, 8), .. Ext(16, 40, 0)] },
    };

    [Theory]
    [MemberData(nameof(BadExtensionAreas))]
    public async Task Malformed_extension_records_are_EINVAL(string what, byte[] area)
    {
        var fs = new PlausibleFileSystem();
        SessionHarness harness = await SessionHarness.StartAsync(fs);
        byte[] request = new RequestBuilder(FuseOpcode.MkDir, Unique).Args(new FuseMkdirIn { Mode = 0x1ED }).Name("newdir").RawExtension(area).Build();

        ReplyReader reply = await harness.SendAsync(request);

        Assert.True(reply.Error == -(int)Errno.EINVAL, what);
        reply.AssertError(Errno.EINVAL, Unique);
        Assert.Null(fs.LastName);
    }

    [Theory]
    [InlineData(new uint[] { 1000, 27, 4 })]
    [InlineData(new uint[] { 5, 6 })]
    [InlineData(new uint[] { 0xFFFFFFFE })]
    [InlineData(new uint[0])]
    public async Task Supplementary_groups_extension_reaches_the_filesystem(uint[] groups)
    {
        var fs = new PlausibleFileSystem();
        SessionHarness harness = await SessionHarness.StartAsync(fs);
        byte[] request = new RequestBuilder(FuseOpcode.MkDir, Unique).Args(new FuseMkdirIn { Mode = 0x1ED }).Name("newdir").SupplementaryGroups(groups).Build();
        Assert.Equal(0, (request.Length - 40 - 8 - 7) % 8);

        ReplyReader reply = await harness.SendAsync(request);

        reply.AssertSuccess(FuseEntryOut.Size, Unique);
        Assert.Equal("newdir", fs.LastName);
        Assert.Equal(groups, fs.LastGroups);
    }

    [Fact]
    public async Task Unknown_extension_types_are_skipped()
    {
        var fs = new PlausibleFileSystem();
        SessionHarness harness = await SessionHarness.StartAsync(fs);
        byte[] request = new RequestBuilder(FuseOpcode.MkDir, Unique).Args(new FuseMkdirIn { Mode = 0x1ED }).Name("newdir")
            .Extension(99, new byte[12]).SupplementaryGroups(42).Build();

        ReplyReader reply = await harness.SendAsync(request);

        reply.AssertSuccess(FuseEntryOut.Size, Unique);
        Assert.Equal([42u], fs.LastGroups!);
    }

    // ------------------------------------------------------------------ xattr sizes

    [Fact]
    public async Task Getxattr_size_query_answers_fuse_getxattr_out()
    {
        SessionHarness harness = await SessionHarness.StartAsync(new PlausibleFileSystem());

        ReplyReader reply = await harness.SendAsync(GetXattr(0));

        reply.AssertSuccess(8, Unique);
        Assert.Equal((uint)PlausibleFileSystem.XattrValue.Length, reply.U32(0));
        reply.AssertZero(4, 4, "fuse_getxattr_out.padding");
    }

    [Fact]
    public async Task Getxattr_with_room_answers_the_value()
    {
        SessionHarness harness = await SessionHarness.StartAsync(new PlausibleFileSystem());

        ReplyReader reply = await harness.SendAsync(GetXattr(64));

        reply.AssertSuccess(PlausibleFileSystem.XattrValue.Length, Unique);
        Assert.Equal(PlausibleFileSystem.XattrValue, reply.Body.ToArray());
    }

    [Theory]
    [InlineData(1u)]
    [InlineData(4u)]
    public async Task Getxattr_size_too_small_is_ERANGE(uint size)
    {
        SessionHarness harness = await SessionHarness.StartAsync(new LengthOnlyXattr());

        ReplyReader reply = await harness.SendAsync(GetXattr(size));

        reply.AssertError(Errno.ERANGE, Unique);
    }

    [Fact]
    public async Task Listxattr_size_query_answers_fuse_getxattr_out()
    {
        SessionHarness harness = await SessionHarness.StartAsync(new PlausibleFileSystem());

        ReplyReader reply = await harness.SendAsync(new RequestBuilder(FuseOpcode.ListXattr, Unique).Args(new FuseGetxattrIn { Size = 0 }).Build());

        reply.AssertSuccess(8, Unique);
        Assert.Equal((uint)PlausibleFileSystem.XattrList.Length, reply.U32(0));
    }

    // ------------------------------------------------------------------ misbehaving filesystems

    [Theory]
    [InlineData(600)]
    [InlineData(512)]
    [InlineData(-5)]
    [InlineData(int.MinValue)]
    public async Task Invalid_errno_from_the_filesystem_becomes_EIO(int errno)
    {
        var fs = new ErrnoFileSystem { Answer = (Errno)errno };
        SessionHarness harness = await SessionHarness.StartAsync(fs);

        ReplyReader getattr = await harness.SendAsync(GetAttr());
        ReplyReader unlink = await harness.SendAsync(new RequestBuilder(FuseOpcode.Unlink, Unique + 1).Name("x").Build());

        getattr.AssertError(Errno.EIO, Unique);
        unlink.AssertError(Errno.EIO, Unique + 1);
    }

    [Theory]
    [InlineData(511)]
    [InlineData((int)Errno.ENOENT)]
    public async Task Valid_errno_from_the_filesystem_is_passed_on(int errno)
    {
        var fs = new ErrnoFileSystem { Answer = (Errno)errno };
        SessionHarness harness = await SessionHarness.StartAsync(fs);

        ReplyReader reply = await harness.SendAsync(GetAttr());

        reply.AssertError((Errno)errno, Unique);
    }

    [Fact]
    public async Task Filesystem_throwing_is_EIO_and_the_session_keeps_answering()
    {
        SessionHarness harness = await SessionHarness.StartAsync(new ThrowingGetAttr());

        ReplyReader failed = await harness.SendAsync(GetAttr());
        ReplyReader again = await harness.SendAsync(GetAttr());
        ReplyReader statfs = await harness.SendAsync(new RequestBuilder(FuseOpcode.StatFs, Unique + 2).Build());

        failed.AssertError(Errno.EIO, Unique);
        again.AssertError(Errno.EIO, Unique);
        statfs.AssertSuccess(80, Unique + 2);
        Assert.Equal(1000UL, statfs.U64(0));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4096)]
    [InlineData(int.MaxValue)]
    [InlineData(-1)]
    public async Task Read_claiming_more_than_its_buffer_is_EIO(int excess)
    {
        SessionHarness harness = await SessionHarness.StartAsync(new OverclaimingRead { Excess = excess });

        ReplyReader read = await harness.SendAsync(new RequestBuilder(FuseOpcode.Read, Unique).Args(new FuseReadIn { Fh = 1, Size = 100 }).Build());
        ReplyReader readlink = await harness.SendAsync(new RequestBuilder(FuseOpcode.ReadLink, Unique + 1).Build());

        read.AssertError(Errno.EIO, Unique);
        readlink.AssertError(Errno.EIO, Unique + 1);
    }

    [Fact]
    public async Task Read_returns_what_the_filesystem_wrote()
    {
        SessionHarness harness = await SessionHarness.StartAsync(new PlausibleFileSystem());

        ReplyReader read = await harness.SendAsync(new RequestBuilder(FuseOpcode.Read, Unique).Args(new FuseReadIn { Fh = 1, Size = 100 }).Build());

        read.AssertSuccess(100, Unique);
        Assert.Equal(-1, read.Body.IndexOfAnyExcept((byte)0xA5));
    }

    // ------------------------------------------------------------------ helpers

    private static byte[] GetAttr() => new RequestBuilder(FuseOpcode.GetAttr, Unique, nodeId: 1).Args(new FuseGetattrIn()).Build();

    private static byte[] GetXattr(uint size)
        => new RequestBuilder(FuseOpcode.GetXattr, Unique).Args(new FuseGetxattrIn { Size = size }).Name("user.test").Build();

    private static byte[] RemoveMapping(uint count, int entries)
    {
        var builder = new RequestBuilder(FuseOpcode.RemoveMapping, Unique).U32(count);
        for (int i = 0; i < entries; i++)
        {
            builder.U64((ulong)i * 0x200000).U64(0x200000);
        }

        return builder.Build();
    }

    /// <summary>An extension record header followed by <paramref name="payload"/> zero bytes.</summary>
    private static byte[] Ext(uint size, uint type, int payload)
    {
        byte[] bytes = new byte[8 + payload];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, size);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(4), type);
        return bytes;
    }

    private static byte[] ExtGroups(uint nrGroups, int present)
    {
        int size = (8 + 4 + (4 * present) + 7) & ~7;
        byte[] bytes = new byte[size];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, (uint)size);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(4), 32);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(8), nrGroups);
        return bytes;
    }

    private sealed class LengthOnlyXattr : PlausibleFileSystem
    {
        // Reports the value's length without checking the buffer: the session must turn this into ERANGE.
        public override ValueTask<FuseResult<int>> GetXattrAsync(FuseRequestContext context, ReadOnlyMemory<byte> name, Memory<byte> buffer)
            => new(XattrValue.Length);
    }

    private sealed class ErrnoFileSystem : PlausibleFileSystem
    {
        public Errno Answer { get; init; }

        public override ValueTask<FuseResult<FuseAttrOut>> GetAttrAsync(FuseRequestContext context, FuseGetattrIn args) => new(Answer);

        public override ValueTask<Errno> UnlinkAsync(FuseRequestContext context, ReadOnlyMemory<byte> name) => new(Answer);
    }

    private sealed class ThrowingGetAttr : PlausibleFileSystem
    {
        public override ValueTask<FuseResult<FuseAttrOut>> GetAttrAsync(FuseRequestContext context, FuseGetattrIn args)
            => throw new InvalidOperationException("boom");
    }

    private sealed class OverclaimingRead : PlausibleFileSystem
    {
        public int Excess { get; init; }

        public override ValueTask<FuseResult<int>> ReadAsync(FuseRequestContext context, FuseReadIn args, Memory<byte> buffer)
            => new(Excess < 0 ? Excess : (int)Math.Min(int.MaxValue, (long)buffer.Length + Excess));

        public override ValueTask<FuseResult<int>> ReadLinkAsync(FuseRequestContext context, Memory<byte> buffer)
            => new(Excess < 0 ? Excess : (int)Math.Min(int.MaxValue, (long)buffer.Length + Excess));
    }
}
