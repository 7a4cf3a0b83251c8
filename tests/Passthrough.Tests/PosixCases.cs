using System.Globalization;

namespace VirtioFs.Passthrough.Tests;

/// <summary>A conformance case: a function of a root directory whose outcome (every step's result) must be the same
/// in a plain host directory and through the Passthrough mount.</summary>
public sealed record PosixCase(string Name, Action<CaseRun> Body)
{
    public override string ToString() => Name;
}

/// <summary>The cases. Steps run as root, A (1001:1001), A2 (a second process of A), B (1002:1002, also in group
/// 1001) and C (1003:1003); results leave out inode numbers and absolute times, which differ between the two runs.</summary>
public static class PosixCases
{
    // open(2) flags (Linux x86_64) as the probe reads them.
    private const string Rd = "0x0", Wr = "0x1", RdWr = "0x2", CreatWr = "0x41", CreatExclWr = "0xc1", CreatTruncWr = "0x241",
        TruncWr = "0x201", AppendWr = "0x401", CreatAppendWr = "0x441", DirectoryRd = "0x10000", NoFollowRd = "0x20000", TruncRd = "0x200";

    private static readonly Who R = Who.Root, A = Who.A, A2 = Who.A2, B = Who.B, C = Who.C;

    public static IReadOnlyList<PosixCase> All { get; } = Build();

    public static IEnumerable<object[]> Names => All.Select(c => new object[] { c.Name });

    private static List<PosixCase> Build()
    {
        var cases = new List<PosixCase>();
        FilePermissions(cases);
        DirectoryPermissions(cases);
        Sticky(cases);
        Opens(cases);
        Truncates(cases);
        Renames(cases);
        Links(cases);
        LongNamesAndLoops(cases);
        Timestamps(cases);
        Xattrs(cases);
        Locks(cases);
        Holes(cases);
        Misc(cases);
        return cases;
    }

    /// <summary>Creates <paramref name="path"/> as root with <paramref name="content"/>, then gives it to uid:gid with <paramref name="mode"/>.</summary>
    private static void MkFile(CaseRun r, string path, uint uid, uint gid, string mode, string content = "data")
    {
        r.Do(R, "open", "setup", path, CreatTruncWr, "0644");
        if (content.Length > 0)
        {
            r.Do(R, "write", "setup", content);
        }

        r.Do(R, "close", "setup");
        r.Do(R, "chown", path, Id(uid), Id(gid));
        r.Do(R, "chmod", path, mode);
    }

    private static void MkDir(CaseRun r, string path, uint uid, uint gid, string mode)
    {
        r.Do(R, "mkdir", path, "0755");
        r.Do(R, "chown", path, Id(uid), Id(gid));
        r.Do(R, "chmod", path, mode);
    }

    private static string Id(uint id) => id.ToString(CultureInfo.InvariantCulture);

    private static void FilePermissions(List<PosixCase> cases)
    {
        string[] modes = ["0000", "0400", "0200", "0100", "0600", "0040", "0020", "0060", "0004", "0002", "0006", "0640", "0604", "0460", "0066"];
        foreach (string mode in modes)
        {
            foreach (Who who in (Who[])[A, B, C])
            {
                cases.Add(new($"perm-file-{mode}-{who}", r =>
                {
                    MkFile(r, "f", 1001, 1001, mode);
                    r.Do(who, "open", "r", "f", Rd);
                    r.Do(who, "read", "r", "16");
                    r.Do(who, "open", "w", "f", AppendWr);
                    r.Do(who, "write", "w", "more");
                    r.Do(who, "access", "f", "4");
                    r.Do(who, "access", "f", "2");
                    r.Do(who, "access", "f", "1");
                    r.Do(who, "access", "f", "0");
                    r.Do(R, "stat", "f");
                }));
            }
        }
    }

    private static void DirectoryPermissions(List<PosixCase> cases)
    {
        string[] modes = ["0700", "0500", "0300", "0100", "0070", "0050", "0030", "0010", "0007", "0005", "0003", "0777"];
        foreach (string mode in modes)
        {
            foreach (Who who in (Who[])[A, B, C])
            {
                cases.Add(new($"perm-dir-{mode}-{who}", r =>
                {
                    MkDir(r, "d", 1001, 1001, mode);
                    MkFile(r, "d/f", 1001, 1001, "0666");
                    r.Do(who, "readdir", "d");
                    r.Do(who, "stat", "d/f");
                    r.Do(who, "open", "n", "d/new", CreatWr, "0644");
                    r.Do(who, "mkdir", "d/sub", "0755");
                    r.Do(who, "rename", "d/f", "d/g");
                    r.Do(who, "unlink", "d/g");
                    r.Do(who, "access", "d", "3");
                    r.Do(R, "readdir", "d");
                    r.Do(R, "stat", "d/new");
                }));
            }
        }
    }

    private static void Sticky(List<PosixCase> cases)
    {
        void Setup(CaseRun r, uint dirOwner = 0, string mode = "01777")
        {
            MkDir(r, "t", dirOwner, dirOwner, mode);
            r.Do(A, "open", "a", "t/a", CreatWr, "0666");
            r.Do(B, "open", "b", "t/b", CreatWr, "0666");
            r.Do(B, "mkdir", "t/bd", "0777");
        }

        cases.Add(new("sticky-owner-unlinks-own", r => { Setup(r); r.Do(A, "unlink", "t/a"); }));
        cases.Add(new("sticky-other-unlinks", r => { Setup(r); r.Do(B, "unlink", "t/a"); r.Do(C, "unlink", "t/a"); }));
        cases.Add(new("sticky-other-renames-away", r => { Setup(r); r.Do(C, "rename", "t/a", "t/c"); }));
        cases.Add(new("sticky-other-renames-over", r => { Setup(r); r.Do(B, "rename", "t/b", "t/a"); }));
        cases.Add(new("sticky-root-unlinks", r => { Setup(r); r.Do(R, "unlink", "t/a"); }));
        cases.Add(new("sticky-dir-owner-unlinks", r => { Setup(r, 1003); r.Do(C, "unlink", "t/a"); r.Do(C, "rmdir", "t/bd"); }));
        cases.Add(new("sticky-other-rmdir", r => { Setup(r); r.Do(A, "rmdir", "t/bd"); r.Do(B, "rmdir", "t/bd"); }));
        cases.Add(new("sticky-absent-without-sticky", r => { Setup(r, 0, "0777"); r.Do(B, "unlink", "t/a"); r.Do(C, "rmdir", "t/bd"); }));
        cases.Add(new("sticky-write-others-file", r => { Setup(r); r.Do(B, "open", "x", "t/a", Wr); r.Do(B, "write", "x", "hi"); }));
        cases.Add(new("sticky-exchange", r => { Setup(r); r.Do(B, "rename", "t/b", "t/a", "2"); r.Do(A, "rename", "t/a", "t/a2", "2"); }));
    }

