using System.Text;

namespace VirtioFs.Protocol.Tests.Session;

/// <summary>
/// Replies are written into a buffer prefilled with 0xff; every padding and reserved byte of the kernel's reply layout
/// must come back zero (a non-zero one would leak stale memory to the guest), every field must carry the filesystem's
/// value, and the returned length must equal <c>fuse_out_header.len</c>. Offsets are those of <c>fuse_kernel.h</c>.
/// </summary>
public class ReplyPaddingTests
{
    private const ulong Unique = 0x0A0B0C0D0E0F1011;

    [Fact]
    public async Task Lookup_entry_out_is_fully_written()
    {
        SessionHarness harness = await SessionHarness.StartAsync(new PlausibleFileSystem());

        ReplyReader reply = await harness.SendAsync(new RequestBuilder(FuseOpcode.Lookup, Unique).Name("f").Build());

        reply.AssertSuccess(128, Unique);
        AssertEntryOut(reply, 0, 2);
    }

    [Fact]
    public async Task Getattr_attr_out_dummy_is_zero()
    {
        SessionHarness harness = await SessionHarness.StartAsync(new PlausibleFileSystem());

        ReplyReader reply = await harness.SendAsync(new RequestBuilder(FuseOpcode.GetAttr, Unique, nodeId: 9).Args(new FuseGetattrIn()).Build());

        // fuse_attr_out: attr_valid 0, attr_valid_nsec 8, dummy 12, attr 16 (104 bytes).
        reply.AssertSuccess(104, Unique);
        Assert.Equal(5UL, reply.U64(0));
        Assert.Equal(6u, reply.U32(8));
        reply.AssertZero(12, 4, "fuse_attr_out.dummy");
        AssertAttr(reply, 16, 9);
    }

    [Theory]
    [InlineData(45u)]
    [InlineData(36u)]
    [InlineData(23u)]
    public async Task Init_out_unused_and_request_timeout_are_zero(uint minor)
    {
        var harness = new SessionHarness(new PlausibleFileSystem());

        ReplyReader reply = await harness.SendAsync(RequestBuilder.Init(minor, KernelFlags.For(45), unique: Unique));

        reply.AssertSuccess(64, Unique);
        reply.AssertZero(40, 2, "fuse_init_out.request_timeout");
        reply.AssertZero(42, 22, "fuse_init_out.unused");
    }

    [Fact]
    public async Task Init_out_compat_22_is_exactly_24_bytes()
    {
        var harness = new SessionHarness(new PlausibleFileSystem());

        ReplyReader reply = await harness.SendAsync(RequestBuilder.Init(22, KernelFlags.For(22), unique: Unique));

        reply.AssertSuccess(24, Unique);
        Assert.Equal(-1, reply.Bytes.AsSpan().IndexOf((byte)0xFF));
    }

    [Fact]
    public async Task Statfs_padding_and_spare_are_zero()
    {
        SessionHarness harness = await SessionHarness.StartAsync(new PlausibleFileSystem());

        ReplyReader reply = await harness.SendAsync(new RequestBuilder(FuseOpcode.StatFs, Unique).Build());

        // fuse_kstatfs: blocks 0, bfree 8, bavail 16, files 24, ffree 32, bsize 40, namelen 44, frsize 48, padding 52, spare[6] 56.
        reply.AssertSuccess(80, Unique);
        Assert.Equal(1000UL, reply.U64(0));
        Assert.Equal(500UL, reply.U64(8));
        Assert.Equal(400UL, reply.U64(16));
        Assert.Equal(100UL, reply.U64(24));
        Assert.Equal(50UL, reply.U64(32));
        Assert.Equal(4096u, reply.U32(40));
        Assert.Equal(255u, reply.U32(44));
        Assert.Equal(4096u, reply.U32(48));
        reply.AssertZero(52, 4, "fuse_kstatfs.padding");
        reply.AssertZero(56, 24, "fuse_kstatfs.spare");
    }

    [Theory]
    [InlineData(0UL)]
    [InlineData(4UL)]
    public async Task Readdir_records_are_zero_padded_to_8_bytes(ulong offset)
    {
        SessionHarness harness = await SessionHarness.StartAsync(new PlausibleFileSystem());

        ReplyReader reply = await harness.SendAsync(new RequestBuilder(FuseOpcode.ReadDir, Unique).Args(new FuseReadIn { Fh = 1, Offset = offset, Size = 4096 }).Build());

        // fuse_dirent: ino 0, off 8, namelen 16, type 20, name 24; records aligned to 8.
        int position = 0;
        for (int i = (int)offset; i < PlausibleFileSystem.DirEntries; i++)
        {
            string name = PlausibleFileSystem.DirName(i);
            Assert.Equal(100UL + (ulong)i, reply.U64(position));
            Assert.Equal((ulong)i + 1, reply.U64(position + 8));
            Assert.Equal((uint)name.Length, reply.U32(position + 16));
            Assert.Equal((uint)FuseDirentType.Reg, reply.U32(position + 20));
            Assert.Equal(name, Encoding.ASCII.GetString(reply.Body.Slice(position + 24, name.Length)));
            int unpadded = 24 + name.Length;
            int padded = (unpadded + 7) & ~7;
            reply.AssertZero(position + unpadded, padded - unpadded, $"padding of entry {name}");
            position += padded;
        }

        reply.AssertSuccess(position, Unique);
    }

