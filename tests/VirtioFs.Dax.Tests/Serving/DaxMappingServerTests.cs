using NSubstitute;
using VirtioFs.Protocol;
using VirtioFs.Transport;
using static VirtioFs.Dax.Tests.Serving.DaxServingHarness;

namespace VirtioFs.Dax.Tests.Serving;

/// <summary>The serving rules of DAX.md, each driven through a loopback session with hostile requests.</summary>
public sealed class DaxMappingServerTests
{
    private const ulong File = TestFileProvider.File;
    private const ulong M2 = 2 * MiB;

    [Fact]
    public async Task SetupMapsTheFileRangeAndRecordsIt()
    {
        await using DaxServingHarness h = await StartAsync();

        Assert.Equal(Errno.Success, await h.SetupAsync(File, Args(foffset: M2, len: M2, moffset: 2 * M2)));

        Assert.Equal(["map 400000+200000 node 2 @200000 ro"], h.Window.Calls);
        Assert.Equal([new DaxMapping(4 * MiB, 2 * MiB, File, 2 * MiB, false)], h.Server.GetMappings());
    }

    [Theory]
    [InlineData(0x800UL, 0x20_0000UL, 0UL)] // foffset
    [InlineData(0UL, 0x20_0800UL, 0UL)] // len
    [InlineData(0UL, 0x20_0000UL, 0x1UL)] // moffset
    [InlineData(0UL, 0x20_0000UL, 0x20_0200UL)] // moffset
    public async Task MisalignedRequestsAreEinval(ulong foffset, ulong len, ulong moffset)
    {
        await using DaxServingHarness h = await StartAsync();

        Assert.Equal(Errno.EINVAL, await h.SetupAsync(File, Args(foffset, len, moffset)));

        Assert.Empty(h.Window.Calls);
        Assert.Equal(0, h.Files.Calls);
    }

    [Theory]
    [InlineData(0x60_0000UL, 0x40_0000UL)] // ends past the window
    [InlineData(0x80_0000UL, 0x1000UL)] // starts at the window's end
    [InlineData(0x0UL, 0x80_1000UL)] // longer than the window
    [InlineData(0xFFFF_FFFF_FFFF_F000UL, 0x2000UL)] // moffset + len wraps around
    [InlineData(0x1000UL, 0xFFFF_FFFF_FFFF_F000UL)] // len alone wraps the sum
    public async Task RangesOutsideTheWindowAreEinval(ulong moffset, ulong len)
    {
        await using DaxServingHarness h = await StartAsync();

        Assert.Equal(Errno.EINVAL, await h.SetupAsync(File, Args(0, len, moffset)));
        Assert.Equal(Errno.EINVAL, await h.RemoveAsync(File, (moffset, len)));

        Assert.Empty(h.Window.Calls);
    }

    [Fact]
    public async Task AFileOffsetPastTheLargestFileIsEinval()
    {
        await using DaxServingHarness h = await StartAsync();

        Assert.Equal(Errno.EINVAL, await h.SetupAsync(File, Args(foffset: 0x7FFF_FFFF_FFFF_F000, len: 0x2000, moffset: 0)));
        Assert.Equal(Errno.EINVAL, await h.SetupAsync(File, Args(foffset: 0xFFFF_FFFF_FFFF_F000, len: 0x1000, moffset: 0)));
        Assert.Empty(h.Window.Calls);
    }

    [Fact]
    public async Task ZeroLengthIsEinval()
    {
        await using DaxServingHarness h = await StartAsync();

        Assert.Equal(Errno.EINVAL, await h.SetupAsync(File, Args(0, 0, 0)));
        Assert.Equal(Errno.EINVAL, await h.RemoveAsync(File, (0, 0)));
        Assert.Empty(h.Window.Calls);
    }

    [Theory]
    [InlineData(4UL)]
    [InlineData(1UL << 63)]
    [InlineData(0xFFUL)]
    public async Task UnknownFlagBitsAreEinval(ulong flags)
    {
        await using DaxServingHarness h = await StartAsync();

        Assert.Equal(Errno.EINVAL, await h.SetupAsync(File, Args(0, M2, 0, (FuseSetupMappingFlags)flags)));
        Assert.Empty(h.Window.Calls);
    }

