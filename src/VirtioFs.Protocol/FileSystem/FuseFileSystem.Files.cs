namespace VirtioFs.Protocol;

public abstract partial class FuseFileSystem
{
    /// <summary><c>FUSE_OPEN</c>: opens file <see cref="FuseRequestContext.NodeId"/>.</summary>
    /// <param name="context">The request context.</param>
    /// <param name="args">Open flags (<c>O_*</c>) and <see cref="FuseOpenInFlags"/>.</param>
    /// <returns>The handle and <see cref="FuseOpenOutFlags"/>, or an error.</returns>
    public virtual ValueTask<FuseResult<FuseOpenOut>> OpenAsync(FuseRequestContext context, FuseOpenIn args)
        => new(Errno.ENOSYS);

    /// <summary><c>FUSE_CREATE</c>: creates and opens a regular file.</summary>
    /// <param name="context">The request context.</param>
    /// <param name="args">Open flags, mode and umask.</param>
    /// <param name="name">The new file's name.</param>
    /// <returns>The entry and the open handle, or an error.</returns>
    public virtual ValueTask<FuseResult<FuseCreateOut>> CreateAsync(FuseRequestContext context, FuseCreateIn args, ReadOnlyMemory<byte> name)
        => new(Errno.ENOSYS);

    /// <summary><c>FUSE_TMPFILE</c> (7.37+): creates and opens an unnamed regular file in directory <see cref="FuseRequestContext.NodeId"/>.</summary>
    /// <param name="context">The request context.</param>
    /// <param name="args">Open flags, mode and umask.</param>
    /// <returns>The entry and the open handle, or an error.</returns>
    public virtual ValueTask<FuseResult<FuseCreateOut>> TmpFileAsync(FuseRequestContext context, FuseCreateIn args)
        => new(Errno.ENOSYS);

    /// <summary><c>FUSE_READ</c>: reads up to <paramref name="buffer"/>'s length from offset <see cref="FuseReadIn.Offset"/>.</summary>
    /// <remarks>Return fewer bytes than asked only at end of file (or for <see cref="FuseOpenOutFlags.DirectIo"/> handles).</remarks>
    /// <param name="context">The request context.</param>
    /// <param name="args">Handle, offset and size.</param>
    /// <param name="buffer">Room for the data, <c>min(args.Size, reply room)</c> bytes long.</param>
    /// <returns>The number of bytes read, or an error.</returns>
    public virtual ValueTask<FuseResult<int>> ReadAsync(FuseRequestContext context, FuseReadIn args, Memory<byte> buffer)
        => new(Errno.ENOSYS);

    /// <summary><c>FUSE_WRITE</c>: writes <paramref name="data"/> at offset <see cref="FuseWriteIn.Offset"/>.</summary>
    /// <param name="context">The request context.</param>
    /// <param name="args">Handle, offset and <see cref="FuseWriteFlags"/>.</param>
    /// <param name="data">The data.</param>
    /// <returns>The number of bytes written, or an error.</returns>
    public virtual ValueTask<FuseResult<int>> WriteAsync(FuseRequestContext context, FuseWriteIn args, ReadOnlyMemory<byte> data)
        => new(Errno.ENOSYS);

    /// <summary><c>FUSE_FLUSH</c>: called on each <c>close</c> of a file descriptor.</summary>
    /// <param name="context">The request context.</param>
    /// <param name="args">Handle and lock owner.</param>
    /// <returns>The outcome, reported to <c>close</c>.</returns>
    public virtual ValueTask<Errno> FlushAsync(FuseRequestContext context, FuseFlushIn args) => NotImplemented;

    /// <summary><c>FUSE_RELEASE</c>: the last reference to an open handle is gone.</summary>
    /// <param name="context">The request context.</param>
    /// <param name="args">Handle, open flags and <see cref="FuseReleaseFlags"/>.</param>
    /// <returns>The outcome (ignored by the client).</returns>
    public virtual ValueTask<Errno> ReleaseAsync(FuseRequestContext context, FuseReleaseIn args) => new(Errno.Success);

    /// <summary><c>FUSE_FSYNC</c>: persists a file's data (and metadata unless <see cref="FuseFsyncFlags.FdataSync"/>).</summary>
    /// <param name="context">The request context.</param>
    /// <param name="args">Handle and flags.</param>
    /// <returns>The outcome.</returns>
    public virtual ValueTask<Errno> FsyncAsync(FuseRequestContext context, FuseFsyncIn args) => NotImplemented;

    /// <summary><c>FUSE_FALLOCATE</c>: allocates or punches space (Linux <c>fallocate</c> modes).</summary>
    /// <param name="context">The request context.</param>
    /// <param name="args">Handle, offset, length and mode.</param>
    /// <returns>The outcome.</returns>
    public virtual ValueTask<Errno> FallocateAsync(FuseRequestContext context, FuseFallocateIn args) => NotImplemented;