    private static void Opens(List<PosixCase> cases)
    {
        cases.Add(new("open-excl-existing", r => { MkFile(r, "f", 1001, 1001, "0644"); r.Do(A, "open", "x", "f", CreatExclWr, "0600"); }));
        cases.Add(new("open-excl-new", r => { r.Do(A, "open", "x", "f", CreatExclWr, "0640"); r.Do(A, "stat", "f"); }));
        cases.Add(new("open-excl-dangling-symlink", r => { r.Do(A, "symlink", "nowhere", "l"); r.Do(A, "open", "x", "l", CreatExclWr, "0600"); r.Do(A, "stat", "nowhere"); }));
        cases.Add(new("open-creat-through-dangling-symlink", r => { r.Do(A, "symlink", "target", "l"); r.Do(A, "open", "x", "l", CreatWr, "0600"); r.Do(A, "stat", "target"); }));
        cases.Add(new("open-excl-without-creat", r => { MkFile(r, "f", 1001, 1001, "0644"); r.Do(A, "open", "x", "f", "0x81"); }));
        cases.Add(new("open-creat-missing-dir", r => r.Do(A, "open", "x", "nodir/f", CreatWr, "0644")));
        cases.Add(new("open-creat-on-dir", r => { r.Do(A, "mkdir", "d", "0755"); r.Do(A, "open", "x", "d", CreatWr, "0644"); }));
        cases.Add(new("open-dir-for-writing", r => { r.Do(A, "mkdir", "d", "0755"); r.Do(A, "open", "x", "d", Wr); r.Do(A, "open", "y", "d", Rd); }));
        cases.Add(new("open-directory-flag-on-file", r => { MkFile(r, "f", 1001, 1001, "0644"); r.Do(A, "open", "x", "f", DirectoryRd); }));
        cases.Add(new("open-nofollow-symlink", r => { MkFile(r, "f", 1001, 1001, "0644"); r.Do(A, "symlink", "f", "l"); r.Do(A, "open", "x", "l", NoFollowRd); r.Do(A, "open", "y", "l", Rd); r.Do(A, "read", "y", "10"); }));
        cases.Add(new("open-mode-umask", r => { r.Do(A, "open", "x", "f", CreatWr, "0777"); r.Do(A, "stat", "f"); r.Do(A, "mkdir", "d", "0777"); r.Do(A, "stat", "d"); }));
        cases.Add(new("open-creat-existing-keeps-mode", r => { MkFile(r, "f", 1001, 1001, "0604"); r.Do(A, "open", "x", "f", CreatWr, "0777"); r.Do(A, "stat", "f"); }));
        cases.Add(new("open-trunc-rdonly", r => { MkFile(r, "f", 1001, 1001, "0644"); r.Do(A, "open", "x", "f", TruncRd); r.Do(A, "stat", "f"); }));
        cases.Add(new("open-trunc-without-write", r => { MkFile(r, "f", 1001, 1001, "0644"); r.Do(C, "open", "x", "f", TruncWr); r.Do(C, "open", "x", "f", TruncRd); r.Do(A, "stat", "f"); }));
        cases.Add(new("open-trunc", r => { MkFile(r, "f", 1001, 1001, "0644", "0123456789"); r.Do(A, "open", "x", "f", TruncWr); r.Do(A, "write", "x", "ab"); r.Do(A, "stat", "f"); }));
        cases.Add(new("open-append-write", r =>
        {
            MkFile(r, "f", 1001, 1001, "0644", "0123456789");
            r.Do(A, "open", "x", "f", AppendWr);
            r.Do(A, "write", "x", "AB");
            r.Do(A, "pwrite", "x", "0", "CD");
            r.Do(A, "open", "y", "f", Rd);
            r.Do(A, "read", "y", "64");
        }));
        cases.Add(new("open-append-two-writers", r =>
        {
            MkFile(r, "f", 1001, 1001, "0666", "0123");
            r.Do(A, "open", "x", "f", AppendWr);
            r.Do(B, "open", "y", "f", AppendWr);
            r.Do(A, "write", "x", "aa");
            r.Do(B, "write", "y", "bbb");
            r.Do(A, "write", "x", "c");
            r.Do(A, "open", "z", "f", Rd);
            r.Do(A, "read", "z", "64");
        }));
        cases.Add(new("open-append-lseek", r => { MkFile(r, "f", 1001, 1001, "0644", "0123456789"); r.Do(A, "open", "x", "f", "0x402"); r.Do(A, "lseek", "x", "0", "1"); r.Do(A, "write", "x", "Z"); r.Do(A, "lseek", "x", "0", "1"); }));
        cases.Add(new("open-creat-sgid-dir", r =>
        {
            MkDir(r, "d", 0, 1001, "02777");
            r.Do(C, "open", "x", "d/f", CreatWr, "0644");
            r.Do(C, "mkdir", "d/sub", "0755");
            r.Do(R, "stat", "d/f");
            r.Do(R, "stat", "d/sub");
        }));
        cases.Add(new("open-creat-group-of-creator", r => { r.Do(B, "open", "x", "f", CreatWr, "0644"); r.Do(R, "stat", "f"); }));
        cases.Add(new("open-read-write-offsets", r =>
        {
            r.Do(A, "open", "x", "f", "0x42", "0644");
            r.Do(A, "write", "x", "hello world");
            r.Do(A, "lseek", "x", "6", "0");
            r.Do(A, "read", "x", "3");
            r.Do(A, "pread", "x", "0", "5");
            r.Do(A, "read", "x", "10");
            r.Do(A, "lseek", "x", "-3", "2");
            r.Do(A, "read", "x", "10");
        }));
    }