    [Theory]
    [InlineData(32)]
    [InlineData(48)]
    public async Task ASetupBodyThatIsNotExactly40BytesIsEinval(int size)
    {
        await using DaxServingHarness h = await StartAsync();
        byte[] body = new byte[size];
        Bytes(Args(0, M2, 0)).AsSpan(0, Math.Min(size, 40)).CopyTo(body);

        Assert.Equal(-(int)Errno.EINVAL, await h.SendRawAsync(FuseOpcode.SetupMapping, File, body));
        Assert.Empty(h.Window.Calls);
    }

    [Fact]
    public async Task ARemoveBodyWhoseCountIsZeroTooLargeOrNotMatchingIsEinval()
    {
        await using DaxServingHarness h = await StartAsync();
        Assert.Equal(Errno.Success, await h.SetupAsync(File, Args(0, M2, 0)));
        (ulong, ulong) entry = (0UL, M2);

        Assert.Equal(-(int)Errno.EINVAL, await h.SendRawAsync(FuseOpcode.RemoveMapping, File, RemoveBody(0)));
        Assert.Equal(-(int)Errno.EINVAL, await h.SendRawAsync(FuseOpcode.RemoveMapping, File, RemoveBody(0, entry)));
        Assert.Equal(-(int)Errno.EINVAL, await h.SendRawAsync(FuseOpcode.RemoveMapping, File, RemoveBody(2, entry)));
        Assert.Equal(-(int)Errno.EINVAL, await h.SendRawAsync(FuseOpcode.RemoveMapping, File, RemoveBody(1, entry, entry)));
        Assert.Equal(-(int)Errno.EINVAL, await h.SendRawAsync(FuseOpcode.RemoveMapping, File, RemoveBody(1, entry)[..^1]));
        Assert.Equal(-(int)Errno.EINVAL, await h.SendRawAsync(FuseOpcode.RemoveMapping, File, RemoveBody(uint.MaxValue, entry)));
        var tooMany = Enumerable.Repeat(entry, FuseConstants.RemoveMappingMaxEntries + 1).ToArray();
        Assert.Equal(-(int)Errno.EINVAL, await h.SendRawAsync(FuseOpcode.RemoveMapping, File, RemoveBody((uint)tooMany.Length, tooMany)));

        // The mapping survived every malformed removal; the largest allowed count is accepted.
        Assert.Single(h.Server.GetMappings());
        var most = Enumerable.Repeat(entry, FuseConstants.RemoveMappingMaxEntries).ToArray();
        Assert.Equal(0, await h.SendRawAsync(FuseOpcode.RemoveMapping, File, RemoveBody((uint)most.Length, most)));
        Assert.Empty(h.Server.GetMappings());
    }

    [Fact]
    public async Task OneBadRemoveEntryFailsTheRequestBeforeAnythingIsUnmapped()
    {
        await using DaxServingHarness h = await StartAsync();
        Assert.Equal(Errno.Success, await h.SetupAsync(File, Args(0, M2, 0)));
        h.Window.Calls.Clear();

        Assert.Equal(Errno.EINVAL, await h.RemoveAsync(File, (0, M2), (0x1000, 0x800)));
        Assert.Equal(Errno.EINVAL, await h.RemoveAsync(File, (0, M2), (6 * MiB, 4 * MiB)));

        Assert.Empty(h.Window.Calls);
        Assert.Single(h.Server.GetMappings());
    }

    [Theory]
    [InlineData(99UL, Errno.ENOENT)]
    [InlineData(TestFileProvider.Stale, Errno.ESTALE)]
    public async Task UnknownNodesAreRefusedWithTheProvidersErrno(ulong nodeId, Errno expected)
    {
        await using DaxServingHarness h = await StartAsync();

        Assert.Equal(expected, await h.SetupAsync(nodeId, Args(0, M2, 0)));
        Assert.Empty(h.Window.Calls);
    }

    [Fact]
    public async Task ADirectoryIsNotMapped()
    {
        await using DaxServingHarness h = await StartAsync();

        Assert.Equal(Errno.EINVAL, await h.SetupAsync(TestFileProvider.Directory, Args(0, M2, 0)));
        Assert.Empty(h.Window.Calls);
        Assert.True(h.Files.Handles[TestFileProvider.Directory].Released);
    }

