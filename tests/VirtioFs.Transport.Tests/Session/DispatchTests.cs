using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using NSubstitute;
using NSubstitute.ExceptionExtensions;
using NSubstitute.Extensions;
using VirtioFs.Protocol;
using static VirtioFs.Transport.Tests.Session.SessionTestSupport;

namespace VirtioFs.Transport.Tests.Session;

/// <summary>
/// Every opcode the loopback client can send: the filesystem receives the decoded arguments (node, caller,
/// names, struct fields) and the client decodes the filesystem's answer.
/// </summary>
public sealed class DispatchTests
{
    /// <summary>
    /// The substituted filesystem. <see cref="BatchForget"/> takes a span, which the proxy cannot intercept:
    /// it is sealed here, records what it got and lets the base call the (substituted) <see cref="FuseFileSystem.Forget"/>.
    /// </summary>
    public class DispatchFs : FuseFileSystem
    {
        public ConcurrentQueue<FuseForgetOne[]> Batches { get; } = new();

        public sealed override void BatchForget(ReadOnlySpan<FuseForgetOne> nodes)
        {
            Batches.Enqueue(nodes.ToArray());
            base.BatchForget(nodes);
        }
    }

    private sealed class EmptyFs : FuseFileSystem;

    private static FuseEntryOut Entry(ulong id) => new()
    {
        Nodeid = id,
        Generation = 3,
        EntryValid = 10,
        AttrValid = 20,
        EntryValidNsec = 5,
        AttrValidNsec = 6,
        Attr = new FuseAttr { Ino = id, Mode = FuseFileMode.RegularFile | 0x1A4, Nlink = 1, Size = 123, Uid = 7, Gid = 8, Blksize = 4096 },
    };

    private static void AssertEntry(FuseResult<FuseEntryOut> result, ulong id)
    {
        Assert.True(result.IsSuccess, result.ToString());
        FuseEntryOut e = result.Value;
        Assert.Equal(id, e.Nodeid);
        Assert.Equal(3ul, e.Generation);
        Assert.Equal(10ul, e.EntryValid);
        Assert.Equal(20ul, e.AttrValid);
        Assert.Equal(5u, e.EntryValidNsec);
        Assert.Equal(6u, e.AttrValidNsec);
        Assert.Equal(id, e.Attr.Ino);
        Assert.Equal(FuseFileMode.RegularFile | 0x1A4, e.Attr.Mode);
        Assert.Equal(123ul, e.Attr.Size);
        Assert.Equal(7u, e.Attr.Uid);
        Assert.Equal(8u, e.Attr.Gid);
    }

    private static DispatchFs NewFs() => Substitute.ForPartsOf<DispatchFs>();

    private static ValueTask<FuseResult<TValue>> Ok<TValue>(TValue value) => new(new FuseResult<TValue>(value));

    private static ValueTask<Errno> Status(Errno error) => new(error);

    [Fact]
    public async Task Lookup()
    {
        DispatchFs fs = NewFs();
        FuseRequestContext ctx = default;
        byte[]? name = null;
        fs.Configure().LookupAsync(Arg.Any<FuseRequestContext>(), Arg.Any<ReadOnlyMemory<byte>>()).Returns(ci =>
        {
            ctx = ci.ArgAt<FuseRequestContext>(0);
            name = ci.ArgAt<ReadOnlyMemory<byte>>(1).ToArray();
            return Ok(Entry(42));
        });
        await using FuseLoopbackHost host = await StartAsync(fs);

        FuseResult<FuseEntryOut> result = await host.Client.LookupAsync(5, "hello.txt").Bounded();

        AssertEntry(result, 42);
        AssertContext(ctx, 5);
        Assert.Equal("hello.txt"u8.ToArray(), name);
    }

    [Fact]
    public async Task LookupErrorIsPassedThrough()
    {
        DispatchFs fs = NewFs();
        fs.Configure().LookupAsync(Arg.Any<FuseRequestContext>(), Arg.Any<ReadOnlyMemory<byte>>())
            .Returns(new ValueTask<FuseResult<FuseEntryOut>>(Errno.ENOENT));
        await using FuseLoopbackHost host = await StartAsync(fs);

        Assert.Equal(Errno.ENOENT, (await host.Client.LookupAsync(1, "missing").Bounded()).Error);
    }

    [Fact]
    public async Task NamesAreCopiedWhileTheCallRuns()
    {
        // Names point into a reused request buffer: each call sees its own name.
        DispatchFs fs = NewFs();
        var names = new ConcurrentQueue<string>();
        fs.Configure().LookupAsync(Arg.Any<FuseRequestContext>(), Arg.Any<ReadOnlyMemory<byte>>()).Returns(ci =>
        {
            names.Enqueue(System.Text.Encoding.UTF8.GetString(ci.ArgAt<ReadOnlyMemory<byte>>(1).Span));
            return Ok(Entry(2));
        });
        await using FuseLoopbackHost host = await StartAsync(fs, workers: 1);

        await host.Client.LookupAsync(1, "a-rather-long-first-name").Bounded();
        await host.Client.LookupAsync(1, "b").Bounded();

        Assert.Equal(["a-rather-long-first-name", "b"], names.ToArray());
    }

    [Fact]
    public async Task GetAttrWithoutAndWithHandle()
    {
        DispatchFs fs = NewFs();
        var seen = new ConcurrentQueue<(FuseRequestContext Context, FuseGetattrIn Args)>();
        fs.Configure().GetAttrAsync(Arg.Any<FuseRequestContext>(), Arg.Any<FuseGetattrIn>()).Returns(ci =>
        {
            seen.Enqueue((ci.ArgAt<FuseRequestContext>(0), ci.ArgAt<FuseGetattrIn>(1)));
            return Ok(new FuseAttrOut { AttrValid = 30, AttrValidNsec = 4, Attr = new FuseAttr { Ino = 9, Size = 4096, Mode = FuseFileMode.Directory | 0x1ED, Nlink = 2 } });
        });
        await using FuseLoopbackHost host = await StartAsync(fs);

        FuseResult<FuseAttrOut> plain = await host.Client.GetAttrAsync(9).Bounded();
        FuseResult<FuseAttrOut> withFh = await host.Client.GetAttrAsync(9, fh: 77).Bounded();

        foreach (FuseResult<FuseAttrOut> r in new[] { plain, withFh })
        {
            Assert.True(r.IsSuccess);
            Assert.Equal(30ul, r.Value.AttrValid);
            Assert.Equal(4u, r.Value.AttrValidNsec);
            Assert.Equal(9ul, r.Value.Attr.Ino);
            Assert.Equal(4096ul, r.Value.Attr.Size);
            Assert.Equal(FuseFileMode.Directory | 0x1ED, r.Value.Attr.Mode);
            Assert.Equal(2u, r.Value.Attr.Nlink);
        }

        (FuseRequestContext Context, FuseGetattrIn Args)[] calls = seen.ToArray();
        Assert.Equal(2, calls.Length);
        AssertContext(calls[0].Context, 9);
        Assert.Equal(0u, calls[0].Args.GetattrFlags);
        Assert.Equal(0ul, calls[0].Args.Fh);
        AssertContext(calls[1].Context, 9);
        Assert.Equal((uint)FuseGetAttrFlags.Fh, calls[1].Args.GetattrFlags);
        Assert.Equal(77ul, calls[1].Args.Fh);
    }

