using System.Diagnostics;

namespace VirtioFs.Passthrough.Tests;

/// <summary>
/// The Passthrough sample serving a host directory, as its own process (it sets its umask and switches credentials per
/// thread, which must not touch the test process). Disposing stops it with SIGTERM (it unmounts), then makes sure no
/// mount is left: a lazy unmount if the process had to be killed.
/// </summary>
public sealed class PassthroughServer : IDisposable
{
    private readonly Process _process;
    private readonly System.Text.StringBuilder _log = new();

    private PassthroughServer(Process process, string mountPoint)
    {
        _process = process;
        MountPoint = mountPoint;
    }

    public string MountPoint { get; }

    public int ProcessId => _process.Id;

    /// <summary>How many of the server's threads have this name (Linux keeps the first 15 bytes).</summary>
    public int ThreadsNamed(string name)
    {
        int count = 0;
        foreach (string task in Directory.GetDirectories($"/proc/{ProcessId}/task"))
        {
            try
            {
                count += File.ReadAllText(Path.Combine(task, "comm")).TrimEnd('\n') == name ? 1 : 0;
            }
            catch (IOException)
            {
                // The thread ended meanwhile.
            }
        }

        return count;
    }

    public string Log
    {
        get
        {
            lock (_log)
            {
                return _log.ToString();
            }
        }
    }

    public static string Dll => Path.Combine(AppContext.BaseDirectory, "Passthrough.dll");

    /// <summary>Starts the server and waits until the mount answers.</summary>
    public static PassthroughServer Start(string source, string mountPoint, params string[] options)
    {
        KernelEnvironment.Require();
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string arg in (string[])[Dll, source, mountPoint, .. options])
        {
            start.ArgumentList.Add(arg);
        }

        var server = new PassthroughServer(Process.Start(start)!, mountPoint);
        server._process.OutputDataReceived += (_, e) => server.Append(e.Data);
        server._process.ErrorDataReceived += (_, e) => server.Append(e.Data);
        server._process.BeginOutputReadLine();
        server._process.BeginErrorReadLine();
        var clock = Stopwatch.StartNew();
        while (!IsMounted(mountPoint))
        {
            if (server._process.HasExited || clock.Elapsed > TimeSpan.FromSeconds(20))
            {
                server.Dispose();
                throw new InvalidOperationException($"Passthrough did not mount {mountPoint}: {server.Log}");
            }

            Thread.Sleep(20);
        }

        _ = Directory.GetFileSystemEntries(mountPoint); // waits for INIT
        return server;
    }

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (_log)
            {
                _log.AppendLine(line);
            }
        }
    }

    /// <summary>Whether a mount sits on <paramref name="path"/> (field 5 of /proc/self/mountinfo).</summary>
    public static bool IsMounted(string path)
        => File.ReadLines("/proc/self/mountinfo").Any(line => line.Split(' ') is { Length: > 4 } f && f[4] == path);

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _ = Kill(_process.Id, 15);
                if (!_process.WaitForExit(10_000))
                {
                    _process.Kill();
                    _process.WaitForExit(5_000);
                }
            }
        }
        finally
        {
            for (int i = 0; i < 8 && IsMounted(MountPoint); i++)
            {
                _ = Umount2(MountPoint, 2);
            }

            _process.Dispose();
        }
    }

    [System.Runtime.InteropServices.DllImport("libc.so.6", EntryPoint = "kill")]
    private static extern int Kill(int pid, int signal);

    [System.Runtime.InteropServices.DllImport("libc.so.6", EntryPoint = "umount2")]
    private static extern int Umount2(string target, int flags);
}
