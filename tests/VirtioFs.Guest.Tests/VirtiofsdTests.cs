namespace VirtioFs.Guest.Tests;

/// <summary>The reference backend, QEMU's virtiofsd: proves the guest image and the harness before ours are blamed.</summary>
[Collection(GuestCollection.Name)]
public sealed class VirtiofsdTests(GuestImage image, ITestOutputHelper output)
{
    [GuestFact]
    public async Task FullWorkload_PassesAndTheHostSeesTheGuestsFiles()
    {
        GuestWorkload workload = GuestWorkload.Full;
        await image.EnsureBuiltAsync(); // installs virtiofsd (qemu-system-common) when missing
        using var workspace = new GuestWorkspace();
        using var backend = VhostUserBackend.StartVirtiofsd(workspace, workload.Timeout + TimeSpan.FromSeconds(30));

        GuestConsole console = await GuestMachine.BootAsync(image, backend, workload, output);

        GuestChecks.AssertWorkload(console, workload);
        GuestChecks.AssertExport(workspace.ExportDirectory, console, workload);
    }
}
