using VirtioFs.Protocol;

namespace VirtioFs.Integration.Tests;

/// <summary>A READ that blocks until its request is cancelled (interrupt or session stop), then answers EINTR.</summary>
public sealed class BlockingRead
{
    private readonly TaskCompletionSource _entered = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _cancelled = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes when a READ is in the filesystem.</summary>
    public Task Entered => _entered.Task;

    /// <summary>Completes when that READ's token was cancelled.</summary>
    public Task Cancelled => _cancelled.Task;

    /// <summary>Adds a direct-I/O file (so READ is a synchronous, interruptible request) served by this hook.</summary>
    public static (ScriptedFileSystem Fs, BlockingRead Read) CreateFileSystem(string name)
    {
        var fs = new ScriptedFileSystem(TimeSpan.FromSeconds(1));
        var read = new BlockingRead();
        ScriptedFile file = fs.Add(name, new byte[8192], FuseOpenOutFlags.DirectIo);
        file.Read = read.ReadAsync;
        return (fs, read);
    }

    public async ValueTask<FuseResult<int>> ReadAsync(FuseRequestContext context, FuseReadIn args, Memory<byte> buffer)
    {
        _entered.TrySetResult();
        try
        {
            await Task.Delay(Timeout.Infinite, context.CancellationToken);
        }
        catch (OperationCanceledException)
        {
            _cancelled.TrySetResult();
            return Errno.EINTR;
        }

        return 0;
    }
}
