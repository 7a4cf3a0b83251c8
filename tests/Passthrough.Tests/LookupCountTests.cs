using System.Runtime.InteropServices;
using VirtioFs.Protocol;
using VirtioFs.Samples.Passthrough;
using VirtioFs.Transport;

namespace VirtioFs.Passthrough.Tests;

/// <summary>
/// Lookup counting over the loopback transport (no kernel): every LOOKUP of a name counts one reference to the host
/// inode's node, held by one <c>O_PATH</c> descriptor however often or under however many names it is looked up, and the
/// descriptor is closed exactly when FORGET has given every lookup back. The descriptor is found in /proc/self/fd by
/// the path it points to, so other tests opening files meanwhile do not disturb the count.
/// </summary>
public sealed partial class LookupCountTests : IDisposable
{
    private readonly string _source = Path.Combine("/tmp", "ptfs-lookup-" + Guid.NewGuid().ToString("N")[..12]);

    public LookupCountTests() => Directory.CreateDirectory(_source);

    [Fact]
    public async Task Lookup_n_times_then_forget_n_closes_the_node_descriptor()
    {
        string file = Path.Combine(_source, "f"), link = Path.Combine(_source, "hard");
        File.WriteAllText(file, "x");
        File.CreateSymbolicLink(Path.Combine(_source, "sym"), "f");
        Assert.Equal(0, Link(file, link));

        using (PassthroughFileSystem fs = InProcess.Create(_source))
        {
            await using FuseLoopbackHost host = await FuseLoopbackHost.StartAsync(fs, new FuseSessionOptions { Capabilities = PassthroughFileSystem.Capabilities(fs.Options) });
            FuseLoopbackClient client = host.Client;
            int nodesBefore = fs.NodeCount;
            const int Lookups = 5;
            ulong node = 0;
            for (int i = 0; i < Lookups; i++)
            {
                FuseResult<FuseEntryOut> entry = await client.LookupAsync(FuseConstants.RootId, i % 2 == 0 ? "f" : "hard");
                Assert.True(entry.IsSuccess, $"lookup {i}: {entry.Error}");
                Assert.True(node == 0 || node == entry.Value.Nodeid, "a hard link is a second node");
                node = entry.Value.Nodeid;
            }

            // The symlink is a node of its own (looked up without following it).
            FuseResult<FuseEntryOut> symlink = await client.LookupAsync(FuseConstants.RootId, "sym");
            Assert.True(symlink.IsSuccess && symlink.Value.Nodeid != node);
            Assert.Equal(nodesBefore + 2, fs.NodeCount);
            Assert.Equal(1, DescriptorsOf(file, link));

            await client.ForgetAsync(node, Lookups - 1);
            // FORGET has no reply (the client's task ends when the server has consumed it): give a wrong close time to show.
            await Task.Delay(100);
            Assert.Equal(1, DescriptorsOf(file, link));
            Assert.Equal(nodesBefore + 2, fs.NodeCount);

            await client.ForgetAsync(node, 1);
            await WaitFor(() => fs.NodeCount == nodesBefore + 1);
            Assert.Equal(0, DescriptorsOf(file, link));

            // BATCH_FORGET gives lookups back the same way.
            await client.BatchForgetAsync([new FuseForgetOne { Nodeid = symlink.Value.Nodeid, Nlookup = 1 }]);
            await WaitFor(() => fs.NodeCount == nodesBefore);

            // A node forgotten and looked up again is a fresh node with a fresh descriptor.
            FuseResult<FuseEntryOut> again = await client.LookupAsync(FuseConstants.RootId, "f");
            Assert.True(again.IsSuccess);
            Assert.Equal(1, DescriptorsOf(file, link));
            await client.ForgetAsync(again.Value.Nodeid, 1);
            await WaitFor(() => fs.NodeCount == nodesBefore);
            Assert.Equal(0, DescriptorsOf(file, link));
        }
    }

    public void Dispose() => Directory.Delete(_source, recursive: true);

    /// <summary>How many of this process's descriptors point at the file (by either of its names).</summary>
    private static int DescriptorsOf(params string[] paths)
    {
        int count = 0;
        foreach (string fd in Directory.GetFiles("/proc/self/fd"))
        {
            try
            {
                count += new FileInfo(fd).LinkTarget is { } target && paths.Contains(target) ? 1 : 0;
            }
            catch (IOException)
            {
                // Closed meanwhile (another test's descriptor).
            }
        }

        return count;
    }

    private static async Task WaitFor(Func<bool> condition)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), "timed out");
            await Task.Delay(10);
        }
    }

    [LibraryImport("libc.so.6", EntryPoint = "link", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Link(string target, string path);
}

/// <summary>A <see cref="PassthroughFileSystem"/> in the test process, for the loopback tests.</summary>
internal static partial class InProcess
{
    /// <summary>Creates the filesystem for <paramref name="source"/>. Its constructor clears the process umask (a server
    /// process sets it once); the test process gets its own back.</summary>
    public static PassthroughFileSystem Create(string source, bool readOnly = false)
    {
        uint umask = Umask(0);
        try
        {
            return new PassthroughFileSystem(new PassthroughOptions(source) { ReadOnly = readOnly });
        }
        finally
        {
            _ = Umask(umask);
        }
    }

    [LibraryImport("libc.so.6", EntryPoint = "umask")]
    private static partial uint Umask(uint mask);
}
