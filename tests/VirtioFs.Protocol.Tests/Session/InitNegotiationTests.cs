namespace VirtioFs.Protocol.Tests.Session;

/// <summary>
/// FUSE_INIT as kernels of several protocol versions send it. Reply offsets are those of <c>struct fuse_init_out</c>:
/// <code>
///  0 major | 4 minor | 8 max_readahead | 12 flags | 16 max_background (u16) | 18 congestion_threshold (u16)
/// 20 max_write | 24 time_gran | 28 max_pages (u16) | 30 map_alignment (u16) | 32 flags2 | 36 max_stack_depth
/// 40 request_timeout (u16) | 42 unused[11]          (64 bytes; 24 bytes, up to max_write, before 7.23)
/// </code>
/// </summary>
public class InitNegotiationTests
{
    private const ulong InitUnique = 1;

    // ------------------------------------------------------------------ version and size

    [Theory]
    [InlineData(22u, 22u, 24)]
    [InlineData(26u, 26u, 64)]
    [InlineData(31u, 31u, 64)]
    [InlineData(36u, 36u, 64)]
    [InlineData(45u, 45u, 64)]
    [InlineData(50u, 45u, 64)]
    public async Task Reply_minor_is_the_smaller_one_and_size_follows_the_kernel(uint kernelMinor, uint expectedMinor, int expectedBody)
    {
        var harness = new SessionHarness(new PlausibleFileSystem());

        ReplyReader reply = await harness.SendAsync(RequestBuilder.Init(kernelMinor, KernelFlags.For(kernelMinor)));

        reply.AssertSuccess(expectedBody, InitUnique);
        Assert.Equal(7u, reply.U32(0));
        Assert.Equal(expectedMinor, reply.U32(4));
        Assert.Equal(expectedMinor, harness.Session.Connection!.ProtocolMinor);
        Assert.Equal(kernelMinor, harness.Session.Connection.ClientMinor);
    }

    [Fact]
    public async Task Kernel_7_22_gets_the_24_byte_compat_layout()
    {
        var options = new FuseSessionOptions { MaxWrite = 65536, MaxBackground = 64, CongestionThreshold = 48, TimeGranularity = 1000 };
        var harness = new SessionHarness(new PlausibleFileSystem(), options);

        ReplyReader reply = await harness.SendAsync(RequestBuilder.Init(22, KernelFlags.For(22), maxReadahead: 131072));

        reply.AssertSuccess(24, InitUnique);
        Assert.Equal(40u, reply.HeaderLen);
        Assert.Equal(7u, reply.U32(0));
        Assert.Equal(22u, reply.U32(4));
        Assert.Equal(131072u, reply.U32(8));
        Assert.Equal((uint)(FuseInitFlags.AsyncRead | FuseInitFlags.BigWrites | FuseInitFlags.HasIoctlDir | FuseInitFlags.AutoInvalData | FuseInitFlags.AsyncDio), reply.U32(12));
        Assert.Equal((ushort)64, reply.U16(16));
        Assert.Equal((ushort)48, reply.U16(18));
        Assert.Equal(65536u, reply.U32(20));
    }

    // ------------------------------------------------------------------ flags

    public static TheoryData<uint, FuseInitFlags> DefaultNegotiation => new()
    {
        { 22, FuseInitFlags.AsyncRead | FuseInitFlags.BigWrites | FuseInitFlags.HasIoctlDir | FuseInitFlags.AutoInvalData | FuseInitFlags.AsyncDio },
        { 26, FuseInitFlags.AsyncRead | FuseInitFlags.BigWrites | FuseInitFlags.HasIoctlDir | FuseInitFlags.AutoInvalData | FuseInitFlags.AsyncDio | FuseInitFlags.ParallelDirops },
        {
            31, FuseInitFlags.AsyncRead | FuseInitFlags.BigWrites | FuseInitFlags.HasIoctlDir | FuseInitFlags.AutoInvalData | FuseInitFlags.AsyncDio | FuseInitFlags.ParallelDirops
                | FuseInitFlags.AbortError | FuseInitFlags.MaxPages | FuseInitFlags.MapAlignment
        },
        {
            36, FuseInitFlags.AsyncRead | FuseInitFlags.BigWrites | FuseInitFlags.HasIoctlDir | FuseInitFlags.AutoInvalData | FuseInitFlags.AsyncDio | FuseInitFlags.ParallelDirops
                | FuseInitFlags.AbortError | FuseInitFlags.MaxPages | FuseInitFlags.MapAlignment | FuseInitFlags.SetxattrExt | FuseInitFlags.InitExt
        },
        {
            45, FuseInitFlags.AsyncRead | FuseInitFlags.BigWrites | FuseInitFlags.HasIoctlDir | FuseInitFlags.AutoInvalData | FuseInitFlags.AsyncDio | FuseInitFlags.ParallelDirops
                | FuseInitFlags.AbortError | FuseInitFlags.MaxPages | FuseInitFlags.MapAlignment | FuseInitFlags.SetxattrExt | FuseInitFlags.InitExt
                | FuseInitFlags.HasExpireOnly | FuseInitFlags.HasResend
        },
    };

