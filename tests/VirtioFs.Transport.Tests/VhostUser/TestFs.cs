using VirtioFs.Protocol;

namespace VirtioFs.Transport.Tests.VhostUser;

/// <summary>
/// The filesystem every test session serves: GETATTR answers any node (ino = node id, size 4242), LOOKUP knows
/// "hello" (node 2); INIT, FORGET and DESTROY are counted.
/// </summary>
internal sealed class TestFs : FuseFileSystem
{
    private readonly SemaphoreSlim _destroyed = new(0);
    private readonly SemaphoreSlim _forgotten = new(0);
    private int _inits;
    private int _destroys;
    private long _forgets;

    public int Inits => Volatile.Read(ref _inits);

    public int Destroys => Volatile.Read(ref _destroys);

    /// <summary>The sum of FORGET lookup counts.</summary>
    public long Forgets => Interlocked.Read(ref _forgets);

    public override ValueTask<Errno> InitAsync(FuseConnectionInfo connection)
    {
        Interlocked.Increment(ref _inits);
        return new(Errno.Success);
    }

    public override void Destroy()
    {
        Interlocked.Increment(ref _destroys);
        _destroyed.Release();
    }

    /// <summary>When set, GETATTR answers only once this completes (a request held in flight).</summary>
    public Task? GetAttrGate { get; set; }

    /// <summary>Released when a GETATTR reached the filesystem.</summary>
    public SemaphoreSlim GetAttrStarted { get; } = new(0);

    public override ValueTask<FuseResult<FuseAttrOut>> GetAttrAsync(FuseRequestContext context, FuseGetattrIn args)
    {
        var reply = new FuseResult<FuseAttrOut>(new FuseAttrOut { AttrValid = 1, Attr = new FuseAttr { Ino = context.NodeId, Size = 4242, Nlink = 1, Mode = 0x81a4 } });
        GetAttrStarted.Release();
        return GetAttrGate is { } gate ? AfterAsync(gate, reply) : new(reply);

        static async ValueTask<FuseResult<FuseAttrOut>> AfterAsync(Task gate, FuseResult<FuseAttrOut> reply)
        {
            await gate.ConfigureAwait(false);
            return reply;
        }
    }

    public override ValueTask<FuseResult<FuseEntryOut>> LookupAsync(FuseRequestContext context, ReadOnlyMemory<byte> name)
        => name.Span.SequenceEqual("hello"u8)
            ? new(new FuseResult<FuseEntryOut>(new FuseEntryOut { Nodeid = 2, Generation = 1, Attr = new FuseAttr { Ino = 2, Size = 5, Nlink = 1, Mode = 0x81a4 } }))
            : new(new FuseResult<FuseEntryOut>(Errno.ENOENT));

    public override void Forget(ulong nodeId, ulong lookupCount)
    {
        Interlocked.Add(ref _forgets, (long)lookupCount);
        _forgotten.Release();
    }

    public async Task WaitDestroyedAsync() => Assert.True(await _destroyed.WaitAsync(TestVmm.Timeout), "The filesystem saw no DESTROY (session end).");

    public async Task WaitForgottenAsync() => Assert.True(await _forgotten.WaitAsync(TestVmm.Timeout), "The filesystem saw no FORGET.");
}
