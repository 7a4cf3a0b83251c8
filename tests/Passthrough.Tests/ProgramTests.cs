using System.Diagnostics;

namespace VirtioFs.Passthrough.Tests;

/// <summary>The command line: clear errors and exit code 2 for what cannot work, before anything is mounted.</summary>
public sealed class ProgramTests
{
    [Theory]
    [InlineData("the source directory", "/nonexistent-source", "/tmp")]
    [InlineData("the mount point", "/tmp", "/nonexistent-mountpoint")]
    [InlineData("required", "/tmp")]
    [InlineData("invalid argument '--cache'", "/tmp", "/tmp", "--cache", "sometimes")]
    [InlineData("invalid argument '--threads'", "/tmp", "/tmp", "--threads", "0")]
    [InlineData("unexpected or invalid argument '--bogus'", "/tmp", "/tmp", "--bogus")]
    [InlineData("cannot be combined", "/tmp", "/tmp", "--passthrough", "--writeback")]
    [InlineData("--park-idle-workers is about /dev/fuse workers", "/tmp", "--vhost-user", "/tmp/unused.sock", "--tag", "t", "--park-idle-workers")]
    public void Bad_command_lines_exit_with_2_and_say_why(string message, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        start.ArgumentList.Add(PassthroughServer.Dll);
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using Process process = Process.Start(start)!;
        string error = process.StandardError.ReadToEnd();
        _ = process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(30_000));
        Assert.Equal(2, process.ExitCode);
        Assert.Contains(message, error, StringComparison.Ordinal);
    }
}
