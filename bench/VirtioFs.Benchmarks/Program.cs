using BenchmarkDotNet.Running;

namespace VirtioFs.Benchmarks;

public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "--alloc-probe")
        {
            return AllocationProbe.Run(args.AsSpan(1));
        }

        if (args.Length > 0 && args[0] == "--dax-probe")
        {
            return DaxClientBenchmarks.Probe();
        }

        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
    }
}