    [Fact]
    public async Task SetAttr()
    {
        DispatchFs fs = NewFs();
        FuseRequestContext ctx = default;
        FuseSetattrIn got = default;
        fs.Configure().SetAttrAsync(Arg.Any<FuseRequestContext>(), Arg.Any<FuseSetattrIn>()).Returns(ci =>
        {
            ctx = ci.ArgAt<FuseRequestContext>(0);
            got = ci.ArgAt<FuseSetattrIn>(1);
            return Ok(new FuseAttrOut { AttrValid = 1, Attr = new FuseAttr { Ino = 12, Size = 500, Mode = FuseFileMode.RegularFile | 0x180 } });
        });
        await using FuseLoopbackHost host = await StartAsync(fs);
        var args = new FuseSetattrIn
        {
            Valid = (uint)(FuseSetAttrValid.Mode | FuseSetAttrValid.Size | FuseSetAttrValid.Fh | FuseSetAttrValid.Uid | FuseSetAttrValid.Mtime),
            Fh = 66,
            Size = 500,
            Mode = FuseFileMode.RegularFile | 0x180,
            Uid = 33,
            Gid = 34,
            Mtime = 1_700_000_000,
            Mtimensec = 999,
            LockOwner = 0xABCDEF,
        };

        FuseResult<FuseAttrOut> result = await host.Client.SetAttrAsync(12, args).Bounded();

        Assert.True(result.IsSuccess);
        Assert.Equal(12ul, result.Value.Attr.Ino);
        Assert.Equal(500ul, result.Value.Attr.Size);
        Assert.Equal(FuseFileMode.RegularFile | 0x180, result.Value.Attr.Mode);
        AssertContext(ctx, 12);
        Assert.Equal(args, got);
    }

    [Fact]
    public async Task Statx()
    {
        DispatchFs fs = NewFs();
        FuseRequestContext ctx = default;
        FuseStatxIn got = default;
        fs.Configure().StatxAsync(Arg.Any<FuseRequestContext>(), Arg.Any<FuseStatxIn>()).Returns(ci =>
        {
            ctx = ci.ArgAt<FuseRequestContext>(0);
            got = ci.ArgAt<FuseStatxIn>(1);
            return Ok(new FuseStatxOut
            {
                AttrValid = 8,
                AttrValidNsec = 2,
                Stat = new FuseStatx { Mask = 0x7FF, Ino = 13, Size = 77, Mode = (ushort)(FuseFileMode.RegularFile | 0x1ED), Nlink = 1, Btime = new FuseSxTime { TvSec = 123, TvNsec = 456 } },
            });
        });
        await using FuseLoopbackHost host = await StartAsync(fs);
        var args = new FuseStatxIn { GetattrFlags = (uint)FuseGetAttrFlags.Fh, Fh = 3, SxFlags = 0x800, SxMask = 0xFFF };

        FuseResult<FuseStatxOut> result = await host.Client.StatxAsync(13, args).Bounded();

        Assert.True(result.IsSuccess);
        Assert.Equal(8ul, result.Value.AttrValid);
        Assert.Equal(2u, result.Value.AttrValidNsec);
        Assert.Equal(0x7FFu, result.Value.Stat.Mask);
        Assert.Equal(13ul, result.Value.Stat.Ino);
        Assert.Equal(77ul, result.Value.Stat.Size);
        Assert.Equal((ushort)(FuseFileMode.RegularFile | 0x1ED), result.Value.Stat.Mode);
        Assert.Equal(123L, result.Value.Stat.Btime.TvSec);
        Assert.Equal(456u, result.Value.Stat.Btime.TvNsec);
        AssertContext(ctx, 13);
        Assert.Equal(args, got);
    }

    [Fact]
    public async Task ReadLink()
    {
        DispatchFs fs = NewFs();
        FuseRequestContext ctx = default;
        int room = -1;
        fs.Configure().ReadLinkAsync(Arg.Any<FuseRequestContext>(), Arg.Any<Memory<byte>>()).Returns(ci =>
        {
            ctx = ci.ArgAt<FuseRequestContext>(0);
            Memory<byte> buffer = ci.ArgAt<Memory<byte>>(1);
            room = buffer.Length;
            "../target/file"u8.CopyTo(buffer.Span);
            return Ok("../target/file"u8.Length);
        });
        await using FuseLoopbackHost host = await StartAsync(fs);

        FuseResult<string> result = await host.Client.ReadLinkAsync(14).Bounded();

        Assert.True(result.IsSuccess);
        Assert.Equal("../target/file", result.Value);
        AssertContext(ctx, 14);
        Assert.True(room >= 4096, $"buffer of {room} bytes");
    }

    [Fact]
    public async Task Symlink()
    {
        DispatchFs fs = NewFs();
        FuseRequestContext ctx = default;
        byte[]? name = null, target = null;
        fs.Configure().SymlinkAsync(Arg.Any<FuseRequestContext>(), Arg.Any<ReadOnlyMemory<byte>>(), Arg.Any<ReadOnlyMemory<byte>>()).Returns(ci =>
        {
            ctx = ci.ArgAt<FuseRequestContext>(0);
            name = ci.ArgAt<ReadOnlyMemory<byte>>(1).ToArray();
            target = ci.ArgAt<ReadOnlyMemory<byte>>(2).ToArray();
            return Ok(Entry(15));
        });
        await using FuseLoopbackHost host = await StartAsync(fs);

        AssertEntry(await host.Client.SymlinkAsync(1, "link", "/some/where").Bounded(), 15);
        AssertContext(ctx, 1);
        Assert.Equal("link"u8.ToArray(), name);
        Assert.Equal("/some/where"u8.ToArray(), target);
    }

    [Fact]
    public async Task MkNod()
    {
        DispatchFs fs = NewFs();
        FuseRequestContext ctx = default;
        FuseMknodIn got = default;
        byte[]? name = null;
        fs.Configure().MkNodAsync(Arg.Any<FuseRequestContext>(), Arg.Any<FuseMknodIn>(), Arg.Any<ReadOnlyMemory<byte>>()).Returns(ci =>
        {
            ctx = ci.ArgAt<FuseRequestContext>(0);
            got = ci.ArgAt<FuseMknodIn>(1);
            name = ci.ArgAt<ReadOnlyMemory<byte>>(2).ToArray();
            return Ok(Entry(16));
        });
        await using FuseLoopbackHost host = await StartAsync(fs);

        AssertEntry(await host.Client.MkNodAsync(2, "dev", FuseFileMode.CharacterDevice | 0x1B6, rdev: 0x0501, umask: 0x12).Bounded(), 16);
        AssertContext(ctx, 2);
        Assert.Equal(new FuseMknodIn { Mode = FuseFileMode.CharacterDevice | 0x1B6, Rdev = 0x0501, Umask = 0x12 }, got);
        Assert.Equal("dev"u8.ToArray(), name);
    }

    [Fact]
    public async Task MkDir()
    {
        DispatchFs fs = NewFs();
        FuseRequestContext ctx = default;
        FuseMkdirIn got = default;
        byte[]? name = null;
        fs.Configure().MkDirAsync(Arg.Any<FuseRequestContext>(), Arg.Any<FuseMkdirIn>(), Arg.Any<ReadOnlyMemory<byte>>()).Returns(ci =>
        {
            ctx = ci.ArgAt<FuseRequestContext>(0);
            got = ci.ArgAt<FuseMkdirIn>(1);
            name = ci.ArgAt<ReadOnlyMemory<byte>>(2).ToArray();
            return Ok(Entry(17));
        });
        await using FuseLoopbackHost host = await StartAsync(fs);

        AssertEntry(await host.Client.MkDirAsync(3, "sub dir", 0x1ED, umask: 0x12).Bounded(), 17);
        AssertContext(ctx, 3);
        Assert.Equal(0x1EDu, got.Mode);
        Assert.Equal(0x12u, got.Umask);
        Assert.Equal("sub dir"u8.ToArray(), name);
    }

