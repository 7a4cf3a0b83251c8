using System.Text;
using VirtioFs.Samples.MemoryFs;

namespace MemoryFs.Tests;

/// <summary>Linux constants the tests send over the wire.</summary>
internal static class Linux
{
    public const uint O_RDONLY = 0;
    public const uint O_WRONLY = 1;
    public const uint O_RDWR = 2;
    public const uint O_CREAT = 0x40;
    public const uint O_EXCL = 0x80;
    public const uint O_TRUNC = 0x200;
    public const uint O_APPEND = 0x400;

    public const uint S_IFREG = 0x8000;
    public const uint S_IFDIR = 0x4000;
    public const uint S_IFLNK = 0xA000;
    public const uint S_IFIFO = 0x1000;
    public const uint S_IFCHR = 0x2000;
    public const uint S_IFMT = 0xF000;

    public const uint F_RDLCK = 0;
    public const uint F_WRLCK = 1;
    public const uint F_UNLCK = 2;

    public const uint SEEK_DATA = 3;
    public const uint SEEK_HOLE = 4;

    public const uint FALLOC_FL_KEEP_SIZE = 1;
    public const uint FALLOC_FL_PUNCH_HOLE = 2;

    public const uint XATTR_CREATE = 1;
    public const uint XATTR_REPLACE = 2;

    public const uint R_OK = 4;
    public const uint W_OK = 2;
    public const uint X_OK = 1;
    public const uint F_OK = 0;

    /// <summary>The kernel's <c>new_encode_dev</c>.</summary>
    public static uint MakeDev(uint major, uint minor) => (minor & 0xff) | (major << 8) | ((minor & ~0xffu) << 12);
}

/// <summary>A clock the tests move by hand, so timestamps are deterministic.</summary>
public sealed class ManualClock : TimeProvider
{
    private readonly Lock _lock = new();
    private DateTimeOffset _now;

    public ManualClock(DateTimeOffset start)
    {
        _now = start;
    }

    public override DateTimeOffset GetUtcNow()
    {
        lock (_lock)
        {
            return _now;
        }
    }

    public void Advance(TimeSpan by)
    {
        lock (_lock)
        {
            _now += by;
        }
    }

    /// <summary>The current time as (seconds since the epoch, nanoseconds), the form FUSE attributes carry.</summary>
    public (ulong Seconds, uint Nanoseconds) Wire()
    {
        long ticks = GetUtcNow().UtcTicks - DateTime.UnixEpoch.Ticks;
        return ((ulong)(ticks / TimeSpan.TicksPerSecond), (uint)(ticks % TimeSpan.TicksPerSecond * 100));
    }
}

/// <summary>A <see cref="MemoryFileSystem"/> served over the loopback, with INIT done, plus helpers.</summary>
public sealed class MemoryFsFixture : IAsyncDisposable
{
    public const ulong Root = FuseConstants.RootId;

    public const FuseInitFlags Capabilities = FuseSessionOptions.DefaultCapabilities | FuseInitFlags.PosixLocks | FuseInitFlags.FlockLocks | FuseInitFlags.DoReaddirplus;

    public static readonly TimeSpan WaitLimit = TimeSpan.FromSeconds(10);

    /// <summary>2024-01-01T00:00:00.1234567Z: a start with sub-second digits, so nanoseconds are checked too.</summary>
    public static readonly DateTimeOffset Start = new DateTimeOffset(2024, 1, 1, 0, 0, 0, TimeSpan.Zero).AddTicks(1_234_567);

    private MemoryFsFixture(MemoryFileSystem fs, FuseLoopbackHost host, ManualClock clock)
    {
        Fs = fs;
        Host = host;
        Clock = clock;
    }

    public MemoryFileSystem Fs { get; }

    public FuseLoopbackHost Host { get; }

    public FuseLoopbackClient Client => Host.Client;

    public ManualClock Clock { get; }

    public static async Task<MemoryFsFixture> StartAsync(
        FuseClientInitOptions? init = null,
        int workers = 4,
        uint uid = 0,
        uint gid = 0,
        TimeSpan? attributeTimeout = null,
        TimeSpan? entryTimeout = null)
    {
        var clock = new ManualClock(Start);
        var fs = new MemoryFileSystem(uid, gid, attributeTimeout, entryTimeout, clock);
        var options = new FuseSessionOptions { Capabilities = Capabilities, WorkersPerChannel = workers };
        FuseLoopbackHost host = await FuseLoopbackHost.StartAsync(fs, options, init).WaitAsync(WaitLimit);
        return new MemoryFsFixture(fs, host, clock);
    }

    public async ValueTask DisposeAsync() => await Host.DisposeAsync().AsTask().WaitAsync(WaitLimit);

    public async Task<FuseEntryOut> MkDirAsync(ulong parent, string name, uint mode = 0x1ED, uint umask = 0)
        => await Client.MkDirAsync(parent, name, mode, umask).Ok($"mkdir {name}");