    [Theory]
    [MemberData(nameof(DefaultNegotiation))]
    public async Task Default_capabilities_negotiate_the_offered_subset(uint kernelMinor, FuseInitFlags expected)
    {
        var fs = new PlausibleFileSystem();
        var harness = new SessionHarness(fs);

        ReplyReader reply = await harness.SendAsync(RequestBuilder.Init(kernelMinor, KernelFlags.For(kernelMinor)));

        Assert.Equal(0, reply.Error);
        Assert.Equal((uint)expected, reply.U32(12));
        if (reply.Body.Length >= 36)
        {
            Assert.Equal((uint)((ulong)expected >> 32), reply.U32(32));
        }

        Assert.Equal(expected, fs.SeenConnection!.Flags);
        Assert.Equal(KernelFlags.For(kernelMinor), fs.SeenConnection.ClientFlags);
    }

    [Fact]
    public async Task Restricted_offer_negotiates_only_what_was_offered()
    {
        var fs = new PlausibleFileSystem();
        var harness = new SessionHarness(fs);
        FuseInitFlags offered = FuseInitFlags.AsyncRead | FuseInitFlags.PosixLocks | FuseInitFlags.InitExt | FuseInitFlags.HasResend;

        ReplyReader reply = await harness.SendAsync(RequestBuilder.Init(45, offered));

        // PosixLocks is offered but not in DefaultCapabilities; BigWrites etc. are enabled but not offered.
        Assert.Equal((uint)(FuseInitFlags.AsyncRead | FuseInitFlags.InitExt), reply.U32(12));
        Assert.Equal((uint)((ulong)FuseInitFlags.HasResend >> 32), reply.U32(32));
        Assert.Equal(FuseInitFlags.AsyncRead | FuseInitFlags.InitExt | FuseInitFlags.HasResend, fs.SeenConnection!.Flags);
    }

    [Fact]
    public async Task Restricted_capabilities_negotiate_only_what_is_enabled()
    {
        var options = new FuseSessionOptions
        {
            Capabilities = FuseInitFlags.PosixLocks | FuseInitFlags.WritebackCache | FuseInitFlags.DoReaddirplus | FuseInitFlags.InitExt | FuseInitFlags.Passthrough,
        };
        var fs = new PlausibleFileSystem();
        var harness = new SessionHarness(fs, options);
        FuseInitFlags offered = FuseInitFlags.AsyncRead | FuseInitFlags.PosixLocks | FuseInitFlags.WritebackCache | FuseInitFlags.BigWrites
            | FuseInitFlags.InitExt | FuseInitFlags.Passthrough | FuseInitFlags.HasResend;

        ReplyReader reply = await harness.SendAsync(RequestBuilder.Init(45, offered));

        FuseInitFlags expected = FuseInitFlags.PosixLocks | FuseInitFlags.WritebackCache | FuseInitFlags.InitExt | FuseInitFlags.Passthrough;
        Assert.Equal((uint)expected, reply.U32(12));
        Assert.Equal((uint)((ulong)expected >> 32), reply.U32(32));
        Assert.Equal(expected, fs.SeenConnection!.Flags);
    }