    [Fact]
    public async Task UnlinkAndRmDir()
    {
        DispatchFs fs = NewFs();
        var seen = new ConcurrentQueue<(string Op, FuseRequestContext Context, byte[] Name)>();
        fs.Configure().UnlinkAsync(Arg.Any<FuseRequestContext>(), Arg.Any<ReadOnlyMemory<byte>>()).Returns(ci =>
        {
            seen.Enqueue(("unlink", ci.ArgAt<FuseRequestContext>(0), ci.ArgAt<ReadOnlyMemory<byte>>(1).ToArray()));
            return Status(Errno.Success);
        });
        fs.Configure().RmDirAsync(Arg.Any<FuseRequestContext>(), Arg.Any<ReadOnlyMemory<byte>>()).Returns(ci =>
        {
            seen.Enqueue(("rmdir", ci.ArgAt<FuseRequestContext>(0), ci.ArgAt<ReadOnlyMemory<byte>>(1).ToArray()));
            return Status(Errno.ENOTEMPTY);
        });
        await using FuseLoopbackHost host = await StartAsync(fs);

        Assert.Equal(Errno.Success, await host.Client.UnlinkAsync(4, "file.bin").Bounded());
        Assert.Equal(Errno.ENOTEMPTY, await host.Client.RmDirAsync(5, "dir").Bounded());

        (string Op, FuseRequestContext Context, byte[] Name)[] calls = seen.ToArray();
        Assert.Equal(2, calls.Length);
        Assert.Equal("unlink", calls[0].Op);
        AssertContext(calls[0].Context, 4);
        Assert.Equal("file.bin"u8.ToArray(), calls[0].Name);
        Assert.Equal("rmdir", calls[1].Op);
        AssertContext(calls[1].Context, 5);
        Assert.Equal("dir"u8.ToArray(), calls[1].Name);
    }

    [Fact]
    public async Task RenameAndRename2()
    {
        DispatchFs fs = NewFs();
        var seen = new ConcurrentQueue<(FuseRequestContext Context, ulong NewParent, byte[] Name, byte[] NewName, FuseRenameFlags Flags)>();
        fs.Configure().RenameAsync(Arg.Any<FuseRequestContext>(), Arg.Any<ulong>(), Arg.Any<ReadOnlyMemory<byte>>(), Arg.Any<ReadOnlyMemory<byte>>(), Arg.Any<FuseRenameFlags>()).Returns(ci =>
        {
            seen.Enqueue((ci.ArgAt<FuseRequestContext>(0), ci.ArgAt<ulong>(1), ci.ArgAt<ReadOnlyMemory<byte>>(2).ToArray(), ci.ArgAt<ReadOnlyMemory<byte>>(3).ToArray(), ci.ArgAt<FuseRenameFlags>(4)));
            return Status(Errno.Success);
        });
        await using FuseLoopbackHost host = await StartAsync(fs);

        Assert.Equal(Errno.Success, await host.Client.RenameAsync(6, "old", 7, "new").Bounded());
        Assert.Equal(Errno.Success, await host.Client.Rename2Async(8, "x", 9, "y", FuseRenameFlags.NoReplace | FuseRenameFlags.Exchange).Bounded());

        var calls = seen.ToArray();
        Assert.Equal(2, calls.Length);
        AssertContext(calls[0].Context, 6);
        Assert.Equal(7ul, calls[0].NewParent);
        Assert.Equal("old"u8.ToArray(), calls[0].Name);
        Assert.Equal("new"u8.ToArray(), calls[0].NewName);
        Assert.Equal(FuseRenameFlags.None, calls[0].Flags);
        AssertContext(calls[1].Context, 8);
        Assert.Equal(9ul, calls[1].NewParent);
        Assert.Equal("x"u8.ToArray(), calls[1].Name);
        Assert.Equal("y"u8.ToArray(), calls[1].NewName);
        Assert.Equal(FuseRenameFlags.NoReplace | FuseRenameFlags.Exchange, calls[1].Flags);
    }

    [Fact]
    public async Task Link()
    {
        DispatchFs fs = NewFs();
        FuseRequestContext ctx = default;
        ulong oldNode = 0;
        byte[]? name = null;
        fs.Configure().LinkAsync(Arg.Any<FuseRequestContext>(), Arg.Any<ulong>(), Arg.Any<ReadOnlyMemory<byte>>()).Returns(ci =>
        {
            ctx = ci.ArgAt<FuseRequestContext>(0);
            oldNode = ci.ArgAt<ulong>(1);
            name = ci.ArgAt<ReadOnlyMemory<byte>>(2).ToArray();
            return Ok(Entry(18));
        });
        await using FuseLoopbackHost host = await StartAsync(fs);

        AssertEntry(await host.Client.LinkAsync(18, 10, "hardlink").Bounded(), 18);
        AssertContext(ctx, 10);
        Assert.Equal(18ul, oldNode);
        Assert.Equal("hardlink"u8.ToArray(), name);
    }

    [Fact]
    public async Task OpenAndOpenDir()
    {
        DispatchFs fs = NewFs();
        var seen = new ConcurrentQueue<(string Op, FuseRequestContext Context, FuseOpenIn Args)>();
        fs.Configure().OpenAsync(Arg.Any<FuseRequestContext>(), Arg.Any<FuseOpenIn>()).Returns(ci =>
        {
            seen.Enqueue(("open", ci.ArgAt<FuseRequestContext>(0), ci.ArgAt<FuseOpenIn>(1)));
            return Ok(new FuseOpenOut { Fh = 111, OpenFlags = (uint)(FuseOpenOutFlags.KeepCache | FuseOpenOutFlags.DirectIo) });
        });
        fs.Configure().OpenDirAsync(Arg.Any<FuseRequestContext>(), Arg.Any<FuseOpenIn>()).Returns(ci =>
        {
            seen.Enqueue(("opendir", ci.ArgAt<FuseRequestContext>(0), ci.ArgAt<FuseOpenIn>(1)));
            return Ok(new FuseOpenOut { Fh = 222, OpenFlags = (uint)FuseOpenOutFlags.CacheDir });
        });
        await using FuseLoopbackHost host = await StartAsync(fs);

        FuseResult<FuseOpenOut> file = await host.Client.OpenAsync(11, 0x8002).Bounded();
        FuseResult<FuseOpenOut> dir = await host.Client.OpenDirAsync(12, 0x10000).Bounded();

        Assert.Equal(111ul, file.Value.Fh);
        Assert.Equal((uint)(FuseOpenOutFlags.KeepCache | FuseOpenOutFlags.DirectIo), file.Value.OpenFlags);
        Assert.Equal(222ul, dir.Value.Fh);
        Assert.Equal((uint)FuseOpenOutFlags.CacheDir, dir.Value.OpenFlags);
        var calls = seen.ToArray();
        Assert.Equal(2, calls.Length);
        Assert.Equal("open", calls[0].Op);
        AssertContext(calls[0].Context, 11);
        Assert.Equal(0x8002u, calls[0].Args.Flags);
        Assert.Equal("opendir", calls[1].Op);
        AssertContext(calls[1].Context, 12);
        Assert.Equal(0x10000u, calls[1].Args.Flags);
    }