    private static void Truncates(List<PosixCase> cases)
    {
        cases.Add(new("truncate-down", r => { MkFile(r, "f", 1001, 1001, "0644", "0123456789"); r.Do(A, "truncate", "f", "4"); r.Do(A, "open", "x", "f", Rd); r.Do(A, "read", "x", "64"); r.Do(A, "stat", "f"); }));
        cases.Add(new("truncate-up", r => { MkFile(r, "f", 1001, 1001, "0644", "abc"); r.Do(A, "truncate", "f", "8"); r.Do(A, "open", "x", "f", Rd); r.Do(A, "read", "x", "64"); r.Do(A, "stat", "f"); }));
        cases.Add(new("truncate-zero", r => { MkFile(r, "f", 1001, 1001, "0644", "abc"); r.Do(A, "truncate", "f", "0"); r.Do(A, "stat", "f"); }));
        cases.Add(new("truncate-large-sparse", r => { MkFile(r, "f", 1001, 1001, "0644", "abc"); r.Do(A, "truncate", "f", "1073741824"); r.Do(A, "stat", "f"); r.Do(A, "blocks", "f"); }));
        cases.Add(new("truncate-negative", r => { MkFile(r, "f", 1001, 1001, "0644"); r.Do(A, "truncate", "f", "-1"); }));
        cases.Add(new("truncate-dir", r => { r.Do(A, "mkdir", "d", "0755"); r.Do(A, "truncate", "d", "0"); }));
        cases.Add(new("truncate-no-permission", r => { MkFile(r, "f", 1001, 1001, "0644"); r.Do(C, "truncate", "f", "1"); r.Do(B, "truncate", "f", "1"); r.Do(R, "stat", "f"); }));
        cases.Add(new("truncate-group-writable", r => { MkFile(r, "f", 1001, 1001, "0664"); r.Do(B, "truncate", "f", "2"); r.Do(R, "stat", "f"); }));
        cases.Add(new("ftruncate-rdonly-fd", r => { MkFile(r, "f", 1001, 1001, "0644"); r.Do(A, "open", "x", "f", Rd); r.Do(A, "ftruncate", "x", "1"); }));
        cases.Add(new("ftruncate-shrink-grow-read", r =>
        {
            MkFile(r, "f", 1001, 1001, "0644", "0123456789");
            r.Do(A, "open", "x", "f", RdWr);
            r.Do(A, "ftruncate", "x", "3");
            r.Do(A, "ftruncate", "x", "6");
            r.Do(A, "pread", "x", "0", "64");
        }));
        cases.Add(new("truncate-clears-suid", r =>
        {
            MkFile(r, "f", 1001, 1001, "06775");
            r.Do(B, "truncate", "f", "1");
            r.Do(R, "stat", "f");
        }));
        cases.Add(new("write-clears-suid", r =>
        {
            MkFile(r, "f", 1001, 1001, "04777");
            r.Do(C, "open", "x", "f", Wr);
            r.Do(C, "write", "x", "zz");
            r.Do(R, "stat", "f");
        }));
        cases.Add(new("truncate-missing", r => r.Do(A, "truncate", "none", "0")));
    }

    private static void Renames(List<PosixCase> cases)
    {
        cases.Add(new("rename-over-nonempty-dir", r => { r.Do(A, "mkdir", "a", "0755"); r.Do(A, "mkdir", "b", "0755"); r.Do(A, "mkdir", "b/x", "0755"); r.Do(A, "rename", "a", "b"); }));
        cases.Add(new("rename-over-empty-dir", r => { r.Do(A, "mkdir", "a", "0755"); r.Do(A, "mkdir", "a/in", "0755"); r.Do(A, "mkdir", "b", "0755"); r.Do(A, "rename", "a", "b"); r.Do(A, "readdir", "."); r.Do(A, "readdir", "b"); }));
        cases.Add(new("rename-dir-over-file", r => { r.Do(A, "mkdir", "a", "0755"); MkFile(r, "f", 1001, 1001, "0644"); r.Do(A, "rename", "a", "f"); }));
        cases.Add(new("rename-file-over-dir", r => { r.Do(A, "mkdir", "a", "0755"); MkFile(r, "f", 1001, 1001, "0644"); r.Do(A, "rename", "f", "a"); }));
        cases.Add(new("rename-into-own-subdir", r => { r.Do(A, "mkdir", "a", "0755"); r.Do(A, "mkdir", "a/b", "0755"); r.Do(A, "rename", "a", "a/b/c"); r.Do(A, "rename", "a", "a/c"); }));
        cases.Add(new("rename-hard-linked-names", r =>
        {
            MkFile(r, "f", 1001, 1001, "0644");
            r.Do(A, "link", "f", "g");
            r.Do(A, "rename", "f", "g");
            r.Do(A, "readdir", ".");
            r.Do(A, "stat", "g");
        }));
        cases.Add(new("rename-to-itself", r => { MkFile(r, "f", 1001, 1001, "0644"); r.Do(A, "rename", "f", "f"); r.Do(A, "readdir", "."); }));
        cases.Add(new("rename-over-file", r => { MkFile(r, "f", 1001, 1001, "0644", "one"); MkFile(r, "g", 1001, 1001, "0600", "second"); r.Do(A, "rename", "f", "g"); r.Do(A, "stat", "g"); r.Do(A, "readdir", "."); }));
        cases.Add(new("rename-noreplace-existing", r => { MkFile(r, "f", 1001, 1001, "0644"); MkFile(r, "g", 1001, 1001, "0644"); r.Do(A, "rename", "f", "g", "1"); }));
        cases.Add(new("rename-noreplace-new", r => { MkFile(r, "f", 1001, 1001, "0644"); r.Do(A, "rename", "f", "g", "1"); r.Do(A, "readdir", "."); }));
        cases.Add(new("rename-exchange-files", r =>
        {
            MkFile(r, "f", 1001, 1001, "0644", "one");
            MkFile(r, "g", 1001, 1001, "0600", "second");
            r.Do(A, "rename", "f", "g", "2");
            r.Do(A, "stat", "f");
            r.Do(A, "stat", "g");
        }));
        cases.Add(new("rename-exchange-file-dir", r =>
        {
            MkFile(r, "f", 1001, 1001, "0644");
            r.Do(A, "mkdir", "d", "0700");
            r.Do(A, "mkdir", "d/in", "0700");
            r.Do(A, "rename", "f", "d", "2");
            r.Do(A, "stat", "f");
            r.Do(A, "readdir", "f");
        }));
        cases.Add(new("rename-exchange-missing", r => { MkFile(r, "f", 1001, 1001, "0644"); r.Do(A, "rename", "f", "g", "2"); }));
        cases.Add(new("rename-exchange-and-noreplace", r => { MkFile(r, "f", 1001, 1001, "0644"); MkFile(r, "g", 1001, 1001, "0644"); r.Do(A, "rename", "f", "g", "3"); }));
        cases.Add(new("rename-whiteout-root", r => { MkFile(r, "f", 1001, 1001, "0644"); r.Do(R, "rename", "f", "g", "4"); r.Do(R, "stat", "f"); r.Do(R, "stat", "g"); }));
        cases.Add(new("rename-whiteout-user", r => { MkFile(r, "f", 1001, 1001, "0644"); r.Do(A, "rename", "f", "g", "4"); r.Do(A, "readdir", "."); }));
        cases.Add(new("rename-across-dirs", r =>
        {
            r.Do(A, "mkdir", "a", "0755");
            r.Do(A, "mkdir", "b", "0755");
            MkFile(r, "a/f", 1001, 1001, "0644");
            r.Do(A, "mkdir", "a/d", "0755");
            r.Do(A, "rename", "a/f", "b/f");
            r.Do(A, "rename", "a/d", "b/d");
            r.Do(A, "stat", "a");
            r.Do(A, "stat", "b");
            r.Do(A, "readdir", "b");
        }));
        cases.Add(new("rename-dot-entries", r => { r.Do(A, "mkdir", "a", "0755"); r.Do(A, "rename", "a/.", "b"); r.Do(A, "rename", "a/..", "b"); r.Do(A, "rename", "a", "a/."); }));
        cases.Add(new("rename-missing-source", r => r.Do(A, "rename", "none", "g")));
        cases.Add(new("rename-parent-of-self", r => { r.Do(A, "mkdir", "a", "0755"); r.Do(A, "mkdir", "a/b", "0755"); r.Do(A, "rename", "a/b", "a"); }));
        cases.Add(new("rename-symlink", r => { r.Do(A, "symlink", "target", "l"); r.Do(A, "rename", "l", "m"); r.Do(A, "readlink", "m"); r.Do(A, "lstat", "m"); }));
        cases.Add(new("rename-dir-without-write-on-it", r =>
        {
            MkDir(r, "p", 1001, 1001, "0777");
            MkDir(r, "p/d", 1001, 1001, "0555");
            MkDir(r, "q", 1001, 1001, "0777");
            r.Do(A, "rename", "p/d", "q/d");
            r.Do(B, "rename", "q/d", "p/d");
        }));
    }

