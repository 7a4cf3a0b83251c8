using VirtioFs.Protocol;

namespace VirtioFs.Integration.Tests;

/// <summary>Notifications sent with <see cref="FuseSession.Notifier"/> and observed through the kernel's caches.</summary>
[Collection(KernelCollection.Name)]
public sealed class NotificationTests
{
    private static readonly TimeSpan Long = TimeSpan.FromHours(1);
    private static readonly TimeSpan NotifyTimeout = TimeSpan.FromSeconds(5);

    [KernelFact]
    public async Task InvalidateEntryDropsACachedName()
    {
        KernelEnvironment.Require();
        await using MountedFileSystem mount = await MountedFileSystem.StartAsync(MountedFileSystem.CreateMemoryFileSystem(attributeTimeout: Long, entryTimeout: Long));
        string path = mount.PathOf("victim");
        await TestIo.Run(() => File.WriteAllText(path, "cached"));
        Assert.Equal(0, Native.TryStat(path, out _));

        // Removed inside the filesystem: the kernel does not know and keeps answering from its cache.
        Errno unlinked = await mount.FileSystem.UnlinkAsync(MountedFileSystem.Context(), "victim"u8.ToArray());
        Assert.Equal(Errno.Success, unlinked);
        Assert.Equal(0, await TestIo.Run(() => Native.TryStat(path, out _)));
        Assert.True(File.Exists(path));

        await mount.Session.Notifier.InvalidateEntryAsync(FuseConstants.RootId, "victim"u8.ToArray()).AsTask().WaitAsync(NotifyTimeout);

        Assert.Equal(Native.ENOENT, await TestIo.Run(() => Native.TryStat(path, out _)));
        Assert.False(File.Exists(path));
        Assert.DoesNotContain("victim", Directory.GetFiles(mount.MountPoint).Select(Path.GetFileName));
    }

    [KernelFact]
    public async Task IncrementEpochDropsEveryCachedName()
    {
        KernelEnvironment.Require();
        await using MountedFileSystem mount = await MountedFileSystem.StartAsync(MountedFileSystem.CreateMemoryFileSystem(attributeTimeout: Long, entryTimeout: Long));
        string[] paths = [mount.PathOf("a"), mount.PathOf("b")];
        foreach (string path in paths)
        {
            await TestIo.Run(() => File.WriteAllText(path, "cached"));
            Assert.Equal(Errno.Success, await mount.FileSystem.UnlinkAsync(MountedFileSystem.Context(), System.Text.Encoding.ASCII.GetBytes(Path.GetFileName(path))));
            Assert.Equal(0, await TestIo.Run(() => Native.TryStat(path, out _)));
        }

        if (!mount.Session.Connection!.Supports(44))
        {
            await Assert.ThrowsAsync<FuseProtocolException>(() => mount.Session.Notifier.IncrementEpochAsync().AsTask());
            return;
        }

        // One notification, no names: every dentry cached before it is revalidated, and both are gone.
        await mount.Session.Notifier.IncrementEpochAsync().AsTask().WaitAsync(NotifyTimeout);
        foreach (string path in paths)
        {
            Assert.Equal(Native.ENOENT, await TestIo.Run(() => Native.TryStat(path, out _)));
        }
    }

    [KernelFact]
    public async Task PollWakeupWakesAPollerThatWasToldToWait()
    {
        KernelEnvironment.Require();
        var fs = new ScriptedFileSystem(Long);
        ScriptedFile file = fs.Add("events", "e"u8.ToArray(), FuseOpenOutFlags.DirectIo);
        var polls = new System.Collections.Concurrent.ConcurrentQueue<FusePollIn>();
        var scheduled = new TaskCompletionSource<ulong>(TaskCreationOptions.RunContinuationsAsynchronously);
        int ready = 0;

        // Not ready until the test says so; a poll that will wait leaves its kernel handle for the wake-up.
        file.Poll = args =>
        {
            polls.Enqueue(args);
            if (Volatile.Read(ref ready) != 0)
            {
                return new((uint)Native.PollIn);
            }

            if (((FusePollFlags)args.Flags).HasFlag(FusePollFlags.ScheduleNotify))
            {
                scheduled.TrySetResult(args.Kh);
            }

            return new(0u);
        };
        await using MountedFileSystem mount = await MountedFileSystem.StartAsync(fs);

        using var stream = new FileStream(mount.PathOf("events"), FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0);
        Task<short> poller = TestIo.Run(() => Native.Poll(stream.SafeFileHandle, Native.PollIn, TimeSpan.FromSeconds(15)));
        ulong kh = await scheduled.Task.WaitAsync(NotifyTimeout);

        // Told to wait, the poller waits: nothing wakes it but the notification.
        await Task.Delay(300);
        Assert.False(poller.IsCompleted);

        Volatile.Write(ref ready, 1);
        await mount.Session.Notifier.PollWakeupAsync(kh).AsTask().WaitAsync(NotifyTimeout);

        Assert.Equal(Native.PollIn, await poller.WaitAsync(NotifyTimeout));
        Assert.Contains(polls, p => p.Kh == kh && (p.Events & (uint)Native.PollIn) != 0);
        Assert.True(polls.Count >= 2, $"the kernel polled {polls.Count} time(s); the wake-up should make it poll again");
    }

