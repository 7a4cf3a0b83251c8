using System.Diagnostics;
using System.Globalization;
using System.Numerics;
using Microsoft.Win32.SafeHandles;
using VirtioFs.Protocol;
using VirtioFs.Transport;

namespace VirtioFs.Dax.Tests.Serving;

/// <summary>The in-process window behind a <see cref="DaxMappingServer"/>, served through the loopback, on real files.</summary>
public sealed class InProcessDaxWindowTests : IAsyncLifetime
{
    private const ulong Node = 2;
    private const long MiB = 1024 * 1024;
    private static readonly int Page = Environment.SystemPageSize;
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(10);

    private readonly string _path = Path.Combine(Path.GetTempPath(), $"virtiofs-dax-{Guid.NewGuid():N}");
    private InProcessDaxWindow _window = null!;
    private HostFileProvider _files = null!;
    private DaxMappingServer _server = null!;
    private FuseLoopbackHost _host = null!;

    public async Task InitializeAsync()
    {
        using (SafeFileHandle file = File.OpenHandle(_path, FileMode.CreateNew, FileAccess.ReadWrite))
        {
            RandomAccess.SetLength(file, 4 * MiB);
        }

        _window = new InProcessDaxWindow(8 * MiB);
        _files = new HostFileProvider(_path);
        _server = new DaxMappingServer(_window, _files);
        _host = await FuseLoopbackHost.StartAsync(new EmptyFs(), new FuseSessionOptions { WorkersPerChannel = 2, MappingServer = _server }).WaitAsync(Limit);
    }

