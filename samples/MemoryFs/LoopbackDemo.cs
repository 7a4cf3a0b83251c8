using System.Text;
using Microsoft.Extensions.Logging;
using VirtioFs.Protocol;
using VirtioFs.Transport;

namespace VirtioFs.Samples.MemoryFs;

/// <summary>A scripted session over the in-process loopback: a client playing the kernel drives MemoryFs and prints each step.</summary>
internal static class LoopbackDemo
{
    public static async Task<int> RunAsync(ILoggerFactory loggers)
    {
        var fs = new MemoryFileSystem(uid: 1000, gid: 1000);
        await using FuseLoopbackHost host = await FuseLoopbackHost.StartAsync(fs, new FuseSessionOptions
        {
            Capabilities = FuseSessionOptions.DefaultCapabilities | FuseInitFlags.PosixLocks | FuseInitFlags.DoReaddirplus,
        }, logger: loggers.CreateLogger<FuseSession>());
        FuseLoopbackClient client = host.Client;
        client.Caller = new FuseCaller(1000, 1000, (uint)Environment.ProcessId);
        const ulong Root = FuseConstants.RootId;

        Console.WriteLine($"INIT: protocol 7.{host.Init.Minor}, max_write {host.Init.MaxWrite}, flags {(FuseInitFlags)(host.Init.Flags | ((ulong)host.Init.Flags2 << 32))}");

        FuseEntryOut docs = Expect(await client.MkDirAsync(Root, "docs", 0x1ED), "mkdir /docs");
        Console.WriteLine($"mkdir /docs -> node {docs.Nodeid}, mode {Convert.ToString(docs.Attr.Mode, 8)}");

        FuseCreateOut created = Expect(await client.CreateAsync(docs.Nodeid, "hello.txt", 0x41 /* O_WRONLY|O_CREAT */, FuseFileMode.RegularFile | 0x1A4), "create");
        ulong file = created.Entry.Nodeid;
        byte[] text = Encoding.UTF8.GetBytes("Hello from VirtioFs!\n");
        int written = Expect(await client.WriteAsync(file, created.Open.Fh, 0, text), "write");
        Console.WriteLine($"create /docs/hello.txt -> node {file}; wrote {written} bytes");

        int sparse = Expect(await client.WriteAsync(file, created.Open.Fh, 5UL << 30, "tail"u8.ToArray()), "write at 5 GiB");
        FuseAttrOut attr = Expect(await client.GetAttrAsync(file), "getattr");
        Console.WriteLine($"wrote {sparse} bytes at 5 GiB -> size {attr.Attr.Size}, {attr.Attr.Blocks} blocks of 512 bytes allocated (sparse)");
        ulong data = Expect(await client.LseekAsync(file, created.Open.Fh, 4096, 3 /* SEEK_DATA */), "lseek");
        Console.WriteLine($"SEEK_DATA from 4096 -> {data}");
        Status(await client.ReleaseAsync(file, created.Open.Fh), "release");

        FuseOpenOut opened = Expect(await client.OpenAsync(file, 0 /* O_RDONLY */), "open");
        byte[] buffer = new byte[64];
        int read = Expect(await client.ReadAsync(file, opened.Fh, 0, buffer), "read");
        Console.WriteLine($"read -> \"{Encoding.UTF8.GetString(buffer, 0, read).TrimEnd('\0', '\n')}\"");
        Status(await client.ReleaseAsync(file, opened.Fh), "release");

        Expect(await client.SymlinkAsync(Root, "latest", "docs/hello.txt"), "symlink");
        FuseEntryOut link = Expect(await client.LookupAsync(Root, "latest"), "lookup");
        Console.WriteLine($"symlink /latest -> {Expect(await client.ReadLinkAsync(link.Nodeid), "readlink")}");

        Status(await client.SetXattrAsync(file, "user.color", "blue"u8.ToArray()), "setxattr");
        int length = Expect(await client.GetXattrAsync(file, "user.color", buffer), "getxattr");
        Console.WriteLine($"xattr user.color = {Encoding.UTF8.GetString(buffer, 0, length)}");

        Status(await client.RenameAsync(docs.Nodeid, "hello.txt", Root, "greeting.txt"), "rename");
        Console.WriteLine("rename /docs/hello.txt -> /greeting.txt");

        FuseOpenOut dir = Expect(await client.OpenDirAsync(Root), "opendir");
        Console.WriteLine("readdirplus /:");
        foreach (FuseDirectoryEntry entry in Expect(await client.ReadDirPlusAsync(Root, dir.Fh, 0), "readdirplus"))
        {
            Console.WriteLine($"  {entry.Type,-4} {entry.Name,-14} node {entry.Entry?.Nodeid}, size {entry.Entry?.Attr.Size}");
        }

        Status(await client.ReleaseDirAsync(Root, dir.Fh), "releasedir");
        FuseKstatfs statfs = Expect(await client.StatFsAsync(), "statfs");
        Console.WriteLine($"statfs: {statfs.Files - statfs.Ffree} nodes in use, block size {statfs.Bsize}");
        Console.WriteLine($"lookup of a missing name -> {(await client.LookupAsync(Root, "missing")).Error}");
        return 0;
    }

    private static T Expect<T>(FuseResult<T> result, string step)
        => result.IsSuccess ? result.Value! : throw new InvalidOperationException($"{step} failed: {result.Error}");

    private static void Status(Errno error, string step)
    {
        if (error != Errno.Success)
        {
            throw new InvalidOperationException($"{step} failed: {error}");
        }
    }
}
