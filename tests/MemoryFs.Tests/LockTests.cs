namespace MemoryFs.Tests;

/// <summary>Byte-range locks: GETLK, SETLK, SETLKW, INTERRUPT of a waiting SETLKW, FLUSH and RELEASE dropping locks, flock.</summary>
public sealed class LockTests
{
    private const ulong OwnerA = 0xA;
    private const ulong OwnerB = 0xB;
    private const ulong OwnerC = 0xC;

    private static FuseLkIn Lock(ulong fh, ulong owner, uint type, ulong start, ulong end, uint pid, bool flock = false) => new()
    {
        Fh = fh,
        Owner = owner,
        Lk = new FuseFileLock { Start = start, End = end, Type = type, Pid = pid },
        LkFlags = flock ? (uint)FuseLockFlags.Flock : 0,
    };

    private static async Task<(MemoryFsFixture F, ulong Node, ulong FhA, ulong FhB)> SetUpAsync()
    {
        MemoryFsFixture f = await StartAsync(workers: 4);
        ulong node = await f.CreateFileAsync(Root, "locked", new byte[1000]);
        ulong fhA = await f.OpenAsync(node, Linux.O_RDWR);
        ulong fhB = await f.OpenAsync(node, Linux.O_RDWR);
        return (f, node, fhA, fhB);
    }

    [Fact]
    public async Task ConflictingWriteLockIsEagainAndGetLkReportsTheHolder()
    {
        (MemoryFsFixture f, ulong node, ulong fhA, ulong fhB) = await SetUpAsync();
        await using MemoryFsFixture scope = f;

        await f.Client.SetLkAsync(node, Lock(fhA, OwnerA, Linux.F_WRLCK, 0, 99, pid: 111)).Ok();

        Assert.Equal(Errno.EAGAIN, await f.Client.SetLkAsync(node, Lock(fhB, OwnerB, Linux.F_WRLCK, 50, 150, pid: 222)).Bounded());
        Assert.Equal(Errno.EAGAIN, await f.Client.SetLkAsync(node, Lock(fhB, OwnerB, Linux.F_RDLCK, 99, 99, pid: 222)).Bounded());

        FuseFileLock conflict = await f.Client.GetLkAsync(node, Lock(fhB, OwnerB, Linux.F_WRLCK, 50, 150, pid: 222)).Ok();
        Assert.Equal(Linux.F_WRLCK, conflict.Type);
        Assert.Equal(0UL, conflict.Start);
        Assert.Equal(99UL, conflict.End);
        Assert.Equal(111U, conflict.Pid);

        // No conflict: F_UNLCK comes back, the rest as asked.
        FuseFileLock free = await f.Client.GetLkAsync(node, Lock(fhB, OwnerB, Linux.F_WRLCK, 100, 200, pid: 222)).Ok();
        Assert.Equal(Linux.F_UNLCK, free.Type);
        Assert.Equal(100UL, free.Start);
        Assert.Equal(200UL, free.End);

        // The owner's own lock never conflicts with itself.
        FuseFileLock own = await f.Client.GetLkAsync(node, Lock(fhA, OwnerA, Linux.F_WRLCK, 0, 99, pid: 111)).Ok();
        Assert.Equal(Linux.F_UNLCK, own.Type);

        await f.Client.SetLkAsync(node, Lock(fhB, OwnerB, Linux.F_WRLCK, 100, 150, pid: 222)).Ok();
    }