    [Fact]
    public async Task CreateAndTmpFile()
    {
        DispatchFs fs = NewFs();
        FuseRequestContext createCtx = default, tmpCtx = default;
        FuseCreateIn createArgs = default, tmpArgs = default;
        byte[]? name = null;
        fs.Configure().CreateAsync(Arg.Any<FuseRequestContext>(), Arg.Any<FuseCreateIn>(), Arg.Any<ReadOnlyMemory<byte>>()).Returns(ci =>
        {
            createCtx = ci.ArgAt<FuseRequestContext>(0);
            createArgs = ci.ArgAt<FuseCreateIn>(1);
            name = ci.ArgAt<ReadOnlyMemory<byte>>(2).ToArray();
            return Ok(new FuseCreateOut { Entry = Entry(19), Open = new FuseOpenOut { Fh = 333, OpenFlags = (uint)FuseOpenOutFlags.KeepCache } });
        });
        fs.Configure().TmpFileAsync(Arg.Any<FuseRequestContext>(), Arg.Any<FuseCreateIn>()).Returns(ci =>
        {
            tmpCtx = ci.ArgAt<FuseRequestContext>(0);
            tmpArgs = ci.ArgAt<FuseCreateIn>(1);
            return Ok(new FuseCreateOut { Entry = Entry(20), Open = new FuseOpenOut { Fh = 444 } });
        });
        await using FuseLoopbackHost host = await StartAsync(fs);

        FuseResult<FuseCreateOut> created = await host.Client.CreateAsync(1, "new.txt", 0x42, FuseFileMode.RegularFile | 0x1A4, umask: 0x12).Bounded();
        FuseResult<FuseCreateOut> tmp = await host.Client.TmpFileAsync(2, 0x410002, FuseFileMode.RegularFile | 0x180, umask: 0x3F).Bounded();

        AssertEntry(created.Value.Entry, 19);
        Assert.Equal(333ul, created.Value.Open.Fh);
        Assert.Equal((uint)FuseOpenOutFlags.KeepCache, created.Value.Open.OpenFlags);
        AssertEntry(tmp.Value.Entry, 20);
        Assert.Equal(444ul, tmp.Value.Open.Fh);
        AssertContext(createCtx, 1);
        Assert.Equal(new FuseCreateIn { Flags = 0x42, Mode = FuseFileMode.RegularFile | 0x1A4, Umask = 0x12 }, createArgs);
        Assert.Equal("new.txt"u8.ToArray(), name);
        AssertContext(tmpCtx, 2);
        Assert.Equal(new FuseCreateIn { Flags = 0x410002, Mode = FuseFileMode.RegularFile | 0x180, Umask = 0x3F }, tmpArgs);
    }

    [Fact]
    public async Task Read()
    {
        DispatchFs fs = NewFs();
        FuseRequestContext ctx = default;
        FuseReadIn got = default;
        int room = -1;
        fs.Configure().ReadAsync(Arg.Any<FuseRequestContext>(), Arg.Any<FuseReadIn>(), Arg.Any<Memory<byte>>()).Returns(ci =>
        {
            ctx = ci.ArgAt<FuseRequestContext>(0);
            got = ci.ArgAt<FuseReadIn>(1);
            Memory<byte> buffer = ci.ArgAt<Memory<byte>>(2);
            room = buffer.Length;
            "hello"u8.CopyTo(buffer.Span);
            return Ok(5);
        });
        await using FuseLoopbackHost host = await StartAsync(fs);
        byte[] destination = new byte[64];

        FuseResult<int> result = await host.Client.ReadAsync(21, 555, 4096, destination).Bounded();

        Assert.Equal(5, result.Value);
        Assert.Equal("hello"u8.ToArray(), destination[..5]);
        AssertContext(ctx, 21);
        Assert.Equal(new FuseReadIn { Fh = 555, Offset = 4096, Size = 64 }, got);
        Assert.Equal(64, room);
    }

    [Fact]
    public async Task Write()
    {
        DispatchFs fs = NewFs();
        FuseRequestContext ctx = default;
        FuseWriteIn got = default;
        byte[]? data = null;
        fs.Configure().WriteAsync(Arg.Any<FuseRequestContext>(), Arg.Any<FuseWriteIn>(), Arg.Any<ReadOnlyMemory<byte>>()).Returns(ci =>
        {
            ctx = ci.ArgAt<FuseRequestContext>(0);
            got = ci.ArgAt<FuseWriteIn>(1);
            data = ci.ArgAt<ReadOnlyMemory<byte>>(2).ToArray();
            return Ok(data.Length - 1);
        });
        await using FuseLoopbackHost host = await StartAsync(fs);
        byte[] payload = Enumerable.Range(0, 3000).Select(i => (byte)(i * 7)).ToArray();

        FuseResult<int> result = await host.Client.WriteAsync(22, 666, 8192, payload, FuseWriteFlags.Cache).Bounded();

        Assert.Equal(2999, result.Value);
        AssertContext(ctx, 22);
        Assert.Equal(new FuseWriteIn { Fh = 666, Offset = 8192, Size = 3000, WriteFlags = (uint)FuseWriteFlags.Cache }, got);
        Assert.Equal(payload, data);
    }

    [Fact]
    public async Task StatFs()
    {
        DispatchFs fs = NewFs();
        FuseRequestContext ctx = default;
        fs.Configure().StatFsAsync(Arg.Any<FuseRequestContext>()).Returns(ci =>
        {
            ctx = ci.ArgAt<FuseRequestContext>(0);
            return Ok(new FuseKstatfs { Blocks = 1000, Bfree = 400, Bavail = 300, Files = 50, Ffree = 20, Bsize = 4096, Namelen = 255, Frsize = 512 });
        });
        await using FuseLoopbackHost host = await StartAsync(fs);

        FuseResult<FuseKstatfs> result = await host.Client.StatFsAsync(1).Bounded();

        Assert.True(result.IsSuccess);
        FuseKstatfs st = result.Value;
        Assert.Equal(1000ul, st.Blocks);
        Assert.Equal(400ul, st.Bfree);
        Assert.Equal(300ul, st.Bavail);
        Assert.Equal(50ul, st.Files);
        Assert.Equal(20ul, st.Ffree);
        Assert.Equal(4096u, st.Bsize);
        Assert.Equal(255u, st.Namelen);
        Assert.Equal(512u, st.Frsize);
        AssertContext(ctx, 1);
    }

    [Fact]
    public async Task ReleaseAndReleaseDir()
    {
        DispatchFs fs = NewFs();
        var seen = new ConcurrentQueue<(string Op, FuseRequestContext Context, FuseReleaseIn Args)>();
        fs.Configure().ReleaseAsync(Arg.Any<FuseRequestContext>(), Arg.Any<FuseReleaseIn>()).Returns(ci =>
        {
            seen.Enqueue(("release", ci.ArgAt<FuseRequestContext>(0), ci.ArgAt<FuseReleaseIn>(1)));
            return Status(Errno.Success);
        });
        fs.Configure().ReleaseDirAsync(Arg.Any<FuseRequestContext>(), Arg.Any<FuseReleaseIn>()).Returns(ci =>
        {
            seen.Enqueue(("releasedir", ci.ArgAt<FuseRequestContext>(0), ci.ArgAt<FuseReleaseIn>(1)));
            return Status(Errno.EBADF);
        });
        await using FuseLoopbackHost host = await StartAsync(fs);

        Assert.Equal(Errno.Success, await host.Client.ReleaseAsync(23, 777, flags: 0x8001, releaseFlags: FuseReleaseFlags.Flush | FuseReleaseFlags.FlockUnlock, lockOwner: 0xFEED).Bounded());
        Assert.Equal(Errno.EBADF, await host.Client.ReleaseDirAsync(24, 888).Bounded());

        var calls = seen.ToArray();
        Assert.Equal(2, calls.Length);
        Assert.Equal("release", calls[0].Op);
        AssertContext(calls[0].Context, 23);
        Assert.Equal(new FuseReleaseIn { Fh = 777, Flags = 0x8001, ReleaseFlags = (uint)(FuseReleaseFlags.Flush | FuseReleaseFlags.FlockUnlock), LockOwner = 0xFEED }, calls[0].Args);
        Assert.Equal("releasedir", calls[1].Op);
        AssertContext(calls[1].Context, 24);
        Assert.Equal(new FuseReleaseIn { Fh = 888 }, calls[1].Args);
    }

