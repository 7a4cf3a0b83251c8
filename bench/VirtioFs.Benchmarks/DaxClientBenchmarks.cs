using System.IO.MemoryMappedFiles;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using Perfolizer.Horology;
using VirtioFs.Dax;
using VirtioFs.Dax.Tests.Client;
using VirtioFs.Protocol;
using VirtioFs.Transport;

namespace VirtioFs.Benchmarks;

/// <summary>
/// Reading a real 1 GiB host file through the DAX client (<see cref="FuseDaxClient"/>: in-process window, mappings set up
/// over the loopback) against READ requests on the same loopback, against a plain copy out of an <c>mmap</c> of the
/// file, and with windows smaller than the file. Each category has its own baseline (Ratio is within the category).
/// </summary>
/// <remarks>
/// <para>The file is created in <c>[GlobalSetup]</c> (so it sits in the host page cache) and read once through the
/// window and once through the <c>mmap</c> before measuring: every figure is warm. Its content is random.</para>
/// <para>"Window = file (fits)" is a 2 GiB window for the 1 GiB file: background reclaim keeps 20 % of the window free
/// (the kernel's threshold), so a window exactly the file's size would keep reclaiming a fifth of the file.</para>
/// <para>"Window = file/2" and "file/4": 1 MiB sequential reads cycle through the whole file, so every 2 MiB range is
/// reclaimed before it is used again (the worst case for any recency policy): one SETUPMAPPING and one range's share
/// of REMOVEMAPPING per 2 MiB read, and page faults on first touch of every new mapping.</para>
/// </remarks>
[Config(typeof(DaxClientBenchmarkConfig))]
public class DaxClientBenchmarks
{
    public const long FileSize = 1L << 30;
    public const int RandomOps = 4096;
    public const int SequentialOps = 64;

    private const int Small = 4096;
    private const int Large = 1 << 20;

    private readonly byte[] _small = new byte[Small];
    private readonly byte[] _large = new byte[Large];
    private long[] _randomOffsets = null!;
    private string _directory = null!;
    private InProcessDaxWindow _window = null!;
    private FuseLoopbackHost _host = null!;
    private FuseDaxClient _dax = null!;
    private FuseDaxFile _file = null!;
    private MemoryMappedFile? _mapped;
    private MemoryMappedViewAccessor? _view;
    private unsafe byte* _mmap;
    private long _cursor;

    [GlobalSetup(Targets = [nameof(ReadRequest4K), nameof(Dax4K), nameof(Mmap4K), nameof(ReadRequest1M), nameof(Dax1M), nameof(Mmap1M), nameof(Dax1MVersusMmap), nameof(WindowFits), nameof(Random4KFits)])]
    public void SetupFits() => Start(2 * FileSize);

    [GlobalSetup(Targets = [nameof(Window2x), nameof(Random4K2x)])]
    public void SetupHalf() => Start(FileSize / 2);

    [GlobalSetup(Target = nameof(Window4x))]
    public void SetupQuarter() => Start(FileSize / 4);