    [KernelFact]
    public async Task PruneMakesTheKernelForgetAnUnusedNode()
    {
        KernelEnvironment.Require();
        var fs = new ScriptedFileSystem(Long);
        ScriptedFile file = fs.Add("pruned", "x"u8.ToArray());
        ScriptedFile kept = fs.Add("kept", "y"u8.ToArray());
        await using MountedFileSystem mount = await MountedFileSystem.StartAsync(fs);
        Assert.Equal(0, await TestIo.Run(() => Native.TryStat(mount.PathOf("pruned"), out _)));
        Assert.Equal(0, await TestIo.Run(() => Native.TryStat(mount.PathOf("kept"), out _)));
        Assert.DoesNotContain(fs.Forgotten, f => f.NodeId == file.NodeId);

        if (!mount.Session.Connection!.Supports(45))
        {
            await Assert.ThrowsAsync<FuseProtocolException>(() => mount.Session.Notifier.PruneAsync(new[] { file.NodeId }).AsTask());
            return;
        }

        await mount.Session.Notifier.PruneAsync(new[] { file.NodeId }).AsTask().WaitAsync(NotifyTimeout);

        Assert.True(await TestIo.WaitForAsync(() => fs.Forgotten.Any(f => f.NodeId == file.NodeId), NotifyTimeout), "the kernel did not forget the pruned node");
        Assert.DoesNotContain(fs.Forgotten, f => f.NodeId == kept.NodeId);
    }

    [KernelFact]
    public async Task ResendMakesTheKernelSendAPendingRequestAgain()
    {
        KernelEnvironment.Require();
        var fs = new ScriptedFileSystem(Long);
        byte[] content = "sent twice"u8.ToArray();
        ScriptedFile file = fs.Add("again", content, FuseOpenOutFlags.DirectIo);
        var uniques = new System.Collections.Concurrent.ConcurrentQueue<ulong>();
        var firstEntered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var releaseFirst = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        file.Read = async (context, args, buffer) =>
        {
            uniques.Enqueue(context.Unique);
            if (uniques.Count == 1)
            {
                // The first copy waits (as for an answer lost on the way): only the resent copy can complete the read.
                firstEntered.TrySetResult();
                await releaseFirst.Task.WaitAsync(context.CancellationToken);
            }

            int length = args.Offset >= (ulong)content.Length ? 0 : Math.Min(content.Length - (int)args.Offset, buffer.Length);
            content.AsSpan((int)Math.Min(args.Offset, (ulong)content.Length), length).CopyTo(buffer.Span);
            return length;
        };
        await using MountedFileSystem mount = await MountedFileSystem.StartAsync(fs);
        try
        {
            Task<byte[]> read = TestIo.Run(() => File.ReadAllBytes(mount.PathOf("again")));
            await firstEntered.Task.WaitAsync(NotifyTimeout);

            await mount.Session.Notifier.ResendAsync().AsTask().WaitAsync(NotifyTimeout);

            Assert.Equal(content, await read);
            ulong[] seen = [.. uniques];
            Assert.True(seen.Length >= 2, $"only {seen.Length} READ arrived");
            const ulong ResendBit = 1UL << 63; // FUSE_UNIQUE_RESEND
            Assert.Equal(0UL, seen[0] & ResendBit);
            Assert.Equal(seen[0] | ResendBit, seen[1]);
        }
        finally
        {
            // The first copy's late reply goes to a request the kernel no longer has: tolerated, the mount keeps working.
            releaseFirst.TrySetResult();
        }

        Assert.Equal(0, await TestIo.Run(() => Native.TryStat(mount.PathOf("again"), out _)));
    }

