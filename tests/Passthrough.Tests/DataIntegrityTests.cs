using System.IO.MemoryMappedFiles;
using Microsoft.Win32.SafeHandles;
using Xunit.Abstractions;

namespace VirtioFs.Passthrough.Tests;

/// <summary>
/// Several writers on one file through the mount, checked against an in-memory model: two threads with their own
/// descriptors, a thread using a shared mapping, and a child process (a probe). In each round every actor writes and
/// reads back its own page-aligned stripe concurrently; between rounds one actor truncates (up or down) and the whole
/// file is compared with the model. Fixed op count; the seed is printed (set PASSTHROUGH_STRESS_SEED to replay).
/// </summary>
[Collection(MountCollection.Name)]
public sealed class DataIntegrityTests(Workspace workspace, ITestOutputHelper output)
{
    private const int Rounds = 12;
    private const int OpsPerActor = 25;
    private const int Actors = 4;
    private const int Page = 4096;

    [KernelFact]
    public async Task Concurrent_writes_truncates_reads_and_mmap_match_the_model()
    {
        KernelEnvironment.Require();
        int seed = int.TryParse(Environment.GetEnvironmentVariable("PASSTHROUGH_STRESS_SEED"), out int s) ? s : Random.Shared.Next();
        output.WriteLine($"seed {seed}");
        string dir = Path.Combine(workspace.MountPoint, $"stress-{seed}");
        Directory.CreateDirectory(dir);
        string path = Path.Combine(dir, "data");
        var random = new Random(seed);
        byte[] model = new byte[256 * 1024];
        random.NextBytes(model);
        await File.WriteAllBytesAsync(path, model);

        ProbeProcess child = workspace.Probe(Who.Root2);
        Assert.StartsWith("ok", child.Call("open", "stress", path, "0x2"));
        using SafeFileHandle t1 = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
        using SafeFileHandle t2 = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
        int ops = 0;
        try
        {
            for (int round = 0; round < Rounds; round++)
            {
                int stripe = model.Length / Actors / Page * Page;
                Task[] actors =
                [
                    Task.Run(() => Actor(new Random(seed + (round * 8) + 1), 0, stripe, model, (o, d) => RandomAccess.Write(t1, d, o), (o, d) => RandomAccess.Read(t1, d, o))),
                    Task.Run(() => Actor(new Random(seed + (round * 8) + 2), 1, stripe, model, (o, d) => RandomAccess.Write(t2, d, o), (o, d) => RandomAccess.Read(t2, d, o))),
                    Task.Run(() => MappedActor(new Random(seed + (round * 8) + 3), 2, stripe, model, path)),
                    Task.Run(() => Actor(new Random(seed + (round * 8) + 4), 3, stripe, model, (o, d) => Expect(child.Call("pwritehex", "stress", $"{o}", Convert.ToHexString(d)), $"ok {d.Length}"),
                        (o, d) => Convert.FromHexString(Ok(child.Call("preadhex", "stress", $"{o}", $"{d.Length}"))).CopyTo(d))),
                ];
                await Task.WhenAll(actors);
                ops += Actors * OpsPerActor;

                // Truncate up or down through one of the descriptors, then compare everything.
                int size = random.Next(Actors * Page, 1024 * 1024);
                switch (random.Next(3))
                {
                    case 0: RandomAccess.SetLength(t1, size); break;
                    case 1: RandomAccess.SetLength(t2, size); break;
                    default: Expect(child.Call("ftruncate", "stress", $"{size}"), "ok"); break;
                }

                byte[] resized = new byte[size];
                model.AsSpan(0, Math.Min(size, model.Length)).CopyTo(resized);
                model = resized;
                ops++;
                byte[] actual = await File.ReadAllBytesAsync(path);
                if (!actual.AsSpan().SequenceEqual(model))
                {
                    int first = actual.AsSpan().CommonPrefixLength(model);
                    Assert.Fail($"seed {seed}, round {round}: file ({actual.Length} bytes) differs from the model ({model.Length} bytes) from byte {first}");
                }
            }
        }
        finally
        {
            child.Call("closeall");
        }

        output.WriteLine($"{ops} operations, final size {model.Length}");
    }

    private static void Actor(Random random, int index, int stripe, byte[] model, Action<long, byte[]> write, Action<long, byte[]> read)
    {
        int start = index * stripe;
        for (int i = 0; i < OpsPerActor && stripe > 0; i++)
        {
            int offset = random.Next(stripe), length = Math.Min(random.Next(1, 8193), stripe - offset);
            if (random.Next(3) != 0)
            {
                byte[] data = new byte[length];
                random.NextBytes(data);
                write(start + offset, data);
                data.CopyTo(model, start + offset);
            }
            else
            {
                byte[] data = new byte[length];
                read(start + offset, data);
                if (!data.AsSpan().SequenceEqual(model.AsSpan(start + offset, length)))
                {
                    throw new InvalidDataException($"actor {index}: read of {length} bytes at {start + offset} differs from the model");
                }
            }
        }
    }

    private static void MappedActor(Random random, int index, int stripe, byte[] model, string path)
    {
        using var file = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, model.Length, MemoryMappedFileAccess.ReadWrite);
        using MemoryMappedViewAccessor view = file.CreateViewAccessor(0, model.Length, MemoryMappedFileAccess.ReadWrite);
        Actor(random, index, stripe, model, (o, d) => view.WriteArray(o, d, 0, d.Length), (o, d) => view.ReadArray(o, d, 0, d.Length));
        view.Flush(); // msync: the mapping's pages reach the host before the round's check
    }

    private static string Ok(string result)
        => result.StartsWith("ok ", StringComparison.Ordinal) ? result[3..] : throw new InvalidDataException("probe: " + result);

    private static void Expect(string result, string expected)
    {
        if (result != expected)
        {
            throw new InvalidDataException($"probe answered '{result}', expected '{expected}'");
        }
    }
}