    /// <summary>Creates and opens a file; returns its entry and handle.</summary>
    public async Task<(ulong Node, ulong Fh, FuseEntryOut Entry)> CreateAsync(ulong parent, string name, uint flags = Linux.O_RDWR | Linux.O_CREAT, uint mode = Linux.S_IFREG | 0x1A4, uint umask = 0)
    {
        FuseCreateOut created = await Client.CreateAsync(parent, name, flags, mode, umask).Ok($"create {name}");
        return (created.Entry.Nodeid, created.Open.Fh, created.Entry);
    }

    /// <summary>Creates a file holding <paramref name="content"/>, closes it and returns its node.</summary>
    public async Task<ulong> CreateFileAsync(ulong parent, string name, byte[] content)
    {
        (ulong node, ulong fh, _) = await CreateAsync(parent, name);
        if (content.Length > 0)
        {
            Assert.Equal(content.Length, await Client.WriteAsync(node, fh, 0, content).Ok("write"));
        }

        Assert.Equal(Errno.Success, await Client.ReleaseAsync(node, fh).Bounded());
        return node;
    }

    public async Task<ulong> OpenAsync(ulong node, uint flags)
        => (await Client.OpenAsync(node, flags).Ok("open")).Fh;

    public async Task<FuseAttr> GetAttrAsync(ulong node) => (await Client.GetAttrAsync(node).Ok("getattr")).Attr;

    /// <summary>Reads <paramref name="count"/> bytes at <paramref name="offset"/> through <paramref name="fh"/>; returns what came back.</summary>
    public async Task<byte[]> ReadAsync(ulong node, ulong fh, ulong offset, int count)
    {
        byte[] buffer = new byte[count];
        int read = await Client.ReadAsync(node, fh, offset, buffer).Ok("read");
        return buffer.AsSpan(0, read).ToArray();
    }

    /// <summary>Opens, reads the whole file (by its size) and closes.</summary>
    public async Task<byte[]> ReadAllAsync(ulong node)
    {
        ulong size = (await GetAttrAsync(node)).Size;
        ulong fh = await OpenAsync(node, Linux.O_RDONLY);
        byte[] data = await ReadAsync(node, fh, 0, (int)size);
        Assert.Equal(Errno.Success, await Client.ReleaseAsync(node, fh).Bounded());
        return data;
    }

    /// <summary>Every entry of a directory, READDIR'd in pieces of <paramref name="size"/> bytes.</summary>
    public async Task<List<FuseDirectoryEntry>> ListAsync(ulong dir, uint size = 4096)
    {
        ulong fh = (await Client.OpenDirAsync(dir).Ok("opendir")).Fh;
        var all = new List<FuseDirectoryEntry>();
        ulong offset = 0;
        while (true)
        {
            IReadOnlyList<FuseDirectoryEntry> batch = await Client.ReadDirAsync(dir, fh, offset, size).Ok("readdir");
            if (batch.Count == 0)
            {
                break;
            }

            all.AddRange(batch);
            offset = batch[^1].NextOffset;
        }

        Assert.Equal(Errno.Success, await Client.ReleaseDirAsync(dir, fh).Bounded());
        return all;
    }

    public static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);

    public static string Text(byte[] data) => Encoding.UTF8.GetString(data);
}

/// <summary>Bounded waits and success assertions for loopback calls.</summary>
public static class LoopbackAssert
{
    public static Task<T> Bounded<T>(this ValueTask<T> task) => task.AsTask().WaitAsync(MemoryFsFixture.WaitLimit);

    public static Task Bounded(this ValueTask task) => task.AsTask().WaitAsync(MemoryFsFixture.WaitLimit);

    public static Task<T> Bounded<T>(this Task<T> task) => task.WaitAsync(MemoryFsFixture.WaitLimit);

    public static Task Bounded(this Task task) => task.WaitAsync(MemoryFsFixture.WaitLimit);

    /// <summary>Awaits (bounded) and asserts success; returns the value.</summary>
    public static async Task<T> Ok<T>(this ValueTask<FuseResult<T>> task, string what = "request")
    {
        FuseResult<T> result = await task.Bounded();
        Assert.True(result.IsSuccess, $"{what} failed: {result.Error}");
        return result.Value!;
    }

    /// <summary>Awaits (bounded) and returns the error (Success when it succeeded).</summary>
    public static async Task<Errno> Err<T>(this ValueTask<FuseResult<T>> task) => (await task.Bounded()).Error;

    /// <summary>Awaits (bounded) a status request and asserts it succeeded.</summary>
    public static async Task Ok(this ValueTask<Errno> task, string what = "request")
    {
        Errno error = await task.Bounded();
        Assert.True(error == Errno.Success, $"{what} failed: {error}");
    }
}
