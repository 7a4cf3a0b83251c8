namespace VirtioFs.Passthrough.Tests;

/// <summary>A blocking lock (<c>F_SETLKW</c>) waits while another process holds the range and is granted once it is
/// released, on the host and through the mount alike (the server waits in the host kernel on a thread of its own).</summary>
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
                Assert.Equal("err EAGAIN", kind == "posix" ? holder.Call("lock", "h", "setlk", "w", "3", "1") : holder.Call("flock", "h", "exnb"));
            }
            finally
            {
                holder.Call("closeall");
                waiter.Call("closeall");
            }
        }
    }
}

/// <summary>Waiting locks through a server with a single <c>/dev/fuse</c> worker: a waiting lock must hold neither the
/// worker nor a polling loop, and an interrupted waiter must leave the host kernel's queue.</summary>
[Collection(MountCollection.Name)]
public sealed class SingleWorkerLockTests(Workspace workspace)
{
    private const string WaiterThread = "pt-lock-wait";

    [KernelTheory]
    [InlineData("posix")]
    [InlineData("flock")]
    public async Task Two_waiters_and_the_holder_progress_with_one_worker(string kind)
    {
        KernelEnvironment.Require();
        (string source, string mountPoint) = workspace.CreateDirectories($"t1-{kind}");
        using PassthroughServer server = PassthroughServer.Start(source, mountPoint, "--threads", "1", "--cache", "never", "--allow-other");
        string path = Path.Combine(mountPoint, "f");
        await File.WriteAllTextAsync(path, "0123456789");
        File.SetUnixFileMode(path, (UnixFileMode)0x1B6);
        using ProbeProcess holder = ProbeProcess.Start(Who.Root), first = ProbeProcess.Start(Who.Root2), second = ProbeProcess.Start(Who.A);
        foreach (ProbeProcess probe in (ProbeProcess[])[holder, first, second])
        {
            Assert.Equal("ok", probe.Call("open", "f", path, "0x2"));
        }

        Assert.Equal("ok", Lock(holder, "w"));
        Task<string> firstWaits = Task.Run(() => Lock(first, "w"));
        Task<string> secondWaits = Task.Run(() => Lock(second, "w"));
        await WaitUntil(() => server.ThreadsNamed(WaiterThread) == 2, "both waits to block in the host kernel");
        Assert.False(firstWaits.IsCompleted || secondWaits.IsCompleted, "a lock was granted while the holder held it");

        // The one worker still serves the holder while two locks wait.
        Assert.Equal("ok 0123456789", holder.Call("read", "f", "64"));
        Assert.Equal("ok", Lock(holder, "u"));

        Task<string> granted = await Task.WhenAny(firstWaits, secondWaits).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("ok", await granted);
        (ProbeProcess owner, ProbeProcess other, Task<string> otherWaits) = granted == firstWaits ? (first, second, secondWaits) : (second, first, firstWaits);
        await Task.Delay(200);
        Assert.False(otherWaits.IsCompleted, "both waiters were granted the exclusive lock");
        Assert.Equal("ok", Lock(owner, "u"));
        Assert.Equal("ok", await otherWaits.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal("ok", Lock(other, "u"));
        await WaitUntil(() => server.ThreadsNamed(WaiterThread) == 0, "the waiter threads to end");

        string Lock(ProbeProcess probe, string type) => kind == "posix"
            ? probe.Call("lock", "f", type == "u" ? "setlk" : "setlkw", type, "0", "0")
            : probe.Call("flock", "f", type == "u" ? "un" : "ex");
    }

    [KernelTheory]
    [InlineData("posix")]
    [InlineData("flock")]
    public async Task A_killed_waiter_leaves_the_queue(string kind)
    {
        KernelEnvironment.Require();
        (string source, string mountPoint) = workspace.CreateDirectories($"kill-{kind}");
        using PassthroughServer server = PassthroughServer.Start(source, mountPoint, "--threads", "1", "--cache", "never");
        string path = Path.Combine(mountPoint, "f");
        await File.WriteAllTextAsync(path, "0123456789");
        using ProbeProcess holder = ProbeProcess.Start(Who.Root), waiter = ProbeProcess.Start(Who.Root2), later = ProbeProcess.Start(Who.Root);
        foreach (ProbeProcess probe in (ProbeProcess[])[holder, waiter, later])
        {
            Assert.Equal("ok", probe.Call("open", "f", path, "0x2"));
        }

        Assert.Equal("ok", Lock(holder, "w", wait: false));
        _ = Task.Run(() => Lock(waiter, "w", wait: true));
        await WaitUntil(() => server.ThreadsNamed(WaiterThread) == 1, "the wait to block in the host kernel");

        // SIGKILL makes the client send INTERRUPT: the server must end the host wait (a signal to its thread).
        waiter.Kill();
        await WaitUntil(() => server.ThreadsNamed(WaiterThread) == 0, "the interrupted wait to end");
        Assert.Equal("ok", Lock(holder, "u", wait: false));
        Assert.Equal("ok", Lock(later, "w", wait: false));
        Assert.Equal("ok", Lock(later, "u", wait: false));

        string Lock(ProbeProcess probe, string type, bool wait) => kind == "posix"
            ? probe.Call("lock", "f", wait ? "setlkw" : "setlk", type, "0", "0")
            : probe.Call("flock", "f", type == "u" ? "un" : wait ? "ex" : "exnb");
    }

    private static async Task WaitUntil(Func<bool> condition, string what)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"timed out waiting for {what}");
            await Task.Delay(20);
        }
    }
}
