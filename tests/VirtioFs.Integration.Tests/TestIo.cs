using System.Diagnostics;
using System.Text;
using VirtioFs.Protocol;

namespace VirtioFs.Integration.Tests;

/// <summary>Helpers that keep blocking file I/O off the test's thread and bound every wait.</summary>
internal static class TestIo
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(20);

    /// <summary>Runs blocking I/O on the thread pool with a time limit.</summary>
    public static Task<T> Run<T>(Func<T> work, TimeSpan? timeout = null) => Task.Run(work).WaitAsync(timeout ?? DefaultTimeout);

    public static Task Run(Action work, TimeSpan? timeout = null) => Task.Run(work).WaitAsync(timeout ?? DefaultTimeout);

    /// <summary>Reads a whole file through a filesystem's FUSE methods, behind the kernel's back.</summary>
    public static async Task<byte[]> ReadBehindKernelAsync(FuseFileSystem fs, string name)
    {
        FuseResult<FuseEntryOut> entry = await fs.LookupAsync(MountedFileSystem.Context(), Encoding.UTF8.GetBytes(name));
        Assert.True(entry.IsSuccess, $"LOOKUP {name}: {entry.Error}");
        ulong node = entry.Value.Nodeid;
        try
        {
            FuseResult<FuseOpenOut> open = await fs.OpenAsync(MountedFileSystem.Context(node), new FuseOpenIn { Flags = 0 });
            Assert.True(open.IsSuccess, $"OPEN {name}: {open.Error}");
            var result = new MemoryStream();
            byte[] buffer = new byte[128 * 1024];
            while (true)
            {
                var args = new FuseReadIn { Fh = open.Value.Fh, Offset = (ulong)result.Length, Size = (uint)buffer.Length };
                FuseResult<int> read = await fs.ReadAsync(MountedFileSystem.Context(node), args, buffer);
                Assert.True(read.IsSuccess, $"READ {name}: {read.Error}");
                if (read.Value == 0)
                {
                    break;
                }

                result.Write(buffer, 0, read.Value);
            }

            await fs.ReleaseAsync(MountedFileSystem.Context(node), new FuseReleaseIn { Fh = open.Value.Fh });
            return result.ToArray();
        }
        finally
        {
            fs.Forget(node, 1);
        }
    }

    /// <summary>Starts a process with its output captured.</summary>
    public static Process Start(string file, params string[] arguments)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        return Process.Start(start) ?? throw new InvalidOperationException($"{file} did not start.");
    }

    /// <summary>Runs a command to completion (bounded); returns its exit code and output.</summary>
    public static async Task<(int ExitCode, string Output)> RunCommandAsync(string file, params string[] arguments)
    {
        using Process process = Start(file, arguments);
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(DefaultTimeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill();
            throw new TimeoutException($"{file} {string.Join(' ', arguments)} did not finish within {DefaultTimeout.TotalSeconds} s.");
        }

        return (process.ExitCode, (await stdout) + (await stderr));
    }

    /// <summary>Kills a process this test started, if it still runs, and waits for it (bounded).</summary>
    public static void KillAndWait(Process? process)
    {
        if (process is null)
        {
            return;
        }

        try
        {
            if (!process.HasExited)
            {
                process.Kill();
                process.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException)
        {
        }
    }

    /// <summary>Polls <paramref name="condition"/> until it holds or <paramref name="timeout"/> passes.</summary>
    public static async Task<bool> WaitForAsync(Func<bool> condition, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > timeout)
            {
                return false;
            }

            await Task.Delay(20);
        }

        return true;
    }
}
