namespace VirtioFs.Integration.Tests;

/// <summary>Waiting locks through the kernel on a one-worker mount: a waiter must not hold the only worker.</summary>
[Collection(KernelCollection.Name)]
public sealed class LockWaitTests
{
    [KernelFact]
    public async Task TwoWaitersAndTheHolderAllProgressWithOneWorker()
    {
        KernelEnvironment.Require();
        await using MountedFileSystem mount = await MountedFileSystem.StartAsync(workers: 1);
        string file = mount.PathOf("lock");
        await File.WriteAllBytesAsync(file, []);
        string busy = mount.PathOf("busy");

        // The holder marks the lock busy while it holds it; a waiter succeeds only if it got the lock after the
        // holder cleared the mark. Each flock(2) wait is a FUSE SETLKW that the server must set aside: were it to
        // hold the one worker, the holder's unlock (and its close) would never be read.
        System.Diagnostics.Process holder = TestIo.Start("flock", "-x", file, "-c", $"touch {busy}; sleep 1; rm {busy}");
        try
        {
            Assert.True(await TestIo.WaitForAsync(() => File.Exists(busy), TimeSpan.FromSeconds(10)), "the holder never took the lock");
            Task<(int ExitCode, string Output)>[] waiters =
            [
                TestIo.RunCommandAsync("flock", "-x", file, "-c", $"test ! -e {busy}"),
                TestIo.RunCommandAsync("flock", "-x", file, "-c", $"test ! -e {busy}"),
            ];

            foreach ((int exitCode, string output) in await Task.WhenAll(waiters))
            {
                Assert.True(exitCode == 0, $"a waiter failed ({exitCode}): {output}");
            }

            using var exited = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await holder.WaitForExitAsync(exited.Token);
            Assert.Equal(0, holder.ExitCode);
            Assert.False(File.Exists(busy));
        }
        finally
        {
            TestIo.KillAndWait(holder);
            holder.Dispose();
        }
    }
}
