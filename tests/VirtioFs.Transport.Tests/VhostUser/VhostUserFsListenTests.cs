using Microsoft.Win32.SafeHandles;
using VirtioFs.Protocol;
using VirtioFs.Transport.VhostUser;

namespace VirtioFs.Transport.Tests.VhostUser;

/// <summary><see cref="VhostUserFsBackend.Listen"/> and <see cref="VhostUserFsOptions"/>: where a socket can be made, and what is refused.</summary>
public sealed class VhostUserFsListenTests
{
    private static FuseSession NewSession() => new(new TestFs());

    [Fact]
    public void ASocketInADirectoryThatDoesNotExistIsRefused()
    {
        string path = Path.Combine(Path.GetTempPath(), "vhu-missing-" + Guid.NewGuid().ToString("N")[..8], "fs.sock");
        VhostUserException e = Assert.Throws<VhostUserException>(() => VhostUserFsBackend.Listen(new VhostUserFsOptions(path, "tag"), NewSession));
        Assert.Equal(Errno.ENOENT, e.Error);
        Assert.Contains("its directory does not exist", e.Message);
    }

    [Fact]
    public void ARegularFileAtThePathIsRefusedAndKept()
    {
        string directory = TestBackend.NewDirectory();
        try
        {
            string path = Path.Combine(directory, "fs.sock");
            File.WriteAllText(path, "not a socket");
            VhostUserException e = Assert.Throws<VhostUserException>(() => VhostUserFsBackend.Listen(new VhostUserFsOptions(path, "tag"), NewSession));
            Assert.Equal(Errno.EEXIST, e.Error);
            Assert.Contains("not a socket", e.Message);
            Assert.Equal("not a socket", File.ReadAllText(path));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void APathLongerThanASocketAddressIsRefused()
    {
        string path = "/tmp/" + new string('x', 110);
        VhostUserException e = Assert.Throws<VhostUserException>(() => VhostUserFsBackend.Listen(new VhostUserFsOptions(path, "tag"), NewSession));
        Assert.Equal(Errno.ENAMETOOLONG, e.Error);
    }

    [Fact]
    public async Task ALiveBackendOnThePathIsRefusedAndKeepsServing()
    {
        await using TestBackend live = TestBackend.Start();
        VhostUserException e = Assert.Throws<VhostUserException>(() => VhostUserFsBackend.Listen(new VhostUserFsOptions(live.SocketPath, "other"), NewSession));
        Assert.Equal(Errno.EADDRINUSE, e.Error);
        Assert.Contains("another backend is listening", e.Message);

        // The probe that found it listening was a connection too; it must not count as the live backend's VMM.
        using TestVmm vmm = live.Connect();
        vmm.StartDevice();
        FuseWire.InitOn(vmm, 1, 1);
        Assert.False(live.Running.IsCompleted);
    }

    [Fact]
    public async Task AStaleSocketFileIsReplaced()
    {
        string directory = TestBackend.NewDirectory();
        string path = Path.Combine(directory, "fs.sock");
        try
        {
            // A socket file left by a backend that died: bound, never unlinked, nobody listening.
            MakeStaleSocket(path);
            Assert.True(File.Exists(path));

            await using VhostUserFsBackend backend = VhostUserFsBackend.Listen(new VhostUserFsOptions(path, "tag"), NewSession);
            Task running = backend.RunAsync();
            using (TestVmm vmm = TestVmm.Connect(path, 2))
            {
                vmm.StartDevice();
                FuseWire.InitOn(vmm, 1, 1);
            }

            await running.WaitAsync(TestVmm.Timeout);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task ServeAsyncReportsListeningServesOneVmmAndRemovesTheSocket()
    {
        string directory = TestBackend.NewDirectory();
        string path = Path.Combine(directory, "fs.sock");
        try
        {
            var listening = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Task serving = VhostUserFsBackend.ServeAsync(new VhostUserFsOptions(path, "tag"), NewSession, listening: listening.SetResult);
            await listening.Task.WaitAsync(TestVmm.Timeout);
            using (TestVmm vmm = TestVmm.Connect(path, 2))
            {
                vmm.StartDevice();
                FuseWire.InitOn(vmm, 1, 1);
            }

            await serving.WaitAsync(TestVmm.Timeout);
            Assert.False(File.Exists(path));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task DisposingAListeningBackendEndsRunAsync()
    {
        await using TestBackend backend = TestBackend.Start(reconnect: true);
        await backend.Backend.DisposeAsync();
        await backend.Running.WaitAsync(TestVmm.Timeout);
        Assert.False(File.Exists(backend.SocketPath));
    }

    private static unsafe void MakeStaleSocket(string path)
    {
        int fd = Interop.Socket(Interop.AF_UNIX, Interop.SOCK_STREAM | Interop.SOCK_CLOEXEC, 0);
        Assert.True(fd >= 0);
        using SafeFileHandle socket = Interop.Own(fd);
        Assert.True(Interop.TryMakeUnixAddress(path, out Interop.SockAddrUnix address));
        Assert.Equal(0, Interop.Bind(socket, &address, (uint)sizeof(Interop.SockAddrUnix)));
    }

    // ---- Options ----

    [Theory]
    [InlineData("")]
    [InlineData("a\0b")]
    [InlineData("0123456789012345678901234567890123456")]
    [InlineData("€€€€€€€€€€€€€")]
    public void AnInvalidTagIsRefused(string tag)
        => Assert.Throws<ArgumentException>(() => new VhostUserFsOptions("/tmp/fs.sock", tag));

    [Theory]
    [InlineData("t")]
    [InlineData("012345678901234567890123456789012345")]
    [InlineData("€€€€€€€€€€€€")]
    public void ATagOfUpTo36Utf8BytesIsAccepted(string tag) => Assert.Equal(tag, new VhostUserFsOptions("/tmp/fs.sock", tag).Tag);

    [Fact]
    public void OptionsRefuseValuesOutOfRange()
    {
        Assert.ThrowsAny<ArgumentException>(() => new VhostUserFsOptions("", "tag"));
        Assert.Throws<ArgumentOutOfRangeException>(() => new VhostUserFsOptions("/tmp/fs.sock", "tag") { RequestQueues = 0 });
        Assert.Throws<ArgumentOutOfRangeException>(() => new VhostUserFsOptions("/tmp/fs.sock", "tag") { RequestQueues = 65 });
        Assert.Throws<ArgumentOutOfRangeException>(() => new VhostUserFsOptions("/tmp/fs.sock", "tag") { MaxMemorySlots = 0 });
        Assert.Throws<ArgumentOutOfRangeException>(() => new VhostUserFsOptions("/tmp/fs.sock", "tag") { MaxMemorySlots = 510 });
        var options = new VhostUserFsOptions("/tmp/fs.sock", "tag");
        Assert.Equal(1, options.RequestQueues);
        Assert.Equal(32, options.MaxMemorySlots);
        Assert.False(options.Reconnect);
        Assert.Null(options.DaxWindow);
    }
}
