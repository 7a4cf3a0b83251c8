namespace VirtioFs.Guest.Tests;

/// <summary>The Passthrough sample as a vhost-user backend: <c>dotnet Passthrough.dll SRC --vhost-user SOCK --tag TAG</c>.</summary>
[Collection(GuestCollection.Name)]
public sealed class PassthroughGuestTests(GuestImage image, ITestOutputHelper output)
{
    [GuestFact]
    public async Task FullWorkload_PassesAndTheHostSeesTheGuestsFiles()
    {
        GuestWorkload workload = GuestWorkload.Full;
        await image.EnsureBuiltAsync(); // before the backend's lifetime starts running
        using var workspace = new GuestWorkspace();
        using var backend = VhostUserBackend.StartPassthrough(workspace, workload.Timeout + TimeSpan.FromSeconds(30));

        GuestConsole console = await GuestMachine.BootAsync(image, backend, workload, output);

        GuestChecks.AssertWorkload(console, workload);
        GuestChecks.AssertExport(workspace.ExportDirectory, console, workload);
        Assert.True(await backend.Process.WaitForExitAsync(TimeSpan.FromSeconds(10)), $"Passthrough did not exit when the VMM disconnected.\n{backend.Process.Tail()}");
        Assert.Equal(0, backend.Process.ExitCode);
    }
}