    [Fact]
    public async Task Unsupported_capabilities_are_never_negotiated()
    {
        var fs = new PlausibleFileSystem();
        var harness = new SessionHarness(fs);
        FuseInitFlags everything = (FuseInitFlags)ulong.MaxValue;

        ReplyReader reply = await harness.SendAsync(RequestBuilder.Init(45, everything));

        FuseInitFlags negotiated = (FuseInitFlags)(reply.U32(12) | ((ulong)reply.U32(32) << 32));
        FuseInitFlags never = FuseInitFlags.FileOps | FuseInitFlags.SpliceWrite | FuseInitFlags.SpliceMove | FuseInitFlags.SpliceRead
            | FuseInitFlags.InitReserved | FuseInitFlags.OverIoUring | FuseInitFlags.RequestTimeout | (FuseInitFlags)(~0UL << 43);
        Assert.Equal(FuseInitFlags.None, negotiated & never);
        Assert.Equal(FuseSessionOptions.DefaultCapabilities, negotiated);
        Assert.Equal((ushort)0, reply.U16(40));
    }

    [Fact]
    public async Task Flags2_is_ignored_without_InitExt_from_the_kernel()
    {
        var fs = new PlausibleFileSystem();
        var harness = new SessionHarness(fs);
        FuseInitFlags offered = (KernelFlags.For(45) & ~FuseInitFlags.InitExt) | FuseInitFlags.HasResend;

        ReplyReader reply = await harness.SendAsync(RequestBuilder.Init(45, offered));

        Assert.Equal(0u, reply.U32(12) & (uint)FuseInitFlags.InitExt);
        Assert.Equal(0u, reply.U32(32));
        Assert.Equal(0UL, (ulong)fs.SeenConnection!.Flags >> 32);
        Assert.Equal(0UL, (ulong)fs.SeenConnection.ClientFlags >> 32);
    }

    [Fact]
    public async Task Flags2_and_InitExt_do_not_exist_before_7_36()
    {
        var fs = new PlausibleFileSystem();
        var harness = new SessionHarness(fs);

        // A 7.35 kernel has neither flags2 nor INIT_EXT; even a 64-byte body with those bits set must not negotiate them.
        ReplyReader reply = await harness.SendAsync(RequestBuilder.Init(35, KernelFlags.For(45), extended: true));

        Assert.Equal(0, reply.Error);
        Assert.Equal(35u, reply.U32(4));
        Assert.Equal(0u, reply.U32(12) & (uint)FuseInitFlags.InitExt);
        Assert.Equal(0u, reply.U32(32));
        Assert.Equal(0UL, (ulong)fs.SeenConnection!.Flags >> 32);
    }

    [Fact]
    public async Task Flags2_capabilities_are_negotiated_only_together_with_InitExt()
    {
        // The kernel reads out.flags2 only when out.flags has FUSE_INIT_EXT (fs/fuse/inode.c, process_init_reply):
        // a capability of flags2 sent without INIT_EXT is not negotiated, whatever the session believes.
        var options = new FuseSessionOptions { Capabilities = FuseSessionOptions.DefaultCapabilities & ~FuseInitFlags.InitExt };
        var fs = new PlausibleFileSystem();
        var harness = new SessionHarness(fs, options);

        ReplyReader reply = await harness.SendAsync(RequestBuilder.Init(45, KernelFlags.For(45)));

        Assert.Equal(0, reply.Error);
        bool initExt = (reply.U32(12) & (uint)FuseInitFlags.InitExt) != 0;
        FuseInitFlags kernelSees = (FuseInitFlags)(reply.U32(12) | (initExt ? (ulong)reply.U32(32) << 32 : 0));
        Assert.Equal(kernelSees, fs.SeenConnection!.Flags);
    }

    // ------------------------------------------------------------------ limits

    [Theory]
    [InlineData(31u, 12, 12)]
    [InlineData(31u, 21, 21)]
    [InlineData(45u, 0, 0)]
    [InlineData(45u, 16, 16)]
    [InlineData(26u, 21, 0)]
    public async Task Map_alignment_is_sent_when_the_kernel_offers_it(uint kernelMinor, int alignment, int expected)
    {
        var fs = new PlausibleFileSystem();
        var harness = new SessionHarness(fs, new FuseSessionOptions { MapAlignment = alignment });

        ReplyReader reply = await harness.SendAsync(RequestBuilder.Init(kernelMinor, KernelFlags.For(kernelMinor)));

        Assert.Equal((ushort)expected, reply.U16(30));
        Assert.Equal((ushort)expected, fs.SeenConnection!.MapAlignment);
    }

