using System.Runtime.CompilerServices;
using VirtioFs.Dax;
using VirtioFs.Protocol;

namespace VirtioFs.Transport;

/// <summary>
/// An open file of a <see cref="FuseDaxClient"/>: reads and writes inside the file copy straight between the caller's
/// buffer and the DAX window, one range (2 MiB by default) at a time, each range pinned for the copy.
/// </summary>
/// <remarks>
/// <para><b>Size.</b> Reads stop at the size the client knows: from <c>LOOKUP</c>/<c>GETATTR</c> at open, then from its
/// own writes and truncations. Window pages past the end of the file are never touched.</para>
/// <para><b>Extending writes</b> go through <c>FUSE_WRITE</c> requests, whole, as the Linux guest does
/// (<c>fs/fuse/dax.c</c>: a write that starts at or reaches past the end of the file takes the direct write path, so
/// that the server extends the file and no window page past the old end is written). Writes inside the file go
/// through the window.</para>
/// <para><b>Truncation</b> shrinking the file first removes the mappings of ranges wholly past the new end, then sends
/// <c>SETATTR</c>; the server never shrinks a file under a live mapping of the dropped part.</para>
/// <para>Reads and writes inside the file may run concurrently; truncations and extending writes exclude them for
/// their duration (the kernel's <c>invalidate_lock</c>). Errors are <see cref="Errno"/> values; only misuse (negative
/// offsets, a closed file) throws.</para>
/// </remarks>
public sealed class FuseDaxFile : IAsyncDisposable
{
    private readonly FuseDaxClient _owner;
    private readonly DaxNodeState _state;
    private int _closed;

    internal FuseDaxFile(FuseDaxClient owner, DaxNodeState state, ulong fileHandle, bool canWrite)
    {
        _owner = owner;
        _state = state;
        FileHandle = fileHandle;
        CanWrite = canWrite;
    }

    /// <summary>The node id.</summary>
    public ulong NodeId => _state.NodeId;

    /// <summary>The handle <c>OPEN</c> returned.</summary>
    public ulong FileHandle { get; }

    /// <summary>Whether the file was opened for writing.</summary>
    public bool CanWrite { get; }

    /// <summary>The file's size as this client knows it.</summary>
    public long Length => _state.Size;

    /// <summary>Whether <see cref="CloseAsync"/> was called.</summary>
    public bool IsClosed => Volatile.Read(ref _closed) != 0;

    /// <summary>Reads up to <c>destination.Length</c> bytes at <paramref name="offset"/> through the window; stops at the
    /// end of the file.</summary>
    /// <param name="offset">The file offset; any alignment.</param>
    /// <param name="destination">Where the data goes.</param>
    /// <param name="cancellationToken">Cancels a wait for a free window range.</param>
    /// <returns>The bytes read (0 at or past the end), or the error of mapping the first range (a later failure
    /// returns the bytes read so far).</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="offset"/> is negative.</exception>
    /// <exception cref="ObjectDisposedException">The file was closed.</exception>
    public ValueTask<FuseResult<int>> ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ObjectDisposedException.ThrowIf(IsClosed, this);
        DaxSizeGate gate = _state.Gate;
        if (!gate.TryEnterShared())
        {
            return ReadWaitingAsync(offset, destination, cancellationToken);
        }