    [Fact]
    public async Task AWriteMappingOnAReadOnlyExportIsErofsAndTheProviderIsNotAsked()
    {
        await using DaxServingHarness h = await StartAsync(readOnlyExport: true);

        Assert.Equal(Errno.EROFS, await h.SetupAsync(File, Args(0, M2, 0, FuseSetupMappingFlags.Read | FuseSetupMappingFlags.Write)));
        Assert.Equal(0, h.Files.Calls);
        Assert.Empty(h.Window.Calls);

        // Reading is fine.
        Assert.Equal(Errno.Success, await h.SetupAsync(File, Args(0, M2, 0)));
    }

    [Fact]
    public async Task AWriteMappingWithoutWritePermissionIsEacces()
    {
        await using DaxServingHarness h = await StartAsync();
        FuseSetupMappingFlags rw = FuseSetupMappingFlags.Read | FuseSetupMappingFlags.Write;

        // The provider refuses...
        Assert.Equal(Errno.EACCES, await h.SetupAsync(TestFileProvider.ReadOnlyFile, Args(0, M2, 0, rw)));

        // ...or hands out a handle opened read-only, which the server refuses itself.
        Assert.Equal(Errno.EACCES, await h.SetupAsync(TestFileProvider.OtherFile, Args(0, M2, 0, rw, fh: TestFileProvider.OtherReadOnlyHandle)));
        Assert.True(h.Files.Handles[TestFileProvider.OtherFile].Released);
        Assert.Empty(h.Window.Calls);

        Assert.Equal(Errno.Success, await h.SetupAsync(TestFileProvider.ReadOnlyFile, Args(0, M2, 0)));
    }

    [Fact]
    public async Task ABadFileHandleIsEbadf()
    {
        await using DaxServingHarness h = await StartAsync();

        Assert.Equal(Errno.EBADF, await h.SetupAsync(File, Args(0, M2, 0, fh: 12345)));

        // A handle of another node is as bad.
        Assert.Equal(Errno.EBADF, await h.SetupAsync(File, Args(0, M2, 0, fh: TestFileProvider.OtherReadOnlyHandle)));
        Assert.Empty(h.Window.Calls);

        Assert.Equal(Errno.Success, await h.SetupAsync(File, Args(0, M2, 0, fh: TestFileProvider.FileHandle)));
    }

    [Fact]
    public async Task AFailedMapAnswersTheHostErrnoAndKeepsThePreviousMapping()
    {
        await using DaxServingHarness h = await StartAsync();
        Assert.Equal(Errno.Success, await h.SetupAsync(File, Args(0, M2, 0)));
        h.Window.Calls.Clear();
        h.Window.FailNextMap = Errno.ENOMEM;

        Assert.Equal(Errno.ENOMEM, await h.SetupAsync(File, Args(0, M2, 0, FuseSetupMappingFlags.Read | FuseSetupMappingFlags.Write)));

        Assert.Equal(["map 0+200000 node 2 @0 rw failed", "map 0+200000 node 2 @0 ro"], h.Window.Calls);
        Assert.Equal([new DaxMapping(0, 2 * MiB, File, 0, false)], h.Server.GetMappings());
    }

    [Fact]
    public async Task AFailedMapOverAnUnmappedRangeLeavesItUnmapped()
    {
        await using DaxServingHarness h = await StartAsync();
        h.Window.FailNextMap = Errno.ENODEV;

        Assert.Equal(Errno.ENODEV, await h.SetupAsync(File, Args(0, M2, M2)));

        Assert.Equal(["map 200000+200000 node 2 @0 ro failed", "unmap 200000+200000"], h.Window.Calls);
        Assert.Empty(h.Server.GetMappings());
        Assert.True(h.Files.Handles[File].Released);
    }

    [Fact]
    public async Task MappingAMappedRangeAgainReplacesItInPlaceUpgradingToWritable()
    {
        await using DaxServingHarness h = await StartAsync();

        Assert.Equal(Errno.Success, await h.SetupAsync(File, Args(M2, M2, 0)));
        TestHandle first = h.Files.Handles[File];
        Assert.Equal(Errno.Success, await h.SetupAsync(File, Args(M2, M2, 0, FuseSetupMappingFlags.Read | FuseSetupMappingFlags.Write)));

        Assert.Equal(["map 0+200000 node 2 @200000 ro", "map 0+200000 node 2 @200000 rw"], h.Window.Calls);
        Assert.Equal([new DaxMapping(0, 2 * MiB, File, 2 * MiB, true)], h.Server.GetMappings());

        // The replaced mapping's reference is gone, the new one holds its file.
        Assert.True(first.Released);
        Assert.False(h.Files.Handles[File].Released);
    }

