using System.Diagnostics;
using System.Text;
using VirtioFs.Protocol;

namespace VirtioFs.Integration.Tests;

/// <summary>Unmounts under load, a dying server, and a filesystem that throws.</summary>
[Collection(KernelCollection.Name)]
public sealed class FaultTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    [KernelFact]
    public async Task LazyUnmountWithARequestInFlightEndsTheRunOnceTheCallerGoes()
    {
        KernelEnvironment.Require();
        (ScriptedFileSystem fs, BlockingRead read) = BlockingRead.CreateFileSystem("slow");
        await using MountedFileSystem mount = await MountedFileSystem.StartAsync(fs);
        Process? cat = null;
        try
        {
            cat = TestIo.Start("cat", mount.PathOf("slow"));
            await read.Entered.WaitAsync(Bound);

            (int exitCode, string output) = await TestIo.RunCommandAsync("umount", "-l", mount.MountPoint);
            Assert.True(exitCode == 0, $"umount -l: {output}");
            Assert.False(MountedFileSystem.IsMounted(mount.MountPoint));
            Assert.False(mount.RunTask.IsCompleted); // the detached superblock lives on while cat holds the file

            // The caller gives up: the kernel interrupts its request, then the last reference goes and the connection ends.
            cat.Kill();
            await read.Cancelled.WaitAsync(Bound);
            using (var exited = new CancellationTokenSource(Bound))
            {
                await cat.WaitForExitAsync(exited.Token);
            }

            await mount.RunTask.WaitAsync(Bound);
        }
        finally
        {
            TestIo.KillAndWait(cat);
            cat?.Dispose();
        }
    }

    [KernelFact]
    public async Task StoppingTheRunWithARequestInFlightCancelsItAndEnds()
    {
        KernelEnvironment.Require();
        (ScriptedFileSystem fs, BlockingRead read) = BlockingRead.CreateFileSystem("slow");
        MountedFileSystem mount = await MountedFileSystem.StartAsync(fs);
        Process? cat = null;
        try
        {
            cat = TestIo.Start("cat", mount.PathOf("slow"));
            await read.Entered.WaitAsync(Bound);

            // What an application does on Ctrl+C: cancel the run. It unmounts (lazily) and stops reading /dev/fuse, so no
            // FUSE_INTERRUPT can arrive any more: the in-flight READ must see its token cancelled by the shutdown
            // (FuseRequestContext.CancellationToken: "cancelled when ... the session shuts down") for the run to end.
            bool stopped = await mount.StopAsync(TimeSpan.FromSeconds(5));
            Assert.False(MountedFileSystem.IsMounted(mount.MountPoint));
            Assert.True(read.Cancelled.IsCompleted, "cancelling FuseMount.RunAsync did not cancel the in-flight READ's token");
            Assert.True(stopped, "FuseMount.RunAsync did not complete within 5 s of cancellation while a READ was in flight");
            using var exited = new CancellationTokenSource(Bound);
            await cat.WaitForExitAsync(exited.Token);
        }
        finally
        {
            // Rescue a hung run so that neither this process nor cat stays stuck: stopping the session cancels the READ,
            // whose reply releases cat; the workers then end and the run closes /dev/fuse.
            mount.Session.Stop();
            TestIo.KillAndWait(cat);
            cat?.Dispose();
            await mount.DisposeAsync();
        }
    }

    [KernelFact]
    public async Task KilledServerLeavesADeadMountThatCanBeUnmountedAndMountedAgain()
    {
        KernelEnvironment.Require();
        string mountPoint = MountedFileSystem.CreateMountPoint();
        Process? server = null;
        try
        {
            server = await StartSampleAsync(mountPoint);
            await TestIo.Run(() => File.WriteAllText(Path.Combine(mountPoint, "before"), "alive"));
            Assert.Equal("alive", await TestIo.Run(() => File.ReadAllText(Path.Combine(mountPoint, "before"))));

            Assert.Equal(0, Native.Kill(server.Id, Native.SIGKILL));
            Assert.True(server.WaitForExit(10_000), "the killed server did not exit");

            // The mount stays, with nobody behind it.
            Assert.True(MountedFileSystem.IsMounted(mountPoint));
            int error = 0;
            Assert.True(
                await TestIo.WaitForAsync(() => (error = Native.TryStat(Path.Combine(mountPoint, "before"), out _)) == Native.ENOTCONN, TimeSpan.FromSeconds(5)),
                $"stat returned errno {error}, not ENOTCONN");
            Assert.True(
                await TestIo.WaitForAsync(() => (error = Native.TryStat(mountPoint, out _)) == Native.ENOTCONN, TimeSpan.FromSeconds(5)),
                $"stat of the mount point returned errno {error}, not ENOTCONN");
            IOException ex = await Assert.ThrowsAnyAsync<IOException>(() => TestIo.Run(() => File.ReadAllText(Path.Combine(mountPoint, "before"))));
            Assert.Contains("not connected", ex.Message, StringComparison.OrdinalIgnoreCase);

            (int exitCode, string output) = await TestIo.RunCommandAsync("umount", "-l", mountPoint);
            Assert.True(exitCode == 0, $"umount -l: {output}");
            Assert.False(MountedFileSystem.IsMounted(mountPoint));

            server.Dispose();
            server = await StartSampleAsync(mountPoint);
            await TestIo.Run(() => File.WriteAllText(Path.Combine(mountPoint, "after"), "again"));
            Assert.Equal("again", await TestIo.Run(() => File.ReadAllText(Path.Combine(mountPoint, "after"))));
            Assert.False(File.Exists(Path.Combine(mountPoint, "before"))); // a fresh, empty filesystem

            // SIGTERM unmounts and ends the sample cleanly.
            Assert.Equal(0, Native.Kill(server.Id, 15));
            using (var exited = new CancellationTokenSource(Bound))
            {
                await server.WaitForExitAsync(exited.Token);
            }

            Assert.Equal(0, server.ExitCode);
            Assert.False(MountedFileSystem.IsMounted(mountPoint));
        }
        finally
        {
            TestIo.KillAndWait(server);
            server?.Dispose();
            MountedFileSystem.Cleanup(mountPoint);
        }
    }

    [KernelFact]
    public async Task ThrowingFileSystemAnswersEioAndKeepsServing()
    {
        KernelEnvironment.Require();
        var fs = new ScriptedFileSystem(TimeSpan.Zero);
        fs.Add("good", "fine"u8.ToArray());
        fs.Add("bad-lookup", []).ThrowOnLookup = new InvalidOperationException("lookup failed on purpose");
        fs.Add("bad-read", new byte[10]).Read = (_, _, _) => throw new InvalidOperationException("read failed on purpose");
        await using MountedFileSystem mount = await MountedFileSystem.StartAsync(fs);

        Assert.Equal(Native.EIO, Native.TryStat(mount.PathOf("bad-lookup"), out _));
        IOException lookup = await Assert.ThrowsAnyAsync<IOException>(() => TestIo.Run(() => File.ReadAllBytes(mount.PathOf("bad-lookup"))));
        Assert.Equal(Native.EIO, lookup.HResult);
        Assert.Equal("fine", await TestIo.Run(() => File.ReadAllText(mount.PathOf("good"))));

        IOException read = await Assert.ThrowsAnyAsync<IOException>(() => TestIo.Run(() => File.ReadAllBytes(mount.PathOf("bad-read"))));
        Assert.Equal(Native.EIO, read.HResult);
        Assert.Equal("fine", await TestIo.Run(() => File.ReadAllText(mount.PathOf("good"))));
        Assert.Equal(3, (await TestIo.Run(() => Directory.GetFiles(mount.MountPoint))).Length);
    }

    /// <summary>Starts the MemoryFs sample (next to this assembly) on <paramref name="mountPoint"/> and waits until it serves.</summary>
    private static async Task<Process> StartSampleAsync(string mountPoint)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "MemoryFs.dll");
        Assert.True(File.Exists(dll), $"{dll} is missing");
        Process server = TestIo.Start("dotnet", dll, mountPoint, "--workers", "2");
        var output = new StringBuilder();
        var mounted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        server.OutputDataReceived += (_, e) =>
        {
            lock (output)
            {
                output.AppendLine(e.Data);
            }

            if (e.Data?.Contains("MemoryFs mounted at", StringComparison.Ordinal) == true)
            {
                mounted.TrySetResult();
            }
        };
        server.ErrorDataReceived += (_, e) =>
        {
            lock (output)
            {
                output.AppendLine(e.Data);
            }
        };
        server.BeginOutputReadLine();
        server.BeginErrorReadLine();
        try
        {
            Task first = await Task.WhenAny(mounted.Task, server.WaitForExitAsync()).WaitAsync(TimeSpan.FromSeconds(20));
            Assert.True(first == mounted.Task, $"MemoryFs exited before mounting: {output}");
            await MountedFileSystem.WaitUntilReadyAsync(mountPoint, TimeSpan.FromSeconds(10));
            return server;
        }
        catch
        {
            TestIo.KillAndWait(server);
            server.Dispose();
            throw;
        }
    }
}