        // The common case completes synchronously: no state machine, one lookup, one copy. Whatever has to wait hands
        // the shared size lock over to an async continuation, which releases it.
        bool handedOver = false;
        try
        {
            long size = _state.Size;
            if (offset >= size || destination.IsEmpty)
            {
                return new(0);
            }

            int length = (int)Math.Min(destination.Length, size - offset);
            long rangeSize = _owner.RangeSize;
            if ((offset & (rangeSize - 1)) + length > rangeSize)
            {
                handedOver = true;
                return CopyHeldAsync(offset, destination.Slice(0, length), cancellationToken);
            }

            ValueTask<FuseResult<DaxMappingLease>> acquisition = _state.Inode.AcquireAsync((ulong)offset, write: false, cancellationToken);
            if (!acquisition.IsCompletedSuccessfully)
            {
                handedOver = true;
                return ReadAcquiringAsync(acquisition, offset, destination.Slice(0, length));
            }

            return new(CopyOut(acquisition.Result, offset, destination.Span.Slice(0, length)));
        }
        finally
        {
            if (!handedOver)
            {
                gate.ExitShared();
            }
        }
    }

    /// <summary>Writes <paramref name="source"/> at <paramref name="offset"/>: through the window when it lies inside the
    /// file, else through <c>WRITE</c> requests of at most <see cref="FuseDaxClient.MaxWrite"/> bytes.</summary>
    /// <param name="offset">The file offset; any alignment.</param>
    /// <param name="source">The data.</param>
    /// <param name="cancellationToken">Cancels a wait for a free window range or for the size lock.</param>
    /// <returns>The bytes written, or the error of the first range or request (a later failure returns the bytes
    /// written so far); <see cref="Errno.EBADF"/> for a file opened read-only.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="offset"/> is negative.</exception>
    /// <exception cref="ObjectDisposedException">The file was closed.</exception>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<FuseResult<int>> WriteAsync(long offset, ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ObjectDisposedException.ThrowIf(IsClosed, this);
        if (!CanWrite)
        {
            return Errno.EBADF;
        }

        if (source.IsEmpty)
        {
            return 0;
        }

        if (offset > long.MaxValue - source.Length)
        {
            return Errno.EFBIG;
        }

        DaxSizeGate gate = _state.Gate;
        await gate.EnterSharedAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (offset + source.Length <= _state.Size)
            {
                return await CopyAsync(offset, default, source, write: true, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            gate.ExitShared();
        }

        await gate.EnterExclusiveAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // Someone may have extended the file meanwhile.
            return offset + source.Length <= _state.Size
                ? await CopyAsync(offset, default, source, write: true, cancellationToken).ConfigureAwait(false)
                : await WriteThroughRequestsAsync(offset, source).ConfigureAwait(false);
        }
        finally
        {
            gate.ExitExclusive();
        }
    }

    /// <summary>Sets the file's size (<c>SETATTR</c> with <c>FATTR_SIZE</c>). Shrinking first removes the window mappings
    /// of ranges wholly past the new end (waiting out reads and writes in progress).</summary>
    /// <param name="length">The new size.</param>
    /// <param name="cancellationToken">Cancels the wait for the size lock or for pinned ranges.</param>
    /// <returns><see cref="Errno.Success"/>, <see cref="Errno.EBADF"/> for a file opened read-only, or the server's error.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="length"/> is negative.</exception>
    /// <exception cref="ObjectDisposedException">The file was closed.</exception>
    public async ValueTask<Errno> TruncateAsync(long length, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ObjectDisposedException.ThrowIf(IsClosed, this);
        if (!CanWrite)
        {
            return Errno.EBADF;
        }

        DaxSizeGate gate = _state.Gate;
        await gate.EnterExclusiveAsync(cancellationToken).ConfigureAwait(false);
        long old = _state.Size;
        try
        {
            if (length < old)
            {
                // Readers stop at the new size from here on; then no mapping may outlive the file pages it shows.
                _state.Size = length;
                await _state.Inode.RemoveMappingsFromAsync((ulong)length, cancellationToken).ConfigureAwait(false);
            }

            var args = new FuseSetattrIn { Valid = (uint)(FuseSetAttrValid.Size | FuseSetAttrValid.Fh), Fh = FileHandle, Size = (ulong)length };
            FuseResult<FuseAttrOut> reply = await _owner.Client.SetAttrAsync(NodeId, args).ConfigureAwait(false);
            if (!reply.IsSuccess)
            {
                _state.Size = old;
                return reply.Error;
            }

            _state.Size = (long)reply.Value.Attr.Size;
            return Errno.Success;
        }
        catch (OperationCanceledException)
        {
            // Cancelled while removing: the file is unchanged; removed ranges are mapped again on demand.
            _state.Size = old;
            throw;
        }
        finally
        {
            gate.ExitExclusive();
        }
    }

    /// <summary><c>FSYNC</c>: the server persists the file, including what was written through the window.</summary>
    /// <param name="dataOnly">Whether only data need be persisted (<c>fdatasync</c>).</param>
    /// <returns>The server's answer.</returns>
    /// <exception cref="ObjectDisposedException">The file was closed.</exception>
    public ValueTask<Errno> FsyncAsync(bool dataOnly = false)
    {
        ObjectDisposedException.ThrowIf(IsClosed, this);
        return _owner.Client.FsyncAsync(NodeId, FileHandle, dataOnly);
    }

    /// <summary>Releases the handle (<c>RELEASE</c>). The node's window mappings stay until
    /// <see cref="FuseDaxClient.EvictAsync"/>, as in the kernel. Closing twice does nothing.</summary>
    /// <returns>The server's answer to <c>RELEASE</c>.</returns>
    public async ValueTask<Errno> CloseAsync()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return Errno.Success;
        }

        try
        {
            return await _owner.Client.ReleaseAsync(NodeId, FileHandle, CanWrite ? 2u : 0u).ConfigureAwait(false);
        }
        finally
        {
            _owner.OnClosed(_state);
        }
    }

    /// <summary>Same as <see cref="CloseAsync"/>.</summary>
    /// <returns>A task that completes when the handle is released.</returns>
    public async ValueTask DisposeAsync() => await CloseAsync().ConfigureAwait(false);

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<FuseResult<int>> ReadWaitingAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken)
    {
        await _state.Gate.EnterSharedAsync(cancellationToken).ConfigureAwait(false);
        long size = _state.Size;
        if (offset >= size || destination.IsEmpty)
        {
            _state.Gate.ExitShared();
            return 0;
        }

        return await CopyHeldAsync(offset, destination.Slice(0, (int)Math.Min(destination.Length, size - offset)), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Reads with the shared size lock held by the caller, and releases it.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<FuseResult<int>> CopyHeldAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken)
    {
        try
        {
            return await CopyAsync(offset, destination, default, write: false, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _state.Gate.ExitShared();
        }
    }

    /// <summary>Finishes a one-range read whose range is being mapped, with the shared size lock held; releases it.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<FuseResult<int>> ReadAcquiringAsync(ValueTask<FuseResult<DaxMappingLease>> acquisition, long offset, Memory<byte> destination)
    {
        try
        {
            return CopyOut(await acquisition.ConfigureAwait(false), offset, destination.Span);
        }
        finally
        {
            _state.Gate.ExitShared();
        }
    }

    private FuseResult<int> CopyOut(FuseResult<DaxMappingLease> leased, long offset, Span<byte> destination)
    {
        if (!leased.IsSuccess)
        {
            return leased.Error;
        }

        using DaxMappingLease lease = leased.Value;
        _owner.Window.GetSpan(lease.WindowOffsetOf((ulong)offset), destination.Length).CopyTo(destination);
        return destination.Length;
    }

    /// <summary>Copies between the window and <paramref name="destination"/> (read) or from <paramref name="source"/>
    /// (write) range by range; the caller holds the size lock and has bounded the length by the size.</summary>
    private async ValueTask<FuseResult<int>> CopyAsync(long offset, Memory<byte> destination, ReadOnlyMemory<byte> source, bool write, CancellationToken cancellationToken)
    {
        DaxInode inode = _state.Inode;
        InProcessDaxWindow window = _owner.Window;
        long rangeSize = _owner.RangeSize;
        int total = write ? source.Length : destination.Length;
        int done = 0;
        while (done < total)
        {
            long position = offset + done;
            int chunk = (int)Math.Min(total - done, rangeSize - (position & (rangeSize - 1)));
            FuseResult<DaxMappingLease> leased = await inode.AcquireAsync((ulong)position, write, cancellationToken).ConfigureAwait(false);
            if (!leased.IsSuccess)
            {
                return done > 0 ? done : leased.Error;
            }

            using (DaxMappingLease lease = leased.Value)
            {
                Span<byte> mapped = window.GetSpan(lease.WindowOffsetOf((ulong)position), chunk);
                if (write)
                {
                    source.Span.Slice(done, chunk).CopyTo(mapped);
                }
                else
                {
                    mapped.CopyTo(destination.Span.Slice(done, chunk));
                }
            }

            done += chunk;
        }

        return done;
    }

    private async ValueTask<FuseResult<int>> WriteThroughRequestsAsync(long offset, ReadOnlyMemory<byte> source)
    {
        int done = 0;
        while (done < source.Length)
        {
            int chunk = Math.Min(source.Length - done, _owner.MaxWrite);
            FuseResult<int> written = await _owner.Client.WriteAsync(NodeId, FileHandle, (ulong)(offset + done), source.Slice(done, chunk)).ConfigureAwait(false);
            if (!written.IsSuccess)
            {
                return done > 0 ? done : written.Error;
            }

            done += written.Value;
            if (offset + done > _state.Size)
            {
                _state.Size = offset + done;
            }

            if (written.Value < chunk)
            {
                break;
            }
        }

        return done;
    }
}
