using System.Diagnostics;

namespace VirtioFs.Passthrough.Tests;

/// <summary>
/// The "done when": real tools work in a directory served by Passthrough. git (init, commits, a local clone,
/// fsck), a build (cc and make) and fio (writes verified with crc32c) run inside the mount and must all exit 0.
/// test.sh installs the tools (scripts/debian-packages.sh).
/// </summary>
[Collection(MountCollection.Name)]
public sealed class WorkloadTests(Workspace workspace)
{
    [KernelTheory]
    [InlineData("--cache", "auto")]
    [InlineData("--cache", "never", "--writeback")]
    public void Git_build_and_fio_run_in_the_mount(params string[] options)
    {
        KernelEnvironment.Require();
        foreach (string tool in (string[])["git", "cc", "make", "fio"])
        {
            Assert.True(File.Exists("/usr/bin/" + tool), $"{tool} is missing (Debian packages git, gcc, make, fio; test.sh installs them)");
        }

        string tag = "work" + string.Join('-', options).Replace("--", "-", StringComparison.Ordinal);
        string source = Path.Combine(workspace.Base, "source-" + tag), mountPoint = Path.Combine(workspace.Base, "mnt-" + tag);
        Directory.CreateDirectory(source);
        Directory.CreateDirectory(mountPoint);
        using PassthroughServer server = PassthroughServer.Start(source, mountPoint, options);

        // git: a repository with history and a branch, cloned locally (hard links across the mount's own files), checked.
        string repo = Path.Combine(mountPoint, "repo"), clone = Path.Combine(mountPoint, "clone");
        Directory.CreateDirectory(repo);
        Run(repo, "git", "init", "-q", "-b", "main");
        for (int i = 0; i < 5; i++)
        {
            File.WriteAllText(Path.Combine(repo, $"file{i}.txt"), string.Concat(Enumerable.Repeat($"line {i}\n", 200 * (i + 1))));
            Run(repo, "git", "add", "-A");
            Run(repo, "git", "commit", "-q", "-m", $"commit {i}");
        }

        Run(repo, "git", "checkout", "-q", "-b", "topic");
        File.Delete(Path.Combine(repo, "file0.txt"));
        File.Move(Path.Combine(repo, "file1.txt"), Path.Combine(repo, "renamed.txt"));
        Run(repo, "git", "add", "-A");
        Run(repo, "git", "commit", "-q", "-m", "rename and delete");
        Run(repo, "git", "gc", "-q");
        Run(mountPoint, "git", "clone", "-q", "--no-hardlinks", repo, clone);
        Run(clone, "git", "fsck", "--strict", "--no-progress");
        Assert.Equal("6", Run(clone, "git", "rev-list", "--count", "HEAD").Trim());
        Assert.True(File.Exists(Path.Combine(clone, "renamed.txt")) && !File.Exists(Path.Combine(clone, "file0.txt")));
        Assert.Equal("", Run(clone, "git", "status", "--porcelain"));

        // A build: two translation units compiled and linked by make, the program run, then rebuilt after a change.
        string build = Path.Combine(mountPoint, "build");
        Directory.CreateDirectory(build);
        File.WriteAllText(Path.Combine(build, "greet.c"), "#include <stdio.h>\nvoid greet(const char *who) { printf(\"hello %s\\n\", who); }\n");
        File.WriteAllText(Path.Combine(build, "main.c"), "void greet(const char *who);\nint main(void) { greet(\"mount\"); return 0; }\n");
        File.WriteAllText(Path.Combine(build, "Makefile"), "hello: main.o greet.o\n\tcc -o $@ $^\n%.o: %.c\n\tcc -O1 -Wall -c -o $@ $<\nclean:\n\trm -f hello *.o\n");
        Run(build, "make", "-s");
        Assert.Equal("hello mount\n", Run(build, Path.Combine(build, "hello")));
        File.WriteAllText(Path.Combine(build, "greet.c"), "#include <stdio.h>\nvoid greet(const char *who) { printf(\"bye %s\\n\", who); }\n");
        File.SetLastWriteTimeUtc(Path.Combine(build, "greet.c"), DateTime.UtcNow.AddSeconds(2));
        Run(build, "make", "-s");
        Assert.Equal("bye mount\n", Run(build, Path.Combine(build, "hello")));
        Run(build, "make", "-s", "clean");

        // fio: random writes with crc32c verification, then a verifying read pass, through the page cache and direct.
        string fio = Path.Combine(mountPoint, "fio");
        Directory.CreateDirectory(fio);
        Run(fio, "fio", "--name=rw", "--directory=" + fio, "--size=8M", "--bs=4k", "--rw=randwrite", "--ioengine=psync",
            "--numjobs=2", "--verify=crc32c", "--do_verify=1", "--verify_fatal=1", "--fsync_on_close=1", "--minimal");
        Run(fio, "fio", "--name=seq", "--directory=" + fio, "--size=4M", "--bs=64k", "--rw=write", "--ioengine=psync",
            "--verify=crc32c", "--verify_fatal=1", "--minimal");
        Run(fio, "fio", "--name=mixed", "--directory=" + fio, "--size=4M", "--bs=4k", "--rw=randrw", "--ioengine=psync",
            "--direct=1", "--verify=crc32c", "--verify_fatal=1", "--minimal");
    }

    /// <summary>Runs a tool to completion; returns its standard output, fails the test with its output on a non-zero exit.</summary>
    private static string Run(string directory, string file, params string[] args)
    {
        var start = new ProcessStartInfo(file)
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        // No user or system git configuration; a fixed identity.
        start.Environment["HOME"] = directory;
        start.Environment["GIT_CONFIG_NOSYSTEM"] = "1";
        start.Environment["GIT_CONFIG_GLOBAL"] = "/dev/null";
        start.Environment["GIT_AUTHOR_NAME"] = start.Environment["GIT_COMMITTER_NAME"] = "Passthrough Tests";
        start.Environment["GIT_AUTHOR_EMAIL"] = start.Environment["GIT_COMMITTER_EMAIL"] = "tests@example.invalid";
        using Process process = Process.Start(start)!;
        Task<string> output = process.StandardOutput.ReadToEndAsync(), error = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(120_000), $"{file} {string.Join(' ', args)} did not finish within 120 s");
        Assert.True(process.ExitCode == 0, $"{file} {string.Join(' ', args)} in {directory} exited with {process.ExitCode}:\n{output.Result}\n{error.Result}");
        return output.Result;
    }
}
