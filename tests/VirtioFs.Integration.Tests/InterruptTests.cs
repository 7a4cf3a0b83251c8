using System.Diagnostics;

namespace VirtioFs.Integration.Tests;

/// <summary>FUSE_INTERRUPT: a signal to a process waiting in a request cancels the request's token.</summary>
[Collection(KernelCollection.Name)]
public sealed class InterruptTests
{
    [KernelFact]
    public async Task SignalledReaderInterruptsTheRequest()
    {
        KernelEnvironment.Require();
        (ScriptedFileSystem fs, BlockingRead read) = BlockingRead.CreateFileSystem("slow");
        await using MountedFileSystem mount = await MountedFileSystem.StartAsync(fs);
        Process? cat = null;
        try
        {
            cat = TestIo.Start("cat", mount.PathOf("slow"));
            await read.Entered.WaitAsync(TimeSpan.FromSeconds(10));
            Assert.False(read.Cancelled.IsCompleted);
            Assert.False(cat.HasExited);

            Assert.Equal(0, Native.Kill(cat.Id, Native.SIGINT));

            await read.Cancelled.WaitAsync(TimeSpan.FromSeconds(5));
            using var exited = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await cat.WaitForExitAsync(exited.Token);
            Assert.True(cat.HasExited);

            // The session still serves: the next request is answered.
            Assert.Equal(8192UL, Native.Stat(mount.PathOf("slow")).Size);
            Assert.NotEmpty(await TestIo.Run(() => Directory.GetFiles(mount.MountPoint)));
        }
        finally
        {
            TestIo.KillAndWait(cat);
            cat?.Dispose();
        }
    }
}