    [Fact]
    public async Task FsyncFsyncDirAndFlush()
    {
        DispatchFs fs = NewFs();
        var seen = new ConcurrentQueue<(string Op, FuseRequestContext Context, object Args)>();
        fs.Configure().FsyncAsync(Arg.Any<FuseRequestContext>(), Arg.Any<FuseFsyncIn>()).Returns(ci =>
        {
            seen.Enqueue(("fsync", ci.ArgAt<FuseRequestContext>(0), ci.ArgAt<FuseFsyncIn>(1)));
            return Status(Errno.Success);
        });
        fs.Configure().FsyncDirAsync(Arg.Any<FuseRequestContext>(), Arg.Any<FuseFsyncIn>()).Returns(ci =>
        {
            seen.Enqueue(("fsyncdir", ci.ArgAt<FuseRequestContext>(0), ci.ArgAt<FuseFsyncIn>(1)));
            return Status(Errno.Success);
        });
        fs.Configure().FlushAsync(Arg.Any<FuseRequestContext>(), Arg.Any<FuseFlushIn>()).Returns(ci =>
        {
            seen.Enqueue(("flush", ci.ArgAt<FuseRequestContext>(0), ci.ArgAt<FuseFlushIn>(1)));
            return Status(Errno.EROFS);
        });
        await using FuseLoopbackHost host = await StartAsync(fs);

        Assert.Equal(Errno.Success, await host.Client.FsyncAsync(25, 1, dataOnly: true).Bounded());
        Assert.Equal(Errno.Success, await host.Client.FsyncDirAsync(26, 2).Bounded());
        Assert.Equal(Errno.EROFS, await host.Client.FlushAsync(27, 3, lockOwner: 0xBEEF).Bounded());

        var calls = seen.ToArray();
        Assert.Equal(3, calls.Length);
        Assert.Equal("fsync", calls[0].Op);
        AssertContext(calls[0].Context, 25);
        Assert.Equal(new FuseFsyncIn { Fh = 1, FsyncFlags = (uint)FuseFsyncFlags.FdataSync }, calls[0].Args);
        Assert.Equal("fsyncdir", calls[1].Op);
        AssertContext(calls[1].Context, 26);
        Assert.Equal(new FuseFsyncIn { Fh = 2, FsyncFlags = 0 }, calls[1].Args);
        Assert.Equal("flush", calls[2].Op);
        AssertContext(calls[2].Context, 27);
        Assert.Equal(new FuseFlushIn { Fh = 3, LockOwner = 0xBEEF }, calls[2].Args);
    }

    [Fact]
    public async Task SetXattr()
    {
        DispatchFs fs = NewFs();
        FuseRequestContext ctx = default;
        FuseSetxattrIn got = default;
        byte[]? name = null, value = null;
        fs.Configure().SetXattrAsync(Arg.Any<FuseRequestContext>(), Arg.Any<FuseSetxattrIn>(), Arg.Any<ReadOnlyMemory<byte>>(), Arg.Any<ReadOnlyMemory<byte>>()).Returns(ci =>
        {
            ctx = ci.ArgAt<FuseRequestContext>(0);
            got = ci.ArgAt<FuseSetxattrIn>(1);
            name = ci.ArgAt<ReadOnlyMemory<byte>>(2).ToArray();
            value = ci.ArgAt<ReadOnlyMemory<byte>>(3).ToArray();
            return Status(Errno.Success);
        });
        await using FuseLoopbackHost host = await StartAsync(fs);
        Assert.NotEqual(FuseInitFlags.None, host.Client.NegotiatedFlags & FuseInitFlags.SetxattrExt);
        byte[] v = [1, 0, 2, 0, 3];

        Assert.Equal(Errno.Success, await host.Client.SetXattrAsync(28, "user.comment", v, flags: 2).Bounded());

        AssertContext(ctx, 28);
        Assert.Equal(5u, got.Size);
        Assert.Equal(2u, got.Flags);
        Assert.Equal(0u, got.SetxattrFlags);
        Assert.Equal("user.comment"u8.ToArray(), name);
        Assert.Equal(v, value);
    }

    [Fact]
    public async Task GetXattrSizeQueryAndData()
    {
        DispatchFs fs = NewFs();
        var seen = new ConcurrentQueue<(FuseRequestContext Context, byte[] Name, int Room)>();
        byte[] stored = "some value"u8.ToArray();
        fs.Configure().GetXattrAsync(Arg.Any<FuseRequestContext>(), Arg.Any<ReadOnlyMemory<byte>>(), Arg.Any<Memory<byte>>()).Returns(ci =>
        {
            Memory<byte> buffer = ci.ArgAt<Memory<byte>>(2);
            seen.Enqueue((ci.ArgAt<FuseRequestContext>(0), ci.ArgAt<ReadOnlyMemory<byte>>(1).ToArray(), buffer.Length));
            if (buffer.Length >= stored.Length)
            {
                stored.CopyTo(buffer.Span);
            }

            // A size query, or a buffer too small: report the length; the session answers fuse_getxattr_out or ERANGE.
            return Ok(stored.Length);
        });
        await using FuseLoopbackHost host = await StartAsync(fs);

        FuseResult<int> size = await host.Client.GetXattrAsync(29, "user.k", Memory<byte>.Empty).Bounded();
        byte[] buffer = new byte[32];
        FuseResult<int> data = await host.Client.GetXattrAsync(29, "user.k", buffer).Bounded();
        FuseResult<int> tooSmall = await host.Client.GetXattrAsync(29, "user.k", new byte[4]).Bounded();

        Assert.Equal(stored.Length, size.Value);
        Assert.Equal(stored.Length, data.Value);
        Assert.Equal(stored, buffer[..stored.Length]);
        Assert.Equal(Errno.ERANGE, tooSmall.Error);
        var calls = seen.ToArray();
        Assert.Equal(3, calls.Length);
        Assert.All(calls, c =>
        {
            AssertContext(c.Context, 29);
            Assert.Equal("user.k"u8.ToArray(), c.Name);
        });
        Assert.Equal(0, calls[0].Room);
        Assert.Equal(32, calls[1].Room);
        Assert.Equal(4, calls[2].Room);
    }

    [Fact]
    public async Task ListXattrAndRemoveXattr()
    {
        DispatchFs fs = NewFs();
        FuseRequestContext listCtx = default, removeCtx = default;
        byte[]? removed = null;
        byte[] list = "user.a\0user.b\0"u8.ToArray();
        fs.Configure().ListXattrAsync(Arg.Any<FuseRequestContext>(), Arg.Any<Memory<byte>>()).Returns(ci =>
        {
            listCtx = ci.ArgAt<FuseRequestContext>(0);
            Memory<byte> buffer = ci.ArgAt<Memory<byte>>(1);
            if (!buffer.IsEmpty)
            {
                list.CopyTo(buffer.Span);
            }

            return Ok(list.Length);
        });
        fs.Configure().RemoveXattrAsync(Arg.Any<FuseRequestContext>(), Arg.Any<ReadOnlyMemory<byte>>()).Returns(ci =>
        {
            removeCtx = ci.ArgAt<FuseRequestContext>(0);
            removed = ci.ArgAt<ReadOnlyMemory<byte>>(1).ToArray();
            return Status(Errno.ENODATA);
        });
        await using FuseLoopbackHost host = await StartAsync(fs);

        Assert.Equal(list.Length, (await host.Client.ListXattrAsync(30, Memory<byte>.Empty).Bounded()).Value);
        byte[] buffer = new byte[64];
        Assert.Equal(list.Length, (await host.Client.ListXattrAsync(30, buffer).Bounded()).Value);
        Assert.Equal(list, buffer[..list.Length]);
        Assert.Equal(Errno.ENODATA, await host.Client.RemoveXattrAsync(31, "user.gone").Bounded());

        AssertContext(listCtx, 30);
        AssertContext(removeCtx, 31);
        Assert.Equal("user.gone"u8.ToArray(), removed);
    }