    private static void Links(List<PosixCase> cases)
    {
        cases.Add(new("link-count-file", r =>
        {
            MkFile(r, "f", 1001, 1001, "0644");
            r.Do(A, "link", "f", "g");
            r.Do(A, "link", "g", "h");
            r.Do(A, "stat", "f");
            r.Do(A, "unlink", "g");
            r.Do(A, "stat", "h");
            r.Do(A, "unlink", "f");
            r.Do(A, "stat", "h");
        }));
        cases.Add(new("link-count-dir", r =>
        {
            r.Do(A, "mkdir", "d", "0755");
            r.Do(A, "stat", "d");
            r.Do(A, "mkdir", "d/a", "0755");
            r.Do(A, "mkdir", "d/b", "0755");
            r.Do(A, "stat", "d");
            r.Do(A, "rmdir", "d/a");
            r.Do(A, "stat", "d");
            r.Do(A, "rename", "d/b", "b");
            r.Do(A, "stat", "d");
        }));
        cases.Add(new("link-to-dir", r => { r.Do(A, "mkdir", "d", "0755"); r.Do(A, "link", "d", "e"); }));
        cases.Add(new("link-existing-name", r => { MkFile(r, "f", 1001, 1001, "0644"); MkFile(r, "g", 1001, 1001, "0644"); r.Do(A, "link", "f", "g"); }));
        cases.Add(new("link-missing", r => r.Do(A, "link", "none", "g")));
        cases.Add(new("link-symlink-itself", r => { r.Do(A, "symlink", "nowhere", "l"); r.Do(A, "link", "l", "m"); r.Do(A, "lstat", "m"); r.Do(A, "readlink", "m"); }));
        cases.Add(new("link-protected-hardlinks", r => { MkFile(r, "f", 1001, 1001, "0600"); r.Do(C, "link", "f", "g"); r.Do(B, "link", "f", "g"); r.Do(R, "link", "f", "h"); }));
        cases.Add(new("link-in-unwritable-dir", r => { MkFile(r, "f", 1001, 1001, "0644"); MkDir(r, "d", 1001, 1001, "0555"); r.Do(A, "link", "f", "d/g"); }));
        cases.Add(new("link-data-shared", r =>
        {
            MkFile(r, "f", 1001, 1001, "0644", "abc");
            r.Do(A, "link", "f", "g");
            r.Do(A, "open", "x", "g", AppendWr);
            r.Do(A, "write", "x", "def");
            r.Do(A, "open", "y", "f", Rd);
            r.Do(A, "read", "y", "16");
        }));
        cases.Add(new("unlink-open-file", r =>
        {
            MkFile(r, "f", 1001, 1001, "0644", "still here");
            r.Do(A, "open", "x", "f", RdWr);
            r.Do(A, "unlink", "f");
            r.Do(A, "pread", "x", "0", "64");
            r.Do(A, "pwrite", "x", "0", "STILL");
            r.Do(A, "pread", "x", "0", "64");
            r.Do(A, "stat", "f");
        }));
    }

