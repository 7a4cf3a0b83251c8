using Microsoft.Win32.SafeHandles;
using VirtioFs.Protocol;

namespace VirtioFs.Samples.Passthrough;

public sealed unsafe partial class PassthroughFileSystem
{
    private const ulong OffsetMax = long.MaxValue;

    /// <inheritdoc/>
    public override ValueTask<FuseResult<FuseFileLock>> GetLkAsync(FuseRequestContext context, FuseLkIn args)
    {
        FileHandle? handle = Handle(args.Fh);
        if (handle is null)
        {
            return new(Errno.EBADF);
        }

        Errno error = OwnerDescriptor(handle, args.Owner, context.Pid, out SafeFileHandle? fd);
        if (error != Errno.Success)
        {
            return new(error);
        }

        Interop.Flock query = ToFlock(args.Lk);
        Interop.Flock result = query;
        if (Interop.FcntlLock(fd!, Interop.F_OFD_GETLK, &result) != 0)
        {
            return new(Interop.LastErrno);
        }

        if (result.Type == Interop.F_UNLCK)
        {
            return new(new FuseFileLock { Type = (uint)Interop.F_UNLCK });
        }

        return new(new FuseFileLock
        {
            Start = (ulong)result.Start,
            End = result.Length == 0 ? OffsetMax : (ulong)(result.Start + result.Length - 1),
            Type = (uint)result.Type,
            Pid = HolderPid(handle.Inode, args.Owner, query, result),
        });
    }

    /// <inheritdoc/>
    public override ValueTask<Errno> SetLkAsync(FuseRequestContext context, FuseLkIn args, bool wait)
    {
        FileHandle? handle = Handle(args.Fh);
        if (handle is null)
        {
            return new(Errno.EBADF);
        }

        int access = handle.Flags & Interop.O_ACCMODE;
        if (((FuseLockFlags)args.LkFlags & FuseLockFlags.Flock) != 0)
        {
            int operation = args.Lk.Type switch
            {
                (uint)Interop.F_RDLCK => Interop.LOCK_SH,
                (uint)Interop.F_WRLCK => Interop.LOCK_EX,
                _ => Interop.LOCK_UN,
            };
            Errno taken = FileLock(handle.Fd, operation | Interop.LOCK_NB);
            return wait && taken == Errno.EAGAIN ? WaitFileLock(handle.Fd, operation, context.CancellationToken) : new(taken);
        }

        // As fcntl(2): a read lock needs a descriptor open for reading, a write lock one open for writing.
        if ((args.Lk.Type == (uint)Interop.F_RDLCK && access == Interop.O_WRONLY) || (args.Lk.Type == (uint)Interop.F_WRLCK && access == Interop.O_RDONLY))
        {
            return new(Errno.EBADF);
        }

        Errno error = OwnerDescriptor(handle, args.Owner, context.Pid, out SafeFileHandle? fd);
        if (error != Errno.Success)
        {
            return new(error);
        }

        Interop.Flock request = ToFlock(args.Lk);
        Errno result = SetOfdLock(fd!, Interop.F_OFD_SETLK, request);
        return wait && result == Errno.EAGAIN ? WaitOfdLock(fd!, request, context.CancellationToken) : new(result);
    }

    // A lock is tried at once on this thread, with no allocation; only one that must wait builds the closures the lock
    // waiter (or the poller) calls, in the two methods below, so that requests granted at once allocate none.
    private ValueTask<Errno> WaitFileLock(SafeFileHandle fd, int operation, CancellationToken cancellationToken)
        => Wait(() => FileLock(fd, operation | Interop.LOCK_NB), () => FileLock(fd, operation), cancellationToken);

    private ValueTask<Errno> WaitOfdLock(SafeFileHandle fd, Interop.Flock request, CancellationToken cancellationToken)
        => Wait(() => SetOfdLock(fd, Interop.F_OFD_SETLK, request), () => SetOfdLock(fd, Interop.F_OFD_SETLKW, request), cancellationToken);

    /// <summary>Waits for a lock the first attempt could not take: in the lock waiter, or polled.</summary>
    private ValueTask<Errno> Wait(Func<Errno> attempt, Func<Errno> blocking, CancellationToken cancellationToken)
        => _lockWaiter is { } waiter ? waiter.WaitAsync(blocking, attempt, cancellationToken) : LockRetry.PollAsync(attempt, cancellationToken);

    private static Errno FileLock(SafeFileHandle fd, int operation) => Interop.FileLock(fd, operation) == 0 ? Errno.Success : Interop.LastErrno;

