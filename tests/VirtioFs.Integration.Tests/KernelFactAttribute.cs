namespace VirtioFs.Integration.Tests;

/// <summary>Whether this machine can run the kernel tests: root and a <c>/dev/fuse</c>.</summary>
public static class KernelEnvironment
{
    /// <summary>Why the kernel tests cannot run here, or null when they can.</summary>
    public static string? MissingReason
    {
        get
        {
            if (Native.GetEUid() != 0)
            {
                return $"Kernel FUSE tests need root (running as {Environment.UserName}, euid {Native.GetEUid()}).";
            }

            return File.Exists("/dev/fuse") ? null : "Kernel FUSE tests need /dev/fuse (modprobe fuse, or pass --device /dev/fuse).";
        }
    }

    /// <summary>Whether a missing environment must fail the tests instead of skipping them (<c>CI=true</c>).</summary>
    public static bool IsCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>Fails the test with a clear message when the environment cannot run it (reached only under CI, where tests are not skipped).</summary>
    public static void Require()
    {
        if (MissingReason is { } reason)
        {
            Assert.Fail($"{reason} (CI=true: kernel tests are not skipped.)");
        }
    }

    internal static string? SkipReason => IsCi ? null : MissingReason;
}

/// <summary>A fact that needs root and <c>/dev/fuse</c>: skipped without them unless <c>CI=true</c>.</summary>
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

/// <summary>A theory that needs root and <c>/dev/fuse</c>: skipped without them unless <c>CI=true</c>.</summary>
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

/// <summary>The kernel tests share the machine's mount table and CPU: run them one class at a time.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class KernelCollection
{
    public const string Name = "kernel";
}
