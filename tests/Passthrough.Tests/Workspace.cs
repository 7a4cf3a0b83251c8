using System.Diagnostics;

namespace VirtioFs.Passthrough.Tests;

/// <summary>
/// The conformance suite's ground: under one fresh directory of /tmp (ext4 here, with user xattrs), a plain host
/// directory "native", the directory "source" that Passthrough serves, and its mount point "mnt" (mounted with
/// allow_other, without default_permissions, cache never), plus probe processes per user. Each case runs once in
/// native and once in mnt, in a fresh subdirectory of each.
/// </summary>
public sealed class Workspace : IDisposable
{
    private readonly Dictionary<Who, ProbeProcess> _probes = [];
    private PassthroughServer? _server;

    public Workspace()
    {
        if (KernelEnvironment.MissingReason is not null)
        {
            return;
        }

        Base = Path.Combine("/tmp", "ptfs-" + Guid.NewGuid().ToString("N")[..12]);
        Native = Path.Combine(Base, "native");
        Source = Path.Combine(Base, "source");
        MountPoint = Path.Combine(Base, "mnt");
        foreach (string dir in (string[])[Base, Native, Source, MountPoint])
        {
            Directory.CreateDirectory(dir);
        }

        File.SetUnixFileMode(Base, (UnixFileMode)0x1ED); // 0755: other users reach the directories below
        File.SetUnixFileMode(Native, (UnixFileMode)0x1FF);
        File.SetUnixFileMode(Source, (UnixFileMode)0x1FF);
        File.SetUnixFileMode(MountPoint, (UnixFileMode)0x1ED);
        try
        {
            _server = PassthroughServer.Start(Source, MountPoint, "--cache", "never", "--allow-other", "--threads", "4");
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public string Base { get; } = "";

    public string Native { get; } = "";

    public string Source { get; } = "";

    public string MountPoint { get; } = "";

    public string ServerLog => _server?.Log ?? "";

    /// <summary>A fresh source directory (writable by everyone) and mount point under <see cref="Base"/>, for a test's own mount.</summary>
    public (string Source, string MountPoint) CreateDirectories(string tag)
    {
        string source = Path.Combine(Base, "source-" + tag), mountPoint = Path.Combine(Base, "mnt-" + tag);
        Directory.CreateDirectory(source);
        Directory.CreateDirectory(mountPoint);
        File.SetUnixFileMode(source, (UnixFileMode)0x1FF);
        File.SetUnixFileMode(mountPoint, (UnixFileMode)0x1ED);
        return (source, mountPoint);
    }

    public ProbeProcess Probe(Who who)
    {
        lock (_probes)
        {
            if (!_probes.TryGetValue(who, out ProbeProcess? probe))
            {
                probe = ProbeProcess.Start(who);
                _probes.Add(who, probe);
            }

            return probe;
        }
    }

    /// <summary>Runs <paramref name="body"/> in a fresh directory <paramref name="name"/> (mode 0777) under <paramref name="parent"/>.</summary>
    public List<string> Run(string parent, string name, Action<CaseRun> body)
    {
        string root = Path.Combine(parent, name);
        ProbeProcess rootProbe = Probe(Who.Root);
        Expect(rootProbe.Call("mkdir", root, "0777"));
        Expect(rootProbe.Call("chmod", root, "0777"));
        var run = new CaseRun(this, root);
        try
        {
            body(run);
        }
        finally
        {
            lock (_probes)
            {
                foreach (ProbeProcess probe in _probes.Values)
                {
                    probe.Call("closeall");
                }
            }
        }

        return run.Outcome;

        static void Expect(string result)
        {
            if (!result.StartsWith("ok", StringComparison.Ordinal))
            {
                throw new InvalidOperationException("case setup failed: " + result);
            }
        }
    }

    public void Dispose()
    {
        lock (_probes)
        {
            foreach (ProbeProcess probe in _probes.Values)
            {
                probe.Dispose();
            }

            _probes.Clear();
        }

        _server?.Dispose();
        _server = null;
        if (Base.Length > 0 && Directory.Exists(Base) && !PassthroughServer.IsMounted(MountPoint))
        {
            // Files of other users, read-only directories, immutable nothing: rm copes with all of it; never crosses a mount.
            using var rm = Process.Start("rm", ["-rf", "--one-file-system", Base]);
            rm.WaitForExit(30_000);
        }
    }
}

/// <summary>One run of a case in one root directory: every step and its result go into <see cref="Outcome"/>.</summary>
public sealed class CaseRun(Workspace workspace, string root)
{
    public List<string> Outcome { get; } = [];

    public string Root { get; } = root;

    /// <summary>Runs a command as <paramref name="who"/> (paths relative to the case directory) and records the result.</summary>
    public string Do(Who who, params string[] command)
    {
        ProbeProcess probe = workspace.Probe(who);
        if (probe.Root != Root)
        {
            probe.Call("root", Root);
            probe.Root = Root;
        }

        string result = probe.Call(command);
        Outcome.Add($"{who}: {string.Join(' ', command)} -> {result}");
        return result;
    }

    /// <summary>Records a note (a value computed from results) in the outcome.</summary>
    public void Note(string note) => Outcome.Add(note);
}