    [Fact]
    public async Task Map_alignment_is_zero_when_not_offered()
    {
        var harness = new SessionHarness(new PlausibleFileSystem(), new FuseSessionOptions { MapAlignment = 21 });

        ReplyReader reply = await harness.SendAsync(RequestBuilder.Init(45, KernelFlags.For(45) & ~FuseInitFlags.MapAlignment));

        Assert.Equal(0, reply.Error);
        Assert.Equal((ushort)0, reply.U16(30));
        Assert.Equal(0u, reply.U32(12) & (uint)FuseInitFlags.MapAlignment);
    }

    [Theory]
    [InlineData(65536, true, 16)]
    [InlineData(1048576, true, 256)]
    [InlineData(10000, true, 3)]
    [InlineData(65536, false, 0)]
    public async Task Max_pages_is_sent_only_with_MaxPages(int maxWrite, bool offered, int expectedPages)
    {
        FuseInitFlags flags = KernelFlags.For(45);
        if (!offered)
        {
            flags &= ~FuseInitFlags.MaxPages;
        }

        var fs = new PlausibleFileSystem();
        var harness = new SessionHarness(fs, new FuseSessionOptions { MaxWrite = maxWrite });

        ReplyReader reply = await harness.SendAsync(RequestBuilder.Init(45, flags));

        Assert.Equal((ushort)expectedPages, reply.U16(28));
        Assert.Equal((uint)maxWrite, reply.U32(20));
        Assert.Equal((ushort)expectedPages, fs.SeenConnection!.MaxPages);
    }

    [Theory]
    [InlineData(131072u, null, 131072u)]
    [InlineData(131072u, 65536u, 65536u)]
    [InlineData(131072u, 1048576u, 131072u)]
    [InlineData(0u, 65536u, 0u)]
    public async Task Max_readahead_is_the_smaller_of_kernel_and_option(uint kernel, uint? option, uint expected)
    {
        var options = new FuseSessionOptions();
        if (option is uint value)
        {
            options.MaxReadahead = value;
        }

        var harness = new SessionHarness(new PlausibleFileSystem(), options);

        ReplyReader reply = await harness.SendAsync(RequestBuilder.Init(45, KernelFlags.For(45), maxReadahead: kernel));

        Assert.Equal(expected, reply.U32(8));
    }

    [Fact]
    public async Task Limits_come_from_the_options()
    {
        var options = new FuseSessionOptions { MaxWrite = 131072, TimeGranularity = 1000, MaxBackground = 12, CongestionThreshold = 9 };
        var harness = new SessionHarness(new PlausibleFileSystem(), options);

        ReplyReader reply = await harness.SendAsync(RequestBuilder.Init(45, KernelFlags.For(45)));

        reply.AssertSuccess(64, InitUnique);
        Assert.Equal(131072u, reply.U32(20));
        Assert.Equal(1000u, reply.U32(24));
        Assert.Equal((ushort)12, reply.U16(16));
        Assert.Equal((ushort)9, reply.U16(18));
        Assert.Equal(0u, reply.U32(36));
        Assert.Equal((ushort)0, reply.U16(40));
        reply.AssertZero(42, 22, "fuse_init_out.unused");
    }

    [Theory]
    [InlineData(true, true, 2u)]
    [InlineData(true, false, 0u)]
    [InlineData(false, true, 0u)]
    public async Task Max_stack_depth_is_sent_only_with_passthrough(bool enabled, bool offered, uint expected)
    {
        var options = new FuseSessionOptions { MaxStackDepth = 2 };
        if (enabled)
        {
            options.Capabilities |= FuseInitFlags.Passthrough;
        }

        FuseInitFlags flags = KernelFlags.For(45);
        if (!offered)
        {
            flags &= ~FuseInitFlags.Passthrough;
        }

        var fs = new PlausibleFileSystem();
        var harness = new SessionHarness(fs, options);

        ReplyReader reply = await harness.SendAsync(RequestBuilder.Init(45, flags));

        Assert.Equal(expected, reply.U32(36));
        Assert.Equal(enabled && offered, (reply.U32(32) & (uint)((ulong)FuseInitFlags.Passthrough >> 32)) != 0);
        Assert.Equal(expected, fs.SeenConnection!.MaxStackDepth);
    }