    [Fact]
    public async Task ReadDirAndReadDirPlus()
    {
        DispatchFs fs = NewFs();
        var seen = new ConcurrentQueue<(string Op, FuseRequestContext Context, FuseReadIn Args, bool Plus)>();
        fs.Configure().ReadDirAsync(Arg.Any<FuseRequestContext>(), Arg.Any<FuseReadIn>(), Arg.Any<FuseDirectoryWriter>()).Returns(ci =>
        {
            FuseDirectoryWriter writer = ci.ArgAt<FuseDirectoryWriter>(2);
            seen.Enqueue(("readdir", ci.ArgAt<FuseRequestContext>(0), ci.ArgAt<FuseReadIn>(1), writer.IsPlus));
            Assert.True(writer.TryAdd(1, 1, FuseDirentType.Dir, "."u8));
            Assert.True(writer.TryAdd(40, 2, FuseDirentType.Reg, "file.txt"u8));
            Assert.True(writer.TryAdd(41, 3, FuseDirentType.Lnk, "a-link"u8));
            return Status(Errno.Success);
        });
        fs.Configure().ReadDirPlusAsync(Arg.Any<FuseRequestContext>(), Arg.Any<FuseReadIn>(), Arg.Any<FuseDirectoryWriter>()).Returns(ci =>
        {
            FuseDirectoryWriter writer = ci.ArgAt<FuseDirectoryWriter>(2);
            seen.Enqueue(("readdirplus", ci.ArgAt<FuseRequestContext>(0), ci.ArgAt<FuseReadIn>(1), writer.IsPlus));
            FuseEntryOut e = Entry(50);
            Assert.True(writer.TryAddPlus(in e, 7, "plus-file"u8));
            return Status(Errno.Success);
        });
        await using FuseLoopbackHost host = await StartAsync(fs);

        FuseResult<IReadOnlyList<FuseDirectoryEntry>> dir = await host.Client.ReadDirAsync(32, 900, 0, 4096).Bounded();
        FuseResult<IReadOnlyList<FuseDirectoryEntry>> plus = await host.Client.ReadDirPlusAsync(33, 901, 5, 2048).Bounded();

        Assert.True(dir.IsSuccess);
        Assert.Equal(
            [new FuseDirectoryEntry(1, 1, FuseDirentType.Dir, ".", null), new FuseDirectoryEntry(40, 2, FuseDirentType.Reg, "file.txt", null), new FuseDirectoryEntry(41, 3, FuseDirentType.Lnk, "a-link", null)],
            dir.Value);
        Assert.True(plus.IsSuccess);
        FuseDirectoryEntry p = Assert.Single(plus.Value);
        Assert.Equal(50ul, p.Ino);
        Assert.Equal(7ul, p.NextOffset);
        Assert.Equal(FuseDirentType.Reg, p.Type);
        Assert.Equal("plus-file", p.Name);
        Assert.NotNull(p.Entry);
        AssertEntry(p.Entry.Value, 50);

        var calls = seen.ToArray();
        Assert.Equal(2, calls.Length);
        AssertContext(calls[0].Context, 32);
        Assert.Equal(new FuseReadIn { Fh = 900, Offset = 0, Size = 4096 }, calls[0].Args);
        Assert.False(calls[0].Plus);
        AssertContext(calls[1].Context, 33);
        Assert.Equal(new FuseReadIn { Fh = 901, Offset = 5, Size = 2048 }, calls[1].Args);
        Assert.True(calls[1].Plus);
    }

    [Fact]
    public async Task GetLkSetLkAndSetLkw()
    {
        DispatchFs fs = NewFs();
        FuseRequestContext getCtx = default;
        FuseLkIn getArgs = default;
        var sets = new ConcurrentQueue<(FuseRequestContext Context, FuseLkIn Args, bool Wait)>();
        fs.Configure().GetLkAsync(Arg.Any<FuseRequestContext>(), Arg.Any<FuseLkIn>()).Returns(ci =>
        {
            getCtx = ci.ArgAt<FuseRequestContext>(0);
            getArgs = ci.ArgAt<FuseLkIn>(1);
            return Ok(new FuseFileLock { Start = 10, End = 99, Type = 1, Pid = 321 });
        });
        fs.Configure().SetLkAsync(Arg.Any<FuseRequestContext>(), Arg.Any<FuseLkIn>(), Arg.Any<bool>()).Returns(ci =>
        {
            sets.Enqueue((ci.ArgAt<FuseRequestContext>(0), ci.ArgAt<FuseLkIn>(1), ci.ArgAt<bool>(2)));
            return Status(ci.ArgAt<bool>(2) ? Errno.Success : Errno.EAGAIN);
        });
        await using FuseLoopbackHost host = await StartAsync(fs);
        var lk = new FuseLkIn { Fh = 5, Owner = 0x1234, Lk = new FuseFileLock { Start = 0, End = ulong.MaxValue, Type = 1, Pid = 4242 }, LkFlags = (uint)FuseLockFlags.Flock };

        FuseResult<FuseFileLock> conflict = await host.Client.GetLkAsync(34, lk).Bounded();
        Errno set = await host.Client.SetLkAsync(35, lk).Bounded();
        Errno setw = await host.Client.SetLkAsync(36, lk, wait: true).Bounded();

        Assert.Equal(new FuseFileLock { Start = 10, End = 99, Type = 1, Pid = 321 }, conflict.Value);
        AssertContext(getCtx, 34);
        Assert.Equal(lk, getArgs);
        Assert.Equal(Errno.EAGAIN, set);
        Assert.Equal(Errno.Success, setw);
        var calls = sets.ToArray();
        Assert.Equal(2, calls.Length);
        AssertContext(calls[0].Context, 35);
        Assert.Equal(lk, calls[0].Args);
        Assert.False(calls[0].Wait);
        AssertContext(calls[1].Context, 36);
        Assert.Equal(lk, calls[1].Args);
        Assert.True(calls[1].Wait);
    }

    [Fact]
    public async Task AccessAndBmap()
    {
        DispatchFs fs = NewFs();
        FuseRequestContext accessCtx = default, bmapCtx = default;
        FuseAccessIn access = default;
        FuseBmapIn bmap = default;
        fs.Configure().AccessAsync(Arg.Any<FuseRequestContext>(), Arg.Any<FuseAccessIn>()).Returns(ci =>
        {
            accessCtx = ci.ArgAt<FuseRequestContext>(0);
            access = ci.ArgAt<FuseAccessIn>(1);
            return Status(Errno.EACCES);
        });
        fs.Configure().BmapAsync(Arg.Any<FuseRequestContext>(), Arg.Any<FuseBmapIn>()).Returns(ci =>
        {
            bmapCtx = ci.ArgAt<FuseRequestContext>(0);
            bmap = ci.ArgAt<FuseBmapIn>(1);
            return Ok(0x1_0000_0001ul);
        });
        await using FuseLoopbackHost host = await StartAsync(fs);

        Assert.Equal(Errno.EACCES, await host.Client.AccessAsync(37, 6).Bounded());
        Assert.Equal(0x1_0000_0001ul, (await host.Client.BmapAsync(38, 17, 1024).Bounded()).Value);

        AssertContext(accessCtx, 37);
        Assert.Equal(6u, access.Mask);
        AssertContext(bmapCtx, 38);
        Assert.Equal(new FuseBmapIn { Block = 17, Blocksize = 1024 }, bmap);
    }

