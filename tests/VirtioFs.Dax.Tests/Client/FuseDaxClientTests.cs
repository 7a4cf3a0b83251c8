using Microsoft.Win32.SafeHandles;
using VirtioFs.Protocol;
using VirtioFs.Transport;

namespace VirtioFs.Dax.Tests.Client;

/// <summary>The DAX client end to end: loopback session, mapping server, in-process window, real host files.</summary>
public sealed class FuseDaxClientTests : IAsyncLifetime
{
    private const long MiB = DaxClientHarness.MiB;
    private DaxClientHarness _h = null!;

    public async Task InitializeAsync() => _h = await DaxClientHarness.StartAsync(16 * MiB);

    public async Task DisposeAsync() => await _h.DisposeAsync();

    [Fact]
    public async Task ReadsAtUnalignedOffsetsAcrossRangesMatchTheHostFile()
    {
        const int Length = (int)(5 * MiB) + 123;
        byte[] content = _h.CreateFile("a", Length, seed: 1);
        await using FuseDaxFile file = await _h.OpenAsync("a", writable: false);
        Assert.Equal(Length, file.Length);

        (long Offset, int Count)[] reads =
        [
            (0, 1), (1, 4095), ((2 * MiB) - 1000, 5000), (7, (int)(4 * MiB) + 7), ((4 * MiB) - 1, 2),
            (Length - 10, 10), (Length - 10, 100), (0, Length), (Length, 10), (Length + 5000, 10),
        ];
        foreach ((long offset, int count) in reads)
        {
            byte[] buffer = new byte[count];
            FuseResult<int> read = await file.ReadAsync(offset, buffer);
            Assert.True(read.IsSuccess, read.Error.ToString());
            int expected = (int)Math.Clamp(Length - offset, 0, count);
            Assert.Equal(expected, read.Value);
            Assert.True(content.AsSpan((int)Math.Min(offset, Length), expected).SequenceEqual(buffer.AsSpan(0, expected)), $"read at {offset}+{count}");
        }

        // Three ranges mapped, read-only, no READ request sent: the data came through the window.
        Assert.Equal(3, _h.Server.GetMappings(file.NodeId).Count);
        Assert.All(_h.Server.GetMappings(file.NodeId), m => Assert.False(m.Writable));
        Assert.Equal(0, _h.Sent(FuseOpcode.Read));
    }

    [Fact]
    public async Task WritesInsideTheFileGoThroughTheWindowAndShowInPread()
    {
        const int Length = (int)(6 * MiB) + 77;
        byte[] model = _h.CreateFile("w", Length, seed: 2);
        await using FuseDaxFile file = await _h.OpenAsync("w");
        var random = new Random(3);
        (long Offset, int Count)[] writes = [(1, 10), ((2 * MiB) - 3, 7), (MiB + 5, (int)(3 * MiB) + 11), (Length - 1, 1), ((4 * MiB) - 4096, 8192)];
        foreach ((long offset, int count) in writes)
        {
            byte[] data = new byte[count];
            random.NextBytes(data);
            FuseResult<int> written = await file.WriteAsync(offset, data);
            Assert.True(written.IsSuccess, written.Error.ToString());
            Assert.Equal(count, written.Value);
            data.CopyTo(model, offset);
        }

        Assert.Equal(0, _h.Sent(FuseOpcode.Write));
        Assert.All(_h.Server.GetMappings(file.NodeId), m => Assert.True(m.Writable));
        Assert.Equal(model, ReadHost("w"));

        // And the other way round: pwrite on the host shows through the window.
        byte[] host = new byte[5000];
        random.NextBytes(host);
        using (SafeFileHandle handle = File.OpenHandle(_h.Files.PathOf("w"), FileMode.Open, FileAccess.ReadWrite))
        {
            RandomAccess.Write(handle, host, (2 * MiB) - 2500);
        }

        host.CopyTo(model, (2 * MiB) - 2500);
        byte[] back = new byte[Length];
        Assert.Equal(Length, (await file.ReadAsync(0, back)).Value);
        Assert.Equal(model, back);
    }

