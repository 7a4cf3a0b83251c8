namespace VirtioFs.Guest.Tests;

/// <summary>
/// The kernel and initramfs every guest boots, built by scripts/guest/prepare.sh into artifacts/guest at the repo
/// root: once per test run, on first use (so a run whose guest tests are all skipped builds nothing).
/// </summary>
public sealed class GuestImage : IDisposable
{
    /// <summary>Cold, prepare.sh downloads the kernel package (and installs missing Debian packages).</summary>
    public static readonly TimeSpan PrepareTimeout = TimeSpan.FromMinutes(5);

    private readonly SemaphoreSlim _gate = new(1, 1);
    private string? _failure;
    private bool _ready;

    public static string RepoRoot { get; } = FindRepoRoot();

    public static string OutputDirectory => Path.Combine(RepoRoot, "artifacts", "guest");

    /// <summary>The decompressed vmlinux when prepare.sh could make one (QEMU boots it seconds sooner under TCG), else vmlinuz.</summary>
    public static string Kernel => File.Exists(Path.Combine(OutputDirectory, "vmlinux")) ? Path.Combine(OutputDirectory, "vmlinux") : Path.Combine(OutputDirectory, "vmlinuz");

    public static string Initrd => Path.Combine(OutputDirectory, "initrd.gz");

    /// <summary>Runs prepare.sh unless it already ran in this test run; fails every caller the same way if it failed.</summary>
    public async Task EnsureBuiltAsync()
    {
        GuestEnvironment.Require();
        if (!await _gate.WaitAsync(PrepareTimeout))
        {
            Assert.Fail("Another test's run of scripts/guest/prepare.sh is taking too long.");
        }

        try
        {
            if (!_ready && _failure is null)
            {
                string script = Path.Combine(RepoRoot, "scripts", "guest", "prepare.sh");
                using ChildProcess prepare = ChildProcess.Start("prepare.sh", "/bin/bash", [script, OutputDirectory], PrepareTimeout);
                if (!await prepare.WaitForExitAsync(PrepareTimeout))
                {
                    _failure = $"scripts/guest/prepare.sh did not finish within {PrepareTimeout.TotalSeconds:0} s.\n{prepare.Tail()}";
                }
                else if (prepare.ExitCode != 0)
                {
                    _failure = $"scripts/guest/prepare.sh failed.\n{prepare.Tail()}";
                }
                else
                {
                    _ready = true;
                }
            }
        }
        finally
        {
            _gate.Release();
        }

        if (_failure is not null)
        {
            Assert.Fail(_failure);
        }
    }

    public void Dispose() => _gate.Dispose();

    private static string FindRepoRoot()
    {
        for (string? dir = AppContext.BaseDirectory; dir is not null; dir = Path.GetDirectoryName(dir))
        {
            if (File.Exists(Path.Combine(dir, "scripts", "guest", "prepare.sh")))
            {
                return dir;
            }
        }

        throw new InvalidOperationException($"No scripts/guest/prepare.sh above {AppContext.BaseDirectory}.");
    }
}
