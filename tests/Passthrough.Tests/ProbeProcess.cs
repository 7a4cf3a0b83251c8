using System.Diagnostics;

namespace VirtioFs.Passthrough.Tests;

/// <summary>Who runs a probe: root, or an unprivileged uid/gid with supplementary groups (through setpriv).</summary>
public sealed record Who(string Name, uint Uid, uint Gid, uint[] Groups)
{
    public static readonly Who Root = new("root", 0, 0, []);
    public static readonly Who Root2 = new("root2", 0, 0, []);

    /// <summary>Owner of most test files: uid 1001, group 1001.</summary>
    public static readonly Who A = new("A", 1001, 1001, []);

    /// <summary>A second process of A (for locks between processes).</summary>
    public static readonly Who A2 = new("A2", 1001, 1001, []);

    /// <summary>Another user in A's group through a supplementary group.</summary>
    public static readonly Who B = new("B", 1002, 1002, [1001]);

    /// <summary>A user in no group of A's.</summary>
    public static readonly Who C = new("C", 1003, 1003, []);

    public override string ToString() => Name;
}

/// <summary>
/// A long-lived probe process (tests/Passthrough.Probe) running as one user: each call sends one command line and
/// reads one result line, so a case can act as several users in turn without starting a process per step.
/// </summary>
public sealed class ProbeProcess : IDisposable
{
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(20);
    private readonly Process _process;

    private ProbeProcess(Process process) => _process = process;

    public string? Root { get; set; }

    public static ProbeProcess Start(Who who)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "Passthrough.Probe.dll");
        var start = new ProcessStartInfo(who.Uid == 0 ? "dotnet" : "/usr/bin/setpriv")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        if (who.Uid != 0)
        {
            start.ArgumentList.Add($"--reuid={who.Uid}");
            start.ArgumentList.Add($"--regid={who.Gid}");
            start.ArgumentList.Add(who.Groups.Length == 0 ? "--clear-groups" : "--groups=" + string.Join(',', who.Groups));
            start.ArgumentList.Add("--");
            start.ArgumentList.Add("dotnet");
        }

        start.ArgumentList.Add(dll);

        // An unprivileged dotnet must not look for its settings in root's home.
        start.Environment["HOME"] = "/tmp";
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        return new ProbeProcess(Process.Start(start)!);
    }

    /// <summary>Runs one command; returns "ok ...", "err ERRNO" (or "bad ..." for a malformed command).</summary>
    public string Call(params string[] command)
    {
        _process.StandardInput.WriteLine(string.Join('\t', command));
        _process.StandardInput.Flush();
        Task<string?> line = _process.StandardOutput.ReadLineAsync();
        if (!line.Wait(CallTimeout))
        {
            throw new TimeoutException($"probe did not answer '{string.Join(' ', command)}' within {CallTimeout.TotalSeconds} s");
        }

        return line.Result ?? throw new InvalidOperationException($"probe exited (code {(_process.HasExited ? _process.ExitCode : -1)}) at '{string.Join(' ', command)}'");
    }

    /// <summary>Kills the probe at once (SIGKILL), whatever call it is in.</summary>
    public void Kill()
    {
        _process.Kill();
        _process.WaitForExit(10_000);
    }

    public void Dispose()
    {
        try
        {
            _process.StandardInput.Close();
            if (!_process.WaitForExit(5_000))
            {
                _process.Kill();
            }
        }
        catch (InvalidOperationException)
        {
        }

        _process.Dispose();
    }
}