    public async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        _window.Dispose();
        File.Delete(_path);
    }

    [Fact]
    public void TheWindowStartsReservedAndInaccessible()
    {
        Assert.Equal(BitOperations.Log2((uint)Page), _window.Geometry.MapAlignment);
        Assert.Equal(8 * MiB, _window.Size);
        AssertProtection(0, 8 * MiB, "---p");
    }

    [Fact]
    public async Task WritesThroughTheWindowReachTheFileAndTheReverse()
    {
        Assert.Equal(Errno.Success, await SetupAsync(foffset: MiB, len: MiB, moffset: 2 * MiB, writable: true));
        AssertProtection(2 * MiB, MiB, "rw-s");

        "through the window"u8.CopyTo(_window.GetSpan((2 * MiB) + 100, 18));
        using SafeFileHandle file = File.OpenHandle(_path, FileMode.Open, FileAccess.ReadWrite);
        byte[] read = new byte[18];
        Assert.Equal(18, RandomAccess.Read(file, read, MiB + 100));
        Assert.Equal("through the window"u8.ToArray(), read);

        RandomAccess.Write(file, "through pwrite"u8, MiB + Page);
        Assert.Equal("through pwrite"u8.ToArray(), _window.GetSpan((2 * MiB) + Page, 14).ToArray());
    }

    [Fact]
    public async Task AReadOnlyMappingIsUpgradedInPlace()
    {
        using (SafeFileHandle file = File.OpenHandle(_path, FileMode.Open, FileAccess.Write))
        {
            RandomAccess.Write(file, "before"u8, 0);
        }

        Assert.Equal(Errno.Success, await SetupAsync(0, MiB, 0, writable: false));
        AssertProtection(0, MiB, "r--s");
        Assert.Equal("before"u8.ToArray(), _window.GetSpan(0, 6).ToArray());

        Assert.Equal(Errno.Success, await SetupAsync(0, MiB, 0, writable: true));
        AssertProtection(0, MiB, "rw-s");
        "after!"u8.CopyTo(_window.GetSpan(0, 6));
        Assert.Equal("after!"u8.ToArray(), File.ReadAllBytes(_path).AsSpan(0, 6).ToArray());
    }

    [Fact]
    public async Task RemovedAndResetRangesAreInaccessibleAgain()
    {
        Assert.Equal(Errno.Success, await SetupAsync(0, 2 * MiB, 0, writable: true));
        Assert.Equal(Errno.Success, await SetupAsync(0, 2 * MiB, 4 * MiB, writable: false));

        Assert.Equal(Errno.Success, await _host.Client.RemoveMappingAsync(Node, [new FuseRemovemappingOne { Moffset = 0, Len = MiB }]).AsTask().WaitAsync(Limit));
        AssertProtection(0, MiB, "---p");
        AssertProtection(MiB, MiB, "rw-s");
        AssertProtection(4 * MiB, 2 * MiB, "r--s");

        Assert.Equal(Errno.Success, await _host.Client.DestroyAsync().AsTask().WaitAsync(Limit));
        await _host.Completion.WaitAsync(Limit);
        AssertProtection(0, 8 * MiB, "---p");
        Assert.Empty(_server.GetMappings());
    }

    [Fact]
    public async Task AMappingOutlivesTheFileSystemsHandle()
    {
        // The provider disposes its handle as soon as it has made the reference: the mapping's reference keeps it open.
        Assert.Equal(Errno.Success, await SetupAsync(0, MiB, 0, writable: true));
        SafeFileHandle handle = _files.LastHandle!;
        Assert.False(handle.IsClosed);

        "still mapped"u8.CopyTo(_window.GetSpan(0, 12));
        Assert.Equal("still mapped"u8.ToArray(), File.ReadAllBytes(_path).AsSpan(0, 12).ToArray());

        // Removing the mapping drops the last reference, and the descriptor is closed.
        Assert.Equal(Errno.Success, await _host.Client.RemoveMappingAsync(Node, [new FuseRemovemappingOne { Moffset = 0, Len = MiB }]).AsTask().WaitAsync(Limit));
        Assert.True(handle.IsClosed);
    }

    [Fact]
    public async Task AFailedHostMapAnswersTheHostErrno()
    {
        // The provider claims a read-only handle is writable: the server lets it through and mmap refuses (EACCES).
        _files.LieAboutWritable = true;
        Assert.Equal(Errno.EACCES, await SetupAsync(0, MiB, 0, writable: true));
        AssertProtection(0, MiB, "---p");
        Assert.Empty(_server.GetMappings());
    }

    [Fact]
    public void TheWindowChecksItsOwnArguments()
    {
        using SafeFileHandle file = File.OpenHandle(_path, FileMode.Open, FileAccess.Read);
        var reference = new DaxFileReference(Node, FuseFileMode.RegularFile, file, false);
        Assert.Equal(Errno.EINVAL, _window.Map(1, Page, reference, 0, false));
        Assert.Equal(Errno.EINVAL, _window.Map(0, Page, reference, 1, false));
        Assert.Equal(Errno.EINVAL, _window.Map(8 * MiB, Page, reference, 0, false));
        Assert.Equal(Errno.EINVAL, _window.Unmap(0, 0));
        Assert.Equal(Errno.EINVAL, _window.Unmap(-Page, Page));
        Assert.Throws<ArgumentOutOfRangeException>(() => _window.GetSpan((8 * MiB) - 1, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => new InProcessDaxWindow(MiB + 1));
        reference.Release();
    }

    [Fact]
    public async Task TouchingAnUnmappedRangeFaultsTheProcess()
    {
        File.WriteAllBytes(_path, Enumerable.Repeat((byte)'A', Page).ToArray());
        string probe = Path.Combine(AppContext.BaseDirectory, "DaxFaultProbe.dll");
        string dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";
        var start = new ProcessStartInfo(dotnet) { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("exec");
        start.ArgumentList.Add(probe);
        start.ArgumentList.Add(_path);
        using Process process = Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);

        string output = await stdout;
        string errors = await stderr;
        Assert.Contains("mapped 65", output);
        Assert.DoesNotContain("survived", output);

        // The runtime turns the fault into a fatal AccessViolationException and aborts (SIGABRT), or the signal kills it.
        Assert.True(process.ExitCode is 134 or 139 or 135, $"exit code {process.ExitCode}; stderr: {errors}");
    }

    private Task<Errno> SetupAsync(ulong foffset, ulong len, ulong moffset, bool writable)
    {
        var args = new FuseSetupmappingIn
        {
            Fh = FuseConstants.SetupMappingFhNone,
            Foffset = foffset,
            Len = len,
            Moffset = moffset,
            Flags = (ulong)(writable ? FuseSetupMappingFlags.Read | FuseSetupMappingFlags.Write : FuseSetupMappingFlags.Read),
        };
        return _host.Client.SetupMappingAsync(Node, args).AsTask().WaitAsync(Limit);
    }

    /// <summary>Asserts every mapping of [offset, offset + length) in <c>/proc/self/maps</c> has <paramref name="perms"/>.</summary>
    private void AssertProtection(long offset, long length, string perms)
    {
        ulong from = (ulong)(_window.BaseAddress + (nint)offset);
        ulong to = from + (ulong)length;
        ulong covered = from;
        foreach (string line in File.ReadLines("/proc/self/maps"))
        {
            string[] fields = line.Split(' ', 3);
            string[] bounds = fields[0].Split('-');
            ulong start = ulong.Parse(bounds[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            ulong end = ulong.Parse(bounds[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            if (end <= from || start >= to)
            {
                continue;
            }

            Assert.True(perms == fields[1], $"{line}: expected {perms} over window [{offset:x}, {offset + length:x})");
            Assert.True(start <= covered, $"a hole in the window before {line}");
            covered = Math.Max(covered, end);
        }

        Assert.True(covered >= to, "the window range is not fully mapped");
    }

    /// <summary>Node 2 is the test file, opened read-write (or read-only when writing is not asked for).</summary>
    private sealed class HostFileProvider(string path) : IDaxFileProvider
    {
        public SafeFileHandle? LastHandle { get; private set; }

        public bool LieAboutWritable { get; set; }

        public ValueTask<FuseResult<DaxFileReference>> OpenForMappingAsync(FuseRequestContext context, ulong nodeId, ulong? fileHandle, bool writable)
        {
            if (nodeId != Node)
            {
                return new(Errno.ENOENT);
            }

            bool openWritable = writable && !LieAboutWritable;
            SafeFileHandle handle = File.OpenHandle(path, FileMode.Open, openWritable ? FileAccess.ReadWrite : FileAccess.Read);
            var reference = new DaxFileReference(nodeId, FuseFileMode.RegularFile | 0x1A4, handle, writable);
            LastHandle = handle;
            handle.Dispose();
            return new(reference);
        }
    }
}
