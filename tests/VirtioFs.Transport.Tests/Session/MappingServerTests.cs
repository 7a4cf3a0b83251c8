using NSubstitute;
using VirtioFs.Protocol;
using static VirtioFs.Transport.Tests.Session.SessionTestSupport;

namespace VirtioFs.Transport.Tests.Session;

/// <summary>The session's seam to a DAX mapping server (<see cref="FuseSessionOptions.MappingServer"/>).</summary>
public sealed class MappingServerTests
{
    private static readonly FuseSetupmappingIn Setup = new()
    {
        Fh = FuseConstants.SetupMappingFhNone,
        Foffset = 0,
        Len = 0x20_0000,
        Flags = (ulong)FuseSetupMappingFlags.Read,
        Moffset = 0,
    };

    public class PlainFs : FuseFileSystem
    {
        public int DestroyCount = 0;


        public override void Destroy() => Interlocked.Increment(ref DestroyCount);
    }

    private static IFuseMappingServer NewServer(int mapAlignment = 16)
    {
        IFuseMappingServer server = Substitute.For<IFuseMappingServer>();
        server.MapAlignment.Returns(mapAlignment);
        server.SetupMappingAsync(Arg.Any<FuseRequestContext>(), Arg.Any<FuseSetupmappingIn>()).Returns(new ValueTask<Errno>(Errno.Success));
        server.RemoveMappingAsync(Arg.Any<FuseRequestContext>(), Arg.Any<FuseRemoveMappingList>()).Returns(new ValueTask<Errno>(Errno.Success));
        return server;
    }

    private static Task<FuseLoopbackHost> StartAsync(FuseFileSystem fs, IFuseMappingServer? server, FuseClientInitOptions? init = null)
        => FuseLoopbackHost.StartAsync(fs, new FuseSessionOptions { WorkersPerChannel = 2, MappingServer = server }, init).WaitAsync(WaitLimit);

    [Fact]
    public async Task WithoutAMappingServerTheFileSystemAnswersEnosys()
    {
        await using FuseLoopbackHost host = await StartAsync(new PlainFs(), null);

        Assert.Equal(Errno.ENOSYS, await host.Client.SetupMappingAsync(2, Setup).Bounded());
        Assert.Equal(Errno.ENOSYS, await host.Client.RemoveMappingAsync(2, [new FuseRemovemappingOne { Moffset = 0, Len = 0x1000 }]).Bounded());
    }

    [Fact]
    public async Task MappingRequestsGoToTheMappingServerNotTheFileSystem()
    {
        IFuseMappingServer server = NewServer();
        FuseFileSystem fs = Substitute.ForPartsOf<PlainFs>();
        await using FuseLoopbackHost host = await StartAsync(fs, server);
        FuseRemovemappingOne[] ranges = [new FuseRemovemappingOne { Moffset = 0x1_0000, Len = 0x1_0000 }, new FuseRemovemappingOne { Moffset = 0x4_0000, Len = 0x2_0000 }];
        int removedCount = 0;
        FuseRemovemappingOne second = default;
        server.RemoveMappingAsync(Arg.Any<FuseRequestContext>(), Arg.Any<FuseRemoveMappingList>()).Returns(ci =>
        {
            FuseRemoveMappingList list = ci.ArgAt<FuseRemoveMappingList>(1);
            removedCount = list.Count;
            second = list[1];
            return new ValueTask<Errno>(Errno.Success);
        });

        Assert.Equal(Errno.Success, await host.Client.SetupMappingAsync(7, Setup).Bounded());
        Assert.Equal(Errno.Success, await host.Client.RemoveMappingAsync(7, ranges).Bounded());

        await server.Received(1).SetupMappingAsync(Arg.Is<FuseRequestContext>(c => c.NodeId == 7), Setup);
        Assert.Equal(2, removedCount);
        Assert.Equal(ranges[1], second);
        await fs.DidNotReceive().SetupMappingAsync(Arg.Any<FuseRequestContext>(), Arg.Any<FuseSetupmappingIn>());
        await fs.DidNotReceive().RemoveMappingAsync(Arg.Any<FuseRequestContext>(), Arg.Any<FuseRemoveMappingList>());
    }

    [Fact]
    public async Task AnErrnoFromTheMappingServerIsTheReply()
    {
        IFuseMappingServer server = NewServer();
        server.SetupMappingAsync(Arg.Any<FuseRequestContext>(), Arg.Any<FuseSetupmappingIn>()).Returns(new ValueTask<Errno>(Errno.EROFS));
        await using FuseLoopbackHost host = await StartAsync(new PlainFs(), server);

        Assert.Equal(Errno.EROFS, await host.Client.SetupMappingAsync(7, Setup).Bounded());
    }

