using System.Runtime.InteropServices;

namespace VirtioFs.Guest.Tests;

/// <summary>Whether this machine can boot the test guests: Linux x86-64, root, and QEMU (or apt-get to install it).</summary>
public static class GuestEnvironment
{
    public const string Qemu = "/usr/bin/qemu-system-x86_64";

    /// <summary>Why the guest tests cannot run here, or null when they can.</summary>
    public static string? MissingReason
    {
        get
        {
            if (!OperatingSystem.IsLinux() || RuntimeInformation.OSArchitecture != Architecture.X64)
            {
                return "Guest tests boot an x86-64 Debian kernel with qemu-system-x86_64 (Linux x86-64 hosts only).";
            }

            if (Native.GetEUid() != 0)
            {
                return $"Guest tests need root: scripts/guest/prepare.sh installs Debian packages and virtiofsd runs as root (running as euid {Native.GetEUid()}).";
            }

            return File.Exists(Qemu) || File.Exists("/usr/bin/apt-get")
                ? null
                : $"Guest tests need {Qemu} (Debian package qemu-system-x86) and cannot install it without apt-get.";
        }
    }

    /// <summary>Whether a missing environment must fail the tests instead of skipping them (<c>CI=true</c>).</summary>
    public static bool IsCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>Fails the test when the environment cannot run it (reached only under CI, where the tests are not skipped).</summary>
    public static void Require()
    {
        if (MissingReason is { } reason)
        {
            Assert.Fail($"{reason} (CI=true: guest tests are not skipped.)");
        }
    }

    internal static string? SkipReason => IsCi ? null : MissingReason;
}

/// <summary>A fact that boots guests: skipped without root and QEMU unless <c>CI=true</c>.</summary>
public sealed class GuestFactAttribute : FactAttribute
{
    public GuestFactAttribute()
    {
        if (GuestEnvironment.SkipReason is { } reason)
        {
            Skip = reason;
        }
    }
}

/// <summary>
/// Every guest test: one at a time (each boot takes a CPU for QEMU under TCG and one for the backend), sharing one
/// guest image built once per run.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class GuestCollection : ICollectionFixture<GuestImage>
{
    public const string Name = "guest";
}
