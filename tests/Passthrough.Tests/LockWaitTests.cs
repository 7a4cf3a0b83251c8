namespace VirtioFs.Passthrough.Tests;

/// <summary>A blocking lock (<c>F_SETLKW</c>) waits while another process holds the range and is granted once it is
/// released, on the host and through the mount alike (the server retries it without blocking a worker).</summary>
[Collection(MountCollection.Name)]
public sealed class LockWaitTests(Workspace workspace)
{
    [KernelTheory]
    [InlineData("posix")]
    [InlineData("flock")]
    public async Task Waiting_lock_is_granted_when_released(string kind)
    {
        KernelEnvironment.Require();
        foreach (string parent in (string[])[workspace.Native, workspace.MountPoint])
        {
            string dir = Path.Combine(parent, $"lockwait-{kind}");
            Directory.CreateDirectory(dir);
            string path = Path.Combine(dir, "f");
            await File.WriteAllTextAsync(path, "0123456789");
            ProbeProcess holder = workspace.Probe(Who.Root), waiter = workspace.Probe(Who.Root2);
            try
            {
                Assert.Equal("ok", holder.Call("open", "h", path, "0x2"));
                Assert.Equal("ok", waiter.Call("open", "w", path, "0x2"));
                Assert.Equal("ok", kind == "posix" ? holder.Call("lock", "h", "setlk", "w", "0", "0") : holder.Call("flock", "h", "ex"));
                Task<string> waiting = Task.Run(() => kind == "posix" ? waiter.Call("lock", "w", "setlkw", "w", "2", "3") : waiter.Call("flock", "w", "ex"));
                await Task.Delay(300);
                Assert.False(waiting.IsCompleted, $"{parent}: the waiting lock was granted while the range was held");
                Assert.Equal("ok", kind == "posix" ? holder.Call("lock", "h", "setlk", "u", "0", "0") : holder.Call("flock", "h", "un"));
                Assert.Equal("ok", await waiting.WaitAsync(TimeSpan.FromSeconds(10)));
                Assert.Equal(kind == "posix" ? "err EAGAIN" : "err EAGAIN", kind == "posix" ? holder.Call("lock", "h", "setlk", "w", "3", "1") : holder.Call("flock", "h", "exnb"));
            }
            finally
            {
                holder.Call("closeall");
                waiter.Call("closeall");
            }
        }
    }
}
