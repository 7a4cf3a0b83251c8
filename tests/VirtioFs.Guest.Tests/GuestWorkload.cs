namespace VirtioFs.Guest.Tests;

/// <summary>
/// A workload of the guest's /init (vfs.workload=NAME, see scripts/guest/init) with what it does and how long a boot
/// running it may take under TCG on a 2-core machine before the test kills it.
/// </summary>
public sealed record GuestWorkload(string Name, int Files, int MiB, TimeSpan Timeout)
{
    /// <summary>2,000 files created, listed, stated, removed; 256 MiB written, read back after dropping caches; the operations.</summary>
    public static readonly GuestWorkload Full = new("full", 2000, 256, TimeSpan.FromSeconds(150));

    /// <summary>As <see cref="Full"/> with 200 files and 8 MiB (for backends that keep data in memory).</summary>
    public static readonly GuestWorkload Short = new("short", 200, 8, TimeSpan.FromSeconds(60));

    /// <summary>Changes nothing: lists the export and reports what a previous full or short run left in it.</summary>
    public static readonly GuestWorkload List = new("list", 0, 0, TimeSpan.FromSeconds(40));

    public override string ToString() => Name;
}