    [Fact]
    public async Task ReplacingPartOfAMappingSplitsIt()
    {
        await using DaxServingHarness h = await StartAsync();
        Assert.Equal(Errno.Success, await h.SetupAsync(File, Args(0, 4 * MiB, 0)));

        Assert.Equal(Errno.Success, await h.SetupAsync(TestFileProvider.OtherFile, Args(0x10_0000, 0x1000, MiB)));

        Assert.Equal(
            [
                new DaxMapping(0, MiB, File, 0, false),
                new DaxMapping(MiB, 0x1000, TestFileProvider.OtherFile, 0x10_0000, false),
                new DaxMapping(MiB + 0x1000, (3 * MiB) - 0x1000, File, MiB + 0x1000, false),
            ],
            h.Server.GetMappings());

        // Removing across the pieces leaves only the outer parts; the first file stays referenced until its last piece goes.
        Assert.Equal(Errno.Success, await h.RemoveAsync(File, (0x8_0000, MiB)));
        Assert.Equal([new DaxMapping(0, 0x8_0000, File, 0, false), new DaxMapping(0x18_0000, 0x28_0000, File, 0x18_0000, false)], h.Server.GetMappings());
        Assert.True(h.Files.Handles[TestFileProvider.OtherFile].Released);
        Assert.Equal(Errno.Success, await h.RemoveAsync(File, (0, 4 * MiB)));
        Assert.Empty(h.Server.GetMappings());
        Assert.True(h.Files.Handles[File].Released);
    }

    [Fact]
    public async Task RemovingUnmappedInBoundsRangesSucceedsAndIsIdempotent()
    {
        await using DaxServingHarness h = await StartAsync();

        Assert.Equal(Errno.Success, await h.RemoveAsync(File, (0, M2), (6 * MiB, M2)));
        Assert.Empty(h.Window.Calls);

        Assert.Equal(Errno.Success, await h.SetupAsync(File, Args(0, M2, M2)));
        Assert.Equal(Errno.Success, await h.RemoveAsync(File, (M2, M2)));
        Assert.Equal(Errno.Success, await h.RemoveAsync(File, (M2, M2)));

        Assert.Equal(["map 200000+200000 node 2 @0 ro", "unmap 200000+200000"], h.Window.Calls);
        Assert.Empty(h.Server.GetMappings());
    }

    [Fact]
    public async Task AMappingKeepsItsFileOpenAfterTheFileSystemLetsGo()
    {
        await using DaxServingHarness h = await StartAsync();

        // The provider disposes its own handle right after creating the reference (as a RELEASE would).
        Assert.Equal(Errno.Success, await h.SetupAsync(File, Args(0, M2, 0, fh: TestFileProvider.FileHandle)));
        TestHandle handle = h.Files.Handles[File];
        Assert.False(handle.Released);

        Assert.Equal(Errno.Success, await h.RemoveAsync(File, (0, M2)));
        Assert.True(handle.Released);
    }

