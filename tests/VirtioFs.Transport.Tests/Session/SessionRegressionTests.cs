using VirtioFs.Protocol;
using VirtioFs.Transport;

namespace VirtioFs.Transport.Tests.Session;

public sealed class SessionRegressionTests
{
    private sealed class TokenProbeFs : FuseFileSystem
    {
        public bool? SawCancelled { get; private set; }

        public override ValueTask<FuseResult<FuseAttrOut>> GetAttrAsync(FuseRequestContext context, FuseGetattrIn args)
        {
            SawCancelled = context.CancellationToken.IsCancellationRequested;
            return new(new FuseAttrOut());
        }
    }

    [Fact]
    public async Task RequestStartedAfterStopSeesItsTokenCancelled()
    {
        var fs = new TokenProbeFs();
        var session = new FuseSession(fs);
        byte[] reply = new byte[256];
        var init = new FuseInitIn { Major = 7, Minor = 45 };
        Assert.True(await session.HandleRequestAsync(Request(FuseOpcode.Init, 2, in init), reply) > FuseOutHeader.Size);

        session.Stop();
        int length = await session.HandleRequestAsync(Request(FuseOpcode.GetAttr, 4, new FuseGetattrIn()), reply);

        Assert.Equal(FuseOutHeader.Size + FuseAttrOut.Size, length);
        Assert.True(fs.SawCancelled);
    }

    [Fact]
    public async Task InitWithoutRoomForItsReplyLeavesTheSessionUninitialized()
    {
        var session = new FuseSession(new TokenProbeFs());
        var init = new FuseInitIn { Major = 7, Minor = 45 };
        byte[] small = new byte[FuseOutHeader.Size + 24];
        Assert.Equal(FuseOutHeader.Size, await session.HandleRequestAsync(Request(FuseOpcode.Init, 2, in init), small));
        Assert.Equal(-(int)Errno.ERANGE, BitConverter.ToInt32(small, 4));
        Assert.Null(session.Connection);

        byte[] reply = new byte[256];
        Assert.Equal(FuseOutHeader.Size + FuseInitOut.Size, await session.HandleRequestAsync(Request(FuseOpcode.Init, 4, in init), reply));
        Assert.NotNull(session.Connection);
        await Assert.ThrowsAsync<ArgumentException>(async () => await session.HandleRequestAsync(Request(FuseOpcode.Init, 6, in init), new byte[8]));
    }

    private static byte[] Request<T>(FuseOpcode opcode, ulong unique, in T args)
        where T : unmanaged
    {
        int size = System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
        byte[] request = new byte[FuseInHeader.Size + size];
        var header = new FuseInHeader { Len = (uint)request.Length, Opcode = (uint)opcode, Unique = unique, Nodeid = 1 };
        System.Runtime.InteropServices.MemoryMarshal.Write(request, in header);
        System.Runtime.InteropServices.MemoryMarshal.Write(request.AsSpan(FuseInHeader.Size), in args);
        return request;
    }

    /// <summary>Counts the calls that matter when the client gives no room for a reply.</summary>
    private sealed class ForgetProbeFs : FuseFileSystem
    {
        private int _forgets;
        private int _lookups;

        public int Forgets => Volatile.Read(ref _forgets);

        public int Lookups => Volatile.Read(ref _lookups);

        public override void Forget(ulong nodeId, ulong lookupCount) => Interlocked.Increment(ref _forgets);

        public override ValueTask<FuseResult<FuseEntryOut>> LookupAsync(FuseRequestContext context, ReadOnlyMemory<byte> name)
        {
            Interlocked.Increment(ref _lookups);
            return new(Errno.ENOENT);
        }
    }

    [Fact]
    public async Task AForgetWithNoReplyRoomIsServedAndARequestNeedingAReplyIsDropped()
    {
        // Over virtio-fs, FORGET arrives on an out-only chain: no room at all for a reply.
        var fs = new ForgetProbeFs();
        await using FuseLoopbackHost host = await FuseLoopbackHost.StartAsync(fs);

        Assert.Null(await host.Client.SendRawAsync(Request(FuseOpcode.Forget, 10, new FuseForgetIn { Nlookup = 1 }), replyRoom: 0));
        byte[] lookup = [.. Request(FuseOpcode.Lookup, 12, new FuseForgetIn()).AsSpan(0, FuseInHeader.Size), .. "x\0"u8];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(lookup, (uint)lookup.Length);
        Assert.Null(await host.Client.SendRawAsync(lookup, replyRoom: 0));

        Assert.Equal(1, fs.Forgets);
        Assert.Equal(0, fs.Lookups);
    }

    [Fact]
    public async Task ResendNeedsHasResendNegotiated()
    {
        var options = new FuseSessionOptions { Capabilities = FuseSessionOptions.DefaultCapabilities & ~FuseInitFlags.HasResend };
        await using FuseLoopbackHost host = await FuseLoopbackHost.StartAsync(new TokenProbeFs(), options);
        FuseProtocolException error = await Assert.ThrowsAsync<FuseProtocolException>(async () => await host.Session.Notifier.ResendAsync());
        Assert.Equal(Errno.ENOSYS, error.Error);
    }
}
