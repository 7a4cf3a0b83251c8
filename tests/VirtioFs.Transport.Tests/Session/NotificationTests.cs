using System.Buffers.Binary;
using System.Runtime.InteropServices;
using VirtioFs.Protocol;
using static VirtioFs.Transport.Tests.Session.SessionTestSupport;

namespace VirtioFs.Transport.Tests.Session;

/// <summary>Server-to-client notifications: exact wire bodies, RETRIEVE round trip, version gating and name checks.</summary>
public sealed class NotificationTests
{
    private sealed class PlainFs : FuseFileSystem;

    /// <summary>Little-endian body builder.</summary>
    private sealed class Body
    {
        private readonly List<byte> _bytes = [];

        public Body U64(ulong v)
        {
            Span<byte> b = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(b, v);
            _bytes.AddRange(b.ToArray());
            return this;
        }

        public Body I64(long v) => U64((ulong)v);

        public Body U32(uint v)
        {
            Span<byte> b = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(b, v);
            _bytes.AddRange(b.ToArray());
            return this;
        }

        public Body Bytes(ReadOnlySpan<byte> v)
        {
            _bytes.AddRange(v.ToArray());
            return this;
        }

        public byte[] ToArray() => [.. _bytes];
    }

    private static async Task<FuseNotificationMessage> NextAsync(FuseLoopbackClient client)
        => await client.ReadNotificationAsync().Bounded();

    [Fact]
    public async Task InvalidateInode()
    {
        await using FuseLoopbackHost host = await StartAsync(new PlainFs());

        await host.Session.Notifier.InvalidateInodeAsync(0x1122334455667788, -1, 4096).Bounded();

        FuseNotificationMessage m = await NextAsync(host.Client);
        Assert.Equal(FuseNotifyCode.InvalInode, m.Code);
        Assert.Equal(new Body().U64(0x1122334455667788).I64(-1).I64(4096).ToArray(), m.Body);
        Assert.Equal(FuseNotifyInvalInodeOut.Size, m.Body.Length);
    }

    [Fact]
    public async Task InvalidateEntryCarriesTheNameAndANul()
    {
        await using FuseLoopbackHost host = await StartAsync(new PlainFs());

        await host.Session.Notifier.InvalidateEntryAsync(7, "some-name"u8.ToArray()).Bounded();
        await host.Session.Notifier.InvalidateEntryAsync(8, "x"u8.ToArray(), FuseNotifyInvalEntryFlags.ExpireOnly).Bounded();

        FuseNotificationMessage m = await NextAsync(host.Client);
        Assert.Equal(FuseNotifyCode.InvalEntry, m.Code);
        Assert.Equal(new Body().U64(7).U32(9).U32(0).Bytes("some-name\0"u8).ToArray(), m.Body);

        FuseNotificationMessage expire = await NextAsync(host.Client);
        Assert.Equal(FuseNotifyCode.InvalEntry, expire.Code);
        Assert.Equal(new Body().U64(8).U32(1).U32((uint)FuseNotifyInvalEntryFlags.ExpireOnly).Bytes("x\0"u8).ToArray(), expire.Body);
    }

    [Fact]
    public async Task ExpireOnlyNeeds738()
    {
        await using FuseLoopbackHost host = await StartAsync(new PlainFs(), init: new FuseClientInitOptions { Minor = 36 });
        Assert.Equal(36u, host.Init.Minor);

        FuseProtocolException ex = await Assert.ThrowsAsync<FuseProtocolException>(
            async () => await host.Session.Notifier.InvalidateEntryAsync(1, "n"u8.ToArray(), FuseNotifyInvalEntryFlags.ExpireOnly));
        Assert.Equal(Errno.ENOSYS, ex.Error);

        // Without the flag it is fine at 7.36.
        await host.Session.Notifier.InvalidateEntryAsync(1, "n"u8.ToArray()).Bounded();
        FuseNotificationMessage m = await NextAsync(host.Client);
        Assert.Equal(new Body().U64(1).U32(1).U32(0).Bytes("n\0"u8).ToArray(), m.Body);
    }

    [Fact]
    public async Task Delete()
    {
        await using FuseLoopbackHost host = await StartAsync(new PlainFs());

        await host.Session.Notifier.DeleteAsync(3, 44, "gone.txt"u8.ToArray()).Bounded();

        FuseNotificationMessage m = await NextAsync(host.Client);
        Assert.Equal(FuseNotifyCode.Delete, m.Code);
        Assert.Equal(new Body().U64(3).U64(44).U32(8).U32(0).Bytes("gone.txt\0"u8).ToArray(), m.Body);
    }