    [Fact]
    public async Task Readdirplus_records_are_zero_padded_to_8_bytes()
    {
        SessionHarness harness = await SessionHarness.StartAsync(new PlausibleFileSystem());

        ReplyReader reply = await harness.SendAsync(new RequestBuilder(FuseOpcode.ReadDirPlus, Unique).Args(new FuseReadIn { Fh = 1, Size = 8192 }).Build());

        // fuse_direntplus: entry_out 0 (128 bytes), dirent 128 (24 bytes), name 152; records aligned to 8.
        int position = 0;
        for (int i = 0; i < PlausibleFileSystem.DirEntries; i++)
        {
            string name = PlausibleFileSystem.DirName(i);
            AssertEntryOut(reply, position, 100 + (ulong)i);
            Assert.Equal(100UL + (ulong)i, reply.U64(position + 128));
            Assert.Equal((ulong)i + 1, reply.U64(position + 136));
            Assert.Equal((uint)name.Length, reply.U32(position + 144));
            Assert.Equal((uint)FuseDirentType.Reg, reply.U32(position + 148));
            Assert.Equal(name, Encoding.ASCII.GetString(reply.Body.Slice(position + 152, name.Length)));
            int unpadded = 152 + name.Length;
            int padded = (unpadded + 7) & ~7;
            reply.AssertZero(position + unpadded, padded - unpadded, $"padding of entry {name}");
            position += padded;
        }

        reply.AssertSuccess(position, Unique);
    }

    [Fact]
    public async Task Readdir_stops_at_the_requested_size_with_whole_records()
    {
        SessionHarness harness = await SessionHarness.StartAsync(new PlausibleFileSystem());

        // Entries 0..3 take 32 + 32 + 32 + 32 bytes; the fifth (24 + 5 -> 32) no longer fits in 150.
        ReplyReader reply = await harness.SendAsync(new RequestBuilder(FuseOpcode.ReadDir, Unique).Args(new FuseReadIn { Fh = 1, Size = 150 }).Build());

        reply.AssertSuccess(128, Unique);
        Assert.Equal(4UL, reply.U64(96 + 8));
    }

    [Fact]
    public async Task Open_out_is_fully_written()
    {
        SessionHarness harness = await SessionHarness.StartAsync(new PlausibleFileSystem());

        ReplyReader reply = await harness.SendAsync(new RequestBuilder(FuseOpcode.Open, Unique).Args(new FuseOpenIn { Flags = 2 }).Build());

        // fuse_open_out: fh 0, open_flags 8, backing_id 12.
        reply.AssertSuccess(16, Unique);
        Assert.Equal(0x1122334455667788UL, reply.U64(0));
        Assert.Equal((uint)FuseOpenOutFlags.KeepCache, reply.U32(8));
        Assert.Equal(0, reply.I32(12));
    }

    [Fact]
    public async Task Create_out_is_entry_then_open()
    {
        SessionHarness harness = await SessionHarness.StartAsync(new PlausibleFileSystem());

        ReplyReader reply = await harness.SendAsync(new RequestBuilder(FuseOpcode.Create, Unique).Args(new FuseCreateIn { Flags = 0x41, Mode = 0x81A4 }).Name("new").Build());

        reply.AssertSuccess(144, Unique);
        AssertEntryOut(reply, 0, 6);
        Assert.Equal(0x1122334455667788UL, reply.U64(128));
        Assert.Equal((uint)FuseOpenOutFlags.KeepCache, reply.U32(136));
        Assert.Equal(0, reply.I32(140));
    }

    [Fact]
    public async Task Getlk_out_is_fully_written()
    {
        SessionHarness harness = await SessionHarness.StartAsync(new PlausibleFileSystem());

        ReplyReader reply = await harness.SendAsync(new RequestBuilder(FuseOpcode.GetLk, Unique).Args(new FuseLkIn { Fh = 1, Owner = 2 }).Build());

        // fuse_lk_out { fuse_file_lock: start 0, end 8, type 16, pid 20 }.
        reply.AssertSuccess(24, Unique);
        Assert.Equal(10UL, reply.U64(0));
        Assert.Equal(20UL, reply.U64(8));
        Assert.Equal(1u, reply.U32(16));
        Assert.Equal(77u, reply.U32(20));
    }

