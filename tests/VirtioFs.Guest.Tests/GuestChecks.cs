using System.Text;

namespace VirtioFs.Guest.Tests;

/// <summary>
/// What a full or short run must have reported and left in the export (see scripts/guest/init): checked on the
/// console and, for backends that export a host directory, on the host.
/// </summary>
internal static class GuestChecks
{
    /// <summary>The seeds vfs-tool writes big.bin and trunc.bin with, and trunc.bin's size after the truncate.</summary>
    private const ulong BigSeed = 42, TruncSeed = 7;
    private const long TruncatedSize = 12345;

    /// <summary>The top-level names a full or short run leaves behind.</summary>
    public static readonly string[] KnownEntries = ["big.bin", "dir", "hardlink.txt", "hello.txt", "renamed.txt", "symlink.txt", "trunc.bin", "xattr.txt"];

    public static long BigBytes(GuestWorkload workload) => workload.MiB * (1L << 20);

    /// <summary>A full or short run: done ok, every phase timed, every result as expected.</summary>
    public static void AssertWorkload(GuestConsole console, GuestWorkload workload)
    {
        console.AssertOk();
        foreach (string phase in (string[])["boot", "mount", "create", "readdir", "stat", "remove", "write", "read", "ops", "unmount"])
        {
            _ = console.Phase(phase);
        }

        console.AssertResult("workload", workload.Name);
        console.AssertResult("readdir-count", workload.Files.ToString(System.Globalization.CultureInfo.InvariantCulture));
        console.AssertResult("files-left", "no");
        console.AssertResult("rmdir", "gone");
        AssertKnownResults(console, BigBytes(workload));
    }

    /// <summary>What full, short and list all report about the files a full or short run left.</summary>
    public static void AssertKnownResults(GuestConsole console, long bigBytes)
    {
        console.AssertResult("hello-content", "hello from the guest");
        console.AssertResult("symlink-target", "hello.txt");
        console.AssertResult("symlink-content", "hello from the guest");
        console.AssertResult("nlink", "2");
        console.AssertResult("hardlink-same-inode", "yes");
        console.AssertResult("rename", "renamed content");
        console.AssertResult("xattr", "guest-value");
        console.AssertResult("truncate-size", TruncatedSize.ToString(System.Globalization.CultureInfo.InvariantCulture));
        console.AssertResult("truncate-checksum", Vfs64.OfPattern(TruncSeed, TruncatedSize));
        console.AssertResult("nested-content", "nested");
        console.AssertResult("big-size", bigBytes.ToString(System.Globalization.CultureInfo.InvariantCulture));
        console.AssertResult("big-checksum", Vfs64.OfPattern(BigSeed, bigBytes));
    }

    /// <summary>The host sees the guest's files: names, contents, links, the xattr, sizes and checksums.</summary>
    public static void AssertExport(string export, GuestConsole console, GuestWorkload workload)
    {
        string Path(string name) => System.IO.Path.Combine(export, name);

        Assert.Equal(KnownEntries, Directory.EnumerateFileSystemEntries(export).Select(System.IO.Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Equal("hello from the guest\n", File.ReadAllText(Path("hello.txt")));
        Native.StatxBuffer hello = Native.Stat(Path("hello.txt")), hard = Native.Stat(Path("hardlink.txt"));
        Assert.Equal(hello.Ino, hard.Ino);
        Assert.Equal(2u, hello.Nlink);
        Assert.Equal("hello.txt", new FileInfo(Path("symlink.txt")).LinkTarget);
        Assert.Equal("renamed content\n", File.ReadAllText(Path("renamed.txt")));
        Assert.Equal("guest-value", Encoding.UTF8.GetString(Native.GetXattr(Path("xattr.txt"), "user.vfs-test") ?? []));
        Assert.Equal(TruncatedSize, new FileInfo(Path("trunc.bin")).Length);
        Assert.Equal(console.Result("truncate-checksum"), Vfs64.OfFile(Path("trunc.bin")));
        Assert.Equal("nested\n", File.ReadAllText(Path("dir/sub/nested.txt")));
        Assert.Equal(BigBytes(workload), new FileInfo(Path("big.bin")).Length);
        Assert.Equal(console.Result("big-checksum"), Vfs64.OfFile(Path("big.bin")));
    }
}