    [Fact]
    public async Task Store()
    {
        await using FuseLoopbackHost host = await StartAsync(new PlainFs());
        byte[] data = Enumerable.Range(1, 13).Select(i => (byte)i).ToArray();

        await host.Session.Notifier.StoreAsync(9, 0x1_0000_0000, data).Bounded();

        FuseNotificationMessage m = await NextAsync(host.Client);
        Assert.Equal(FuseNotifyCode.Store, m.Code);
        Assert.Equal(new Body().U64(9).U64(0x1_0000_0000).U32(13).U32(0).Bytes(data).ToArray(), m.Body);
    }

    [Fact]
    public async Task PollWakeup()
    {
        await using FuseLoopbackHost host = await StartAsync(new PlainFs());

        await host.Session.Notifier.PollWakeupAsync(0xFEEDFACE_CAFEBEEF).Bounded();

        FuseNotificationMessage m = await NextAsync(host.Client);
        Assert.Equal(FuseNotifyCode.Poll, m.Code);
        Assert.Equal(new Body().U64(0xFEEDFACE_CAFEBEEF).ToArray(), m.Body);
    }

    [Fact]
    public async Task ResendIncrementEpochAndPrune()
    {
        await using FuseLoopbackHost host = await StartAsync(new PlainFs());

        await host.Session.Notifier.ResendAsync().Bounded();
        await host.Session.Notifier.IncrementEpochAsync().Bounded();
        await host.Session.Notifier.PruneAsync(new ulong[] { 5, 0x8000_0000_0000_0001, 77 }).Bounded();

        FuseNotificationMessage resend = await NextAsync(host.Client);
        Assert.Equal(FuseNotifyCode.Resend, resend.Code);
        Assert.Empty(resend.Body);

        FuseNotificationMessage epoch = await NextAsync(host.Client);
        Assert.Equal(FuseNotifyCode.IncEpoch, epoch.Code);
        Assert.Empty(epoch.Body);

        FuseNotificationMessage prune = await NextAsync(host.Client);
        Assert.Equal(FuseNotifyCode.Prune, prune.Code);
        Assert.Equal(new Body().U32(3).U32(0).U64(0).U64(5).U64(0x8000_0000_0000_0001).U64(77).ToArray(), prune.Body);
    }

    [Fact]
    public async Task Retrieve()
    {
        await using FuseLoopbackHost host = await StartAsync(new PlainFs());

        Task<byte[]> retrieve = host.Session.Notifier.RetrieveAsync(21, 4096, 16);

        FuseNotificationMessage m = await NextAsync(host.Client);
        Assert.Equal(FuseNotifyCode.Retrieve, m.Code);
        Assert.Equal(FuseNotifyRetrieveOut.StructSize, m.Body.Length);
        FuseNotifyRetrieveOut args = MemoryMarshal.Read<FuseNotifyRetrieveOut>(m.Body);
        Assert.NotEqual(0ul, args.NotifyUnique);
        Assert.Equal(21ul, args.Nodeid);
        Assert.Equal(4096ul, args.Offset);
        Assert.Equal(16u, args.Size);
        Assert.Equal(new byte[4], m.Body[28..]);
        Assert.False(retrieve.IsCompleted);

        byte[] cached = "cached page data"u8.ToArray();
        await host.Client.NotifyReplyAsync(args.NotifyUnique, 21, 4096, cached).Bounded();

        Assert.Equal(cached, await retrieve.Bounded());
    }

    [Fact]
    public async Task RetrieveWithShortReplyAndTwoOutstanding()
    {
        await using FuseLoopbackHost host = await StartAsync(new PlainFs());

        Task<byte[]> first = host.Session.Notifier.RetrieveAsync(1, 0, 100);
        FuseNotifyRetrieveOut a = MemoryMarshal.Read<FuseNotifyRetrieveOut>((await NextAsync(host.Client)).Body);
        Task<byte[]> second = host.Session.Notifier.RetrieveAsync(2, 0, 100);
        FuseNotifyRetrieveOut b = MemoryMarshal.Read<FuseNotifyRetrieveOut>((await NextAsync(host.Client)).Body);
        Assert.NotEqual(a.NotifyUnique, b.NotifyUnique);

        // Answered out of order; the second gets less than asked, the first nothing (not cached).
        await host.Client.NotifyReplyAsync(b.NotifyUnique, 2, 0, "abc"u8).Bounded();
        await host.Client.NotifyReplyAsync(a.NotifyUnique, 1, 0, ReadOnlySpan<byte>.Empty).Bounded();

        Assert.Equal("abc"u8.ToArray(), await second.Bounded());
        Assert.Empty(await first.Bounded());
    }