    [Fact]
    public async Task BodySizesAreCheckedBeforeTheMappingServerIsCalled()
    {
        IFuseMappingServer server = NewServer();
        await using FuseLoopbackHost host = await StartAsync(new PlainFs(), server);

        // REMOVEMAPPING with count 0, and with more entries than fit one page.
        Assert.Equal(Errno.EINVAL, await host.Client.RemoveMappingAsync(7, []).Bounded());
        var tooMany = new FuseRemovemappingOne[FuseConstants.RemoveMappingMaxEntries + 1];
        Assert.Equal(Errno.EINVAL, await host.Client.RemoveMappingAsync(7, tooMany).Bounded());

        server.ReceivedCalls().Where(c => c.GetMethodInfo().Name != "get_MapAlignment").ToList().ForEach(c => Assert.Fail($"unexpected {c.GetMethodInfo().Name}"));
    }

    [Fact]
    public async Task InitSendsTheMappingServersAlignment()
    {
        await using FuseLoopbackHost host = await StartAsync(new PlainFs(), NewServer(mapAlignment: 16));

        Assert.NotEqual(0u, host.Init.Flags & (uint)FuseInitFlags.MapAlignment);
        Assert.Equal(16, host.Init.MapAlignment);
    }

    [Fact]
    public async Task WithoutAMappingServerInitSendsTheOption()
    {
        await using FuseLoopbackHost host = await FuseLoopbackHost.StartAsync(new PlainFs(), new FuseSessionOptions { MapAlignment = 13 }).WaitAsync(WaitLimit);

        Assert.Equal(13, host.Init.MapAlignment);
    }

    [Fact]
    public async Task NoAlignmentIsSentWhenTheClientDoesNotOfferIt()
    {
        var init = new FuseClientInitOptions { Flags = (FuseInitFlags)((1UL << 43) - 1) & ~FuseInitFlags.MapAlignment };
        await using FuseLoopbackHost host = await StartAsync(new PlainFs(), NewServer(mapAlignment: 16), init);

        Assert.Equal(0, host.Init.MapAlignment);
    }

    [Fact]
    public void AnOutOfRangeAlignmentIsRefusedByTheOption()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new FuseSessionOptions { MappingServer = NewServer(mapAlignment: 22) });
        Assert.Throws<ArgumentOutOfRangeException>(() => new FuseSessionOptions { MappingServer = NewServer(mapAlignment: -1) });
    }

    [Fact]
    public async Task DestroyResetsTheMappingServerOnce()
    {
        IFuseMappingServer server = NewServer();
        var fs = new PlainFs();
        await using FuseLoopbackHost host = await StartAsync(fs, server);

        Assert.Equal(Errno.Success, await host.Client.DestroyAsync().Bounded());
        await host.Completion.Bounded();

        server.Received(1).Reset();
        Assert.Equal(1, fs.DestroyCount);
    }

    [Fact]
    public async Task DisconnectResetsTheMappingServerOnce()
    {
        IFuseMappingServer server = NewServer();
        await using FuseLoopbackHost host = await StartAsync(new PlainFs(), server);

        await host.Client.DisposeAsync();
        await host.Completion.Bounded();

        server.Received(1).Reset();
    }

    [Fact]
    public async Task ResetIsCalledBeforeTheFileSystemsDestroyAndAThrowDoesNotSkipIt()
    {
        IFuseMappingServer server = NewServer();
        var order = new List<string>();
        server.When(s => s.Reset()).Do(_ =>
        {
            order.Add("reset");
            throw new InvalidOperationException("boom");
        });
        var fs = Substitute.ForPartsOf<PlainFs>();
        fs.When(f => f.Destroy()).Do(_ => order.Add("destroy"));
        await using FuseLoopbackHost host = await StartAsync(fs, server);

        Assert.Equal(Errno.Success, await host.Client.DestroyAsync().Bounded());
        await host.Completion.Bounded();

        Assert.Equal(["reset", "destroy"], order);
    }

    [Fact]
    public async Task ClosingBeforeInitDoesNotReset()
    {
        IFuseMappingServer server = NewServer();
        var session = new FuseSession(new PlainFs(), new FuseSessionOptions { WorkersPerChannel = 1, MappingServer = server });
        (IFuseChannel channel, FuseLoopbackClient client) = FuseLoopback.CreatePair();
        Task run = session.RunAsync(channel);

        await client.DisposeAsync();
        await run.Bounded();

        server.DidNotReceive().Reset();
    }
}