    [Theory]
    [InlineData(FuseOpcode.Write)]
    [InlineData(FuseOpcode.CopyFileRange)]
    public async Task Write_out_padding_is_zero(FuseOpcode opcode)
    {
        SessionHarness harness = await SessionHarness.StartAsync(new PlausibleFileSystem());
        byte[] request = opcode == FuseOpcode.Write
            ? new RequestBuilder(opcode, Unique).Args(new FuseWriteIn { Fh = 1, Size = 3 }).Bytes("abc"u8).Build()
            : new RequestBuilder(opcode, Unique).Args(new FuseCopyFileRangeIn { FhIn = 1, NodeidOut = 2, FhOut = 3, Len = 3 }).Build();

        ReplyReader reply = await harness.SendAsync(request);

        // fuse_write_out: size 0, padding 4.
        reply.AssertSuccess(8, Unique);
        Assert.Equal(3u, reply.U32(0));
        reply.AssertZero(4, 4, "fuse_write_out.padding");
    }

    [Fact]
    public async Task Poll_out_padding_is_zero()
    {
        SessionHarness harness = await SessionHarness.StartAsync(new PlausibleFileSystem());

        ReplyReader reply = await harness.SendAsync(new RequestBuilder(FuseOpcode.Poll, Unique).Args(new FusePollIn { Fh = 1, Kh = 2, Events = 1 }).Build());

        reply.AssertSuccess(8, Unique);
        Assert.Equal(1u, reply.U32(0));
        reply.AssertZero(4, 4, "fuse_poll_out.padding");
    }

    [Fact]
    public async Task Ioctl_out_unused_fields_are_zero()
    {
        SessionHarness harness = await SessionHarness.StartAsync(new PlausibleFileSystem());

        ReplyReader reply = await harness.SendAsync(new RequestBuilder(FuseOpcode.Ioctl, Unique).Args(new FuseIoctlIn { Fh = 1, Cmd = 0x5401, OutSize = 8 }).Build());

        // fuse_ioctl_out: result 0, flags 4, in_iovs 8, out_iovs 12; then the output data.
        reply.AssertSuccess(16 + 8, Unique);
        Assert.Equal(7, reply.I32(0));
        reply.AssertZero(4, 12, "fuse_ioctl_out.flags/in_iovs/out_iovs");
        Assert.Equal(-1, reply.Body.Slice(16).IndexOfAnyExcept((byte)0x5A));
    }

    [Fact]
    public async Task Statx_out_spares_and_reserved_are_zero()
    {
        SessionHarness harness = await SessionHarness.StartAsync(new PlausibleFileSystem());

        ReplyReader reply = await harness.SendAsync(new RequestBuilder(FuseOpcode.Statx, Unique, nodeId: 12).Args(new FuseStatxIn { SxMask = 0x7FF }).Build());

        // fuse_statx_out: attr_valid 0, attr_valid_nsec 8, flags 12, spare[2] 16, stat 32 (fuse_statx, 256 bytes).
        // fuse_statx: mask 0, blksize 4, attributes 8, nlink 16, uid 20, gid 24, mode 28 (u16), __spare0 30, ino 32,
        // size 40, blocks 48, attributes_mask 56, atime 64, btime 80, ctime 96, mtime 112 (sec 0, nsec 8, __reserved 12),
        // rdev_major 128, rdev_minor 132, dev_major 136, dev_minor 140, __spare2[14] 144.
        reply.AssertSuccess(288, Unique);
        Assert.Equal(9UL, reply.U64(0));
        Assert.Equal(10u, reply.U32(8));
        reply.AssertZero(16, 16, "fuse_statx_out.spare");
        const int s = 32;
        Assert.Equal(0x7FFu, reply.U32(s + 0));
        Assert.Equal(4096u, reply.U32(s + 4));
        Assert.Equal(1u, reply.U32(s + 16));
        Assert.Equal(1000u, reply.U32(s + 20));
        Assert.Equal(100u, reply.U32(s + 24));
        Assert.Equal((ushort)(FuseFileMode.RegularFile | 0x1A4), reply.U16(s + 28));
        reply.AssertZero(s + 30, 2, "fuse_statx.__spare0");
        Assert.Equal(12UL, reply.U64(s + 32));
        Assert.Equal(12345UL, reply.U64(s + 40));
        Assert.Equal(32UL, reply.U64(s + 48));
        for (int t = 0; t < 4; t++)
        {
            int at = s + 64 + (16 * t);
            Assert.Equal((ulong)((2 * t) + 1), reply.U64(at));
            Assert.Equal((uint)((2 * t) + 2), reply.U32(at + 8));
            reply.AssertZero(at + 12, 4, $"fuse_sx_time[{t}].__reserved");
        }

        Assert.Equal(253u, reply.U32(s + 136));
        Assert.Equal(1u, reply.U32(s + 140));
        reply.AssertZero(s + 144, 112, "fuse_statx.__spare2");
    }