    [Fact]
    public async Task ExtendingWritesGoThroughWriteRequestsAndGrowTheFile()
    {
        const int Length = (int)MiB + 100;
        byte[] content = _h.CreateFile("x", Length, seed: 4);
        await using FuseDaxFile file = await _h.OpenAsync("x");
        byte[] tail = new byte[(3 * MiB) + 5];
        new Random(5).NextBytes(tail);

        // Starts inside, ends past the end: the whole write is sent as WRITE requests, as the kernel does.
        FuseResult<int> written = await file.WriteAsync(Length - 50, tail);
        Assert.Equal(tail.Length, written.Value);
        Assert.True(_h.Sent(FuseOpcode.Write) >= tail.Length / _h.Client.MaxWrite);
        long size = Length - 50 + tail.Length;
        Assert.Equal(size, file.Length);
        byte[] expected = new byte[size];
        content.CopyTo(expected, 0);
        tail.CopyTo(expected, Length - 50);
        Assert.Equal(expected, ReadHost("x"));

        // A write past the end leaves a hole of zeros.
        int writesBefore = _h.Sent(FuseOpcode.Write);
        written = await file.WriteAsync(size + MiB, new byte[] { 1, 2, 3 });
        Assert.Equal(3, written.Value);
        Assert.Equal(writesBefore + 1, _h.Sent(FuseOpcode.Write));
        Assert.Equal(size + MiB + 3, file.Length);
        byte[] back = new byte[(int)file.Length + 10];
        Assert.Equal((int)file.Length, (await file.ReadAsync(0, back)).Value);
        Assert.Equal(expected, back.AsSpan(0, (int)size).ToArray());
        Assert.True(back.AsSpan((int)size, (int)MiB).IndexOfAnyExcept((byte)0) < 0);
        Assert.Equal([1, 2, 3], back.AsSpan((int)(size + MiB), 3).ToArray());
        Assert.Equal(0, _h.Sent(FuseOpcode.Read));
    }

    [Fact]
    public async Task TruncationRemovesTheMappingsPastTheNewEnd()
    {
        const int Length = (int)(8 * MiB);
        byte[] content = _h.CreateFile("t", Length, seed: 6);
        await using FuseDaxFile file = await _h.OpenAsync("t");
        Assert.Equal(Length, (await file.ReadAsync(0, new byte[Length])).Value);
        Assert.Equal(4, _h.Server.GetMappings(file.NodeId).Count);

        Assert.Equal(Errno.Success, await file.TruncateAsync((3 * MiB) + 17));
        Assert.Equal((3 * MiB) + 17, file.Length);
        Assert.Equal((3 * MiB) + 17, new FileInfo(_h.Files.PathOf("t")).Length);
        Assert.Equal([0L, 2 * MiB], _h.Server.GetMappings(file.NodeId).Select(m => m.FileOffset).Order());
        Assert.Equal(2, _h.Client.Allocator.BusyRanges);
        Assert.Equal(0, _h.Files.ShrinksUnderMapping);
        byte[] buffer = new byte[MiB];
        Assert.Equal(MiB, (await file.ReadAsync(2 * MiB, buffer)).Value);
        Assert.Equal(content.AsSpan((int)(2 * MiB), (int)MiB).ToArray(), buffer);
        Assert.Equal(17, (await file.ReadAsync(3 * MiB, buffer)).Value);
        Assert.Equal(0, (await file.ReadAsync((3 * MiB) + 17, buffer)).Value);

        // Exactly on a range boundary: the range that starts there goes too.
        Assert.Equal(Errno.Success, await file.TruncateAsync(2 * MiB));
        Assert.Equal([0L], _h.Server.GetMappings(file.NodeId).Select(m => m.FileOffset));

        // Growing again reads zeros where the file was cut.
        Assert.Equal(Errno.Success, await file.TruncateAsync(5 * MiB));
        Assert.Equal(3 * MiB, (await file.ReadAsync(2 * MiB, new byte[3 * MiB])).Value);
        byte[] grown = new byte[3 * MiB];
        await file.ReadAsync(2 * MiB, grown);
        Assert.True(grown.AsSpan().IndexOfAnyExcept((byte)0) < 0);

        Assert.Equal(Errno.Success, await file.TruncateAsync(0));
        Assert.Empty(_h.Server.GetMappings(file.NodeId));
        Assert.Equal(0, _h.Files.ShrinksUnderMapping);
        Assert.Equal(0, new FileInfo(_h.Files.PathOf("t")).Length);
    }