    [Fact]
    public async Task DestroyUnmapsEverythingAndReleasesEveryFile()
    {
        await using DaxServingHarness h = await StartAsync();
        Assert.Equal(Errno.Success, await h.SetupAsync(File, Args(0, M2, 0)));
        Assert.Equal(Errno.Success, await h.SetupAsync(TestFileProvider.OtherFile, Args(0, M2, 4 * MiB, FuseSetupMappingFlags.Read | FuseSetupMappingFlags.Write)));

        Assert.Equal(Errno.Success, await h.Host.Client.DestroyAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
        await h.Host.Completion.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal("unmap all", h.Window.Calls.Last());
        Assert.Empty(h.Server.GetMappings());
        Assert.All(h.Files.Handles.Values, handle => Assert.True(handle.Released));
    }

    [Fact]
    public async Task DisconnectUnmapsEverything()
    {
        await using DaxServingHarness h = await StartAsync();
        Assert.Equal(Errno.Success, await h.SetupAsync(File, Args(0, M2, 0)));

        await h.Host.Client.DisposeAsync();
        await h.Host.Completion.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal("unmap all", h.Window.Calls.Last());
        Assert.Equal(0, h.Server.MappingCount);
        Assert.True(h.Files.Handles[File].Released);
    }

    [Fact]
    public async Task ASetupStillOpeningItsFileWhenResetRunsMapsNothing()
    {
        await using DaxServingHarness h = await StartAsync();
        h.Files.Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Task<Errno> setup = h.SetupAsync(File, Args(0, M2, 0));
        while (Volatile.Read(ref h.Files.Calls) == 0)
        {
            await Task.Delay(1);
        }

        h.Server.Reset();
        h.Files.Gate.SetResult();

        Assert.Equal(Errno.EIO, await setup);
        Assert.Equal(["unmap all"], h.Window.Calls);
        Assert.Empty(h.Server.GetMappings());
        Assert.True(h.Files.Handles[File].Released);
    }

    [Fact]
    public async Task ThePerNodeViewListsANodesWindowRanges()
    {
        await using DaxServingHarness h = await StartAsync();
        Assert.Equal(Errno.Success, await h.SetupAsync(File, Args(4 * MiB, M2, 6 * MiB)));
        Assert.Equal(Errno.Success, await h.SetupAsync(TestFileProvider.OtherFile, Args(0, M2, M2)));
        Assert.Equal(Errno.Success, await h.SetupAsync(File, Args(0, M2, 0)));

        Assert.Equal([new DaxMapping(0, 2 * MiB, File, 0, false), new DaxMapping(6 * MiB, 2 * MiB, File, 4 * MiB, false)], h.Server.GetMappings(File));
        Assert.Equal([new DaxMapping(2 * MiB, 2 * MiB, TestFileProvider.OtherFile, 0, false)], h.Server.GetMappings(TestFileProvider.OtherFile));
        Assert.Empty(h.Server.GetMappings(99));

        // Remapping the other node's range to the first file moves it between the per-node lists.
        Assert.Equal(Errno.Success, await h.SetupAsync(File, Args(M2, M2, M2)));
        Assert.Empty(h.Server.GetMappings(TestFileProvider.OtherFile));
        Assert.Equal(3, h.Server.GetMappings(File).Count);
    }

    [Fact]
    public async Task InitAnnouncesTheWindowsPageAlignment()
    {
        var window = new RecordingWindow(new DaxWindowGeometry(WindowSize, mapAlignment: 16));
        var server = new DaxMappingServer(window, new TestFileProvider());
        await using FuseLoopbackHost host = await FuseLoopbackHost.StartAsync(new EmptyFs(), new FuseSessionOptions { MappingServer = server });

        Assert.Equal(16, server.MapAlignment);
        Assert.Equal(16, host.Init.MapAlignment);
        Assert.Equal(Errno.EINVAL, await host.Client.SetupMappingAsync(File, Args(0x1000, M2, 0)));
        Assert.Equal(Errno.Success, await host.Client.SetupMappingAsync(File, Args(0x1_0000, M2, 0)));
    }

    [Fact]
    public async Task AFailedUnmapIsReportedAndTheMappingKept()
    {
        IDaxWindow window = Substitute.For<IDaxWindow>();
        window.Geometry.Returns(new DaxWindowGeometry(WindowSize));
        window.Map(default, default, default!, default, default).ReturnsForAnyArgs(Errno.Success);
        window.Unmap(default, default).ReturnsForAnyArgs(Errno.EIO);
        var server = new DaxMappingServer(window, new TestFileProvider());
        await using FuseLoopbackHost host = await FuseLoopbackHost.StartAsync(new EmptyFs(), new FuseSessionOptions { MappingServer = server });
        Assert.Equal(Errno.Success, await host.Client.SetupMappingAsync(File, Args(0, M2, 0)));

        Assert.Equal(Errno.EIO, await host.Client.RemoveMappingAsync(File, [new FuseRemovemappingOne { Moffset = 0, Len = M2 }]));

        Assert.Single(server.GetMappings());
        window.Received(1).Unmap(0, (long)M2);
    }

    [Fact]
    public async Task AProviderThatThrowsIsAnsweredEio()
    {
        IDaxFileProvider files = Substitute.For<IDaxFileProvider>();
        files.OpenForMappingAsync(default, default, default, default).ReturnsForAnyArgs<ValueTask<FuseResult<DaxFileReference>>>(_ => throw new InvalidOperationException("boom"));
        var server = new DaxMappingServer(new RecordingWindow(new DaxWindowGeometry(WindowSize)), files);
        await using FuseLoopbackHost host = await FuseLoopbackHost.StartAsync(new EmptyFs(), new FuseSessionOptions { MappingServer = server });

        Assert.Equal(Errno.EIO, await host.Client.SetupMappingAsync(File, Args(0, M2, 0)));
        Assert.Empty(server.GetMappings());
    }
}
