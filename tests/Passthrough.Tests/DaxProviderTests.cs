using VirtioFs.Dax;
using VirtioFs.Protocol;
using VirtioFs.Samples.Passthrough;
using VirtioFs.Transport;

namespace VirtioFs.Passthrough.Tests;

/// <summary>
/// Passthrough as the <see cref="IDaxFileProvider"/> of a <see cref="DaxMappingServer"/> (what <c>--dax-window</c>
/// wires over vhost-user), served over the loopback into an in-process window: which requests may map which files.
/// </summary>
public sealed class DaxProviderTests : IAsyncLifetime
{
    private const long MiB = 1024 * 1024;
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(10);

    private readonly string _source = Path.Combine("/tmp", "ptfs-dax-" + Guid.NewGuid().ToString("N")[..12]);
    private readonly List<IAsyncDisposable> _hosts = [];
    private readonly List<IDisposable> _owned = [];

    public Task InitializeAsync()
    {
        Directory.CreateDirectory(_source);
        byte[] content = new byte[4 * MiB];
        Random.Shared.NextBytes(content);
        File.WriteAllBytes(Path.Combine(_source, "f"), content);
        File.WriteAllText(Path.Combine(_source, "g"), "another file");
        Directory.CreateDirectory(Path.Combine(_source, "d"));
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        foreach (IAsyncDisposable host in _hosts)
        {
            await host.DisposeAsync();
        }

        foreach (IDisposable owned in _owned)
        {
            owned.Dispose();
        }

        Directory.Delete(_source, recursive: true);
    }

    [Fact]
    public async Task AFileMapsByNodeAndTheWindowShowsItsBytes()
    {
        (FuseLoopbackHost host, InProcessDaxWindow window) = await StartAsync(readOnly: false);
        ulong node = await LookupAsync(host, "f");

        Assert.Equal(Errno.Success, await SetupAsync(host, node, FuseConstants.SetupMappingFhNone, foffset: 2 * MiB, moffset: 0, writable: true));

        byte[] expected = File.ReadAllBytes(Path.Combine(_source, "f"))[(int)(2 * MiB)..(int)(2 * MiB + 4096)];
        Assert.Equal(expected, window.GetSpan(0, 4096).ToArray());
        "via dax"u8.CopyTo(window.GetSpan(10, 7));
        byte[] written = new byte[7];
        using (var file = File.OpenHandle(Path.Combine(_source, "f")))
        {
            RandomAccess.Read(file, written, (2 * MiB) + 10);
        }

        Assert.Equal("via dax"u8.ToArray(), written);
    }

    [Fact]
    public async Task UnknownNodesDirectoriesAndForeignHandlesAreRefused()
    {
        (FuseLoopbackHost host, _) = await StartAsync(readOnly: false);
        ulong f = await LookupAsync(host, "f");
        ulong g = await LookupAsync(host, "g");
        ulong d = await LookupAsync(host, "d");

        Assert.Equal(Errno.ESTALE, await SetupAsync(host, 987654, FuseConstants.SetupMappingFhNone, 0, 0, writable: false));
        Assert.Equal(Errno.EINVAL, await SetupAsync(host, d, FuseConstants.SetupMappingFhNone, 0, 0, writable: false));

        FuseResult<FuseOpenOut> opened = await host.Client.OpenAsync(f, flags: 0);
        Assert.True(opened.IsSuccess, opened.Error.ToString());
        Assert.Equal(Errno.EBADF, await SetupAsync(host, g, opened.Value.Fh, 0, 0, writable: false));
        Assert.Equal(Errno.EBADF, await SetupAsync(host, f, opened.Value.Fh + 1000, 0, 0, writable: false));

        // A read-only handle maps for reading, not for writing.
        Assert.Equal(Errno.Success, await SetupAsync(host, f, opened.Value.Fh, 0, 0, writable: false));
        Assert.Equal(Errno.EACCES, await SetupAsync(host, f, opened.Value.Fh, 0, 2 * MiB, writable: true));
    }

    [Fact]
    public async Task AReadOnlyExportMapsForReadingOnly()
    {
        (FuseLoopbackHost host, _) = await StartAsync(readOnly: true);
        ulong f = await LookupAsync(host, "f");
        Assert.Equal(Errno.Success, await SetupAsync(host, f, FuseConstants.SetupMappingFhNone, 0, 0, writable: false));
        Assert.Equal(Errno.EROFS, await SetupAsync(host, f, FuseConstants.SetupMappingFhNone, 0, 2 * MiB, writable: true));
    }

    [KernelFact]
    public async Task TheFileIsOpenedWithTheCallersCredentials()
    {
        KernelEnvironment.Require();
        string secret = Path.Combine(_source, "secret");
        File.WriteAllBytes(secret, new byte[MiB]);
        File.SetUnixFileMode(secret, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        (FuseLoopbackHost host, _) = await StartAsync(readOnly: false);
        ulong node = await LookupAsync(host, "secret");

        host.Client.Caller = new FuseCaller(4242, 4242, 1);
        Assert.Equal(Errno.EACCES, await SetupAsync(host, node, FuseConstants.SetupMappingFhNone, 0, 0, writable: false));
        host.Client.Caller = new FuseCaller(0, 0, 1);
        Assert.Equal(Errno.Success, await SetupAsync(host, node, FuseConstants.SetupMappingFhNone, 0, 0, writable: false));
    }

    private async Task<(FuseLoopbackHost Host, InProcessDaxWindow Window)> StartAsync(bool readOnly)
    {
        PassthroughFileSystem fs = InProcess.Create(_source, readOnly);
        var window = new InProcessDaxWindow(8 * MiB);
        _owned.Add(fs);
        _owned.Add(window);
        var options = new FuseSessionOptions { Capabilities = PassthroughFileSystem.Capabilities(fs.Options), MappingServer = new DaxMappingServer(window, fs, readOnly) };
        FuseLoopbackHost host = await FuseLoopbackHost.StartAsync(fs, options).WaitAsync(Limit);
        _hosts.Insert(0, host);
        return (host, window);
    }

    private static async Task<ulong> LookupAsync(FuseLoopbackHost host, string name)
    {
        FuseResult<FuseEntryOut> entry = await host.Client.LookupAsync(FuseConstants.RootId, name).AsTask().WaitAsync(Limit);
        Assert.True(entry.IsSuccess, $"lookup {name}: {entry.Error}");
        return entry.Value.Nodeid;
    }

    private static Task<Errno> SetupAsync(FuseLoopbackHost host, ulong node, ulong fh, long foffset, long moffset, bool writable)
        => host.Client.SetupMappingAsync(node, new FuseSetupmappingIn
        {
            Fh = fh,
            Foffset = (ulong)foffset,
            Len = (ulong)(2 * MiB),
            Moffset = (ulong)moffset,
            Flags = (ulong)(FuseSetupMappingFlags.Read | (writable ? FuseSetupMappingFlags.Write : 0)),
        }).AsTask().WaitAsync(Limit);
}
