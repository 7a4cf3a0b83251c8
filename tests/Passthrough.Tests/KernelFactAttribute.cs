using System.Runtime.InteropServices;

namespace VirtioFs.Passthrough.Tests;

/// <summary>Whether this machine can run the mount tests: root (to mount, and to run probes as other users), <c>/dev/fuse</c> and setpriv.</summary>
public static partial class KernelEnvironment
{
    /// <summary>Why the tests cannot run here, or null when they can.</summary>
    public static string? MissingReason
    {
        get
        {
            if (GetEUid() != 0)
            {
                return $"Passthrough mount tests need root (running as euid {GetEUid()}).";
            }

            if (!File.Exists("/dev/fuse"))
            {
                return "Passthrough mount tests need /dev/fuse (modprobe fuse, or pass --device /dev/fuse).";
            }

            return File.Exists("/usr/bin/setpriv") ? null : "Passthrough mount tests need setpriv (Debian package util-linux).";
        }
    }

    /// <summary>Whether a missing environment must fail the tests instead of skipping them (<c>CI=true</c>).</summary>
    public static bool IsCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>Fails the test when the environment cannot run it (reached only under CI, where the tests are not skipped).</summary>
    public static void Require()
    {
        if (MissingReason is { } reason)
        {
            Assert.Fail($"{reason} (CI=true: mount tests are not skipped.)");
        }
    }

    internal static string? SkipReason => IsCi ? null : MissingReason;

    [LibraryImport("libc.so.6", EntryPoint = "geteuid")]
    internal static partial uint GetEUid();
}

/// <summary>A fact that needs the mount environment: skipped without it unless <c>CI=true</c>.</summary>
public sealed class KernelFactAttribute : FactAttribute
{
    public KernelFactAttribute()
    {
        if (KernelEnvironment.SkipReason is { } reason)
        {
            Skip = reason;
        }
    }
}

/// <summary>A theory that needs the mount environment: skipped without it unless <c>CI=true</c>.</summary>
public sealed class KernelTheoryAttribute : TheoryAttribute
{
    public KernelTheoryAttribute()
    {
        if (KernelEnvironment.SkipReason is { } reason)
        {
            Skip = reason;
        }
    }
}
