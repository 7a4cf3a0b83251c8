using System.Threading.Tasks.Sources;

namespace VirtioFs.Transport;

/// <summary>
/// The client-to-server request queue of a loopback pair: many producers, many consumers, no allocation in steady
/// state (waiting consumers are pooled value-task sources), continuations never run inline on the producer.
/// </summary>
internal sealed class LoopbackQueue
{
    private readonly Lock _lock = new();
    private readonly Queue<LoopbackMessage> _items = new();
    private readonly Queue<Waiter> _waiters = new();
    private readonly Stack<Waiter> _pool = new();
    private bool _closed;

    /// <summary>Queues a message, or hands it straight to a waiting consumer. False once closed.</summary>
    public bool TryEnqueue(LoopbackMessage message)
    {
        Waiter? waiter;
        lock (_lock)
        {
            if (_closed)
            {
                return false;
            }

            if (!_waiters.TryDequeue(out waiter))
            {
                _items.Enqueue(message);
                return true;
            }
        }

        waiter.Deliver(message);
        return true;
    }

    /// <summary>Takes the next message, copying it into <paramref name="buffer"/>; a default message once closed and drained.</summary>
    public ValueTask<LoopbackMessage> DequeueAsync(Memory<byte> buffer)
    {
        LoopbackMessage message;
        lock (_lock)
        {
            if (!_items.TryDequeue(out message))
            {
                if (_closed)
                {
                    return new(default(LoopbackMessage));
                }

                Waiter waiter = _pool.TryPop(out Waiter? pooled) ? pooled : new Waiter(this);
                waiter.Arm(buffer);
                _waiters.Enqueue(waiter);
                return new(waiter, waiter.Version);
            }
        }

        // Copied outside the lock: a request may be a megabyte, and every producer and consumer shares the lock.
        return new(message.CopyTo(buffer));
    }

    /// <summary>Closes the queue: waiting and later consumers get a default message; queued messages are returned to be failed by the caller.</summary>
    public List<LoopbackMessage> Close()
    {
        List<Waiter> waiters;
        List<LoopbackMessage> orphans;
        lock (_lock)
        {
            _closed = true;
            waiters = [.. _waiters];
            _waiters.Clear();
            orphans = [.. _items];
            _items.Clear();
        }

        foreach (Waiter waiter in waiters)
        {
            waiter.Deliver(default);
        }

        return orphans;
    }

    private void Return(Waiter waiter)
    {
        lock (_lock)
        {
            _pool.Push(waiter);
        }
    }

    private sealed class Waiter(LoopbackQueue owner) : IValueTaskSource<LoopbackMessage>
    {
        private ManualResetValueTaskSourceCore<LoopbackMessage> _core = new() { RunContinuationsAsynchronously = true };
        private Memory<byte> _buffer;

        public short Version => _core.Version;

        public void Arm(Memory<byte> buffer)
        {
            _core.Reset();
            _buffer = buffer;
        }

        public void Deliver(LoopbackMessage message)
        {
            LoopbackMessage copied = message.Buffer is null ? default : message.CopyTo(_buffer);
            _buffer = default;
            _core.SetResult(copied);
        }

        public LoopbackMessage GetResult(short token)
        {
            try
            {
                return _core.GetResult(token);
            }
            finally
            {
                owner.Return(this);
            }
        }

        public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
            => _core.OnCompleted(continuation, state, token, flags);
    }
}

/// <summary>A request in flight on a loopback pair: its bytes and the client's pending slot.</summary>
internal readonly record struct LoopbackMessage(byte[]? Buffer, int Length, int ReplyCapacity, int Token)
{
    /// <summary>Copies the request into the server's buffer; a request larger than the buffer is cut to the buffer
    /// (the session then sees a header length that does not match, and answers EIO).</summary>
    public LoopbackMessage CopyTo(Memory<byte> destination)
    {
        int length = Math.Min(Length, destination.Length);
        Buffer.AsSpan(0, length).CopyTo(destination.Span);
        return this with { Length = length };
    }
}