    [Fact]
    public async Task Getxattr_out_padding_is_zero()
    {
        SessionHarness harness = await SessionHarness.StartAsync(new PlausibleFileSystem());

        ReplyReader reply = await harness.SendAsync(new RequestBuilder(FuseOpcode.GetXattr, Unique).Args(new FuseGetxattrIn()).Name("user.a").Build());

        reply.AssertSuccess(8, Unique);
        Assert.Equal(5u, reply.U32(0));
        reply.AssertZero(4, 4, "fuse_getxattr_out.padding");
    }

    [Fact]
    public async Task Error_replies_are_exactly_a_header()
    {
        SessionHarness harness = await SessionHarness.StartAsync(new PlausibleFileSystem());

        ReplyReader reply = await harness.SendAsync(new RequestBuilder(FuseOpcode.Lookup, Unique).Bytes("x"u8).Build());

        reply.AssertError(Errno.EINVAL, Unique);
    }

    [Fact]
    public async Task Write_reply_golden_bytes()
    {
        SessionHarness harness = await SessionHarness.StartAsync(new PlausibleFileSystem());

        ReplyReader reply = await harness.SendAsync(new RequestBuilder(FuseOpcode.Write, Unique).Args(new FuseWriteIn { Fh = 1, Size = 3 }).Bytes("abc"u8).Build());

        //                 len=24    error=0   unique (LE)       size=3    padding
        Assert.Equal(Convert.FromHexString("18000000" + "00000000" + "11100F0E0D0C0B0A" + "03000000" + "00000000"), reply.Bytes);
    }

    [Fact]
    public async Task Error_reply_golden_bytes()
    {
        SessionHarness harness = await SessionHarness.StartAsync(new PlausibleFileSystem());

        ReplyReader reply = await harness.SendAsync(new RequestBuilder(99, Unique).Build());

        //                 len=16    error=-38 unique (LE)
        Assert.Equal(Convert.FromHexString("10000000" + "DAFFFFFF" + "11100F0E0D0C0B0A"), reply.Bytes);
    }

    /// <summary>fuse_entry_out: nodeid 0, generation 8, entry_valid 16, attr_valid 24, entry_valid_nsec 32, attr_valid_nsec 36, attr 40.</summary>
    private static void AssertEntryOut(ReplyReader reply, int at, ulong nodeId)
    {
        Assert.Equal(nodeId, reply.U64(at));
        Assert.Equal(7UL, reply.U64(at + 8));
        Assert.Equal(1UL, reply.U64(at + 16));
        Assert.Equal(2UL, reply.U64(at + 24));
        Assert.Equal(3u, reply.U32(at + 32));
        Assert.Equal(4u, reply.U32(at + 36));
        AssertAttr(reply, at + 40, nodeId);
    }

    /// <summary>fuse_attr: ino 0, size 8, blocks 16, atime 24, mtime 32, ctime 40, atimensec 48, mtimensec 52, ctimensec 56,
    /// mode 60, nlink 64, uid 68, gid 72, rdev 76, blksize 80, flags 84 (88 bytes).</summary>
    private static void AssertAttr(ReplyReader reply, int at, ulong ino)
    {
        Assert.Equal(ino, reply.U64(at));
        Assert.Equal(4096 + ino, reply.U64(at + 8));
        Assert.Equal(8UL, reply.U64(at + 16));
        Assert.Equal(1_700_000_001UL, reply.U64(at + 24));
        Assert.Equal(1_700_000_002UL, reply.U64(at + 32));
        Assert.Equal(1_700_000_003UL, reply.U64(at + 40));
        Assert.Equal(11u, reply.U32(at + 48));
        Assert.Equal(22u, reply.U32(at + 52));
        Assert.Equal(33u, reply.U32(at + 56));
        Assert.Equal(FuseFileMode.RegularFile | 0x1A4, reply.U32(at + 60));
        Assert.Equal(1u, reply.U32(at + 64));
        Assert.Equal(1000u, reply.U32(at + 68));
        Assert.Equal(100u, reply.U32(at + 72));
        Assert.Equal(0u, reply.U32(at + 76));
        Assert.Equal(4096u, reply.U32(at + 80));
        Assert.Equal(0u, reply.U32(at + 84));
    }
}
