using System.Diagnostics;

namespace VirtioFs.Guest.Tests;

/// <summary>
/// Boots one guest (scripts/guest) under QEMU against a vhost-user backend and returns its parsed console. QEMU is
/// killed when the workload's time is up, or soon after the backend exits under it; every failure message carries the
/// tails of the console and of the backend's output.
/// </summary>
internal static class GuestMachine
{
    /// <summary>How long QEMU may go on once the backend is gone (it notices the disconnect, or the guest hangs).</summary>
    private static readonly TimeSpan AfterBackendExit = TimeSpan.FromSeconds(10);

    /// <summary>How long a refused connection is retried (a backend re-creating its socket between two guests).</summary>
    private static readonly TimeSpan ConnectRetryWindow = TimeSpan.FromSeconds(10);

    /// <summary>QEMU's accelerator: tcg unless VFS_GUEST_ACCEL says otherwise (e.g. kvm where it works).</summary>
    public static string Accelerator => Environment.GetEnvironmentVariable("VFS_GUEST_ACCEL") is { Length: > 0 } accel ? accel : "tcg";

    /// <summary>Boots the guest with <paramref name="requestQueues"/> request queues on the device (QEMU's <c>num-request-queues</c>).</summary>
    public static async Task<GuestConsole> BootAsync(GuestImage image, VhostUserBackend backend, GuestWorkload workload, ITestOutputHelper output, int requestQueues = 1)
    {
        await image.EnsureBuiltAsync();
        await backend.WaitForSocketAsync();
        var clock = Stopwatch.StartNew();
        while (true)
        {
            using ChildProcess qemu = ChildProcess.Start("qemu", GuestEnvironment.Qemu, Arguments(backend.Workspace, workload, requestQueues), workload.Timeout + TimeSpan.FromSeconds(10));
            bool exited = await WaitAsync(qemu, backend, workload.Timeout);
            qemu.Kill();
            var console = new GuestConsole(qemu.OutputLines, $"{qemu.Tail()}\n{backend.Process.Tail(30)}");
            if (!exited)
            {
                string why = backend.Process.HasExited
                    ? $"{backend.Process.Name} exited while the guest ran"
                    : $"the guest did not finish within {workload.Timeout.TotalSeconds:0} s";
                throw console.Failure($"{why} (workload {workload}; QEMU killed).");
            }

            if (console.Done is null && clock.Elapsed < ConnectRetryWindow && qemu.Tail().Contains("Connection refused", StringComparison.Ordinal))
            {
                await Task.Delay(200);
                continue;
            }

            output.WriteLine($"{backend.Process.Name}, workload {workload}: QEMU ran {clock.Elapsed.TotalSeconds:0.0} s; VFS-DONE {console.Done}; {console.PhaseSummary}");
            return console.Done is not null ? console : throw console.Failure($"QEMU exited (code {qemu.ExitCode}) before the guest printed VFS-DONE.");
        }
    }

    /// <summary>Waits for QEMU to exit; false when it is still running at the deadline or after the backend died.</summary>
    private static async Task<bool> WaitAsync(ChildProcess qemu, VhostUserBackend backend, TimeSpan timeout)
    {
        using var done = new CancellationTokenSource();
        try
        {
            Task<bool> qemuExit = qemu.WaitForExitAsync(timeout, done.Token);
            Task<bool> backendExit = backend.Process.WaitForExitAsync(timeout, done.Token);
            if (await Task.WhenAny(qemuExit, backendExit) == qemuExit)
            {
                return await qemuExit;
            }

            return await qemu.WaitForExitAsync(AfterBackendExit);
        }
        finally
        {
            done.Cancel();
        }
    }

    private static List<string> Arguments(GuestWorkspace workspace, GuestWorkload workload, int requestQueues) =>
    [
        "-machine", "q35", "-accel", Accelerator, "-cpu", "max", "-smp", "1", "-m", "512M",
        // vhost-user needs guest RAM the backend can map: shared memfd, bound to the one NUMA node.
        "-object", "memory-backend-memfd,id=mem,size=512M,share=on", "-numa", "node,memdev=mem",
        "-chardev", $"socket,id=vfs,path={workspace.SocketPath}",
        "-device", $"vhost-user-fs-pci,chardev=vfs,tag={workspace.Tag},num-request-queues={requestQueues}",
        "-kernel", GuestImage.Kernel, "-initrd", GuestImage.Initrd,
        "-append", $"console=ttyS0 quiet panic=-1 vfs.tag={workspace.Tag} vfs.workload={workload.Name}",
        "-nodefaults", "-display", "none", "-serial", "stdio", "-monitor", "none", "-no-reboot",
    ];
}