    [Fact]
    public async Task Ioctl()
    {
        DispatchFs fs = NewFs();
        FuseRequestContext ctx = default;
        FuseIoctlIn got = default;
        byte[]? input = null;
        int outputRoom = -1;
        fs.Configure().IoctlAsync(Arg.Any<FuseRequestContext>(), Arg.Any<FuseIoctlIn>(), Arg.Any<ReadOnlyMemory<byte>>(), Arg.Any<Memory<byte>>()).Returns(ci =>
        {
            ctx = ci.ArgAt<FuseRequestContext>(0);
            got = ci.ArgAt<FuseIoctlIn>(1);
            input = ci.ArgAt<ReadOnlyMemory<byte>>(2).ToArray();
            Memory<byte> output = ci.ArgAt<Memory<byte>>(3);
            outputRoom = output.Length;
            new byte[] { 9, 8, 7, 6 }.CopyTo(output.Span);
            return Ok(new FuseIoctlResult(42, 4));
        });
        await using FuseLoopbackHost host = await StartAsync(fs);

        FuseResult<FuseIoctlReply> result = await host.Client.IoctlAsync(39, 12, 0x8004_1234, 0xDEAD_BEEF, new byte[] { 1, 2, 3 }, 16, FuseIoctlFlags.Dir).Bounded();

        Assert.True(result.IsSuccess);
        Assert.Equal(42, result.Value.Result);
        Assert.Equal(new byte[] { 9, 8, 7, 6 }, result.Value.Output);
        AssertContext(ctx, 39);
        Assert.Equal(new FuseIoctlIn { Fh = 12, Flags = (uint)FuseIoctlFlags.Dir, Cmd = 0x8004_1234, Arg = 0xDEAD_BEEF, InSize = 3, OutSize = 16 }, got);
        Assert.Equal(new byte[] { 1, 2, 3 }, input);
        Assert.Equal(16, outputRoom);
    }

    [Fact]
    public async Task Poll()
    {
        DispatchFs fs = NewFs();
        FuseRequestContext ctx = default;
        FusePollIn got = default;
        fs.Configure().PollAsync(Arg.Any<FuseRequestContext>(), Arg.Any<FusePollIn>()).Returns(ci =>
        {
            ctx = ci.ArgAt<FuseRequestContext>(0);
            got = ci.ArgAt<FusePollIn>(1);
            return Ok(0x5u);
        });
        await using FuseLoopbackHost host = await StartAsync(fs);

        Assert.Equal(0x5u, (await host.Client.PollAsync(40, 13, 0xCAFE, FusePollFlags.ScheduleNotify, 0x41).Bounded()).Value);
        AssertContext(ctx, 40);
        Assert.Equal(new FusePollIn { Fh = 13, Kh = 0xCAFE, Flags = (uint)FusePollFlags.ScheduleNotify, Events = 0x41 }, got);
    }

    [Fact]
    public async Task FallocateAndLseek()
    {
        DispatchFs fs = NewFs();
        FuseRequestContext fallocCtx = default, seekCtx = default;
        FuseFallocateIn falloc = default;
        FuseLseekIn seek = default;
        fs.Configure().FallocateAsync(Arg.Any<FuseRequestContext>(), Arg.Any<FuseFallocateIn>()).Returns(ci =>
        {
            fallocCtx = ci.ArgAt<FuseRequestContext>(0);
            falloc = ci.ArgAt<FuseFallocateIn>(1);
            return Status(Errno.Success);
        });
        fs.Configure().LseekAsync(Arg.Any<FuseRequestContext>(), Arg.Any<FuseLseekIn>()).Returns(ci =>
        {
            seekCtx = ci.ArgAt<FuseRequestContext>(0);
            seek = ci.ArgAt<FuseLseekIn>(1);
            return Ok(0x2_0000_0000ul);
        });
        await using FuseLoopbackHost host = await StartAsync(fs);

        Assert.Equal(Errno.Success, await host.Client.FallocateAsync(41, 14, 100, 200, mode: 3).Bounded());
        Assert.Equal(0x2_0000_0000ul, (await host.Client.LseekAsync(42, 15, 300, whence: 3).Bounded()).Value);

        AssertContext(fallocCtx, 41);
        Assert.Equal(new FuseFallocateIn { Fh = 14, Offset = 100, Length = 200, Mode = 3 }, falloc);
        AssertContext(seekCtx, 42);
        Assert.Equal(new FuseLseekIn { Fh = 15, Offset = 300, Whence = 3 }, seek);
    }

    [Fact]
    public async Task CopyFileRange32CapsTheLengthAndCopyFileRange64DoesNot()
    {
        DispatchFs fs = NewFs();
        var seen = new ConcurrentQueue<(FuseRequestContext Context, FuseCopyFileRangeIn Args)>();
        fs.Configure().CopyFileRangeAsync(Arg.Any<FuseRequestContext>(), Arg.Any<FuseCopyFileRangeIn>()).Returns(ci =>
        {
            var received = ci.ArgAt<FuseCopyFileRangeIn>(1);
            seen.Enqueue((ci.ArgAt<FuseRequestContext>(0), received));
            return Ok(received.Len);
        });
        await using FuseLoopbackHost host = await StartAsync(fs);
        var args = new FuseCopyFileRangeIn { FhIn = 1, OffIn = 2, NodeidOut = 3, FhOut = 4, OffOut = 5, Len = 5UL << 30, Flags = 0 };

        FuseResult<ulong> r32 = await host.Client.CopyFileRangeAsync(43, args).Bounded();
        FuseResult<ulong> r64 = await host.Client.CopyFileRange64Async(44, args).Bounded();

        const ulong cap = uint.MaxValue & ~4095UL;
        Assert.Equal(cap, r32.Value);
        Assert.Equal(5UL << 30, r64.Value);
        var calls = seen.ToArray();
        Assert.Equal(2, calls.Length);
        AssertContext(calls[0].Context, 43);
        Assert.Equal(args with { Len = cap }, calls[0].Args);
        AssertContext(calls[1].Context, 44);
        Assert.Equal(args, calls[1].Args);
    }

    [Fact]
    public async Task CopyFileRangeReportingMoreThanAskedIsEio()
    {
        DispatchFs fs = NewFs();
        fs.Configure().CopyFileRangeAsync(Arg.Any<FuseRequestContext>(), Arg.Any<FuseCopyFileRangeIn>()).Returns(Ok(4097ul));
        await using FuseLoopbackHost host = await StartAsync(fs);
        var args = new FuseCopyFileRangeIn { FhIn = 1, NodeidOut = 3, FhOut = 4, Len = 4096 };

        Assert.Equal(Errno.EIO, (await host.Client.CopyFileRangeAsync(43, args).Bounded()).Error);
    }

    [Fact]
    public async Task CopyFileRangeSmallResultIsExact()
    {
        DispatchFs fs = NewFs();
        fs.Configure().CopyFileRangeAsync(Arg.Any<FuseRequestContext>(), Arg.Any<FuseCopyFileRangeIn>()).Returns(Ok(12345ul));
        await using FuseLoopbackHost host = await StartAsync(fs);

        Assert.Equal(12345ul, (await host.Client.CopyFileRangeAsync(1, new FuseCopyFileRangeIn { Len = 20000 }).Bounded()).Value);
        Assert.Equal(12345ul, (await host.Client.CopyFileRange64Async(1, new FuseCopyFileRangeIn { Len = 20000 }).Bounded()).Value);
    }

