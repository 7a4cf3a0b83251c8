namespace VirtioFs.Guest.Tests;

/// <summary>The MemoryFs sample as a vhost-user backend: <c>dotnet MemoryFs.dll --vhost-user SOCK --tag TAG</c>.</summary>
[Collection(GuestCollection.Name)]
public sealed class MemoryFsGuestTests(GuestImage image, ITestOutputHelper output)
{
    [GuestFact]
    public async Task ShortWorkload_Passes()
    {
        GuestWorkload workload = GuestWorkload.Short;
        await image.EnsureBuiltAsync(); // before the backend's lifetime starts running
        using var workspace = new GuestWorkspace();
        using var backend = VhostUserBackend.StartMemoryFs(workspace, workload.Timeout + TimeSpan.FromSeconds(30));

        GuestConsole console = await GuestMachine.BootAsync(image, backend, workload, output);

        GuestChecks.AssertWorkload(console, workload);

        // Without --reconnect the backend ends, successfully, when its VMM is gone.
        Assert.True(await backend.Process.WaitForExitAsync(TimeSpan.FromSeconds(10)), $"MemoryFs did not exit when the VMM disconnected.\n{backend.Process.Tail()}");
        Assert.Equal(0, backend.Process.ExitCode);
    }

    /// <summary>A device with two request queues (hiprio + 2 rings started by the VMM) serves the guest.</summary>
    [GuestFact]
    public async Task TwoRequestQueues_ShortWorkloadPasses()
    {
        GuestWorkload workload = GuestWorkload.Short;
        await image.EnsureBuiltAsync();
        using var workspace = new GuestWorkspace();
        using var backend = VhostUserBackend.StartMemoryFs(workspace, workload.Timeout + TimeSpan.FromSeconds(30), "--queues", "2");

        GuestConsole console = await GuestMachine.BootAsync(image, backend, workload, output, requestQueues: 2);

        GuestChecks.AssertWorkload(console, workload);
    }

    /// <summary>With --reconnect the backend serves one guest after another; its tree outlives the first connection.</summary>
    [GuestFact]
    public async Task Reconnect_SecondGuestSeesTheFirstGuestsFiles()
    {
        await image.EnsureBuiltAsync(); // before the backend's lifetime starts running
        using var workspace = new GuestWorkspace();
        TimeSpan lifetime = GuestWorkload.Short.Timeout + GuestWorkload.List.Timeout + TimeSpan.FromSeconds(30);
        using var backend = VhostUserBackend.StartMemoryFs(workspace, lifetime, "--reconnect");

        GuestConsole first = await GuestMachine.BootAsync(image, backend, GuestWorkload.Short, output);
        GuestChecks.AssertWorkload(first, GuestWorkload.Short);
        Assert.False(backend.Process.HasExited, $"MemoryFs --reconnect exited when the first guest left.\n{backend.Process.Tail()}");

        GuestConsole second = await GuestMachine.BootAsync(image, backend, GuestWorkload.List, output);
        second.AssertOk();
        Assert.Equal(GuestChecks.KnownEntries, second.Results("entry"));
        GuestChecks.AssertKnownResults(second, GuestChecks.BigBytes(GuestWorkload.Short));
    }
}
