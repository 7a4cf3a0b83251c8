using Microsoft.Extensions.Logging;
using VirtioFs.Protocol;

namespace VirtioFs.Transport;

/// <summary>Creates in-process loopback pairs: a server <see cref="IFuseChannel"/> and the client that plays the kernel.</summary>
public static class FuseLoopback
{
    /// <summary>Creates a connected pair.</summary>
    /// <param name="maxRequestSize">The largest request the server accepts; match <see cref="FuseSessionOptions.RequestBufferSize"/>.</param>
    /// <returns>The server channel (give it to a <see cref="FuseSession"/>) and the client.</returns>
    public static (IFuseChannel Server, FuseLoopbackClient Client) CreatePair(int maxRequestSize = FuseSessionOptions.MaxWriteLimit + 4096)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRequestSize, FuseConstants.MinReadBuffer);
        var pair = new LoopbackPair(maxRequestSize);
        return (new LoopbackServerChannel(pair), new FuseLoopbackClient(pair));
    }
}

/// <summary>
/// A filesystem served over a loopback pair, with the INIT handshake done: the fixture for unit tests.
/// Disposing it sends <c>DESTROY</c> (when the session is still up), closes the pair and waits for the session to end.
/// </summary>
public sealed class FuseLoopbackHost : IAsyncDisposable
{
    private readonly Task _run;

    private FuseLoopbackHost(FuseSession session, FuseLoopbackClient client, Task run, FuseInitOut init)
    {
        Session = session;
        Client = client;
        _run = run;
        Init = init;
    }

    /// <summary>The session serving the filesystem.</summary>
    public FuseSession Session { get; }

    /// <summary>The client (the emulated kernel).</summary>
    public FuseLoopbackClient Client { get; }

    /// <summary>The server's INIT reply.</summary>
    public FuseInitOut Init { get; }

    /// <summary>The task of the running session; completes when it ends.</summary>
    public Task Completion => _run;

    /// <summary>Starts a session over a new pair and performs INIT.</summary>
    /// <param name="fileSystem">The filesystem.</param>
    /// <param name="sessionOptions">Session options.</param>
    /// <param name="init">The kernel to emulate.</param>
    /// <param name="logger">The session's logger.</param>
    /// <returns>The running host.</returns>
    /// <exception cref="FuseProtocolException">INIT failed.</exception>
    public static async Task<FuseLoopbackHost> StartAsync(FuseFileSystem fileSystem, FuseSessionOptions? sessionOptions = null, FuseClientInitOptions? init = null, ILogger<FuseSession>? logger = null)
    {
        sessionOptions ??= new FuseSessionOptions();
        var session = new FuseSession(fileSystem, sessionOptions, logger);
        (IFuseChannel server, FuseLoopbackClient client) = FuseLoopback.CreatePair(sessionOptions.RequestBufferSize);
        Task run = session.RunAsync(server);
        FuseResult<FuseInitOut> reply = await client.InitAsync(init).ConfigureAwait(false);
        if (!reply.IsSuccess)
        {
            await client.DisposeAsync().ConfigureAwait(false);
            await run.ConfigureAwait(false);
            throw new FuseProtocolException($"INIT failed: {reply.Error}.", reply.Error);
        }

        return new FuseLoopbackHost(session, client, run, reply.Value);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (!Session.IsDestroyed && !_run.IsCompleted)
        {
            try
            {
                await Client.DestroyAsync().ConfigureAwait(false);
            }
            catch (FuseChannelException)
            {
                // The pair was already closed by the test.
            }
        }

        await Client.DisposeAsync().ConfigureAwait(false);
        await _run.ConfigureAwait(false);
    }
}