    [Fact]
    public async Task ReadLocksAreSharedAndUnlockSplitsARange()
    {
        (MemoryFsFixture f, ulong node, ulong fhA, ulong fhB) = await SetUpAsync();
        await using MemoryFsFixture scope = f;

        await f.Client.SetLkAsync(node, Lock(fhA, OwnerA, Linux.F_RDLCK, 0, 9, pid: 1)).Ok();
        await f.Client.SetLkAsync(node, Lock(fhA, OwnerA, Linux.F_RDLCK, 10, 19, pid: 1)).Ok(); // merges into 0-19
        await f.Client.SetLkAsync(node, Lock(fhB, OwnerB, Linux.F_RDLCK, 5, 30, pid: 2)).Ok();

        FuseFileLock merged = await f.Client.GetLkAsync(node, Lock(fhB, OwnerC, Linux.F_WRLCK, 0, 4, pid: 3)).Ok();
        Assert.Equal(Linux.F_RDLCK, merged.Type);
        Assert.Equal(0UL, merged.Start);
        Assert.Equal(19UL, merged.End);

        // B lets go; A unlocks the middle: 0-4 and 15-19 remain.
        await f.Client.SetLkAsync(node, Lock(fhB, OwnerB, Linux.F_UNLCK, 0, ulong.MaxValue >> 1, pid: 2)).Ok();
        await f.Client.SetLkAsync(node, Lock(fhA, OwnerA, Linux.F_UNLCK, 5, 14, pid: 1)).Ok();

        Assert.Equal(Linux.F_UNLCK, (await f.Client.GetLkAsync(node, Lock(fhB, OwnerB, Linux.F_WRLCK, 5, 14, pid: 2)).Ok()).Type);
        FuseFileLock low = await f.Client.GetLkAsync(node, Lock(fhB, OwnerB, Linux.F_WRLCK, 0, 5, pid: 2)).Ok();
        Assert.Equal((0UL, 4UL, Linux.F_RDLCK), (low.Start, low.End, low.Type));
        FuseFileLock high = await f.Client.GetLkAsync(node, Lock(fhB, OwnerB, Linux.F_WRLCK, 14, 100, pid: 2)).Ok();
        Assert.Equal((15UL, 19UL, Linux.F_RDLCK), (high.Start, high.End, high.Type));
        await f.Client.SetLkAsync(node, Lock(fhB, OwnerB, Linux.F_WRLCK, 5, 14, pid: 2)).Ok();
    }

    [Fact]
    public async Task SetLkwWaitsUntilTheHolderUnlocks()
    {
        (MemoryFsFixture f, ulong node, ulong fhA, ulong fhB) = await SetUpAsync();
        await using MemoryFsFixture scope = f;
        await f.Client.SetLkAsync(node, Lock(fhA, OwnerA, Linux.F_WRLCK, 0, 499, pid: 1)).Ok();

        Task<Errno> waiting = f.Client.SetLkAsync(node, Lock(fhB, OwnerB, Linux.F_WRLCK, 400, 600, pid: 2), wait: true).AsTask();
        await Task.Delay(200);
        Assert.False(waiting.IsCompleted, "SETLKW returned while the conflicting lock was held");

        await f.Client.SetLkAsync(node, Lock(fhA, OwnerA, Linux.F_UNLCK, 0, 499, pid: 1)).Ok();

        Assert.Equal(Errno.Success, await waiting.Bounded());
        FuseFileLock held = await f.Client.GetLkAsync(node, Lock(fhA, OwnerA, Linux.F_RDLCK, 0, 1000, pid: 1)).Ok();
        Assert.Equal((400UL, 600UL, Linux.F_WRLCK, 2U), (held.Start, held.End, held.Type, held.Pid));
    }

    [Fact]
    public async Task SetLkwInterruptedAnswersEintrAndTakesNoLock()
    {
        (MemoryFsFixture f, ulong node, ulong fhA, ulong fhB) = await SetUpAsync();
        await using MemoryFsFixture scope = f;
        await f.Client.SetLkAsync(node, Lock(fhA, OwnerA, Linux.F_WRLCK, 0, 99, pid: 1)).Ok();
        var sent = new TaskCompletionSource<ulong>(TaskCreationOptions.RunContinuationsAsynchronously);
        f.Client.RequestSent += (unique, opcode) =>
        {
            if (opcode == FuseOpcode.SetLkw)
            {
                sent.TrySetResult(unique);
            }
        };

        Task<Errno> waiting = f.Client.SetLkAsync(node, Lock(fhB, OwnerB, Linux.F_WRLCK, 0, 99, pid: 2), wait: true).AsTask();
        ulong unique = await sent.Task.Bounded();

        // Accepted without a reply, whether or not a worker has started the request yet.
        Assert.Equal(Errno.Success, await f.Client.InterruptAsync(unique).Bounded());
        Assert.Equal(Errno.EINTR, await waiting.Bounded());

        // A still holds the range; B got nothing.
        FuseFileLock holder = await f.Client.GetLkAsync(node, Lock(fhB, OwnerC, Linux.F_WRLCK, 0, 99, pid: 3)).Ok();
        Assert.Equal(1U, holder.Pid);
        await f.Client.SetLkAsync(node, Lock(fhA, OwnerA, Linux.F_UNLCK, 0, 99, pid: 1)).Ok();
        Assert.Equal(Linux.F_UNLCK, (await f.Client.GetLkAsync(node, Lock(fhB, OwnerC, Linux.F_WRLCK, 0, 99, pid: 3)).Ok()).Type);
    }

