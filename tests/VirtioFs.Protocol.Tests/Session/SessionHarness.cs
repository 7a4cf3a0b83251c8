namespace VirtioFs.Protocol.Tests.Session;

/// <summary>
/// Drives a <see cref="FuseSession"/> through its single entry point, <see cref="FuseSession.HandleRequestAsync"/>,
/// with a reply buffer prefilled with 0xff before every request so that unwritten bytes stand out.
/// </summary>
internal sealed class SessionHarness
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    private readonly byte[] _reply;

    public SessionHarness(FuseFileSystem fileSystem, FuseSessionOptions? options = null, int replyRoom = 64 * 1024)
    {
        Session = new FuseSession(fileSystem, options);
        _reply = new byte[replyRoom];
    }

    public FuseSession Session { get; }

    /// <summary>Creates a session and completes INIT as a kernel of protocol 7.<paramref name="minor"/> offering all its flags.</summary>
    public static async Task<SessionHarness> StartAsync(FuseFileSystem fileSystem, FuseSessionOptions? options = null, uint minor = 45)
    {
        var harness = new SessionHarness(fileSystem, options);
        ReplyReader init = await harness.SendAsync(RequestBuilder.Init(minor, KernelFlags.For(minor)));
        Assert.Equal(0, init.Error);
        Assert.NotNull(harness.Session.Connection);
        return harness;
    }

    public async Task<ReplyReader> SendAsync(byte[] request, int? replyRoom = null)
    {
        _reply.AsSpan().Fill(0xFF);
        int length = await Session.HandleRequestAsync(request, _reply.AsMemory(0, replyRoom ?? _reply.Length)).AsTask().WaitAsync(Timeout);
        return new ReplyReader(_reply, length);
    }
}