    [Fact]
    public async Task Connection_seen_by_the_filesystem_matches_the_reply()
    {
        var options = new FuseSessionOptions
        {
            MaxWrite = 262144, TimeGranularity = 10, MaxBackground = 33, CongestionThreshold = 22, MapAlignment = 16, MaxReadahead = 65536,
        };
        options.Capabilities |= FuseInitFlags.Passthrough | FuseInitFlags.PosixLocks;
        var fs = new PlausibleFileSystem();
        var harness = new SessionHarness(fs, options);

        ReplyReader reply = await harness.SendAsync(RequestBuilder.Init(45, KernelFlags.For(45), maxReadahead: 131072));

        FuseConnectionInfo seen = fs.SeenConnection!;
        Assert.Same(seen, harness.Session.Connection);
        Assert.Equal(1, fs.InitCalls);
        Assert.Equal(reply.U32(4), seen.ProtocolMinor);
        Assert.Equal(45u, seen.ClientMinor);
        Assert.Equal(KernelFlags.For(45), seen.ClientFlags);
        Assert.Equal((FuseInitFlags)(reply.U32(12) | ((ulong)reply.U32(32) << 32)), seen.Flags);
        Assert.Equal(reply.U32(8), seen.MaxReadahead);
        Assert.Equal(65536u, seen.MaxReadahead);
        Assert.Equal(reply.U16(16), seen.MaxBackground);
        Assert.Equal(reply.U16(18), seen.CongestionThreshold);
        Assert.Equal(reply.U32(20), seen.MaxWrite);
        Assert.Equal(reply.U32(24), seen.TimeGranularity);
        Assert.Equal(reply.U16(28), seen.MaxPages);
        Assert.Equal((ushort)64, seen.MaxPages);
        Assert.Equal(reply.U16(30), seen.MapAlignment);
        Assert.Equal(reply.U32(36), seen.MaxStackDepth);
        Assert.True(seen.Supports(45));
        Assert.False(seen.Supports(46));
    }

    [Fact]
    public async Task Connection_of_a_7_22_kernel_matches_the_compat_reply()
    {
        // The 24-byte reply ends at max_write: time_gran (7.23+) never reaches a 7.22 kernel, which keeps its
        // default granularity of 1 ns. The filesystem must not be told a granularity the kernel does not use.
        var options = new FuseSessionOptions { MaxWrite = 65536, MaxBackground = 64, CongestionThreshold = 48, TimeGranularity = 1000 };
        var fs = new PlausibleFileSystem();
        var harness = new SessionHarness(fs, options);

        ReplyReader reply = await harness.SendAsync(RequestBuilder.Init(22, KernelFlags.For(22), maxReadahead: 131072));

        reply.AssertSuccess(24, InitUnique);
        FuseConnectionInfo seen = fs.SeenConnection!;
        Assert.Equal(reply.U32(4), seen.ProtocolMinor);
        Assert.Equal((FuseInitFlags)reply.U32(12), seen.Flags);
        Assert.Equal(reply.U32(8), seen.MaxReadahead);
        Assert.Equal(reply.U16(16), seen.MaxBackground);
        Assert.Equal(reply.U16(18), seen.CongestionThreshold);
        Assert.Equal(reply.U32(20), seen.MaxWrite);
        Assert.Equal((ushort)0, seen.MaxPages);
        Assert.Equal((ushort)0, seen.MapAlignment);
        Assert.Equal(0u, seen.MaxStackDepth);
        Assert.True(seen.TimeGranularity <= 1, $"TimeGranularity {seen.TimeGranularity} was never sent to a 7.22 kernel");
    }

    // ------------------------------------------------------------------ rejection and state

