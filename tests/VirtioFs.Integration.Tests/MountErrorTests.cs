using VirtioFs.Transport;

namespace VirtioFs.Integration.Tests;

/// <summary>Mount failures explain themselves; mounting through fusermount3 works.</summary>
[Collection(KernelCollection.Name)]
public sealed class MountErrorTests
{
    [KernelFact]
    public void MissingMountPointIsExplained()
    {
        KernelEnvironment.Require();
        string missing = Path.Combine("/tmp", "virtiofs-it-missing-" + Guid.NewGuid().ToString("N"));
        FuseMountException ex = Assert.Throws<FuseMountException>(() => FuseMount.Mount(new FuseMountOptions(missing) { Workers = 1 }));
        Assert.Contains("does not exist", ex.Message, StringComparison.Ordinal);
        Assert.Contains("mkdir", ex.Message, StringComparison.Ordinal);
        Assert.Contains(missing, ex.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(missing));
    }

    [KernelFact]
    public void FileAsMountPointIsExplained()
    {
        KernelEnvironment.Require();
        string file = Path.Combine("/tmp", "virtiofs-it-file-" + Guid.NewGuid().ToString("N"));
        File.WriteAllText(file, "not a directory");
        try
        {
            FuseMountException ex = Assert.Throws<FuseMountException>(() => FuseMount.Mount(new FuseMountOptions(file) { Workers = 1 }));
            Assert.Contains("not a directory", ex.Message, StringComparison.Ordinal);
            Assert.False(MountedFileSystem.IsMounted(file));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [KernelFact]
    public async Task RunAsyncReportsTheMountFailure()
    {
        KernelEnvironment.Require();
        string missing = Path.Combine("/tmp", "virtiofs-it-missing-" + Guid.NewGuid().ToString("N"));
        bool mounted = false;
        FuseMountException ex = await Assert.ThrowsAsync<FuseMountException>(() => FuseMount.RunAsync(
            MountedFileSystem.CreateMemoryFileSystem(),
            new FuseMountOptions(missing) { Workers = 1 },
            MountedFileSystem.CreateSessionOptions(),
            onMounted: _ => mounted = true).WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Contains("does not exist", ex.Message, StringComparison.Ordinal);
        Assert.False(mounted);
    }

    [KernelFact]
    public async Task MountThroughFusermount()
    {
        KernelEnvironment.Require();
        string mountPoint;
        await using (MountedFileSystem mount = await MountedFileSystem.StartAsync(useFusermount: true))
        {
            mountPoint = mount.MountPoint;
            string line = File.ReadLines("/proc/self/mountinfo").Single(l => l.Split(' ')[4] == mountPoint);
            Assert.Contains(" - fuse.virtiofs-it ", line, StringComparison.Ordinal);

            string path = mount.PathOf("via-fusermount");
            await TestIo.Run(() => File.WriteAllText(path, "mounted by fusermount3"));
            Assert.Equal("mounted by fusermount3", await TestIo.Run(() => File.ReadAllText(path)));
            Assert.Equal(new[] { "via-fusermount" }, (await TestIo.Run(() => Directory.GetFiles(mount.MountPoint))).Select(Path.GetFileName));
        }

        Assert.False(MountedFileSystem.IsMounted(mountPoint));
    }

    [KernelFact]
    public async Task UnmountFromOutsideEndsTheRun()
    {
        KernelEnvironment.Require();
        await using MountedFileSystem mount = await MountedFileSystem.StartAsync();
        await TestIo.Run(() => File.WriteAllText(mount.PathOf("f"), "x"));
        (int exitCode, string output) = await TestIo.RunCommandAsync("umount", mount.MountPoint);
        Assert.True(exitCode == 0, $"umount: {output}");
        await mount.RunTask.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.False(MountedFileSystem.IsMounted(mount.MountPoint));
    }
}