    [Fact]
    public async Task SetupMappingAndRemoveMapping()
    {
        DispatchFs fs = NewFs();
        FuseRequestContext setupCtx = default, removeCtx = default;
        FuseSetupmappingIn setup = default;
        FuseRemovemappingOne[]? ranges = null;
        fs.Configure().SetupMappingAsync(Arg.Any<FuseRequestContext>(), Arg.Any<FuseSetupmappingIn>()).Returns(ci =>
        {
            setupCtx = ci.ArgAt<FuseRequestContext>(0);
            setup = ci.ArgAt<FuseSetupmappingIn>(1);
            return Status(Errno.Success);
        });
        fs.Configure().RemoveMappingAsync(Arg.Any<FuseRequestContext>(), Arg.Any<FuseRemoveMappingList>()).Returns(ci =>
        {
            removeCtx = ci.ArgAt<FuseRequestContext>(0);
            FuseRemoveMappingList list = ci.ArgAt<FuseRemoveMappingList>(1);
            ranges = new FuseRemovemappingOne[list.Count];
            for (int i = 0; i < list.Count; i++)
            {
                ranges[i] = list[i];
            }

            return Status(Errno.Success);
        });
        await using FuseLoopbackHost host = await StartAsync(fs);
        var args = new FuseSetupmappingIn { Fh = FuseConstants.SetupMappingFhNone, Foffset = 0x20_0000, Len = 0x20_0000, Flags = (ulong)(FuseSetupMappingFlags.Read | FuseSetupMappingFlags.Write), Moffset = 0x40_0000 };
        FuseRemovemappingOne[] toRemove =
        [
            new FuseRemovemappingOne { Moffset = 0x40_0000, Len = 0x20_0000 },
            new FuseRemovemappingOne { Moffset = 0x80_0000, Len = 0x1000 },
            new FuseRemovemappingOne { Moffset = ulong.MaxValue - 1, Len = 1 },
        ];

        Assert.Equal(Errno.Success, await host.Client.SetupMappingAsync(45, args).Bounded());
        Assert.Equal(Errno.Success, await host.Client.RemoveMappingAsync(46, toRemove).Bounded());

        AssertContext(setupCtx, 45);
        Assert.Equal(args, setup);
        AssertContext(removeCtx, 46);
        Assert.Equal(toRemove, ranges);
    }

    [Fact]
    public async Task SyncFs()
    {
        DispatchFs fs = NewFs();
        FuseRequestContext ctx = default;
        fs.Configure().SyncFsAsync(Arg.Any<FuseRequestContext>()).Returns(ci =>
        {
            ctx = ci.ArgAt<FuseRequestContext>(0);
            return Status(Errno.EIO);
        });
        await using FuseLoopbackHost host = await StartAsync(fs);

        Assert.Equal(Errno.EIO, await host.Client.SyncFsAsync(47).Bounded());
        AssertContext(ctx, 47);
    }

    [Fact]
    public async Task ForgetAndBatchForget()
    {
        DispatchFs fs = NewFs();
        await using FuseLoopbackHost host = await StartAsync(fs);

        await host.Client.ForgetAsync(48, 3).Bounded();
        fs.Received(1).Forget(48, 3);

        FuseForgetOne[] nodes = [new FuseForgetOne { Nodeid = 49, Nlookup = 1 }, new FuseForgetOne { Nodeid = 50, Nlookup = ulong.MaxValue }];
        await host.Client.BatchForgetAsync(nodes).Bounded();

        FuseForgetOne[] batch = Assert.Single(fs.Batches);
        Assert.Equal(nodes, batch);
        fs.Received(1).Forget(49, 1);
        fs.Received(1).Forget(50, ulong.MaxValue);
        fs.Received(3).Forget(Arg.Any<ulong>(), Arg.Any<ulong>());
    }

    [Fact]
    public async Task DestroyCallsDestroyOnceAndEndsTheSession()
    {
        DispatchFs fs = NewFs();
        await using FuseLoopbackHost host = await StartAsync(fs);

        Assert.Equal(Errno.Success, await host.Client.DestroyAsync().Bounded());
        await host.Completion.Bounded();

        Assert.True(host.Session.IsDestroyed);
        fs.Received(1).Destroy();
    }

    [Fact]
    public async Task UnimplementedOperationsAnswerEnosys()
    {
        await using FuseLoopbackHost host = await StartAsync(new EmptyFs());
        FuseLoopbackClient c = host.Client;

        Assert.Equal(Errno.ENOSYS, (await c.LookupAsync(1, "x").Bounded()).Error);
        Assert.Equal(Errno.ENOSYS, (await c.GetAttrAsync(1).Bounded()).Error);
        Assert.Equal(Errno.ENOSYS, (await c.MkDirAsync(1, "d", 0x1ED).Bounded()).Error);
        Assert.Equal(Errno.ENOSYS, await c.UnlinkAsync(1, "x").Bounded());
        Assert.Equal(Errno.ENOSYS, (await c.OpenAsync(1, 0).Bounded()).Error);
        Assert.Equal(Errno.ENOSYS, (await c.ReadAsync(1, 0, 0, new byte[8]).Bounded()).Error);
        Assert.Equal(Errno.ENOSYS, (await c.WriteAsync(1, 0, 0, new byte[8]).Bounded()).Error);
        Assert.Equal(Errno.ENOSYS, (await c.ReadDirAsync(1, 0, 0).Bounded()).Error);
        Assert.Equal(Errno.ENOSYS, await c.FsyncAsync(1, 0).Bounded());
        Assert.Equal(Errno.ENOSYS, (await c.GetXattrAsync(1, "user.x", Memory<byte>.Empty).Bounded()).Error);
        Assert.Equal(Errno.ENOSYS, (await c.CopyFileRange64Async(1, default).Bounded()).Error);
        Assert.Equal(Errno.ENOSYS, await c.SyncFsAsync().Bounded());

        // The two operations whose default is success.
        Assert.Equal(Errno.Success, await c.ReleaseAsync(1, 0).Bounded());
        Assert.Equal(Errno.Success, await c.ReleaseDirAsync(1, 0).Bounded());
    }

    [Fact]
    public async Task ExceptionsBecomeEioAreLoggedAndTheSessionKeepsServing()
    {
        DispatchFs fs = NewFs();
        var logger = new CapturingLogger<FuseSession>();
        var boom = new InvalidOperationException("boom");
        var asyncBoom = new InvalidOperationException("async boom");
        fs.Configure().LookupAsync(Arg.Any<FuseRequestContext>(), Arg.Any<ReadOnlyMemory<byte>>()).Returns(ci =>
            ci.ArgAt<ReadOnlyMemory<byte>>(1).Span.SequenceEqual("bad"u8)
                ? throw boom
                : Ok(Entry(60)));
        fs.Configure().GetAttrAsync(Arg.Any<FuseRequestContext>(), Arg.Any<FuseGetattrIn>())
            .Returns(_ => new ValueTask<FuseResult<FuseAttrOut>>(Task.FromException<FuseResult<FuseAttrOut>>(asyncBoom)));
        fs.Configure().When(x => x.Forget(Arg.Any<ulong>(), Arg.Any<ulong>())).Throw(new InvalidOperationException("forget boom"));
        await using FuseLoopbackHost host = await StartAsync(fs, logger: logger);

        Assert.Equal(Errno.EIO, (await host.Client.LookupAsync(1, "bad").Bounded()).Error);
        Assert.Equal(Errno.EIO, (await host.Client.GetAttrAsync(1).Bounded()).Error);
        await host.Client.ForgetAsync(7, 1).Bounded();
        AssertEntry(await host.Client.LookupAsync(1, "good").Bounded(), 60);

        LogEntry[] errors = logger.Entries.Where(e => e.Level == LogLevel.Error).ToArray();
        Assert.Contains(errors, e => ReferenceEquals(e.Exception, boom) && e.Message.Contains("LOOKUP", StringComparison.Ordinal));
        Assert.Contains(errors, e => ReferenceEquals(e.Exception, asyncBoom) && e.Message.Contains("GETATTR", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Exception?.Message == "forget boom" && e.Message.Contains("FORGET", StringComparison.Ordinal));
        Assert.False(host.Completion.IsCompleted);
    }
}