    [KernelFact]
    public async Task DeleteNotificationDropsACachedName()
    {
        KernelEnvironment.Require();
        await using MountedFileSystem mount = await MountedFileSystem.StartAsync(MountedFileSystem.CreateMemoryFileSystem(attributeTimeout: Long, entryTimeout: Long));
        string path = mount.PathOf("gone");
        await TestIo.Run(() => File.WriteAllText(path, "x"));
        ulong node = Native.Stat(path).Ino;

        Assert.Equal(Errno.Success, await mount.FileSystem.UnlinkAsync(MountedFileSystem.Context(), "gone"u8.ToArray()));
        Assert.Equal(0, Native.TryStat(path, out _));

        await mount.Session.Notifier.DeleteAsync(FuseConstants.RootId, node, "gone"u8.ToArray()).AsTask().WaitAsync(NotifyTimeout);
        Assert.Equal(Native.ENOENT, await TestIo.Run(() => Native.TryStat(path, out _)));
    }

    [KernelFact]
    public async Task StorePutsDataIntoThePageCache()
    {
        KernelEnvironment.Require();
        var fs = new ScriptedFileSystem(Long);
        byte[] served = Enumerable.Repeat((byte)'R', 4 * 4096).ToArray();
        ScriptedFile file = fs.Add("stored", served, FuseOpenOutFlags.KeepCache);
        await using MountedFileSystem mount = await MountedFileSystem.StartAsync(fs);
        string path = mount.PathOf("stored");

        // The kernel must know the inode for STORE to land.
        Assert.Equal((ulong)served.Length, Native.Stat(path).Size);
        byte[] stored = Enumerable.Range(0, 4096).Select(i => (byte)('a' + (i % 26))).ToArray();
        await mount.Session.Notifier.StoreAsync(file.NodeId, 0, stored).AsTask().WaitAsync(NotifyTimeout);

        byte[] read = await TestIo.Run(() =>
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0);
            byte[] buffer = new byte[4096];
            int total = 0;
            while (total < buffer.Length)
            {
                int n = stream.Read(buffer, total, buffer.Length - total);
                Assert.NotEqual(0, n);
                total += n;
            }

            return buffer;
        });

        Assert.Equal(stored, read); // the filesystem would have answered 'R's: the data came from the cache
        Assert.DoesNotContain(fs.Reads, r => r.NodeId == file.NodeId && r.Offset == 0);
    }

    [KernelFact]
    public async Task RetrieveReturnsTheCachedPages()
    {
        KernelEnvironment.Require();
        var fs = new ScriptedFileSystem(Long);
        byte[] content = Enumerable.Range(0, 3 * 4096).Select(i => (byte)(i % 251)).ToArray();
        ScriptedFile file = fs.Add("retrieved", content, FuseOpenOutFlags.KeepCache);
        await using MountedFileSystem mount = await MountedFileSystem.StartAsync(fs);
        string path = mount.PathOf("retrieved");

        Assert.Equal(content, await TestIo.Run(() => File.ReadAllBytes(path)));
        Assert.Contains(fs.Reads, r => r.NodeId == file.NodeId);

        byte[] retrieved = await mount.Session.Notifier.RetrieveAsync(file.NodeId, 0, 4096).WaitAsync(NotifyTimeout);
        Assert.Equal(content[..4096], retrieved);

        byte[] second = await mount.Session.Notifier.RetrieveAsync(file.NodeId, 4096, 8192).WaitAsync(NotifyTimeout);
        Assert.Equal(content[4096..], second);
    }

    [KernelFact]
    public async Task InvalidateInodeDropsCachedData()
    {
        KernelEnvironment.Require();
        var fs = new ScriptedFileSystem(Long);
        byte[] content = Enumerable.Repeat((byte)'F', 4096).ToArray();
        ScriptedFile file = fs.Add("inval", content, FuseOpenOutFlags.KeepCache);
        await using MountedFileSystem mount = await MountedFileSystem.StartAsync(fs);
        string path = mount.PathOf("inval");

        Assert.Equal(0, Native.TryStat(path, out _));
        await mount.Session.Notifier.StoreAsync(file.NodeId, 0, Enumerable.Repeat((byte)'S', 4096).ToArray()).AsTask().WaitAsync(NotifyTimeout);
        Assert.Equal((byte)'S', (await TestIo.Run(() => File.ReadAllBytes(path)))[0]);

        await mount.Session.Notifier.InvalidateInodeAsync(file.NodeId, 0, 0).AsTask().WaitAsync(NotifyTimeout);
        Assert.Equal(content, await TestIo.Run(() => File.ReadAllBytes(path)));
    }
}
