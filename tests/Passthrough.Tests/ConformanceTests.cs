namespace VirtioFs.Passthrough.Tests;

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MountCollection : ICollectionFixture<Workspace>
{
    public const string Name = "passthrough mount";
}

/// <summary>Every case runs in a plain host directory and through the Passthrough mount; the outcomes must match.</summary>
[Collection(MountCollection.Name)]
public sealed class ConformanceTests(Workspace workspace)
{
    [Fact]
    public void Suite_has_at_least_150_distinct_cases()
    {
        Assert.True(PosixCases.All.Count >= 150, $"{PosixCases.All.Count} cases");
        Assert.Equal(PosixCases.All.Count, PosixCases.All.Select(c => c.Name).Distinct().Count());
    }

    [KernelTheory]
    [MemberData(nameof(PosixCases.Names), MemberType = typeof(PosixCases))]
    public void Host_and_mount_agree(string name)
    {
        KernelEnvironment.Require();
        PosixCase posixCase = PosixCases.All.Single(c => c.Name == name);
        List<string> native = workspace.Run(workspace.Native, name, posixCase.Body);
        List<string> mounted = workspace.Run(workspace.MountPoint, name, posixCase.Body);
        if (!native.SequenceEqual(mounted))
        {
            var diff = new System.Text.StringBuilder();
            for (int i = 0; i < Math.Max(native.Count, mounted.Count); i++)
            {
                string n = i < native.Count ? native[i] : "(none)", m = i < mounted.Count ? mounted[i] : "(none)";
                diff.AppendLine(n == m ? "  " + n : $"- host:  {n}\n+ mount: {m}");
            }

            Assert.Fail($"{name}: the mount differs from the host\n{diff}");
        }
    }
}
