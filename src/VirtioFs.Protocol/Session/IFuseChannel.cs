namespace VirtioFs.Protocol;

/// <summary>
/// The one abstraction every transport implements (<c>/dev/fuse</c>, a vhost-user virtqueue, the in-process loopback):
/// it delivers requests, carries their replies back, sends notifications, and shuts down.
/// </summary>
/// <remarks>
/// Several session workers may call <see cref="ReceiveAsync"/> concurrently; each received request is completed
/// exactly once by <see cref="CompleteAsync"/>, with a reply or (for requests that get none, such as <c>FORGET</c>)
/// with an empty one, so that transports that must hand buffers back (virtqueues) can do so.
/// </remarks>
public interface IFuseChannel : IAsyncDisposable
{
    /// <summary>The largest request this channel can deliver, header included.</summary>
    int MaxRequestSize { get; }

    /// <summary>
    /// Whether <see cref="ReceiveAsync"/> blocks the calling thread until a request arrives (as a <c>/dev/fuse</c> read does).
    /// The session then serves the channel from dedicated threads instead of the thread pool. Default false.
    /// </summary>
    bool ReceiveBlocksThread => false;

    /// <summary>Backing-file registration for <c>FUSE_PASSTHROUGH</c>, or null when the transport cannot pass through (the default).</summary>
    IFusePassthrough? Passthrough => null;

    /// <summary>
    /// Waits for the next request and copies it into <paramref name="buffer"/>.
    /// </summary>
    /// <param name="buffer">Room for a request, at least <see cref="MaxRequestSize"/> bytes.</param>
    /// <param name="cancellationToken">Stops the wait (an <see cref="OperationCanceledException"/>). A transport that waits in a
    /// system call it cannot interrupt (see <see cref="ReceiveBlocksThread"/>) may see it only when that call returns;
    /// <see cref="Shutdown"/> ends every wait.</param>
    /// <returns>The request's length and reply room; <see cref="FuseChannelRequest.IsEndOfStream"/> when the channel is closed.</returns>
    /// <exception cref="FuseChannelException">The channel failed and cannot continue.</exception>
    ValueTask<FuseChannelRequest> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken);

    /// <summary>
    /// Completes a received request: sends <paramref name="reply"/> (a whole message, <c>fuse_out_header</c> included),
    /// or, when it is empty, releases the request without a reply.
    /// </summary>
    /// <param name="request">The request, as returned by <see cref="ReceiveAsync"/>.</param>
    /// <param name="reply">The reply message, at most <see cref="FuseChannelRequest.ReplyCapacity"/> bytes, or empty.</param>
    /// <param name="cancellationToken">Stops the send.</param>
    /// <returns>A task that completes when the reply was handed to the transport.</returns>
    /// <exception cref="FuseChannelException">The channel failed and cannot continue.</exception>
    ValueTask CompleteAsync(FuseChannelRequest request, ReadOnlyMemory<byte> reply, CancellationToken cancellationToken);

    /// <summary>Sends a notification (a message whose <c>unique</c> is 0 and whose <c>error</c> is the notify code).</summary>
    /// <param name="message">The whole notification message.</param>
    /// <param name="cancellationToken">Stops the send.</param>
    /// <returns>A task that completes when the notification was handed to the transport.</returns>
    /// <exception cref="FuseProtocolException">The transport cannot carry notifications, or the client rejected this one.</exception>
    /// <exception cref="FuseChannelException">The channel failed and cannot continue.</exception>
    ValueTask SendNotificationAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken);

    /// <summary>Stops the channel: pending and later <see cref="ReceiveAsync"/> calls report end of stream.</summary>
    void Shutdown();
}

/// <summary>A request received from an <see cref="IFuseChannel"/>.</summary>
/// <param name="Length">The request's length in bytes, header included; 0 at end of stream.</param>
/// <param name="ReplyCapacity">The largest reply the transport can carry for this request, header included.</param>
/// <param name="Token">A transport-defined value identifying the request (for example a descriptor chain's head).</param>
public readonly record struct FuseChannelRequest(int Length, int ReplyCapacity, long Token)
{
    /// <summary>The value that reports a closed channel.</summary>
    public static FuseChannelRequest EndOfStream => default;

    /// <summary>Whether the channel is closed.</summary>
    public bool IsEndOfStream => Length == 0;
}