    [Fact]
    public async Task Newer_major_gets_our_version_and_the_session_stays_uninitialized()
    {
        var fs = new PlausibleFileSystem();
        var harness = new SessionHarness(fs);

        ReplyReader retry = await harness.SendAsync(RequestBuilder.Init(0, KernelFlags.For(45), major: 8, extended: true, unique: 77));

        retry.AssertSuccess(8, 77);
        Assert.Equal(7u, retry.U32(0));
        Assert.Equal(45u, retry.U32(4));
        Assert.Null(harness.Session.Connection);
        Assert.Equal(0, fs.InitCalls);

        ReplyReader getattr = await harness.SendAsync(GetAttr(unique: 78));
        getattr.AssertError(Errno.EIO, 78);

        ReplyReader init = await harness.SendAsync(RequestBuilder.Init(45, KernelFlags.For(45), unique: 79));
        init.AssertSuccess(64, 79);
        Assert.NotNull(harness.Session.Connection);
    }

    [Theory]
    [InlineData(6u, 45u)]
    [InlineData(0u, 45u)]
    [InlineData(7u, 8u)]
    [InlineData(7u, 0u)]
    public async Task Too_old_protocol_is_rejected_with_EPROTO(uint major, uint minor)
    {
        var fs = new PlausibleFileSystem();
        var harness = new SessionHarness(fs);

        ReplyReader reply = await harness.SendAsync(RequestBuilder.Init(minor, FuseInitFlags.AsyncRead, major: major, extended: false, unique: 5));

        reply.AssertError(Errno.EPROTO, 5);
        Assert.Null(harness.Session.Connection);
        Assert.Equal(0, fs.InitCalls);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(4)]
    [InlineData(8)]
    [InlineData(12)]
    [InlineData(15)]
    public async Task Init_shorter_than_16_bytes_is_EINVAL(int bodyLength)
    {
        var harness = new SessionHarness(new PlausibleFileSystem());
        byte[] full = RequestBuilder.Init(45, KernelFlags.For(45), extended: false, unique: 6);
        byte[] request = new RequestBuilder(FuseOpcode.Init, unique: 6, nodeId: 0).Bytes(full.AsSpan(40, bodyLength)).Build();

        ReplyReader reply = await harness.SendAsync(request);

        reply.AssertError(Errno.EINVAL, 6);
        Assert.Null(harness.Session.Connection);
    }

    [Fact]
    public async Task Second_init_is_EIO_and_keeps_the_first_connection()
    {
        var fs = new PlausibleFileSystem();
        SessionHarness harness = await SessionHarness.StartAsync(fs);
        FuseConnectionInfo first = harness.Session.Connection!;

        ReplyReader reply = await harness.SendAsync(RequestBuilder.Init(31, KernelFlags.For(31), unique: 9));

        reply.AssertError(Errno.EIO, 9);
        Assert.Same(first, harness.Session.Connection);
        Assert.Equal(1, fs.InitCalls);
    }

    [Theory]
    [InlineData(FuseOpcode.GetAttr)]
    [InlineData(FuseOpcode.StatFs)]
    [InlineData(FuseOpcode.Lookup)]
    public async Task Requests_before_init_are_EIO(FuseOpcode opcode)
    {
        var harness = new SessionHarness(new PlausibleFileSystem());
        var builder = new RequestBuilder(opcode, unique: 10);
        if (opcode == FuseOpcode.GetAttr)
        {
            builder.Args(new FuseGetattrIn());
        }
        else if (opcode == FuseOpcode.Lookup)
        {
            builder.Name("x");
        }

        ReplyReader reply = await harness.SendAsync(builder.Build());

        reply.AssertError(Errno.EIO, 10);
    }

    [Fact]
    public async Task Forget_before_init_is_dropped()
    {
        var fs = new PlausibleFileSystem();
        var harness = new SessionHarness(fs);

        ReplyReader reply = await harness.SendAsync(new RequestBuilder(FuseOpcode.Forget, unique: 11, nodeId: 5).U64(1).Build());

        Assert.Equal(0, reply.Length);
        Assert.Empty(fs.Forgotten);
    }