    private static void LongNamesAndLoops(List<PosixCase> cases)
    {
        string n255 = new('n', 255), n256 = new('n', 256);
        cases.Add(new("name-255", r => { r.Do(A, "open", "x", n255, CreatWr, "0644"); r.Do(A, "stat", n255); r.Do(A, "unlink", n255); }));
        cases.Add(new("name-256-create", r => r.Do(A, "open", "x", n256, CreatWr, "0644")));
        cases.Add(new("name-256-lookup-mkdir", r => { r.Do(A, "stat", n256); r.Do(A, "mkdir", n256, "0755"); r.Do(A, "symlink", "x", n256); }));
        cases.Add(new("name-256-rename-link", r => { MkFile(r, "f", 1001, 1001, "0644"); r.Do(A, "rename", "f", n256); r.Do(A, "link", "f", n256); }));
        cases.Add(new("path-too-long", r => r.Do(A, "stat", string.Join('/', Enumerable.Repeat(new string('p', 200), 25)))));
        cases.Add(new("symlink-loop", r => { r.Do(A, "symlink", "b", "a"); r.Do(A, "symlink", "a", "b"); r.Do(A, "stat", "a"); r.Do(A, "open", "x", "a", CreatWr, "0644"); r.Do(A, "lstat", "a"); }));
        cases.Add(new("symlink-self-loop", r => { r.Do(A, "symlink", "s", "s"); r.Do(A, "stat", "s"); r.Do(A, "stat", "s/x"); }));
        cases.Add(new("symlink-chain-40-and-41", r =>
        {
            MkFile(r, "f", 1001, 1001, "0644");
            r.Do(A, "symlink", "f", "l0");
            for (int i = 1; i <= 40; i++)
            {
                r.Do(A, "symlink", $"l{i - 1}", $"l{i}");
            }

            r.Do(A, "stat", "l39");
            r.Do(A, "stat", "l40");
        }));
        cases.Add(new("symlink-nofollow-loop", r => { r.Do(A, "symlink", "s", "s"); r.Do(A, "open", "x", "s", NoFollowRd); }));
        cases.Add(new("symlink-dir-traversal", r => { r.Do(A, "mkdir", "d", "0755"); MkFile(r, "d/f", 1001, 1001, "0644", "via"); r.Do(A, "symlink", "d", "l"); r.Do(A, "open", "x", "l/f", Rd); r.Do(A, "read", "x", "8"); r.Do(A, "symlink", "../", "d/up"); r.Do(A, "stat", "d/up/d/f"); }));
        cases.Add(new("enotdir-component", r => { MkFile(r, "f", 1001, 1001, "0644"); r.Do(A, "stat", "f/x"); r.Do(A, "open", "x", "f/x", CreatWr, "0644"); r.Do(A, "mkdir", "f/x", "0755"); }));
    }

    private static void Timestamps(List<PosixCase> cases)
    {
        void Ts(string name, Action<CaseRun> setup, string[] marks, Action<CaseRun> op)
            => cases.Add(new("time-" + name, r =>
            {
                setup(r);
                foreach (string m in marks)
                {
                    r.Do(A, "tsmark", m);
                }

                op(r);
                foreach (string m in marks)
                {
                    r.Do(A, "tsdiff", m);
                }
            }));

        Action<CaseRun> file = r => MkFile(r, "f", 1001, 1001, "0666", "0123456789");
        Action<CaseRun> dirAndFile = r => { MkDir(r, "d", 1001, 1001, "0777"); MkFile(r, "d/f", 1001, 1001, "0666", "0123456789"); };
        Ts("create", r => MkDir(r, "d", 1001, 1001, "0777"), ["d"], r => r.Do(A, "open", "x", "d/f", CreatWr, "0644"));
        Ts("write", file, ["f"], r => { r.Do(A, "open", "x", "f", Wr); r.Do(A, "write", "x", "zz"); });
        Ts("write-empty", file, ["f"], r => { r.Do(A, "open", "x", "f", Wr); r.Do(A, "write", "x", ""); });
        Ts("read", file, ["f"], r => { r.Do(A, "open", "x", "f", Rd); r.Do(A, "read", "x", "4"); });
        Ts("truncate", file, ["f"], r => r.Do(A, "truncate", "f", "3"));
        Ts("truncate-same-size", file, ["f"], r => r.Do(A, "truncate", "f", "10"));
        Ts("ftruncate", file, ["f"], r => { r.Do(A, "open", "x", "f", Wr); r.Do(A, "ftruncate", "x", "20"); });
        Ts("open-trunc", file, ["f"], r => r.Do(A, "open", "x", "f", TruncWr));
        Ts("open-no-trunc", file, ["f"], r => r.Do(A, "open", "x", "f", RdWr));
        Ts("chmod", file, ["f"], r => r.Do(A, "chmod", "f", "0640"));
        Ts("chown", file, ["f"], r => r.Do(R, "chown", "f", "1002", "1001"));
        Ts("link", dirAndFile, ["d", "d/f"], r => r.Do(A, "link", "d/f", "d/g"));
        Ts("unlink-other-name", r => { dirAndFile(r); r.Do(A, "link", "d/f", "d/g"); }, ["d", "d/f"], r => r.Do(A, "unlink", "d/g"));
        Ts("rename", r => { dirAndFile(r); MkDir(r, "e", 1001, 1001, "0777"); }, ["d", "e", "d/f"], r => r.Do(A, "rename", "d/f", "e/f"));
        Ts("mkdir-rmdir", r => MkDir(r, "d", 1001, 1001, "0777"), ["d"], r => { r.Do(A, "mkdir", "d/s", "0755"); r.Do(A, "rmdir", "d/s"); });
        Ts("symlink", r => MkDir(r, "d", 1001, 1001, "0777"), ["d"], r => r.Do(A, "symlink", "x", "d/l"));
        Ts("setxattr", file, ["f"], r => r.Do(A, "setxattr", "f", "user.t", "v"));
        Ts("utimes-now", file, ["f"], r => r.Do(A, "utimes", "f", "now", "now"));
        Ts("utimes-omit-atime", file, ["f"], r => r.Do(A, "utimes", "f", "omit", "now"));
        Ts("utimes-omit-both", file, ["f"], r => r.Do(A, "utimes", "f", "omit", "omit"));
        Ts("readdir", r => MkDir(r, "d", 1001, 1001, "0777"), ["d"], r => r.Do(A, "readdir", "d"));
        Ts("failed-create", r => MkDir(r, "d", 1001, 1001, "0555"), ["d"], r => r.Do(C, "open", "x", "d/f", CreatWr, "0644"));
        cases.Add(new("time-utimes-explicit", r => { file(r); r.Do(A, "utimes", "f", "1000000000", "1200000000"); r.Do(A, "mtime", "f"); }));
        cases.Add(new("time-utimes-omit-value", r => { file(r); r.Do(A, "utimes", "f", "1000000000", "1200000000"); r.Do(A, "utimes", "f", "omit", "1300000000"); r.Do(A, "mtime", "f"); }));
        cases.Add(new("time-utimes-permissions", r =>
        {
            MkFile(r, "f", 1001, 1001, "0666");
            MkFile(r, "g", 1001, 1001, "0644");
            r.Do(B, "utimes", "f", "now", "now");
            r.Do(B, "utimes", "f", "1000", "1000");
            r.Do(B, "utimes", "g", "now", "now");
            r.Do(B, "utimes", "g", "omit", "omit");
            r.Do(A, "utimes", "g", "1000", "2000");
            r.Do(A, "mtime", "g");
        }));
    }

