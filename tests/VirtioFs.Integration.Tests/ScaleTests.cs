using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using VirtioFs.Protocol;

namespace VirtioFs.Integration.Tests;

/// <summary>Big directories, parallel I/O and sparse files through the kernel on MemoryFs.</summary>
[Collection(KernelCollection.Name)]
public sealed class ScaleTests
{
    [KernelFact]
    public async Task TenThousandEntriesAreListedCompletely()
    {
        KernelEnvironment.Require();
        await using MountedFileSystem mount = await MountedFileSystem.StartAsync();
        string directory = mount.PathOf("big");
        const int Count = 10_000;
        string[] names = Enumerable.Range(0, Count).Select(i => $"entry-{i:D5}-{(i * 7919) % 10007}").ToArray();

        await TestIo.Run(
            () =>
            {
                Directory.CreateDirectory(directory);
                Parallel.ForEach(
                    Partitioner(names, 4),
                    new ParallelOptions { MaxDegreeOfParallelism = 4 },
                    chunk =>
                    {
                        foreach (string name in chunk)
                        {
                            using var stream = new FileStream(Path.Combine(directory, name), FileMode.CreateNew, FileAccess.Write);
                        }
                    });
            },
            TimeSpan.FromSeconds(60));

        string[] listed = await TestIo.Run(() => Directory.EnumerateFiles(directory).Select(p => Path.GetFileName(p)).ToArray(), TimeSpan.FromSeconds(60));
        Assert.Equal(Count, listed.Length);
        Assert.True(names.ToHashSet().SetEquals(listed), "the listed names differ from the created ones");

        // A second listing (now from READDIR or the kernel's cache) is complete too.
        int again = await TestIo.Run(() => Directory.EnumerateFileSystemEntries(directory).Count(), TimeSpan.FromSeconds(60));
        Assert.Equal(Count, again);
    }

    [KernelTheory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task EightThreadsReadAndWriteDifferentFilesInParallel(bool parkIdleWorkers)
    {
        KernelEnvironment.Require();
        await using MountedFileSystem mount = await MountedFileSystem.StartAsync(parkIdleWorkers: parkIdleWorkers);
        const int Threads = 8;
        const int Size = 4 << 20;
        const int Chunk = 100_000; // not a page multiple, so writes straddle pages
        var failures = new System.Collections.Concurrent.ConcurrentQueue<string>();

        Thread[] threads = Enumerable.Range(0, Threads).Select(t => new Thread(() =>
        {
            try
            {
                byte[] data = new byte[Size];
                new Random(t).NextBytes(data);
                string path = mount.PathOf($"parallel-{t}");
                using (var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 0))
                {
                    for (int offset = 0; offset < Size; offset += Chunk)
                    {
                        stream.Write(data, offset, Math.Min(Chunk, Size - offset));
                    }
                }

                byte[] back = new byte[Size];
                using (var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0))
                {
                    int total = 0;
                    while (total < Size)
                    {
                        int n = stream.Read(back, total, Math.Min(Chunk, Size - total));
                        if (n == 0)
                        {
                            break;
                        }

                        total += n;
                    }

                    if (total != Size)
                    {
                        failures.Enqueue($"thread {t}: read {total} of {Size} bytes");
                    }
                }

                if (!data.AsSpan().SequenceEqual(back))
                {
                    failures.Enqueue($"thread {t}: the data read back differs (SHA-256 {Convert.ToHexString(SHA256.HashData(data))[..16]} vs {Convert.ToHexString(SHA256.HashData(back))[..16]})");
                }
            }
            catch (Exception ex)
            {
                failures.Enqueue($"thread {t}: {ex}");
            }
        })
        { IsBackground = true, Name = $"io-{t}" }).ToArray();

        foreach (Thread thread in threads)
        {
            thread.Start();
        }

        await TestIo.Run(() =>
        {
            foreach (Thread thread in threads)
            {
                Assert.True(thread.Join(TimeSpan.FromSeconds(60)), $"{thread.Name} did not finish");
            }
        }, TimeSpan.FromSeconds(90));