    [Fact]
    public async Task FlushDropsTheClosingOwnersPosixLocks()
    {
        (MemoryFsFixture f, ulong node, ulong fhA, ulong fhB) = await SetUpAsync();
        await using MemoryFsFixture scope = f;
        await f.Client.SetLkAsync(node, Lock(fhA, OwnerA, Linux.F_WRLCK, 0, 99, pid: 1)).Ok();
        Assert.Equal(Errno.EAGAIN, await f.Client.SetLkAsync(node, Lock(fhB, OwnerB, Linux.F_WRLCK, 0, 99, pid: 2)).Bounded());

        await f.Client.FlushAsync(node, fhA, lockOwner: OwnerC).Ok(); // another owner's close: A's lock stays
        Assert.Equal(Errno.EAGAIN, await f.Client.SetLkAsync(node, Lock(fhB, OwnerB, Linux.F_WRLCK, 0, 99, pid: 2)).Bounded());

        await f.Client.FlushAsync(node, fhA, lockOwner: OwnerA).Ok();
        await f.Client.SetLkAsync(node, Lock(fhB, OwnerB, Linux.F_WRLCK, 0, 99, pid: 2)).Ok();
    }

    [Fact]
    public async Task ReleaseWithFlushDropsPosixLocks()
    {
        (MemoryFsFixture f, ulong node, ulong fhA, ulong fhB) = await SetUpAsync();
        await using MemoryFsFixture scope = f;
        await f.Client.SetLkAsync(node, Lock(fhA, OwnerA, Linux.F_WRLCK, 0, 99, pid: 1)).Ok();

        await f.Client.ReleaseAsync(node, fhA, releaseFlags: FuseReleaseFlags.Flush, lockOwner: OwnerA).Ok();

        await f.Client.SetLkAsync(node, Lock(fhB, OwnerB, Linux.F_WRLCK, 0, 99, pid: 2)).Ok();
    }

    [Fact]
    public async Task FlockLocksAreSeparateFromPosixLocksAndDroppedOnRelease()
    {
        (MemoryFsFixture f, ulong node, ulong fhA, ulong fhB) = await SetUpAsync();
        await using MemoryFsFixture scope = f;
        await f.Client.SetLkAsync(node, Lock(fhA, fhA, Linux.F_WRLCK, 0, 0, pid: 1, flock: true)).Ok();

        Assert.Equal(Errno.EAGAIN, await f.Client.SetLkAsync(node, Lock(fhB, fhB, Linux.F_RDLCK, 0, 0, pid: 2, flock: true)).Bounded());
        await f.Client.SetLkAsync(node, Lock(fhB, OwnerB, Linux.F_WRLCK, 0, 99, pid: 2)).Ok(); // a POSIX lock is not affected

        await f.Client.ReleaseAsync(node, fhA, releaseFlags: FuseReleaseFlags.FlockUnlock, lockOwner: fhA).Ok();

        await f.Client.SetLkAsync(node, Lock(fhB, fhB, Linux.F_WRLCK, 0, 0, pid: 2, flock: true)).Ok();
    }

    [Fact]
    public async Task InvalidLockRequestsAreEinval()
    {
        (MemoryFsFixture f, ulong node, ulong fhA, _) = await SetUpAsync();
        await using MemoryFsFixture scope = f;
        Assert.Equal(Errno.EINVAL, await f.Client.SetLkAsync(node, Lock(fhA, OwnerA, 7, 0, 9, pid: 1)).Bounded());
        Assert.Equal(Errno.EINVAL, await f.Client.SetLkAsync(node, Lock(fhA, OwnerA, Linux.F_WRLCK, 10, 9, pid: 1)).Bounded());
    }
}
