namespace VirtioFs.Transport;

/// <summary>
/// A node's size lock, like the kernel's <c>invalidate_lock</c>: reads and writes inside the file hold it shared while
/// they copy through the window; truncation and extending writes hold it exclusive, so that no copy touches a window
/// page whose file page is being dropped. Shared entry is lock-free; the exclusive side is rare and may wait.
/// </summary>
internal sealed class DaxSizeGate
{
    private readonly SemaphoreSlim _exclusive = new(1, 1);
    private int _readers;
    private TaskCompletionSource? _writer;

    /// <summary>Enters shared; completes synchronously unless an exclusive holder is in.</summary>
    public ValueTask EnterSharedAsync(CancellationToken cancellationToken)
        => TryEnterShared() ? default : EnterSharedSlowAsync(cancellationToken);

    /// <summary>Enters shared unless an exclusive holder is in; never waits.</summary>
    public bool TryEnterShared()
    {
        // Dekker-style: increment, then look for a writer; the writer publishes itself, then looks at the readers.
        Interlocked.Increment(ref _readers);
        if (Volatile.Read(ref _writer) is null)
        {
            return true;
        }

        Interlocked.Decrement(ref _readers);
        return false;
    }

    public void ExitShared() => Interlocked.Decrement(ref _readers);

    public async ValueTask EnterExclusiveAsync(CancellationToken cancellationToken)
    {
        await _exclusive.WaitAsync(cancellationToken).ConfigureAwait(false);
        Interlocked.Exchange(ref _writer, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

        // Shared holders only copy memory: wait them out without a cancellation point (a half-entered writer must not stay).
        var spin = default(SpinWait);
        while (Volatile.Read(ref _readers) != 0)
        {
            if (spin.NextSpinWillYield)
            {
                await Task.Delay(1, CancellationToken.None).ConfigureAwait(false);
            }
            else
            {
                spin.SpinOnce();
            }
        }
    }

    public void ExitExclusive()
    {
        TaskCompletionSource? writer = Interlocked.Exchange(ref _writer, null);
        _exclusive.Release();
        writer?.SetResult();
    }

    private async ValueTask EnterSharedSlowAsync(CancellationToken cancellationToken)
    {
        // Wait for each exclusive holder in turn; one may leave and another come in between the wait and the retry.
        while (!TryEnterShared())
        {
            if (Volatile.Read(ref _writer) is { } writer)
            {
                await writer.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }
}
