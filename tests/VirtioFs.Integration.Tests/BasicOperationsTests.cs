using System.IO.MemoryMappedFiles;
using System.Text;
using VirtioFs.Protocol;

namespace VirtioFs.Integration.Tests;

/// <summary>Everyday file operations through the kernel on an in-process MemoryFs.</summary>
[Collection(KernelCollection.Name)]
public sealed class BasicOperationsTests
{
    [KernelFact]
    public async Task CreateWriteReadAndStat()
    {
        KernelEnvironment.Require();
        await using MountedFileSystem mount = await MountedFileSystem.StartAsync();
        string path = mount.PathOf("hello.txt");

        await TestIo.Run(() =>
        {
            File.WriteAllText(path, "hello, kernel");
            Assert.Equal("hello, kernel", File.ReadAllText(path));
            File.AppendAllText(path, "!");
            Assert.Equal("hello, kernel!", File.ReadAllText(path));

            Assert.Equal(14, new FileInfo(path).Length);
            Native.StatxBuffer stat = Native.Stat(path);
            Assert.Equal(14UL, stat.Size);
            Assert.Equal(1U, stat.Nlink);
            Assert.Equal(0x8000, stat.Mode & 0xF000);
            Assert.Equal(Native.GetUid(), stat.Uid);

            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead, File.GetUnixFileMode(path));
            Assert.Equal(0x1A0, Native.Stat(path).Mode & 0xFFF);

            Assert.Contains("hello.txt", Directory.GetFiles(mount.MountPoint).Select(Path.GetFileName));
        });