    [Fact]
    public async Task RetrieveCanBeCancelled()
    {
        await using FuseLoopbackHost host = await StartAsync(new PlainFs());
        using var cts = new CancellationTokenSource();

        Task<byte[]> retrieve = host.Session.Notifier.RetrieveAsync(1, 0, 10, cts.Token);
        await NextAsync(host.Client);
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => retrieve.Bounded());
    }

    [Fact]
    public async Task NewerNotificationsAreRefusedToAn726Client()
    {
        await using FuseLoopbackHost host = await StartAsync(new PlainFs(), init: new FuseClientInitOptions { Minor = 26 });
        Assert.Equal(26u, host.Init.Minor);
        FuseNotifier notifier = host.Session.Notifier;

        Assert.Equal(Errno.ENOSYS, (await Assert.ThrowsAsync<FuseProtocolException>(async () => await notifier.ResendAsync())).Error);
        Assert.Equal(Errno.ENOSYS, (await Assert.ThrowsAsync<FuseProtocolException>(async () => await notifier.IncrementEpochAsync())).Error);
        Assert.Equal(Errno.ENOSYS, (await Assert.ThrowsAsync<FuseProtocolException>(async () => await notifier.PruneAsync(new ulong[] { 1 }))).Error);
        await Assert.ThrowsAsync<FuseProtocolException>(async () => await notifier.InvalidateEntryAsync(1, "n"u8.ToArray(), FuseNotifyInvalEntryFlags.ExpireOnly));

        // What 7.26 knows still goes out.
        await notifier.InvalidateInodeAsync(5, 0, 0).Bounded();
        await notifier.DeleteAsync(1, 5, "n"u8.ToArray()).Bounded();
        Assert.Equal(FuseNotifyCode.InvalInode, (await NextAsync(host.Client)).Code);
        Assert.Equal(FuseNotifyCode.Delete, (await NextAsync(host.Client)).Code);
    }

    [Fact]
    public async Task NotificationsBeforeInitThrow()
    {
        // A session that never ran.
        var idle = new FuseSession(new PlainFs());
        Assert.Equal(Errno.ENOTCONN, (await Assert.ThrowsAsync<FuseProtocolException>(async () => await idle.Notifier.InvalidateInodeAsync(1, 0, 0))).Error);
        await Assert.ThrowsAsync<FuseProtocolException>(async () => await idle.Notifier.PollWakeupAsync(1));
        await Assert.ThrowsAsync<FuseProtocolException>(() => idle.Notifier.RetrieveAsync(1, 0, 1).Bounded());

        // A session that runs but has not seen INIT yet.
        var session = new FuseSession(new PlainFs(), new FuseSessionOptions { WorkersPerChannel = 1 });
        (IFuseChannel server, FuseLoopbackClient client) = FuseLoopback.CreatePair();
        Task run = session.RunAsync(server);
        await Assert.ThrowsAsync<FuseProtocolException>(async () => await session.Notifier.StoreAsync(1, 0, new byte[1]));
        await client.DisposeAsync();
        await run.Bounded();
    }

    [Fact]
    public async Task NamesAreValidated()
    {
        await using FuseLoopbackHost host = await StartAsync(new PlainFs());
        FuseNotifier notifier = host.Session.Notifier;

        Assert.Throws<ArgumentException>(() => { _ = notifier.InvalidateEntryAsync(1, ReadOnlyMemory<byte>.Empty); });
        Assert.Throws<ArgumentException>(() => { _ = notifier.InvalidateEntryAsync(1, "a\0b"u8.ToArray()); });
        Assert.Throws<ArgumentException>(() => { _ = notifier.InvalidateEntryAsync(1, new byte[FuseDirectoryWriter.MaxNameLength + 1]); });
        Assert.Throws<ArgumentException>(() => { _ = notifier.DeleteAsync(1, 2, ReadOnlyMemory<byte>.Empty); });
        Assert.Throws<ArgumentException>(() => { _ = notifier.DeleteAsync(1, 2, "\0"u8.ToArray()); });

        // The longest allowed name goes out.
        byte[] longest = Enumerable.Repeat((byte)'n', FuseDirectoryWriter.MaxNameLength).ToArray();
        await notifier.InvalidateEntryAsync(1, longest).Bounded();
        FuseNotificationMessage m = await NextAsync(host.Client);
        Assert.Equal(FuseNotifyInvalEntryOut.Size + FuseDirectoryWriter.MaxNameLength + 1, m.Body.Length);
        Assert.Equal(0, m.Body[^1]);
    }
}