    /// <summary><c>FUSE_LSEEK</c>: resolves <c>SEEK_DATA</c>/<c>SEEK_HOLE</c> (and plain whences).</summary>
    /// <param name="context">The request context.</param>
    /// <param name="args">Handle, offset and whence.</param>
    /// <returns>The resulting offset, or an error (<see cref="Errno.ENXIO"/> past the end).</returns>
    public virtual ValueTask<FuseResult<ulong>> LseekAsync(FuseRequestContext context, FuseLseekIn args)
        => new(Errno.ENOSYS);

    /// <summary><c>FUSE_COPY_FILE_RANGE</c> and <c>FUSE_COPY_FILE_RANGE_64</c>: copies a range from this file to another.</summary>
    /// <remarks>For the 32-bit <c>FUSE_COPY_FILE_RANGE</c> the session caps <see cref="FuseCopyFileRangeIn.Len"/> at
    /// <c>UINT_MAX &amp; PAGE_MASK</c> before the call (as the kernel does), so the count always fits the reply.</remarks>
    /// <param name="context">The request context (<see cref="FuseRequestContext.NodeId"/> is the source).</param>
    /// <param name="args">Source handle and offset, destination node, handle and offset, length and flags.</param>
    /// <returns>The number of bytes copied, or an error.</returns>
    public virtual ValueTask<FuseResult<ulong>> CopyFileRangeAsync(FuseRequestContext context, FuseCopyFileRangeIn args)
        => new(Errno.ENOSYS);

    /// <summary><c>FUSE_GETLK</c>: tests for a conflicting POSIX lock.</summary>
    /// <param name="context">The request context.</param>
    /// <param name="args">Handle, owner and the lock to test.</param>
    /// <returns>The conflicting lock, or the tested lock with type <c>F_UNLCK</c> when there is none.</returns>
    public virtual ValueTask<FuseResult<FuseFileLock>> GetLkAsync(FuseRequestContext context, FuseLkIn args)
        => new(Errno.ENOSYS);

    /// <summary><c>FUSE_SETLK</c> and <c>FUSE_SETLKW</c>: acquires or releases a POSIX lock (or a BSD lock with <see cref="FuseLockFlags.Flock"/>).</summary>
    /// <param name="context">The request context; for <paramref name="wait"/>, its token is cancelled when the waiter is interrupted.</param>
    /// <param name="args">Handle, owner and the lock.</param>
    /// <param name="wait">Whether to wait for a conflicting lock to go away (<c>SETLKW</c>).</param>
    /// <returns>The outcome (<see cref="Errno.EAGAIN"/> on conflict without <paramref name="wait"/>).</returns>
    public virtual ValueTask<Errno> SetLkAsync(FuseRequestContext context, FuseLkIn args, bool wait) => NotImplemented;

    /// <summary><c>FUSE_BMAP</c>: maps a file block to a device block (block-device backed filesystems only).</summary>
    /// <param name="context">The request context.</param>
    /// <param name="args">The block and block size.</param>
    /// <returns>The device block, or an error.</returns>
    public virtual ValueTask<FuseResult<ulong>> BmapAsync(FuseRequestContext context, FuseBmapIn args)
        => new(Errno.ENOSYS);

    /// <summary><c>FUSE_IOCTL</c>: a restricted ioctl; input and output sizes are fixed by the command.</summary>
    /// <param name="context">The request context.</param>
    /// <param name="args">Handle, command, argument and sizes.</param>
    /// <param name="input">The input data (<see cref="FuseIoctlIn.InSize"/> bytes).</param>
    /// <param name="output">Room for the output data (at most <see cref="FuseIoctlIn.OutSize"/> bytes).</param>
    /// <returns>The ioctl's result value and the number of output bytes written, or an error.</returns>
    public virtual ValueTask<FuseResult<FuseIoctlResult>> IoctlAsync(FuseRequestContext context, FuseIoctlIn args, ReadOnlyMemory<byte> input, Memory<byte> output)
        => new(Errno.ENOSYS);

    /// <summary><c>FUSE_POLL</c>: reports ready events; with <see cref="FusePollFlags.ScheduleNotify"/>, later wake the client
    /// with <see cref="FuseNotifier.PollWakeupAsync"/> and <see cref="FusePollIn.Kh"/>.</summary>
    /// <param name="context">The request context.</param>
    /// <param name="args">Handle, kernel handle, flags and requested events.</param>
    /// <returns>The ready events, or an error.</returns>
    public virtual ValueTask<FuseResult<uint>> PollAsync(FuseRequestContext context, FusePollIn args)
        => new(Errno.ENOSYS);
}