    [Theory]
    [InlineData(Errno.EACCES, Errno.EACCES)]
    [InlineData(Errno.EPROTO, Errno.EPROTO)]
    [InlineData((Errno)600, Errno.EIO)]
    public async Task Filesystem_refusing_init_fails_it_and_leaves_the_session_uninitialized(Errno refusal, Errno expected)
    {
        var fs = new PlausibleFileSystem { InitResult = refusal };
        var harness = new SessionHarness(fs);

        ReplyReader reply = await harness.SendAsync(RequestBuilder.Init(45, KernelFlags.For(45), unique: 12));

        reply.AssertError(expected, 12);
        Assert.Null(harness.Session.Connection);
        (await harness.SendAsync(GetAttr(unique: 13))).AssertError(Errno.EIO, 13);

        fs.InitResult = Errno.Success;
        ReplyReader retry = await harness.SendAsync(RequestBuilder.Init(45, KernelFlags.For(45), unique: 14));
        retry.AssertSuccess(64, 14);
        Assert.Equal(2, fs.InitCalls);
        (await harness.SendAsync(GetAttr(unique: 15))).AssertSuccess(FuseAttrOut.Size, 15);
    }

    [Fact]
    public async Task Filesystem_throwing_in_init_is_EIO()
    {
        var harness = new SessionHarness(new ThrowingInit());

        ReplyReader reply = await harness.SendAsync(RequestBuilder.Init(45, KernelFlags.For(45), unique: 16));

        reply.AssertError(Errno.EIO, 16);
        Assert.Null(harness.Session.Connection);
    }

    // ------------------------------------------------------------------ options

    [Theory]
    [InlineData(22)]
    [InlineData(-1)]
    [InlineData(int.MaxValue)]
    public void MapAlignment_out_of_range_throws(int value)
    {
        var options = new FuseSessionOptions();
        Assert.Throws<ArgumentOutOfRangeException>(() => options.MapAlignment = value);
        Assert.Equal(12, options.MapAlignment);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(21)]
    public void MapAlignment_in_range_is_kept(int value)
    {
        var options = new FuseSessionOptions { MapAlignment = value };
        Assert.Equal(value, options.MapAlignment);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(4095)]
    [InlineData(1048577)]
    [InlineData(-4096)]
    public void MaxWrite_out_of_range_throws(int value)
    {
        var options = new FuseSessionOptions();
        Assert.Throws<ArgumentOutOfRangeException>(() => options.MaxWrite = value);
    }

    [Theory]
    [InlineData(4096)]
    [InlineData(1048576)]
    public void MaxWrite_in_range_is_kept(int value)
    {
        var options = new FuseSessionOptions { MaxWrite = value };
        Assert.Equal(value, options.MaxWrite);
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(3u)]
    [InlineData(20u)]
    [InlineData(110u)]
    [InlineData(2_000_000_000u)]
    [InlineData(uint.MaxValue)]
    public void TimeGranularity_not_a_power_of_ten_up_to_1e9_throws(uint value)
    {
        var options = new FuseSessionOptions();
        Assert.Throws<ArgumentOutOfRangeException>(() => options.TimeGranularity = value);
        Assert.Equal(1u, options.TimeGranularity);
    }

    [Theory]
    [InlineData(1u)]
    [InlineData(10u)]
    [InlineData(1000u)]
    [InlineData(1_000_000_000u)]
    public void TimeGranularity_power_of_ten_is_kept(uint value)
    {
        var options = new FuseSessionOptions { TimeGranularity = value };
        Assert.Equal(value, options.TimeGranularity);
    }

    [Theory]
    [InlineData(FuseInitFlags.OverIoUring)]
    [InlineData(FuseInitFlags.RequestTimeout)]
    [InlineData(FuseInitFlags.SpliceRead)]
    [InlineData(FuseInitFlags.FileOps)]
    [InlineData(FuseInitFlags.InitReserved)]
    public void Capabilities_the_library_cannot_honour_throw(FuseInitFlags flag)
    {
        var options = new FuseSessionOptions();
        Assert.Throws<ArgumentOutOfRangeException>(() => options.Capabilities = FuseSessionOptions.DefaultCapabilities | flag);
        Assert.Equal(FuseSessionOptions.DefaultCapabilities, options.Capabilities);
    }

    private static byte[] GetAttr(ulong unique) => new RequestBuilder(FuseOpcode.GetAttr, unique).Args(new FuseGetattrIn()).Build();

    private sealed class ThrowingInit : PlausibleFileSystem
    {
        public override ValueTask<Errno> InitAsync(FuseConnectionInfo connection) => throw new InvalidOperationException("init failed");
    }
}