        // What the kernel showed is what the filesystem holds.
        Assert.Equal("hello, kernel!", Encoding.UTF8.GetString(await TestIo.ReadBehindKernelAsync(mount.FileSystem, "hello.txt")));
    }

    [KernelFact]
    public async Task WritesTruncatesAndChownDropPrivilegesAsTheVfsDoes()
    {
        KernelEnvironment.Require();
        await using MountedFileSystem mount = await MountedFileSystem.StartAsync();
        string path = mount.PathOf("tool");
        const UnixFileMode SetIdExecutable = (UnixFileMode)0xDED; // 06755

        // A version-2 vfs_cap_data granting CAP_NET_RAW; the kernel checks its form before it reaches the server.
        byte[] capability = [0, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        void Privilege()
        {
            File.SetUnixFileMode(path, SetIdExecutable);
            Native.SetXattr(path, "security.capability", capability);
            Assert.Equal(capability, Native.GetXattr(path, "security.capability"));
        }

        await TestIo.Run(() => File.WriteAllText(path, "x"));

        // FUSE_HANDLE_KILLPRIV_V2 is negotiated: the kernel leaves this to MemoryFs and sends no GETXATTR per write.
        Assert.True(mount.Session.Connection!.Flags.HasFlag(FuseInitFlags.HandleKillprivV2));

        // Root keeps CAP_FSETID: its write keeps the set-id bits but drops the capability.
        await TestIo.Run(Privilege);
        await TestIo.Run(() => File.AppendAllText(path, "y"));
        Assert.Equal(0xDED, Native.Stat(path).Mode & 0xFFF);
        Assert.Null(Native.GetXattr(path, "security.capability"));

        // Without CAP_FSETID (root with it dropped from its bounding set before exec) the set-id bits go too.
        await TestIo.Run(Privilege);
        (int exit, string output) = await TestIo.RunCommandAsync("setpriv", "--bounding-set=-fsetid", "sh", "-c", $"printf z >> '{path}'");
        Assert.True(exit == 0, output);
        Assert.Equal(0x1ED, Native.Stat(path).Mode & 0xFFF);
        Assert.Null(Native.GetXattr(path, "security.capability"));

        // truncate(2) without CAP_FSETID drops both.
        await TestIo.Run(Privilege);
        (exit, output) = await TestIo.RunCommandAsync("setpriv", "--bounding-set=-fsetid", "truncate", "-s", "1", path);
        Assert.True(exit == 0, output);
        Assert.Equal(0x1ED, Native.Stat(path).Mode & 0xFFF);
        Assert.Equal(1UL, Native.Stat(path).Size);
        Assert.Null(Native.GetXattr(path, "security.capability"));

        // chown(2) drops both whoever calls it.
        await TestIo.Run(Privilege);
        (exit, output) = await TestIo.RunCommandAsync("chown", "1000:1000", path);
        Assert.True(exit == 0, output);
        Native.StatxBuffer owned = Native.Stat(path);
        Assert.Equal((1000U, 1000U, 0x1ED), (owned.Uid, owned.Gid, owned.Mode & 0xFFF));
        Assert.Null(Native.GetXattr(path, "security.capability"));
        Assert.Equal("x", Encoding.UTF8.GetString(await TestIo.ReadBehindKernelAsync(mount.FileSystem, "tool")));
    }

    [KernelFact]
    public async Task TimestampsChangeOnWrite()
    {
        KernelEnvironment.Require();
        await using MountedFileSystem mount = await MountedFileSystem.StartAsync();
        string path = mount.PathOf("times");

        await TestIo.Run(() =>
        {
            File.WriteAllText(path, "one");
            Native.StatxBuffer before = Native.Stat(path);
            Thread.Sleep(30);
            using (var stream = new FileStream(path, FileMode.Open, FileAccess.Write))
            {
                stream.Write("two"u8);
            }

            Native.StatxBuffer after = Native.Stat(path);
            Assert.True(after.Mtime.TotalNanoseconds > before.Mtime.TotalNanoseconds, $"mtime {before.Mtime.TotalNanoseconds} -> {after.Mtime.TotalNanoseconds}");
            Assert.True(after.Ctime.TotalNanoseconds > before.Ctime.TotalNanoseconds, $"ctime {before.Ctime.TotalNanoseconds} -> {after.Ctime.TotalNanoseconds}");
            Assert.True(File.GetLastWriteTimeUtc(path) > DateTime.UtcNow.AddMinutes(-1));

            // An explicit utimens goes through SETATTR and comes back.
            var stamp = new DateTime(2001, 2, 3, 4, 5, 6, DateTimeKind.Utc);
            File.SetLastWriteTimeUtc(path, stamp);
            Assert.Equal(stamp, File.GetLastWriteTimeUtc(path));
        });
    }

    [KernelFact]
    public async Task RenameHardLinkAndSymlink()
    {
        KernelEnvironment.Require();
        await using MountedFileSystem mount = await MountedFileSystem.StartAsync();
        string original = mount.PathOf("original");
        string renamed = mount.PathOf("renamed");
        string hardLink = mount.PathOf("hard");
        string symlink = mount.PathOf("soft");

        await TestIo.Run(() =>
        {
            File.WriteAllText(original, "content");
            File.Move(original, renamed);
            Assert.False(File.Exists(original));
            Assert.Equal("content", File.ReadAllText(renamed));

            Directory.CreateDirectory(mount.PathOf("dir"));
            File.Move(renamed, mount.PathOf("dir/moved"));
            File.Move(mount.PathOf("dir/moved"), renamed);
            Assert.Empty(Directory.GetFileSystemEntries(mount.PathOf("dir")));

            Native.Link(renamed, hardLink);
            Native.StatxBuffer a = Native.Stat(renamed);
            Native.StatxBuffer b = Native.Stat(hardLink);
            Assert.Equal(a.Ino, b.Ino);
            Assert.Equal(2U, a.Nlink);
            Assert.Equal(2U, b.Nlink);
            File.AppendAllText(hardLink, "+");
            Assert.Equal("content+", File.ReadAllText(renamed));
            File.Delete(renamed);
            Assert.Equal(1U, Native.Stat(hardLink).Nlink);
            Assert.Equal("content+", File.ReadAllText(hardLink));

            File.CreateSymbolicLink(symlink, "hard");
            var info = new FileInfo(symlink);
            Assert.Equal("hard", info.LinkTarget);
            Assert.Equal(0xA000, Native.Stat(symlink).Mode & 0xF000);
            Assert.Equal("content+", File.ReadAllText(symlink));
            File.Delete(hardLink);
            Assert.Throws<FileNotFoundException>(() => File.ReadAllText(symlink));
            Assert.Equal("hard", new FileInfo(symlink).LinkTarget); // dangling, still readable as a link
        });
    }

    [KernelFact]
    public async Task ExtendedAttributes()
    {
        KernelEnvironment.Require();
        await using MountedFileSystem mount = await MountedFileSystem.StartAsync();
        string path = mount.PathOf("xattrs");

        await TestIo.Run(() =>
        {
            File.WriteAllText(path, "x");
            Assert.Null(Native.GetXattr(path, "user.missing"));
            Native.SetXattr(path, "user.color", "blue"u8.ToArray());
            Native.SetXattr(path, "user.empty", []);
            byte[] big = Enumerable.Range(0, 3000).Select(i => (byte)i).ToArray();
            Native.SetXattr(path, "user.big", big);

            Assert.Equal("blue"u8.ToArray(), Native.GetXattr(path, "user.color"));
            byte[]? empty = Native.GetXattr(path, "user.empty");
            Assert.NotNull(empty);
            Assert.Empty(empty);
            Assert.Equal(big, Native.GetXattr(path, "user.big"));
            Assert.Equal(new[] { "user.big", "user.color", "user.empty" }, Native.ListXattr(path).Order().ToArray());

            Native.SetXattr(path, "user.color", "red"u8.ToArray());
            Assert.Equal("red"u8.ToArray(), Native.GetXattr(path, "user.color"));

            Native.RemoveXattr(path, "user.color");
            Assert.Null(Native.GetXattr(path, "user.color"));
            Assert.Equal(new[] { "user.big", "user.empty" }, Native.ListXattr(path).Order().ToArray());
        });
    }

    [KernelFact]
    public async Task TruncateUpAndDown()
    {
        KernelEnvironment.Require();
        await using MountedFileSystem mount = await MountedFileSystem.StartAsync();
        string path = mount.PathOf("truncate");

        await TestIo.Run(() =>
        {
            File.WriteAllBytes(path, "0123456789"u8.ToArray());
            using (var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite))
            {
                stream.SetLength(100_000);
            }

            byte[] grown = File.ReadAllBytes(path);
            Assert.Equal(100_000, grown.Length);
            Assert.Equal("0123456789"u8.ToArray(), grown[..10]);
            Assert.All(grown[10..], b => Assert.Equal(0, b));

            using (var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite))
            {
                stream.SetLength(4);
            }

            Assert.Equal("0123"u8.ToArray(), File.ReadAllBytes(path));
            Assert.Equal(4, new FileInfo(path).Length);

            // Bytes past a shrink must not come back when growing again.
            using (var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite))
            {
                stream.SetLength(8);
            }

            Assert.Equal("0123\0\0\0\0"u8.ToArray(), File.ReadAllBytes(path));

            // O_TRUNC (atomic with the open).
            File.WriteAllText(path, "new");
            Assert.Equal("new", File.ReadAllText(path));
        });
    }

    [KernelFact]
    public async Task MemoryMappedWritesReachTheFileSystem()
    {
        KernelEnvironment.Require();
        await using MountedFileSystem mount = await MountedFileSystem.StartAsync();
        string path = mount.PathOf("mapped");
        const int Length = 3 * 4096 + 100;
        byte[] expected = new byte[Length];
        new Random(7).NextBytes(expected);

        await TestIo.Run(() =>
        {
            File.WriteAllBytes(path, new byte[Length]);
            using (MemoryMappedFile map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.ReadWrite))
            using (MemoryMappedViewAccessor view = map.CreateViewAccessor(0, Length))
            {
                view.WriteArray(0, expected, 0, Length);
                view.Flush();
            }

            Assert.Equal(expected, File.ReadAllBytes(path));
            Assert.Equal(Length, new FileInfo(path).Length);
        });

        // The dirty pages were written back to the filesystem, not only kept in the page cache.
        Assert.Equal(expected, await TestIo.ReadBehindKernelAsync(mount.FileSystem, "mapped"));
    }

    [KernelFact]
    public async Task MemoryMappedReadsSeeTheContent()
    {
        KernelEnvironment.Require();
        await using MountedFileSystem mount = await MountedFileSystem.StartAsync();
        string path = mount.PathOf("readmap");
        byte[] expected = new byte[20_000];
        new Random(11).NextBytes(expected);

        await TestIo.Run(() =>
        {
            File.WriteAllBytes(path, expected);
            using MemoryMappedFile map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
            using MemoryMappedViewAccessor view = map.CreateViewAccessor(0, expected.Length, MemoryMappedFileAccess.Read);
            byte[] actual = new byte[expected.Length];
            Assert.Equal(expected.Length, view.ReadArray(0, actual, 0, actual.Length));
            Assert.Equal(expected, actual);
        });
    }
}