    [GlobalCleanup]
    public void Cleanup()
    {
        _view?.SafeMemoryMappedViewHandle.ReleasePointer();
        _view?.Dispose();
        _mapped?.Dispose();
        _file.CloseAsync().AsTask().GetAwaiter().GetResult();
        _dax.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _host.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _window.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    // (a) 4 KiB random reads
    [BenchmarkCategory("a: 4 KiB random read"), Benchmark(Baseline = true, OperationsPerInvoke = RandomOps, Description = "READ request 4 KiB random")]
    public Task ReadRequest4K() => ReadRequestLoop(Small, RandomOps, random: true);

    [BenchmarkCategory("a: 4 KiB random read"), Benchmark(OperationsPerInvoke = RandomOps, Description = "DAX 4 KiB random")]
    public Task Dax4K() => DaxLoop(Small, RandomOps, random: true);

    [BenchmarkCategory("a: 4 KiB random read"), Benchmark(OperationsPerInvoke = RandomOps, Description = "memcpy from mmap 4 KiB random (the limit)")]
    public unsafe void Mmap4K()
    {
        for (int i = 0; i < RandomOps; i++)
        {
            new ReadOnlySpan<byte>(_mmap + NextRandom(), Small).CopyTo(_small);
        }
    }

    // (b) 1 MiB sequential reads
    [BenchmarkCategory("b: 1 MiB sequential read"), Benchmark(Baseline = true, OperationsPerInvoke = SequentialOps, Description = "READ request 1 MiB sequential")]
    public Task ReadRequest1M() => ReadRequestLoop(Large, SequentialOps, random: false);

    [BenchmarkCategory("b: 1 MiB sequential read"), Benchmark(OperationsPerInvoke = SequentialOps, Description = "DAX 1 MiB sequential")]
    public Task Dax1M() => DaxLoop(Large, SequentialOps, random: false);

    // (c) window bandwidth against the limit: memcpy out of an mmap of the same file
    [BenchmarkCategory("c: sequential bandwidth"), Benchmark(Baseline = true, OperationsPerInvoke = SequentialOps, Description = "memcpy from mmap 1 MiB sequential")]
    public unsafe void Mmap1M()
    {
        for (int i = 0; i < SequentialOps; i++)
        {
            new ReadOnlySpan<byte>(_mmap + NextSequential(Large), Large).CopyTo(_large);
        }
    }

    [BenchmarkCategory("c: sequential bandwidth"), Benchmark(OperationsPerInvoke = SequentialOps, Description = "DAX 1 MiB sequential (window)")]
    public Task Dax1MVersusMmap() => DaxLoop(Large, SequentialOps, random: false);

    // (d) working set larger than the window
    [BenchmarkCategory("d: working set vs window, 1 MiB sequential"), Benchmark(Baseline = true, OperationsPerInvoke = SequentialOps, Description = "window = file (fits)")]
    public Task WindowFits() => DaxLoop(Large, SequentialOps, random: false);

    [BenchmarkCategory("d: working set vs window, 1 MiB sequential"), Benchmark(OperationsPerInvoke = SequentialOps, Description = "window = file/2 (2x)")]
    public Task Window2x() => DaxLoop(Large, SequentialOps, random: false);

    [BenchmarkCategory("d: working set vs window, 1 MiB sequential"), Benchmark(OperationsPerInvoke = SequentialOps, Description = "window = file/4 (4x)")]
    public Task Window4x() => DaxLoop(Large, SequentialOps, random: false);

    [BenchmarkCategory("d': working set vs window, 4 KiB random"), Benchmark(Baseline = true, OperationsPerInvoke = RandomOps, Description = "4 KiB random, window = file (fits)")]
    public Task Random4KFits() => DaxLoop(Small, RandomOps, random: true);

    [BenchmarkCategory("d': working set vs window, 4 KiB random"), Benchmark(OperationsPerInvoke = RandomOps, Description = "4 KiB random, window = file/2 (2x)")]
    public Task Random4K2x() => DaxLoop(Small, RandomOps, random: true);

    /// <summary>Times the parts of a 4 KiB DAX read in-process (<c>--dax-probe</c>): pin only, read, memcpy.</summary>
    public static unsafe int Probe()
    {
        var b = new DaxClientBenchmarks();
        b.SetupFits();
        try
        {
            const int N = 200_000;
            DaxInode inode = b._dax.Allocator.GetInode(b._file.NodeId);
            for (int round = 0; round < 3; round++)
            {
                long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
                for (int i = 0; i < N; i++)
                {
                    inode.AcquireAsync((ulong)b.NextRandom(), false).AsTask().GetAwaiter().GetResult().Value.Dispose();
                }

                long t1 = System.Diagnostics.Stopwatch.GetTimestamp();
                for (int i = 0; i < N; i++)
                {
                    _ = b._file.ReadAsync(b.NextRandom(), b._small).AsTask().GetAwaiter().GetResult();
                }

                long t2 = System.Diagnostics.Stopwatch.GetTimestamp();
                for (int i = 0; i < N; i++)
                {
                    new ReadOnlySpan<byte>(b._mmap + b.NextRandom(), Small).CopyTo(b._small);
                }

                long t3 = System.Diagnostics.Stopwatch.GetTimestamp();
                for (int i = 0; i < N; i++)
                {
                    long offset = b.NextRandom();
                    using DaxMappingLease lease = inode.AcquireAsync((ulong)offset, false).AsTask().GetAwaiter().GetResult().Value;
                    b._window.GetSpan(lease.WindowOffsetOf((ulong)offset), Small).CopyTo(b._small);
                }

                long t4 = System.Diagnostics.Stopwatch.GetTimestamp();
                double f = 1e9 / System.Diagnostics.Stopwatch.Frequency / N;
                Console.WriteLine($"pin {(t1 - t0) * f:F0} ns, read {(t2 - t1) * f:F0} ns, mmap copy {(t3 - t2) * f:F0} ns, pin+window copy {(t4 - t3) * f:F0} ns");
            }
        }
        finally
        {
            b.Cleanup();
        }

        return 0;
    }

    private async Task DaxLoop(int size, int ops, bool random)
    {
        FuseDaxFile file = _file;
        Memory<byte> buffer = size == Small ? _small : _large;
        for (int i = 0; i < ops; i++)
        {
            long offset = random ? NextRandom() : NextSequential(size);
            FuseResult<int> read = await file.ReadAsync(offset, buffer).ConfigureAwait(false);
            if (read.Value != size)
            {
                throw new InvalidOperationException($"DAX read at {offset}: {read}");
            }
        }
    }

    private async Task ReadRequestLoop(int size, int ops, bool random)
    {
        FuseLoopbackClient client = _host.Client;
        Memory<byte> buffer = size == Small ? _small : _large;
        for (int i = 0; i < ops; i++)
        {
            long offset = random ? NextRandom() : NextSequential(size);
            FuseResult<int> read = await client.ReadAsync(_file.NodeId, _file.FileHandle, (ulong)offset, buffer).ConfigureAwait(false);
            if (read.Value != size)
            {
                throw new InvalidOperationException($"READ at {offset}: {read}");
            }
        }
    }

    private long NextRandom()
    {
        long offset = _randomOffsets[_cursor % _randomOffsets.Length];
        _cursor++;
        return offset;
    }

    private long NextSequential(int size)
    {
        long offset = _cursor;
        _cursor = offset + size >= FileSize ? 0 : offset + size;
        return offset;
    }

    private unsafe void Start(long windowSize)
    {
        _directory = Path.Combine(Path.GetTempPath(), $"virtiofs-daxbench-{Environment.ProcessId}");
        Directory.CreateDirectory(_directory);
        string path = Path.Combine(_directory, "data");
        var random = new Random(42);
        using (FileStream stream = File.Create(path))
        {
            byte[] chunk = new byte[Large];
            random.NextBytes(chunk);
            for (long written = 0; written < FileSize; written += Large)
            {
                BitConverter.TryWriteBytes(chunk, written);
                stream.Write(chunk);
            }
        }

        _randomOffsets = [.. Enumerable.Range(0, 1 << 16).Select(_ => random.NextInt64(FileSize / Small) * Small)];
        var files = new HostDirectoryFileSystem(_directory);
        _window = new InProcessDaxWindow(windowSize);
        var server = new DaxMappingServer(_window, files);
        files.MappingServer = server;
        _host = FuseLoopbackHost.StartAsync(files, new FuseSessionOptions { WorkersPerChannel = 2, MappingServer = server }).GetAwaiter().GetResult();
        _dax = new FuseDaxClient(_host.Client, _window, _host.Init.MaxWrite);
        FuseResult<FuseDaxFile> opened = _dax.OpenAsync("data", writable: false).AsTask().GetAwaiter().GetResult();
        _file = opened.IsSuccess ? opened.Value : throw new InvalidOperationException($"open: {opened.Error}");

        // Warm: the page cache, the window's mappings (all of them when the window fits) and the mmap's page tables.
        for (long offset = 0; offset < FileSize; offset += Large)
        {
            _ = _file.ReadAsync(offset, _large).AsTask().GetAwaiter().GetResult();
        }

        _mapped = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        _view = _mapped.CreateViewAccessor(0, FileSize, MemoryMappedFileAccess.Read);
        byte* pointer = null;
        _view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
        _mmap = pointer + _view.PointerOffset;
        for (long offset = 0; offset < FileSize; offset += Large)
        {
            new ReadOnlySpan<byte>(_mmap + offset, Large).CopyTo(_large);
        }

        _cursor = 0;
    }
}

/// <summary>The short job of <see cref="LoopbackBenchmarkConfig"/>, with one baseline per category.</summary>
public sealed class DaxClientBenchmarkConfig : LoopbackBenchmarkConfig
{
    public DaxClientBenchmarkConfig()
    {
        AddColumn(CategoriesColumn.Default);
        AddLogicalGroupRules(BenchmarkLogicalGroupRule.ByCategory);
    }
}