    private static Errno SetOfdLock(SafeFileHandle fd, int command, Interop.Flock request)
        => Interop.FcntlLock(fd, command, &request) == 0 ? Errno.Success : Interop.LastErrno;

    private static Interop.Flock ToFlock(in FuseFileLock lk) => new()
    {
        Type = (short)lk.Type,
        Whence = 0,
        Start = (long)lk.Start,
        Length = lk.End >= OffsetMax ? 0 : (long)(lk.End - lk.Start + 1),
    };

    /// <summary>The descriptor holding <paramref name="owner"/>'s locks on the handle's inode (opened on first use).</summary>
    private static Errno OwnerDescriptor(FileHandle handle, ulong owner, uint pid, out SafeFileHandle? fd)
    {
        LockState locks = handle.Inode.Locks;
        lock (locks)
        {
            locks.Owners ??= [];
            if (locks.Owners.TryGetValue(owner, out var known))
            {
                fd = known.Fd;
                locks.Owners[owner] = (known.Fd, pid != 0 ? pid : known.Pid);
                return Errno.Success;
            }

            // Opened with the server's credentials: the caller's access was checked when it opened its handle, and
            // lock types are checked against that handle's mode.
            int raw = Reopen(handle.Inode, Interop.O_RDWR);
            if (raw < 0)
            {
                raw = Reopen(handle.Inode, Interop.O_RDONLY);
            }

            if (raw < 0)
            {
                fd = null;
                return Interop.LastErrno;
            }

            fd = Interop.Own(raw);
            locks.Owners.Add(owner, (fd, pid));
            return Errno.Success;
        }
    }

    /// <summary>
    /// The pid of the process whose lock conflicts (OFD locks report -1): with one other owner, that one; else the owner
    /// whose own descriptor does not see the same conflict (its own locks are invisible to it) is the one holding it.
    /// </summary>
    private static uint HolderPid(Inode inode, ulong requester, Interop.Flock query, Interop.Flock conflict)
    {
        LockState locks = inode.Locks;
        lock (locks)
        {
            if (locks.Owners is null)
            {
                return 0;
            }

            uint fallback = 0;
            int candidates = 0;
            foreach ((ulong owner, (SafeFileHandle fd, uint pid)) in locks.Owners)
            {
                if (owner == requester)
                {
                    continue;
                }

                candidates++;
                fallback = candidates == 1 ? pid : fallback;
                Interop.Flock probe = query;
                if (locks.Owners.Count > 2 && Interop.FcntlLock(fd, Interop.F_OFD_GETLK, &probe) == 0
                    && (probe.Type != conflict.Type || probe.Start != conflict.Start || probe.Length != conflict.Length))
                {
                    return pid;
                }
            }

            return fallback;
        }
    }

    /// <summary>Drops every POSIX lock of <paramref name="owner"/> on the inode: the client's close() of any descriptor
    /// of the file ends its process's locks, and the kernel tells us only through the lock owner of FLUSH.</summary>
    private static void UnlockOwner(Inode inode, ulong owner)
    {
        LockState locks = inode.Locks;
        lock (locks)
        {
            if (locks.Owners is not null && locks.Owners.Remove(owner, out var known))
            {
                // Closing the owner's open file description releases its OFD locks.
                known.Fd.Dispose();
            }
        }
    }

    /// <summary>One handle of the inode closed: when it was the last, the owners' lock descriptors go too.</summary>
    private static void ReleaseLockOwners(Inode inode)
    {
        LockState locks = inode.Locks;
        lock (locks)
        {
            if (--locks.OpenHandles > 0 || locks.Owners is null)
            {
                return;
            }

            foreach ((SafeFileHandle fd, uint _) in locks.Owners.Values)
            {
                fd.Dispose();
            }

            locks.Owners = null;
        }
    }
}

/// <summary>The fallback when <see cref="LockWaiter"/> cannot be used: a waiting lock is retried, backing off from 1 to
/// 20 ms, until it is granted or the request is interrupted. It holds no thread, but it is not fair: a host waiter
/// queued in the kernel is granted first, and a released lock may stay free for up to one back-off.</summary>
internal static class LockRetry
{
    public static async ValueTask<Errno> PollAsync(Func<Errno> attempt, CancellationToken cancellationToken)
    {
        int delay = 1;
        while (true)
        {
            try
            {
                await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return Errno.EINTR;
            }

            Errno result = attempt();
            if (result != Errno.EAGAIN)
            {
                return result;
            }

            delay = Math.Min(delay * 2, 20);
        }
    }
}
