using System.Diagnostics;
using VirtioFs.Protocol;
using VirtioFs.Samples.Passthrough;
using VirtioFs.Transport;

namespace VirtioFs.Passthrough.Tests;

/// <summary>
/// A second host filesystem (a small tmpfs) mounted inside the host test tree and inside the served source: renames
/// and links across it fail with EXDEV in both runs. The server marks entries on another st_dev FUSE_ATTR_SUBMOUNT
/// when submounts were negotiated (checked over the loopback, whose client offers them); the Linux FUSE client
/// offers FUSE_SUBMOUNTS only for virtiofs, so through /dev/fuse the submount shares the mount's st_dev.
/// </summary>
[Collection(MountCollection.Name)]
public sealed class SubmountTests(Workspace workspace)
{
    [KernelFact]
    public void Cross_device_rename_and_link_give_EXDEV_and_the_submount_has_its_own_device()
    {
        KernelEnvironment.Require();
        string nativeCase = Path.Combine(workspace.Native, "xdev"), sourceCase = Path.Combine(workspace.Source, "xdev");
        var mounted = new List<string>();
        try
        {
            foreach (string dir in (string[])[nativeCase, sourceCase])
            {
                Directory.CreateDirectory(Path.Combine(dir, "sub"));
                Tool("mount", "-t", "tmpfs", "-o", "size=1m,mode=0777", "tmpfs", Path.Combine(dir, "sub"));
                mounted.Add(Path.Combine(dir, "sub"));
            }

            List<string> native = Outcome(nativeCase), mount = Outcome(Path.Combine(workspace.MountPoint, "xdev"));
            Assert.Equal(native, mount);
            Assert.Contains("rename across: err EXDEV", native);
            Assert.Contains("link across: err EXDEV", native);

            // st_dev: the host's differ; /dev/fuse gives the whole mount one superblock (no FUSE_SUBMOUNTS offered).
            Assert.NotEqual(Device(nativeCase), Device(Path.Combine(nativeCase, "sub")));
            Assert.Equal(Device(Path.Combine(workspace.MountPoint, "xdev")), Device(Path.Combine(workspace.MountPoint, "xdev", "sub")));
        }
        finally
        {
            foreach (string dir in mounted)
            {
                Tool("umount", "-l", dir);
            }
        }
    }

    private List<string> Outcome(string root)
    {
        ProbeProcess probe = workspace.Probe(Who.Root);
        probe.Call("root", root);
        probe.Root = root;
        var outcome = new List<string>
        {
            "create: " + probe.Call("open", "f", "f", "0x41", "0644"),
            "create in sub: " + probe.Call("open", "g", "sub/g", "0x41", "0644"),
            "rename across: " + probe.Call("rename", "f", "sub/f"),
            "rename back: " + probe.Call("rename", "sub/g", "g"),
            "link across: " + probe.Call("link", "f", "sub/l"),
            "exchange across: " + probe.Call("rename", "f", "sub/g", "2"),
            "rename inside sub: " + probe.Call("rename", "sub/g", "sub/h"),
            "link inside sub: " + probe.Call("link", "sub/h", "sub/i"),
            "readdir sub: " + probe.Call("readdir", "sub"),
            "mkdir in sub: " + probe.Call("mkdir", "sub/d", "0755"),
            "rename dir across: " + probe.Call("rename", "sub/d", "d"),
        };
        probe.Call("closeall");

        return outcome;
    }

    [KernelFact]
    public async Task Lookup_into_another_filesystem_is_marked_submount_when_negotiated()
    {
        KernelEnvironment.Require();
        string source = Path.Combine(workspace.Base, "source-submount"), sub = Path.Combine(source, "sub");
        Directory.CreateDirectory(sub);
        File.WriteAllText(Path.Combine(source, "plain"), "x");
        Tool("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", sub);
        try
        {
            foreach (bool offered in (bool[])[true, false])
            {
                FuseInitFlags all = new FuseClientInitOptions().Flags;
                var init = new FuseClientInitOptions { Flags = offered ? all | FuseInitFlags.Submounts : all & ~FuseInitFlags.Submounts };
                using PassthroughFileSystem fs = InProcess.Create(source);
                await using FuseLoopbackHost host = await FuseLoopbackHost.StartAsync(fs, new FuseSessionOptions { Capabilities = PassthroughFileSystem.Capabilities(fs.Options) }, init);
                FuseEntryOut entry = (await host.Client.LookupAsync(FuseConstants.RootId, "sub")).Value;
                FuseEntryOut plain = (await host.Client.LookupAsync(FuseConstants.RootId, "plain")).Value;
                Assert.Equal(offered, (entry.Attr.Flags & (uint)FuseAttrFlags.Submount) != 0);
                Assert.Equal(0u, plain.Attr.Flags & (uint)FuseAttrFlags.Submount);
            }
        }
        finally
        {
            Tool("umount", "-l", sub);
        }
    }

    private static string Device(string path) => Tool("stat", "-c", "%d", path).Trim();

    private static string Tool(string file, params string[] args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using Process process = Process.Start(start)!;
        string output = process.StandardOutput.ReadToEnd(), error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"{file} {string.Join(' ', args)}: {error}");
        return output;
    }
}
