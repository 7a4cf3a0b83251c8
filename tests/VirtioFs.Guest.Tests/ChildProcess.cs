using System.Diagnostics;

namespace VirtioFs.Guest.Tests;

/// <summary>
/// A process the tests start (QEMU, a backend) with a hard lifetime: it runs under coreutils' <c>timeout</c>, so it is
/// killed even if the test host dies without disposing it. Its output is kept line by line; disposing kills the whole
/// process tree and waits (bounded) for it to go.
/// </summary>
internal sealed class ChildProcess : IDisposable
{
    private const string Timeout = "/usr/bin/timeout";
    private static readonly TimeSpan KillWait = TimeSpan.FromSeconds(5);

    private readonly Process _process;
    private readonly List<string> _output = [];
    private readonly List<string> _log = [];

    private ChildProcess(string name, Process process)
    {
        Name = name;
        _process = process;
    }

    /// <summary>What the messages call it (e.g. "qemu", "virtiofsd").</summary>
    public string Name { get; }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    /// <summary>Standard output so far, one entry per line (for QEMU: the guest's serial console).</summary>
    public IReadOnlyList<string> OutputLines
    {
        get
        {
            lock (_log)
            {
                return [.. _output];
            }
        }
    }

    /// <summary>Starts <paramref name="fileName"/> to be killed after <paramref name="lifetime"/> whatever happens.</summary>
    public static ChildProcess Start(string name, string fileName, IEnumerable<string> arguments, TimeSpan lifetime)
    {
        var start = new ProcessStartInfo
        {
            UseShellExecute = false,
            RedirectStandardInput = true, // nothing reads the test host's stdin (QEMU's -serial stdio would)
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        if (File.Exists(Timeout))
        {
            start.FileName = Timeout;
            start.ArgumentList.Add($"--kill-after={KillWait.TotalSeconds:0}");
            start.ArgumentList.Add($"{Math.Ceiling(lifetime.TotalSeconds):0}s");
            start.ArgumentList.Add(fileName);
        }
        else
        {
            start.FileName = fileName;
        }

        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        var child = new ChildProcess(name, Process.Start(start) ?? throw new InvalidOperationException($"{name}: {fileName} did not start"));
        child._process.OutputDataReceived += (_, e) => child.Append(e.Data, output: true);
        child._process.ErrorDataReceived += (_, e) => child.Append(e.Data, output: false);
        child._process.BeginOutputReadLine();
        child._process.BeginErrorReadLine();
        return child;
    }

    /// <summary>Waits for the process to exit; false when it is still running after <paramref name="timeout"/> or when cancelled.</summary>
    public async Task<bool> WaitForExitAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cancel.CancelAfter(timeout);
        try
        {
            await _process.WaitForExitAsync(cancel.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>The last <paramref name="count"/> lines of standard output and error, interleaved as they came.</summary>
    public string Tail(int count = 40)
    {
        lock (_log)
        {
            string lines = string.Join('\n', _log.Skip(Math.Max(0, _log.Count - count)));
            return $"--- {Name} (pid {_process.Id}{(_process.HasExited ? $", exit code {_process.ExitCode}" : "")}), last {count} lines:\n{lines}\n---";
        }
    }

    /// <summary>Kills the process and everything it started, if still running.</summary>
    public void Kill()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
            // It exited meanwhile.
        }

        _process.WaitForExit(KillWait);
    }

    public void Dispose()
    {
        Kill();
        _process.Dispose();
    }

    private void Append(string? line, bool output)
    {
        if (line is null)
        {
            return;
        }

        line = line.TrimEnd('\r');
        lock (_log)
        {
            if (output)
            {
                _output.Add(line);
            }

            _log.Add(output ? line : "[stderr] " + line);
        }
    }
}