    [Fact]
    public async Task TruncationWaitsOutConcurrentReadsAndWrites()
    {
        // Readers and in-file writers race a file that shrinks and grows: none may touch a window page past the end
        // (that would kill the process), every read stops at a size the file had, and shrinks never meet a live mapping.
        const int Length = (int)(6 * MiB);
        _h.CreateFile("c", Length, seed: 9);
        await using FuseDaxFile file = await _h.OpenAsync("c");
        using var stop = new CancellationTokenSource();
        Task[] users = [.. Enumerable.Range(0, 3).Select(t => Task.Run(async () =>
        {
            byte[] buffer = new byte[(int)MiB];
            var random = new Random(t);
            while (!stop.IsCancellationRequested)
            {
                long offset = random.NextInt64(Length);
                FuseResult<int> result = t == 0
                    ? await file.WriteAsync(offset, buffer.AsMemory(0, random.Next(1, 4096)))
                    : await file.ReadAsync(offset, buffer);
                Assert.True(result.IsSuccess, result.Error.ToString());
            }
        }))];
        for (int i = 0; i < 40; i++)
        {
            Assert.Equal(Errno.Success, await file.TruncateAsync(i % 2 == 0 ? (i * 100_000) % (3 * MiB) : Length));
        }

        await stop.CancelAsync();
        await Task.WhenAll(users).WaitAsync(DaxClientHarness.Limit);
        Assert.Equal(0, _h.Files.ShrinksUnderMapping);
        Assert.Equal(new FileInfo(_h.Files.PathOf("c")).Length, file.Length);
    }

    [Fact]
    public async Task EvictionRemovesEveryMappingInOneBatchBeforeForget()
    {
        _h.CreateFile("e", (int)(7 * MiB), seed: 7);
        FuseDaxFile file = await _h.OpenAsync("e");
        await file.WriteAsync(MiB, new byte[6 * MiB]);
        Assert.Equal(4, _h.Server.GetMappings(file.NodeId).Count);
        Assert.Equal(Errno.EBUSY, await _h.Client.EvictAsync(file.NodeId));

        Assert.Equal(Errno.Success, await file.CloseAsync());
        Assert.Equal(0, _h.Files.OpenHandles);
        Assert.Equal(4, _h.Server.GetMappings(file.NodeId).Count); // RELEASE leaves the inode's mappings

        int removals = _h.Sent(FuseOpcode.RemoveMapping);
        Assert.Equal(Errno.Success, await _h.Client.EvictAsync(file.NodeId));
        Assert.Empty(_h.Server.GetMappings(file.NodeId));
        Assert.Equal(removals + 1, _h.Sent(FuseOpcode.RemoveMapping));
        Assert.Equal(1, _h.Sent(FuseOpcode.Forget));
        Assert.Equal(0, _h.Client.Allocator.BusyRanges);
        Assert.Equal(4, _h.Client.Allocator.Counters.Evictions);
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await file.ReadAsync(0, new byte[1]));
    }

    [Fact]
    public async Task MisuseIsRefusedWithErrors()
    {
        _h.CreateFile("r", 4096, seed: 8);
        await using FuseDaxFile file = await _h.OpenAsync("r", writable: false);
        Assert.Equal(Errno.EBADF, (await file.WriteAsync(0, new byte[1])).Error);
        Assert.Equal(Errno.EBADF, await file.TruncateAsync(0));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await file.ReadAsync(-1, new byte[1]));
        Assert.Equal(Errno.ENOENT, (await _h.Client.OpenAsync("missing")).Error);
        Assert.Equal(Errno.EISDIR, (await _h.Client.OpenAsync(FuseConstants.RootId)).Error);
    }

    private byte[] ReadHost(string name)
    {
        using SafeFileHandle handle = File.OpenHandle(_h.Files.PathOf(name), FileMode.Open, FileAccess.Read);
        byte[] data = new byte[RandomAccess.GetLength(handle)];
        Assert.Equal(data.Length, RandomAccess.Read(handle, data, 0));
        return data;
    }
}