        Assert.Empty(failures);
        for (int t = 0; t < Threads; t++)
        {
            Assert.Equal(Size, new FileInfo(mount.PathOf($"parallel-{t}")).Length);
        }
    }

    [KernelFact]
    public async Task WithParkedWorkersAWorkerBlockedInTheFileSystemDoesNotHoldUpOtherRequests()
    {
        KernelEnvironment.Require();
        var fs = new ScriptedFileSystem(TimeSpan.Zero);
        ScriptedFile slow = fs.Add("slow", new byte[4096], FuseOpenOutFlags.DirectIo);
        fs.Add("fast", Encoding.ASCII.GetBytes("fast"));
        using var release = new ManualResetEventSlim();
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        // A READ that holds its worker thread (a synchronous host call that blocks), not one set aside by the session.
        slow.Read = (context, args, buffer) =>
        {
            entered.TrySetResult();
            release.Wait(TimeSpan.FromSeconds(30));
            return new(0);
        };

        await using MountedFileSystem mount = await MountedFileSystem.StartAsync(fs, workers: 2, parkIdleWorkers: true);
        Process? cat = null;
        try
        {
            cat = TestIo.Start("cat", mount.PathOf("slow"));
            await entered.Task.WaitAsync(TimeSpan.FromSeconds(10));

            // The reading worker is stuck; the parked one takes over and serves these meanwhile.
            Assert.Equal("fast", await TestIo.Run(() => File.ReadAllText(mount.PathOf("fast")), TimeSpan.FromSeconds(10)));
            Assert.False(cat.HasExited);
        }
        finally
        {
            release.Set();
            TestIo.KillAndWait(cat);
            cat?.Dispose();
        }
    }

    [KernelFact]
    public async Task SparseFileOfEightGibibytes()
    {
        KernelEnvironment.Require();
        await using MountedFileSystem mount = await MountedFileSystem.StartAsync();
        string path = mount.PathOf("sparse");
        const long Size = 8L << 30;
        byte[] tail = "the end"u8.ToArray();

        await TestIo.Run(() =>
        {
            using (var stream = new FileStream(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, bufferSize: 0))
            {
                stream.SetLength(Size);
                Assert.Equal(Size, stream.Length);
                stream.Position = Size;
                stream.Write(tail);
            }

            Assert.Equal(Size + tail.Length, new FileInfo(path).Length);
            Native.StatxBuffer stat = Native.Stat(path);
            Assert.Equal((ulong)(Size + tail.Length), stat.Size);
            Assert.True(stat.Blocks * 512 <= 1 << 20, $"st_blocks {stat.Blocks} ({stat.Blocks * 512} bytes) for a file with {tail.Length} bytes of data");

            using (var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0))
            {
                byte[] back = new byte[tail.Length + 10];
                stream.Position = Size - 10;
                int total = 0;
                while (total < back.Length)
                {
                    int n = stream.Read(back, total, back.Length - total);
                    Assert.NotEqual(0, n);
                    total += n;
                }

                Assert.Equal(new byte[10], back[..10]);
                Assert.Equal(tail, back[10..]);

                byte[] middle = new byte[4096];
                stream.Position = Size / 2;
                Assert.Equal(middle.Length, stream.Read(middle));
                Assert.All(middle, b => Assert.Equal(0, b));
            }
        });

        (int exitCode, string output) = await TestIo.RunCommandAsync("stat", "-c", "%b %B %s", path);
        Assert.Equal(0, exitCode);
        string[] fields = output.Trim().Split(' ');
        Assert.Equal((Size + tail.Length).ToString(System.Globalization.CultureInfo.InvariantCulture), fields[2]);
        Assert.True(long.Parse(fields[0], System.Globalization.CultureInfo.InvariantCulture) * long.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture) <= 1 << 20, $"stat reports {output.Trim()}");
    }

    private static IEnumerable<string[]> Partitioner(string[] items, int parts)
        => Enumerable.Range(0, parts).Select(p => items.Where((_, i) => i % parts == p).ToArray());
}