    private static void Xattrs(List<PosixCase> cases)
    {
        cases.Add(new("xattr-user-roundtrip", r =>
        {
            MkFile(r, "f", 1001, 1001, "0644");
            r.Do(A, "setxattr", "f", "user.one", "1");
            r.Do(A, "setxattr", "f", "user.two", "22");
            r.Do(A, "getxattr", "f", "user.two");
            r.Do(A, "getxattr", "f", "user.two", "0");
            r.Do(A, "getxattr", "f", "user.two", "1");
            r.Do(A, "listxattr", "f");
            r.Do(A, "removexattr", "f", "user.one");
            r.Do(A, "listxattr", "f");
            r.Do(A, "getxattr", "f", "user.one");
        }));
        cases.Add(new("xattr-create-replace-flags", r =>
        {
            MkFile(r, "f", 1001, 1001, "0644");
            r.Do(A, "setxattr", "f", "user.x", "a", "1");
            r.Do(A, "setxattr", "f", "user.x", "b", "1");
            r.Do(A, "setxattr", "f", "user.y", "b", "2");
            r.Do(A, "setxattr", "f", "user.x", "c", "2");
            r.Do(A, "getxattr", "f", "user.x");
        }));
        cases.Add(new("xattr-user-permissions", r =>
        {
            MkFile(r, "f", 1001, 1001, "0640");
            r.Do(A, "setxattr", "f", "user.x", "a");
            r.Do(B, "getxattr", "f", "user.x");
            r.Do(B, "setxattr", "f", "user.x", "b");
            r.Do(C, "getxattr", "f", "user.x");
            r.Do(C, "listxattr", "f");
            r.Do(B, "removexattr", "f", "user.x");
        }));
        cases.Add(new("xattr-user-on-symlink-and-fifo", r =>
        {
            r.Do(A, "symlink", "target", "l");
            r.Do(A, "setxattr", "l", "user.x", "a");
            r.Do(A, "mknod", "p", "010644");
            r.Do(A, "setxattr", "p", "user.x", "a");
            r.Do(A, "listxattr", "l");
        }));
        cases.Add(new("xattr-user-on-dir", r => { r.Do(A, "mkdir", "d", "0755"); r.Do(A, "setxattr", "d", "user.d", "dir"); r.Do(A, "getxattr", "d", "user.d"); r.Do(C, "setxattr", "d", "user.d", "x"); }));
        cases.Add(new("xattr-trusted", r =>
        {
            MkFile(r, "f", 1001, 1001, "0666");
            r.Do(R, "setxattr", "f", "trusted.t", "root");
            r.Do(R, "getxattr", "f", "trusted.t");
            r.Do(A, "getxattr", "f", "trusted.t");
            r.Do(A, "setxattr", "f", "trusted.u", "a");
            r.Do(A, "removexattr", "f", "trusted.t");
            r.Do(A, "listxattr", "f");
            r.Do(R, "listxattr", "f");
        }));
        cases.Add(new("xattr-security", r =>
        {
            MkFile(r, "f", 1001, 1001, "0666");
            r.Do(R, "setxattr", "f", "security.s", "root");
            r.Do(R, "getxattr", "f", "security.s");
            r.Do(A, "getxattr", "f", "security.s");
            r.Do(A, "setxattr", "f", "security.u", "a");
            r.Do(A, "listxattr", "f");
        }));
        cases.Add(new("xattr-unknown-namespace", r => { MkFile(r, "f", 1001, 1001, "0644"); r.Do(A, "setxattr", "f", "bogus.x", "a"); r.Do(A, "getxattr", "f", "bogus.x"); }));
        cases.Add(new("xattr-missing", r => { MkFile(r, "f", 1001, 1001, "0644"); r.Do(A, "getxattr", "f", "user.none"); r.Do(A, "removexattr", "f", "user.none"); r.Do(A, "listxattr", "f"); }));
        cases.Add(new("xattr-empty-and-large-values", r =>
        {
            MkFile(r, "f", 1001, 1001, "0644");
            r.Do(A, "setxattr", "f", "user.empty", "");
            r.Do(A, "getxattr", "f", "user.empty");
            r.Do(A, "setxattr", "f", "user.big", new string('v', 3000));
            r.Do(A, "getxattr", "f", "user.big", "0");
        }));
        cases.Add(new("xattr-by-other-owner-rw", r => { MkFile(r, "f", 1001, 1001, "0666"); r.Do(C, "setxattr", "f", "user.c", "c"); r.Do(A, "getxattr", "f", "user.c"); }));
        cases.Add(new("xattr-posix-acl-mode", r =>
        {
            MkFile(r, "f", 1001, 1001, "0644");
            r.Do(C, "setxattr", "f", "system.posix_acl_access", "x");
            r.Do(A, "getxattr", "f", "system.posix_acl_access");
        }));
    }

