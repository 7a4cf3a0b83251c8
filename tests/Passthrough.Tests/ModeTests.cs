namespace VirtioFs.Passthrough.Tests;

/// <summary>The other cache modes and features keep the host's semantics for the cases that caching cannot change (one
/// process at a time, no permission checks that a cached entry would skip), and a read-only export refuses changes.</summary>
[Collection(MountCollection.Name)]
public sealed class ModeTests(Workspace workspace)
{
    private static readonly string[] CaseNames =
    [
        "open-append-write", "open-append-two-writers", "open-trunc", "truncate-up", "truncate-down", "ftruncate-shrink-grow-read",
        "rename-exchange-files", "rename-over-nonempty-dir", "rename-hard-linked-names", "link-count-file", "link-count-dir",
        "unlink-open-file", "hole-seek-data-hole", "hole-punch", "lock-write-conflict", "lock-close-any-fd-releases", "flock-exclusive",
        "xattr-user-roundtrip", "write-read-large", "readdir-contents", "symlink-readlink", "time-utimes-omit-value",
    ];

    [KernelTheory]
    [InlineData("--cache", "auto")]
    [InlineData("--cache", "always")]
    [InlineData("--cache", "auto", "--writeback")]
    [InlineData("--cache", "never", "--writeback")]
    [InlineData("--cache", "auto", "--passthrough")]
    public void Other_modes_agree_with_the_host(params string[] options)
    {
        KernelEnvironment.Require();
        string tag = string.Join('-', options).Replace("--", "", StringComparison.Ordinal);
        (string source, string mountPoint) = workspace.CreateDirectories(tag);
        using PassthroughServer server = PassthroughServer.Start(source, mountPoint, [.. options, "--allow-other"]);
        var failures = new List<string>();
        // With the writeback cache, SEEK_DATA/SEEK_HOLE answer from the client's size (see PassthroughFileSystem.LseekAsync).
        foreach (string name in CaseNames.Where(n => !(options.Contains("--writeback") && n.StartsWith("hole-", StringComparison.Ordinal))))
        {
            PosixCase posixCase = PosixCases.All.Single(c => c.Name == name);
            List<string> native = workspace.Run(workspace.Native, $"{tag}-{name}", posixCase.Body);
            List<string> mounted = workspace.Run(mountPoint, name, posixCase.Body);
            failures.AddRange(native.Zip(mounted).Where(p => p.First != p.Second).Select(p => $"{name}:\n- host:  {p.First}\n+ mount: {p.Second}"));
        }

        Assert.True(failures.Count == 0, string.Join('\n', failures));
    }

    [KernelFact]
    public void Read_only_export_refuses_changes()
    {
        KernelEnvironment.Require();
        (string source, string mountPoint) = workspace.CreateDirectories("readonly");
        File.WriteAllText(Path.Combine(source, "f"), "content");
        Directory.CreateDirectory(Path.Combine(source, "d"));
        using PassthroughServer server = PassthroughServer.Start(source, mountPoint, "--readonly", "--allow-other");
        ProbeProcess probe = workspace.Probe(Who.Root);
        probe.Call("root", mountPoint);
        probe.Root = mountPoint;
        try
        {
            Assert.Equal("ok", probe.Call("open", "r", "f", "0x0"));
            Assert.Equal("ok content", probe.Call("read", "r", "64"));
            Assert.Equal("err EROFS", probe.Call("open", "w", "f", "0x1"));
            Assert.Equal("err EROFS", probe.Call("open", "w", "new", "0x41", "0644"));
            Assert.Equal("err EROFS", probe.Call("mkdir", "e", "0755"));
            Assert.Equal("err EROFS", probe.Call("unlink", "f"));
            Assert.Equal("err EROFS", probe.Call("rename", "f", "g"));
            Assert.Equal("err EROFS", probe.Call("setxattr", "f", "user.x", "1"));
            Assert.Equal("err EROFS", probe.Call("chmod", "f", "0600"));
            Assert.Equal("err EROFS", probe.Call("truncate", "f", "0"));
            Assert.Equal("ok d,f", probe.Call("readdir", "."));
        }
        finally
        {
            probe.Call("closeall");
        }

        Assert.Equal("content", File.ReadAllText(Path.Combine(source, "f")));
    }
}
