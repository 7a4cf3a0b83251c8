using System.Buffers;
using System.Threading.Tasks.Sources;

namespace VirtioFs.Transport;

/// <summary>
/// A client request waiting for its reply: a pooled value-task source that owns the request and reply buffers.
/// Completed exactly once by the server side (with a reply, or with none) or by the pair shutting down.
/// </summary>
internal sealed class PendingRequest : IValueTaskSource<int>
{
    private ManualResetValueTaskSourceCore<int> _core = new() { RunContinuationsAsynchronously = true };

    public PendingRequest(int token)
    {
        Token = token;
    }

    /// <summary>This request's index in the pair's table, carried as the channel request's token.</summary>
    public int Token { get; }

    public ulong Unique { get; set; }

    public byte[] RequestBuffer { get; private set; } = [];

    public byte[] ReplyBuffer { get; private set; } = [];

    public short Version => _core.Version;

    public void Prepare(int requestSize, int replySize)
    {
        _core.Reset();
        if (RequestBuffer.Length < requestSize)
        {
            ReturnBuffer(RequestBuffer);
            RequestBuffer = ArrayPool<byte>.Shared.Rent(requestSize);
        }

        if (ReplyBuffer.Length < replySize)
        {
            ReturnBuffer(ReplyBuffer);
            ReplyBuffer = ArrayPool<byte>.Shared.Rent(replySize);
        }
    }

    /// <summary>Completes with a reply (copied into <see cref="ReplyBuffer"/>, cut to its size) or, when empty, with no reply (0).</summary>
    public void Complete(ReadOnlySpan<byte> reply)
    {
        int length = Math.Min(reply.Length, ReplyBuffer.Length);
        reply.Slice(0, length).CopyTo(ReplyBuffer);
        _core.SetResult(length);
    }

    public void Fail(Exception exception) => _core.SetException(exception);

    public int GetResult(short token) => _core.GetResult(token);

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
        => _core.OnCompleted(continuation, state, token, flags);

    private static void ReturnBuffer(byte[] buffer)
    {
        if (buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
