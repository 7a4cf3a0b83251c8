using VirtioFs.Protocol;
using VirtioFs.Transport;

namespace VirtioFs.Dax.Tests.Client;

/// <summary>Real files in a temp directory, served over the loopback with a <see cref="DaxMappingServer"/> into an
/// <see cref="InProcessDaxWindow"/>, and a <see cref="FuseDaxClient"/> over the same window.</summary>
internal sealed class DaxClientHarness : IAsyncDisposable
{
    public const long MiB = 1024 * 1024;
    public static readonly TimeSpan Limit = TimeSpan.FromSeconds(20);

    private readonly Dictionary<FuseOpcode, int> _sent = [];

    private DaxClientHarness(string directory, InProcessDaxWindow window, HostDirectoryFileSystem files, DaxMappingServer server, FuseLoopbackHost host, FuseDaxClient client)
    {
        Directory = directory;
        Window = window;
        Files = files;
        Server = server;
        Host = host;
        Client = client;
        host.Client.RequestSent += (_, opcode) =>
        {
            lock (_sent)
            {
                _sent[opcode] = _sent.GetValueOrDefault(opcode) + 1;
            }
        };
    }

    public string Directory { get; }

    public InProcessDaxWindow Window { get; }

    public HostDirectoryFileSystem Files { get; }

    public DaxMappingServer Server { get; }

    public FuseLoopbackHost Host { get; }

    public FuseDaxClient Client { get; }

    public static async Task<DaxClientHarness> StartAsync(long windowSize, DaxAllocatorOptions? options = null)
    {
        string directory = Path.Combine(Path.GetTempPath(), $"virtiofs-daxclient-{Guid.NewGuid():N}");
        System.IO.Directory.CreateDirectory(directory);
        var window = new InProcessDaxWindow(windowSize);
        var files = new HostDirectoryFileSystem(directory);
        var server = new DaxMappingServer(window, files);
        files.MappingServer = server;
        FuseLoopbackHost host = await FuseLoopbackHost.StartAsync(files, new FuseSessionOptions { WorkersPerChannel = 2, MappingServer = server }).WaitAsync(Limit);
        var client = new FuseDaxClient(host.Client, window, host.Init.MaxWrite, options);
        return new DaxClientHarness(directory, window, files, server, host, client);
    }

    public int Sent(FuseOpcode opcode)
    {
        lock (_sent)
        {
            return _sent.GetValueOrDefault(opcode);
        }
    }

    /// <summary>Creates a host file with random content and returns the content.</summary>
    public byte[] CreateFile(string name, int length, int seed)
    {
        byte[] content = new byte[length];
        new Random(seed).NextBytes(content);
        File.WriteAllBytes(Path.Combine(Directory, name), content);
        return content;
    }

    public async Task<FuseDaxFile> OpenAsync(string name, bool writable = true)
    {
        FuseResult<FuseDaxFile> opened = await Client.OpenAsync(name, writable).AsTask().WaitAsync(Limit);
        Assert.True(opened.IsSuccess, $"open {name}: {opened.Error}");
        return opened.Value;
    }

    public async ValueTask DisposeAsync()
    {
        await Client.DisposeAsync().AsTask().WaitAsync(Limit);
        Assert.Equal(0, Server.MappingCount);
        await Host.DisposeAsync();
        Window.Dispose();
        System.IO.Directory.Delete(Directory, recursive: true);
    }
}
