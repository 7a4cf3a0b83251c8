namespace VirtioFs.Guest.Tests;

/// <summary>
/// A vhost-user virtio-fs backend process listening on the workspace's socket: QEMU's virtiofsd (the reference) or one
/// of our samples. Disposing kills it.
/// </summary>
internal sealed class VhostUserBackend : IDisposable
{
    public const string Virtiofsd = "/usr/lib/qemu/virtiofsd";
    private static readonly TimeSpan SocketTimeout = TimeSpan.FromSeconds(20);

    private VhostUserBackend(ChildProcess process, GuestWorkspace workspace, string? exportDirectory)
    {
        Process = process;
        Workspace = workspace;
        ExportDirectory = exportDirectory;
    }

    public ChildProcess Process { get; }

    public GuestWorkspace Workspace { get; }

    /// <summary>The host directory the guest sees, or null when the backend keeps its tree in memory.</summary>
    public string? ExportDirectory { get; }

    public static VhostUserBackend StartVirtiofsd(GuestWorkspace workspace, TimeSpan lifetime)
        => new(
            ChildProcess.Start("virtiofsd", Virtiofsd, [$"--socket-path={workspace.SocketPath}", "-o", $"source={workspace.ExportDirectory}", "-o", "cache=none", "-o", "xattr"], lifetime),
            workspace,
            workspace.ExportDirectory);

    /// <summary>The MemoryFs sample: <c>dotnet MemoryFs.dll --vhost-user SOCK --tag TAG [options]</c>.</summary>
    public static VhostUserBackend StartMemoryFs(GuestWorkspace workspace, TimeSpan lifetime, params string[] options)
        => new(
            ChildProcess.Start("MemoryFs", "dotnet", [SampleDll("MemoryFs"), "--vhost-user", workspace.SocketPath, "--tag", workspace.Tag, .. options], lifetime),
            workspace,
            null);

    /// <summary>The Passthrough sample: <c>dotnet Passthrough.dll SRC --vhost-user SOCK --tag TAG [options]</c>.</summary>
    public static VhostUserBackend StartPassthrough(GuestWorkspace workspace, TimeSpan lifetime, params string[] options)
        => new(
            ChildProcess.Start("Passthrough", "dotnet", [SampleDll("Passthrough"), workspace.ExportDirectory, "--vhost-user", workspace.SocketPath, "--tag", workspace.Tag, .. options], lifetime),
            workspace,
            workspace.ExportDirectory);

    /// <summary>Waits until the backend's socket exists; fails with its output when it exits first or takes too long.</summary>
    public async Task WaitForSocketAsync()
    {
        var deadline = DateTime.UtcNow + SocketTimeout;
        while (!File.Exists(Workspace.SocketPath))
        {
            if (Process.HasExited)
            {
                await Process.WaitForExitAsync(TimeSpan.FromSeconds(2)); // let the last lines of output arrive
                Assert.Fail($"{Process.Name} exited before creating {Workspace.SocketPath}.\n{Process.Tail()}");
            }

            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"{Process.Name} did not create {Workspace.SocketPath} within {SocketTimeout.TotalSeconds:0} s.\n{Process.Tail()}");
            }

            await Task.Delay(20);
        }
    }

    public void Dispose() => Process.Dispose();

    /// <summary>A sample's build, copied next to the tests by the project reference.</summary>
    private static string SampleDll(string name)
    {
        string path = Path.Combine(AppContext.BaseDirectory, name + ".dll");
        return File.Exists(path) ? path : throw new FileNotFoundException($"{path} is missing (the test project references samples/{name}).", path);
    }
}