    private static void Locks(List<PosixCase> cases)
    {
        void Open2(CaseRun r, string mode = RdWr)
        {
            MkFile(r, "f", 1001, 1001, "0666", "0123456789");
            r.Do(A, "open", "x", "f", mode);
            r.Do(A2, "open", "y", "f", mode);
        }

        cases.Add(new("lock-write-conflict", r =>
        {
            Open2(r);
            r.Do(A, "lock", "x", "setlk", "w", "0", "10");
            r.Do(A2, "lock", "y", "getlk", "w", "0", "10");
            r.Do(A2, "lock", "y", "getlk", "r", "5", "1");
            r.Do(A2, "lock", "y", "setlk", "w", "5", "5");
            r.Do(A2, "lock", "y", "setlk", "w", "10", "5");
            r.Do(A, "lock", "x", "getlk", "w", "0", "0");
        }));
        cases.Add(new("lock-read-shared", r =>
        {
            Open2(r);
            r.Do(A, "lock", "x", "setlk", "r", "0", "0");
            r.Do(A2, "lock", "y", "setlk", "r", "0", "0");
            r.Do(A2, "lock", "y", "setlk", "w", "0", "0");
            r.Do(A, "lock", "x", "getlk", "w", "0", "0");
        }));
        cases.Add(new("lock-unlock-then-lock", r =>
        {
            Open2(r);
            r.Do(A, "lock", "x", "setlk", "w", "0", "0");
            r.Do(A, "lock", "x", "setlk", "u", "0", "0");
            r.Do(A2, "lock", "y", "setlkw", "w", "0", "0");
            r.Do(A, "lock", "x", "getlk", "r", "100", "1");
        }));
        cases.Add(new("lock-split-and-merge", r =>
        {
            Open2(r);
            r.Do(A, "lock", "x", "setlk", "w", "0", "100");
            r.Do(A, "lock", "x", "setlk", "u", "40", "20");
            r.Do(A2, "lock", "y", "getlk", "w", "0", "0");
            r.Do(A2, "lock", "y", "getlk", "w", "40", "20");
            r.Do(A2, "lock", "y", "getlk", "w", "45", "100");
            r.Do(A, "lock", "x", "setlk", "r", "30", "40");
            r.Do(A2, "lock", "y", "getlk", "r", "0", "0");
            r.Do(A2, "lock", "y", "getlk", "w", "30", "1");
        }));
        cases.Add(new("lock-close-any-fd-releases", r =>
        {
            Open2(r);
            r.Do(A, "open", "x2", "f", Rd);
            r.Do(A, "lock", "x", "setlk", "w", "0", "0");
            r.Do(A2, "lock", "y", "setlk", "w", "0", "0");
            r.Do(A, "close", "x2");
            r.Do(A2, "lock", "y", "setlk", "w", "0", "0");
        }));
        cases.Add(new("lock-type-vs-open-mode", r =>
        {
            MkFile(r, "f", 1001, 1001, "0666");
            r.Do(A, "open", "ro", "f", Rd);
            r.Do(A, "open", "wo", "f", Wr);
            r.Do(A, "lock", "ro", "setlk", "w", "0", "1");
            r.Do(A, "lock", "wo", "setlk", "r", "0", "1");
            r.Do(A, "lock", "ro", "setlk", "r", "0", "1");
            r.Do(A, "lock", "wo", "setlk", "w", "1", "1");
        }));
        cases.Add(new("lock-pid-reported", r =>
        {
            Open2(r);
            r.Do(A, "lock", "x", "setlk", "r", "3", "4");
            r.Do(A2, "lock", "y", "getlk", "w", "0", "0");
        }));
        cases.Add(new("lock-same-owner-two-fds", r =>
        {
            Open2(r);
            r.Do(A, "open", "x2", "f", RdWr);
            r.Do(A, "lock", "x", "setlk", "w", "0", "10");
            r.Do(A, "lock", "x2", "setlk", "w", "5", "10");
            r.Do(A2, "lock", "y", "getlk", "w", "0", "0");
        }));
        cases.Add(new("lock-ofd", r =>
        {
            Open2(r);
            r.Do(A, "lock", "x", "ofdset", "w", "0", "10");
            r.Do(A2, "lock", "y", "ofdget", "w", "0", "0");
            r.Do(A2, "lock", "y", "ofdset", "r", "5", "1");
            r.Do(A2, "lock", "y", "ofdset", "r", "10", "1");
        }));
        cases.Add(new("flock-exclusive", r =>
        {
            Open2(r);
            r.Do(A, "flock", "x", "exnb");
            r.Do(A2, "flock", "y", "exnb");
            r.Do(A2, "flock", "y", "shnb");
            r.Do(A, "flock", "x", "un");
            r.Do(A2, "flock", "y", "exnb");
        }));
        cases.Add(new("flock-shared", r =>
        {
            Open2(r);
            r.Do(A, "flock", "x", "shnb");
            r.Do(A2, "flock", "y", "shnb");
            r.Do(A, "flock", "x", "exnb");
            r.Do(A2, "close", "y");
            r.Do(A, "flock", "x", "exnb");
        }));
        cases.Add(new("flock-independent-of-posix", r =>
        {
            Open2(r);
            r.Do(A, "flock", "x", "exnb");
            r.Do(A2, "lock", "y", "setlk", "w", "0", "0");
            r.Do(A, "lock", "x", "setlk", "w", "0", "0");
        }));
        cases.Add(new("flock-per-open-file", r =>
        {
            Open2(r);
            r.Do(A, "open", "x2", "f", Rd);
            r.Do(A, "flock", "x", "exnb");
            r.Do(A, "flock", "x2", "exnb");
            r.Do(A, "close", "x");
            r.Do(A, "flock", "x2", "exnb");
        }));
    }

    private static void Holes(List<PosixCase> cases)
    {
        const string SeekData = "3", SeekHole = "4";
        void Sparse(CaseRun r)
        {
            r.Do(A, "open", "x", "f", "0x42", "0644");
            r.Do(A, "pwrite", "x", "0", "head");
            r.Do(A, "pwrite", "x", "1048576", "tail");
        }

        cases.Add(new("hole-seek-data-hole", r =>
        {
            Sparse(r);
            r.Do(A, "lseek", "x", "0", SeekData);
            r.Do(A, "lseek", "x", "0", SeekHole);
            r.Do(A, "lseek", "x", "8192", SeekData);
            r.Do(A, "lseek", "x", "1048576", SeekHole);
            r.Do(A, "lseek", "x", "1048580", SeekData);
            r.Do(A, "lseek", "x", "2000000", SeekHole);
            r.Do(A, "pread", "x", "500000", "4");
        }));
        cases.Add(new("hole-punch", r =>
        {
            r.Do(A, "open", "x", "f", "0x42", "0644");
            r.Do(A, "pwrite", "x", "0", new string('d', 3 * 4096));
            r.Do(A, "fallocate", "x", "3", "4096", "4096");
            r.Do(A, "lseek", "x", "0", SeekHole);
            r.Do(A, "lseek", "x", "4096", SeekData);
            r.Do(A, "pread", "x", "4094", "4");
            r.Do(A, "stat", "f");
        }));
        cases.Add(new("hole-fallocate-keep-size", r =>
        {
            r.Do(A, "open", "x", "f", "0x42", "0644");
            r.Do(A, "fallocate", "x", "1", "0", "65536");
            r.Do(A, "stat", "f");
            r.Do(A, "fallocate", "x", "0", "0", "100");
            r.Do(A, "stat", "f");
        }));
        cases.Add(new("hole-seek-empty-file", r => { r.Do(A, "open", "x", "f", "0x42", "0644"); r.Do(A, "lseek", "x", "0", SeekData); r.Do(A, "lseek", "x", "0", SeekHole); }));
        cases.Add(new("hole-fallocate-readonly-fd", r => { MkFile(r, "f", 1001, 1001, "0644"); r.Do(A, "open", "x", "f", Rd); r.Do(A, "fallocate", "x", "0", "0", "100"); }));
    }

