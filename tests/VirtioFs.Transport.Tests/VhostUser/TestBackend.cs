using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using VirtioFs.Protocol;
using VirtioFs.Transport.Tests.Session;
using VirtioFs.Transport.VhostUser;

namespace VirtioFs.Transport.Tests.VhostUser;

/// <summary>
/// A <see cref="VhostUserFsBackend"/> listening on a fresh socket in a private directory and running, over one
/// <see cref="TestFs"/> that every session serves; counts sessions and collects <see cref="VhostUserFsBackend.DeviceBroken"/>.
/// </summary>
internal sealed class TestBackend : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _sessionStarted = new(0);
    private readonly SemaphoreSlim _brokenSignal = new(0);
    private int _sessions;

    private TestBackend(string directory, VhostUserFsOptions options, Func<FuseSessionOptions>? sessionOptions)
    {
        Directory = directory;
        Options = options;
        Backend = VhostUserFsBackend.Listen(options, () =>
        {
            Interlocked.Increment(ref _sessions);
            _sessionStarted.Release();
            return new FuseSession(FileSystem, sessionOptions?.Invoke() ?? new FuseSessionOptions { WorkersPerChannel = 1 });
        }, Logger);
        Backend.DeviceBroken += (_, reason) =>
        {
            Broken.Enqueue(reason);
            _brokenSignal.Release();
        };
        Running = Backend.RunAsync(_stop.Token);
    }

    public string Directory { get; }

    public VhostUserFsOptions Options { get; }

    public string SocketPath => Options.SocketPath;

    public VhostUserFsBackend Backend { get; }

    public Task Running { get; }

    public TestFs FileSystem { get; } = new();

    public CapturingLogger<VhostUserFsBackend> Logger { get; } = new();

    /// <summary>Sessions the factory has made.</summary>
    public int Sessions => Volatile.Read(ref _sessions);

    /// <summary>Every reason <see cref="VhostUserFsBackend.DeviceBroken"/> gave, in order.</summary>
    public ConcurrentQueue<string> Broken { get; } = new();

    /// <summary>A private directory with a short path (a Unix socket path has at most 107 bytes).</summary>
    public static string NewDirectory()
    {
        string directory = Path.Combine(Path.GetTempPath(), "vhu-" + Guid.NewGuid().ToString("N")[..10]);
        System.IO.Directory.CreateDirectory(directory);
        return directory;
    }

    public static TestBackend Start(
        int requestQueues = 1, bool reconnect = false, int maxMemorySlots = 32, VhostUserDaxWindow? daxWindow = null, Func<FuseSessionOptions>? sessionOptions = null)
    {
        string directory = NewDirectory();
        var options = new VhostUserFsOptions(Path.Combine(directory, "fs.sock"), "testfs")
        {
            RequestQueues = requestQueues,
            Reconnect = reconnect,
            MaxMemorySlots = maxMemorySlots,
            DaxWindow = daxWindow,
        };
        return new TestBackend(directory, options, sessionOptions);
    }

    /// <summary>A VMM connected to this backend, with the hiprio queue and every request queue.</summary>
    public TestVmm Connect() => TestVmm.Connect(SocketPath, 1 + Options.RequestQueues);

    /// <summary>Waits until the factory has made <paramref name="count"/> sessions in all.</summary>
    public async Task WaitSessionsAsync(int count)
    {
        while (Sessions < count)
        {
            Assert.True(await _sessionStarted.WaitAsync(TestVmm.Timeout), $"Only {Sessions} of {count} sessions were started.");
        }
    }

    /// <summary>Waits for the next <see cref="VhostUserFsBackend.DeviceBroken"/> and returns its reason.</summary>
    public async Task<string> WaitBrokenAsync()
    {
        Assert.True(await _brokenSignal.WaitAsync(TestVmm.Timeout), "DeviceBroken was not raised.");
        Assert.True(Broken.TryDequeue(out string? reason));
        return reason;
    }

    /// <summary>Asserts the device refused <paramref name="request"/> (logged with its reason) with a reason containing <paramref name="because"/>.</summary>
    public void AssertRefused(VhostUserRequest request, string because)
        => Assert.True(
            Logger.Entries.Any(e => e.EventId.Id == 302 && e.Message.Contains($" {request} refused", StringComparison.Ordinal) && e.Message.Contains(because, StringComparison.Ordinal)),
            $"No refusal of {request} because of \"{because}\" was logged; the log has:\n{string.Join('\n', Logger.Entries.Select(e => e.Message))}");

    /// <summary>Cancels <see cref="VhostUserFsBackend.RunAsync"/> and waits for it to end.</summary>
    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        await Running.WaitAsync(TestVmm.Timeout);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync();
        }
        finally
        {
            await Backend.DisposeAsync();
            _stop.Dispose();
            try
            {
                System.IO.Directory.Delete(Directory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}