    private static void Misc(List<PosixCase> cases)
    {
        cases.Add(new("mknod-fifo-user", r => { r.Do(A, "mknod", "p", "010640"); r.Do(A, "stat", "p"); }));
        cases.Add(new("mknod-chardev-user", r => r.Do(A, "mknod", "c", "020644", "259")));
        cases.Add(new("mknod-chardev-root", r => { r.Do(R, "mknod", "c", "020644", "259"); r.Do(R, "stat", "c"); }));
        cases.Add(new("mknod-socket-and-regular", r => { r.Do(A, "mknod", "s", "0140644"); r.Do(A, "mknod", "r", "0100600"); r.Do(A, "stat", "s"); r.Do(A, "stat", "r"); }));
        cases.Add(new("chmod-by-non-owner", r => { MkFile(r, "f", 1001, 1001, "0666"); r.Do(B, "chmod", "f", "0777"); r.Do(R, "stat", "f"); }));
        cases.Add(new("chmod-sgid-by-non-member", r =>
        {
            MkFile(r, "f", 1003, 1001, "0644");
            r.Do(C, "chmod", "f", "02755");
            r.Do(R, "stat", "f");
        }));
        cases.Add(new("chmod-sticky-on-file", r => { MkFile(r, "f", 1001, 1001, "0644"); r.Do(A, "chmod", "f", "01644"); r.Do(A, "stat", "f"); }));
        cases.Add(new("chown-by-user", r =>
        {
            MkFile(r, "f", 1002, 1002, "0644");
            r.Do(B, "chown", "f", "1002", "1001");
            r.Do(R, "stat", "f");
            r.Do(B, "chown", "f", "1002", "1003");
            r.Do(B, "chown", "f", "1001", "4294967295");
            r.Do(C, "chown", "f", "4294967295", "1003");
        }));
        cases.Add(new("chown-clears-suid", r => { MkFile(r, "f", 1001, 1001, "06755"); r.Do(R, "chown", "f", "1002", "1002"); r.Do(R, "stat", "f"); }));
        cases.Add(new("chown-noop-by-owner", r => { MkFile(r, "f", 1001, 1001, "0644"); r.Do(A, "chown", "f", "4294967295", "4294967295"); r.Do(A, "chown", "f", "1001", "1001"); }));
        cases.Add(new("rmdir-nonempty-and-file", r =>
        {
            r.Do(A, "mkdir", "d", "0755");
            MkFile(r, "d/f", 1001, 1001, "0644");
            r.Do(A, "rmdir", "d");
            r.Do(A, "rmdir", "d/f");
            r.Do(A, "unlink", "d");
            r.Do(A, "rmdir", "d/.");
            r.Do(A, "rmdir", "nonexistent");
        }));
        cases.Add(new("mkdir-existing", r => { r.Do(A, "mkdir", "d", "0755"); r.Do(A, "mkdir", "d", "0755"); MkFile(r, "f", 1001, 1001, "0644"); r.Do(A, "mkdir", "f", "0755"); }));
        cases.Add(new("symlink-readlink", r =>
        {
            r.Do(A, "symlink", "some/where/../else", "l");
            r.Do(A, "readlink", "l");
            r.Do(A, "lstat", "l");
            r.Do(A, "stat", "l");
            r.Do(A, "readlink", ".");
            r.Do(A, "symlink", "x", "l");
        }));
        cases.Add(new("symlink-long-target", r => { string target = new('t', 4000); r.Do(A, "symlink", target, "l"); r.Do(A, "lstat", "l"); r.Do(A, "symlink", new string('t', 5000), "m"); }));
        cases.Add(new("readdir-contents", r =>
        {
            r.Do(A, "mkdir", "d", "0755");
            for (int i = 0; i < 50; i++)
            {
                r.Do(A, "open", "x", $"d/file-{i:D3}", CreatWr, "0644");
            }

            r.Do(A, "mkdir", "d/sub", "0755");
            r.Do(A, "symlink", "x", "d/link");
            r.Do(A, "readdir", "d");
            r.Do(A, "unlink", "d/file-007");
            r.Do(A, "readdir", "d");
        }));
        cases.Add(new("access-root-exec", r =>
        {
            MkFile(r, "f", 1001, 1001, "0644");
            MkFile(r, "g", 1001, 1001, "0010");
            r.Do(R, "access", "f", "1");
            r.Do(R, "access", "g", "1");
            r.Do(R, "access", "f", "6");
        }));
        cases.Add(new("fchmod-open-file", r => { MkFile(r, "f", 1001, 1001, "0644"); r.Do(A, "open", "x", "f", Rd); r.Do(A, "fchmod", "x", "0600"); r.Do(B, "open", "y", "f", Rd); r.Do(B, "fchmod", "y", "0777"); r.Do(A, "stat", "f"); }));
        cases.Add(new("write-read-large", r =>
        {
            string block = string.Concat(Enumerable.Range(0, 2000).Select(i => (char)('a' + (i % 26))));
            r.Do(A, "open", "x", "f", "0x42", "0644");
            for (int i = 0; i < 8; i++)
            {
                r.Do(A, "pwrite", "x", (i * 70_000).ToString(CultureInfo.InvariantCulture), block);
            }

            r.Do(A, "stat", "f");
            r.Do(A, "pread", "x", "489990", "30");
            r.Do(A, "pread", "x", "500000", "10");
        }));
    }
}
