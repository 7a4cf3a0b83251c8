using System.Buffers.Binary;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace VirtioFs.Protocol;

public sealed partial class FuseSession
{
    /// <summary>Validates what every request shares (header, opcode, argument size, names) and answers what needs no filesystem.</summary>
    private ValueTask<int> HandleAsync(FuseWorker worker, ReadOnlyMemory<byte> request, Memory<byte> reply)
    {
        ReadOnlySpan<byte> raw = request.Span;
        if (raw.Length < FuseReplyWriter.HeaderSize)
        {
            Log.MalformedRequest(_logger, 0, "shorter than a reply header; dropped");
            return new(0);
        }

        if (raw.Length < FuseInHeader.Size)
        {
            ulong unique = BinaryPrimitives.ReadUInt64LittleEndian(raw.Slice(FuseRequestParser.UniqueOffset));
            Log.MalformedRequest(_logger, unique, "truncated header");
            return new(FuseReplyWriter.WriteStatus(reply.Span, unique, Errno.EIO));
        }

        Errno status = FuseRequestParser.ReadHeader(request, out FuseInHeader header, out ReadOnlyMemory<byte> body, out FuseRequestExtensions extensions);

        FuseOpcodeInfo? info = FuseOpcodeTable.Get(header.Opcode);
        if (info is null)
        {
            Log.UnknownOpcode(_logger, header.Unique, header.Opcode);
            return new(FuseReplyWriter.WriteStatus(reply.Span, header.Unique, Errno.ENOSYS));
        }

        if (status != Errno.Success)
        {
            Log.MalformedRequest(_logger, header.Unique, status == Errno.EIO ? "header length does not match the message" : "bad extension area");
            return new(info.NoReply ? 0 : FuseReplyWriter.WriteStatus(reply.Span, header.Unique, status));
        }

        if (info.Opcode == FuseOpcode.Init)
        {
            return HandleInitAsync(header, body, reply);
        }

        FuseConnectionInfo? connection = _connection;
        if (connection is null || IsDestroyed)
        {
            Log.MalformedRequest(_logger, header.Unique, connection is null ? "request before INIT" : "request after DESTROY");
            return new(info.NoReply ? 0 : FuseReplyWriter.WriteStatus(reply.Span, header.Unique, Errno.EIO));
        }

        int argumentSize = info.ArgumentSize(connection.ProtocolMinor, connection.Flags);
        if (body.Length < argumentSize)
        {
            return Reject(info, header.Unique, reply, "arguments shorter than the opcode's minimum");
        }

        ReadOnlyMemory<byte> rest = body.Slice(argumentSize);
        ReadOnlyMemory<byte> name = default, name2 = default;
        if ((info.NameCount >= 1 && !FuseRequestParser.TryTakeName(ref rest, out name))
            || (info.NameCount >= 2 && !FuseRequestParser.TryTakeName(ref rest, out name2)))
        {
            return Reject(info, header.Unique, reply, "name missing, empty or not NUL-terminated");
        }

        // The kernel never sends longer names; bounding them here lets filesystems copy a name to the stack.
        if (name.Length > FuseConstants.NameMax
            || name2.Length > (info.Opcode == FuseOpcode.Symlink ? FuseConstants.SymlinkTargetMax : FuseConstants.NameMax))
        {
            Log.MalformedRequest(_logger, header.Unique, "name longer than the kernel sends");
            return new(FuseReplyWriter.WriteStatus(reply.Span, header.Unique, Errno.ENAMETOOLONG));
        }

        switch (info.Opcode)
        {
            case FuseOpcode.Forget:
                Count(info, 0);
                CallForget(header.Nodeid, MemoryMarshal.Read<FuseForgetIn>(body.Span).Nlookup);
                return new(0);
            case FuseOpcode.BatchForget:
                Count(info, 0);
                HandleBatchForget(body.Span);
                return new(0);
            case FuseOpcode.NotifyReply:
                Count(info, 0);
                Notifier.CompleteRetrieve(header.Unique, MemoryMarshal.Read<FuseNotifyRetrieveIn>(body.Span), rest.Span);
                return new(0);
            case FuseOpcode.Interrupt:
                Count(info, 0);
                HandleInterrupt(MemoryMarshal.Read<FuseInterruptIn>(body.Span));
                return new(0);
            case FuseOpcode.Destroy:
                Count(info, 0);
                if (Interlocked.Exchange(ref _destroyed, 1) == 0)
                {
                    CallDestroy();
                }

                return new(FuseReplyWriter.WriteStatus(reply.Span, header.Unique, Errno.Success));
            default:
                return DispatchAsync(worker, info, header, body.Slice(0, argumentSize), name, name2, rest, extensions, reply);
        }
    }

    private ValueTask<int> Reject(FuseOpcodeInfo info, ulong unique, Memory<byte> reply, string reason)
    {
        Log.MalformedRequest(_logger, unique, reason);
        return new(info.NoReply ? 0 : FuseReplyWriter.WriteStatus(reply.Span, unique, Errno.EINVAL));
    }

    private void HandleBatchForget(ReadOnlySpan<byte> body)
    {
        FuseBatchForgetIn args = MemoryMarshal.Read<FuseBatchForgetIn>(body);
        ReadOnlySpan<byte> entries = body.Slice(FuseBatchForgetIn.Size);
        if (args.Count > (uint)(entries.Length / FuseForgetOne.Size))
        {
            Log.MalformedRequest(_logger, 0, "BATCH_FORGET count exceeds the body");
            return;
        }

        try
        {
            _fileSystem.BatchForget(MemoryMarshal.Cast<byte, FuseForgetOne>(entries.Slice(0, (int)args.Count * FuseForgetOne.Size)));
        }
        catch (Exception ex)
        {
            Log.FileSystemThrew(_logger, "BATCH_FORGET", 0, ex);
        }
    }

    private void CallForget(ulong nodeId, ulong lookupCount)
    {
        try
        {
            _fileSystem.Forget(nodeId, lookupCount);
        }
        catch (Exception ex)
        {
            Log.FileSystemThrew(_logger, "FORGET", 0, ex);
        }
    }

    /// <summary>Cancels the matching in-flight request, or remembers the interrupt so that the request, when a worker
    /// starts it, is answered EINTR. Never answered itself.</summary>
    /// <remarks>The interrupt is remembered before the slots are scanned, the mirror image of a worker that publishes
    /// its slot before it looks for an early interrupt: whichever of the two comes second sees the other, so an
    /// interrupt racing with the start of its request is never lost.</remarks>
    private void HandleInterrupt(FuseInterruptIn args)
    {
        _earlyInterrupts.Add(args.Unique);
        foreach (InFlightSlot slot in Volatile.Read(ref _slots))
        {
            if (slot.TryInterrupt(args.Unique))
            {
                _earlyInterrupts.TryTake(args.Unique);
                return;
            }
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<int> DispatchAsync(
        FuseWorker worker,
        FuseOpcodeInfo info,
        FuseInHeader header,
        ReadOnlyMemory<byte> arguments,
        ReadOnlyMemory<byte> name,
        ReadOnlyMemory<byte> name2,
        ReadOnlyMemory<byte> rest,
        FuseRequestExtensions extensions,
        Memory<byte> reply)
    {
        long started = FuseSessionMetrics.Duration.Enabled ? Stopwatch.GetTimestamp() : 0;
        CancellationToken token = worker.Slot.Begin(header.Unique, _stop.Token);
        var context = new FuseRequestContext(header.Unique, header.Nodeid, header.Uid, header.Gid, header.Pid, extensions, token);
        Log.Request(_logger, header.Unique, info.Name, header.Nodeid, header.Len);
        int length;
        try
        {
            // Checked after Begin: an interrupt that comes later finds the request in its slot.
            length = _earlyInterrupts.TryTake(header.Unique)
                ? FuseReplyWriter.WriteStatus(reply.Span, header.Unique, Errno.EINTR)
                : await InvokeAsync(worker, info, context, arguments, name, name2, rest, reply).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Log.FileSystemThrew(_logger, info.Name, header.Unique, ex);
            length = FuseReplyWriter.WriteStatus(reply.Span, header.Unique, Errno.EIO);
        }
        finally
        {
            worker.Slot.End();
        }

        int error = length >= FuseReplyWriter.HeaderSize ? BinaryPrimitives.ReadInt32LittleEndian(reply.Span.Slice(4)) : 0;
        Log.Reply(_logger, header.Unique, error, length);
        Count(info, error);
        if (started != 0)
        {
            FuseSessionMetrics.Duration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, info.Tag);
        }

        return length;
    }

    private static void Count(FuseOpcodeInfo info, int error)
    {
        FuseSessionMetrics.Requests.Add(1, info.Tag);
        if (error != 0)
        {
            FuseSessionMetrics.Errors.Add(1, info.Tag);
        }
    }

    /// <summary>Decodes the opcode's arguments (<paramref name="arguments"/>: the fixed arguments in the negotiated minor's
    /// layout, already checked for size), calls the filesystem and encodes its answer.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<int> InvokeAsync(
        FuseWorker worker,
        FuseOpcodeInfo info,
        FuseRequestContext context,
        ReadOnlyMemory<byte> arguments,
        ReadOnlyMemory<byte> name,
        ReadOnlyMemory<byte> name2,
        ReadOnlyMemory<byte> rest,
        Memory<byte> reply)
    {
        ulong unique = context.Unique;
        FuseFileSystem fs = _fileSystem;
        Memory<byte> payload = reply.Slice(FuseReplyWriter.HeaderSize);
        switch (info.Opcode)
        {
            case FuseOpcode.Lookup:
                return Struct(reply, unique, await fs.LookupAsync(context, name).ConfigureAwait(false));
            case FuseOpcode.GetAttr:
                return Struct(reply, unique, await fs.GetAttrAsync(context, Args<FuseGetattrIn>(arguments)).ConfigureAwait(false));
            case FuseOpcode.SetAttr:
                return Struct(reply, unique, await fs.SetAttrAsync(context, Args<FuseSetattrIn>(arguments)).ConfigureAwait(false));
            case FuseOpcode.Statx:
                return Struct(reply, unique, await fs.StatxAsync(context, Args<FuseStatxIn>(arguments)).ConfigureAwait(false));
            case FuseOpcode.ReadLink:
                return Data(reply, unique, await fs.ReadLinkAsync(context, payload).ConfigureAwait(false), payload.Length);
            case FuseOpcode.Symlink:
                return Struct(reply, unique, await fs.SymlinkAsync(context, name, name2).ConfigureAwait(false));
            case FuseOpcode.MkNod:
                return Struct(reply, unique, await fs.MkNodAsync(context, Args<FuseMknodIn>(arguments), name).ConfigureAwait(false));
            case FuseOpcode.MkDir:
                return Struct(reply, unique, await fs.MkDirAsync(context, Args<FuseMkdirIn>(arguments), name).ConfigureAwait(false));
            case FuseOpcode.Unlink:
                return Status(reply, unique, await fs.UnlinkAsync(context, name).ConfigureAwait(false));
            case FuseOpcode.RmDir:
                return Status(reply, unique, await fs.RmDirAsync(context, name).ConfigureAwait(false));
            case FuseOpcode.Rename:
                return Status(reply, unique, await fs.RenameAsync(context, Args<FuseRenameIn>(arguments).Newdir, name, name2, FuseRenameFlags.None).ConfigureAwait(false));
            case FuseOpcode.Rename2:
            {
                FuseRename2In args = Args<FuseRename2In>(arguments);
                return Status(reply, unique, await fs.RenameAsync(context, args.Newdir, name, name2, (FuseRenameFlags)args.Flags).ConfigureAwait(false));
            }

            case FuseOpcode.Link:
                return Struct(reply, unique, await fs.LinkAsync(context, Args<FuseLinkIn>(arguments).Oldnodeid, name).ConfigureAwait(false));
            case FuseOpcode.Open:
                return Struct(reply, unique, await fs.OpenAsync(context, Args<FuseOpenIn>(arguments)).ConfigureAwait(false));
            case FuseOpcode.OpenDir:
                return Struct(reply, unique, await fs.OpenDirAsync(context, Args<FuseOpenIn>(arguments)).ConfigureAwait(false));
            case FuseOpcode.Create:
                return Struct(reply, unique, await fs.CreateAsync(context, Args<FuseCreateIn>(arguments), name).ConfigureAwait(false));
            case FuseOpcode.TmpFile:
                return Struct(reply, unique, await fs.TmpFileAsync(context, Args<FuseCreateIn>(arguments)).ConfigureAwait(false));
            case FuseOpcode.Read:
            {
                FuseReadIn args = Args<FuseReadIn>(arguments);
                Memory<byte> buffer = payload.Slice(0, (int)Math.Min(args.Size, (uint)payload.Length));
                return Data(reply, unique, await fs.ReadAsync(context, args, buffer).ConfigureAwait(false), buffer.Length);
            }

            case FuseOpcode.Write:
            {
                FuseWriteIn args = Args<FuseWriteIn>(arguments);
                if (args.Size > (uint)rest.Length)
                {
                    return Invalid(reply, unique, "WRITE size exceeds the data sent");
                }

                FuseResult<int> written = await fs.WriteAsync(context, args, rest.Slice(0, (int)args.Size)).ConfigureAwait(false);
                if (written.IsSuccess && (uint)written.Value > args.Size)
                {
                    return Misbehaved(reply, unique, "WRITE reported more bytes than it was given");
                }

                return Struct(reply, unique, written.IsSuccess ? new FuseResult<FuseWriteOut>(new FuseWriteOut { Size = (uint)written.Value }) : written.Error);
            }

            case FuseOpcode.StatFs:
            {
                FuseResult<FuseKstatfs> result = await fs.StatFsAsync(context).ConfigureAwait(false);
                return Struct(reply, unique, result.IsSuccess ? new FuseResult<FuseStatfsOut>(new FuseStatfsOut { St = result.Value }) : result.Error);
            }

            case FuseOpcode.Release:
                return Status(reply, unique, await fs.ReleaseAsync(context, Args<FuseReleaseIn>(arguments)).ConfigureAwait(false));
            case FuseOpcode.ReleaseDir:
                return Status(reply, unique, await fs.ReleaseDirAsync(context, Args<FuseReleaseIn>(arguments)).ConfigureAwait(false));
            case FuseOpcode.Fsync:
                return Status(reply, unique, await fs.FsyncAsync(context, Args<FuseFsyncIn>(arguments)).ConfigureAwait(false));
            case FuseOpcode.FsyncDir:
                return Status(reply, unique, await fs.FsyncDirAsync(context, Args<FuseFsyncIn>(arguments)).ConfigureAwait(false));
            case FuseOpcode.Flush:
                return Status(reply, unique, await fs.FlushAsync(context, Args<FuseFlushIn>(arguments)).ConfigureAwait(false));
            case FuseOpcode.SetXattr:
            {
                FuseSetxattrIn args = Args<FuseSetxattrIn>(arguments);
                if (args.Size > (uint)rest.Length)
                {
                    return Invalid(reply, unique, "SETXATTR size exceeds the value sent");
                }

                return Status(reply, unique, await fs.SetXattrAsync(context, args, name, rest.Slice(0, (int)args.Size)).ConfigureAwait(false));
            }

            case FuseOpcode.GetXattr:
            {
                uint size = Args<FuseGetxattrIn>(arguments).Size;
                Memory<byte> buffer = payload.Slice(0, (int)Math.Min(size, (uint)payload.Length));
                return Xattr(reply, unique, size, await fs.GetXattrAsync(context, name, buffer).ConfigureAwait(false), buffer.Length);
            }

            case FuseOpcode.ListXattr:
            {
                uint size = Args<FuseGetxattrIn>(arguments).Size;
                Memory<byte> buffer = payload.Slice(0, (int)Math.Min(size, (uint)payload.Length));
                return Xattr(reply, unique, size, await fs.ListXattrAsync(context, buffer).ConfigureAwait(false), buffer.Length);
            }

            case FuseOpcode.RemoveXattr:
                return Status(reply, unique, await fs.RemoveXattrAsync(context, name).ConfigureAwait(false));
            case FuseOpcode.ReadDir:
            case FuseOpcode.ReadDirPlus:
            {
                FuseReadIn args = Args<FuseReadIn>(arguments);
                bool plus = info.Opcode == FuseOpcode.ReadDirPlus;
                FuseDirectoryWriter writer = worker.Directory;
                writer.Reset(payload.Slice(0, (int)Math.Min(args.Size, (uint)payload.Length)), plus);
                Errno error = plus
                    ? await fs.ReadDirPlusAsync(context, args, writer).ConfigureAwait(false)
                    : await fs.ReadDirAsync(context, args, writer).ConfigureAwait(false);
                return error == Errno.Success
                    ? FuseReplyWriter.WriteDataHeader(reply.Span, unique, writer.BytesWritten)
                    : Status(reply, unique, error);
            }

            case FuseOpcode.GetLk:
            {
                FuseResult<FuseFileLock> result = await fs.GetLkAsync(context, Args<FuseLkIn>(arguments)).ConfigureAwait(false);
                return Struct(reply, unique, result.IsSuccess ? new FuseResult<FuseLkOut>(new FuseLkOut { Lk = result.Value }) : result.Error);
            }

            case FuseOpcode.SetLk:
            case FuseOpcode.SetLkw:
                return Status(reply, unique, await fs.SetLkAsync(context, Args<FuseLkIn>(arguments), info.Opcode == FuseOpcode.SetLkw).ConfigureAwait(false));
            case FuseOpcode.Access:
                return Status(reply, unique, await fs.AccessAsync(context, Args<FuseAccessIn>(arguments)).ConfigureAwait(false));
            case FuseOpcode.Bmap:
            {
                FuseResult<ulong> result = await fs.BmapAsync(context, Args<FuseBmapIn>(arguments)).ConfigureAwait(false);
                return Struct(reply, unique, result.IsSuccess ? new FuseResult<FuseBmapOut>(new FuseBmapOut { Block = result.Value }) : result.Error);
            }

            case FuseOpcode.Ioctl:
                return await IoctlAsync(context, Args<FuseIoctlIn>(arguments), rest, reply).ConfigureAwait(false);
            case FuseOpcode.Poll:
            {
                FuseResult<uint> result = await fs.PollAsync(context, Args<FusePollIn>(arguments)).ConfigureAwait(false);
                return Struct(reply, unique, result.IsSuccess ? new FuseResult<FusePollOut>(new FusePollOut { Revents = result.Value }) : result.Error);
            }

            case FuseOpcode.Fallocate:
                return Status(reply, unique, await fs.FallocateAsync(context, Args<FuseFallocateIn>(arguments)).ConfigureAwait(false));
            case FuseOpcode.Lseek:
            {
                FuseResult<ulong> result = await fs.LseekAsync(context, Args<FuseLseekIn>(arguments)).ConfigureAwait(false);
                return Struct(reply, unique, result.IsSuccess ? new FuseResult<FuseLseekOut>(new FuseLseekOut { Offset = result.Value }) : result.Error);
            }

            case FuseOpcode.CopyFileRange:
            {
                // The 32-bit reply cannot report more: cap the length as the kernel does (UINT_MAX & PAGE_MASK).
                FuseCopyFileRangeIn args = Args<FuseCopyFileRangeIn>(arguments);
                args.Len = Math.Min(args.Len, MaxCopyFileRange32);
                FuseResult<ulong> result = await fs.CopyFileRangeAsync(context, args).ConfigureAwait(false);
                if (result.IsSuccess && result.Value > args.Len)
                {
                    return Misbehaved(reply, unique, "COPY_FILE_RANGE reported more bytes than asked for");
                }

                return Struct(reply, unique, result.IsSuccess ? new FuseResult<FuseWriteOut>(new FuseWriteOut { Size = (uint)result.Value }) : result.Error);
            }

            case FuseOpcode.CopyFileRange64:
            {
                FuseCopyFileRangeIn args = Args<FuseCopyFileRangeIn>(arguments);
                FuseResult<ulong> result = await fs.CopyFileRangeAsync(context, args).ConfigureAwait(false);
                if (result.IsSuccess && result.Value > args.Len)
                {
                    return Misbehaved(reply, unique, "COPY_FILE_RANGE reported more bytes than asked for");
                }

                return Struct(reply, unique, result.IsSuccess ? new FuseResult<FuseCopyFileRangeOut>(new FuseCopyFileRangeOut { BytesCopied = result.Value }) : result.Error);
            }

            case FuseOpcode.SetupMapping:
                if (!rest.IsEmpty)
                {
                    return Invalid(reply, unique, "SETUPMAPPING body is not exactly 40 bytes");
                }

                return Status(reply, unique, await (_options.MappingServer is { } setupServer
                    ? setupServer.SetupMappingAsync(context, Args<FuseSetupmappingIn>(arguments))
                    : fs.SetupMappingAsync(context, Args<FuseSetupmappingIn>(arguments))).ConfigureAwait(false));
            case FuseOpcode.RemoveMapping:
            {
                uint count = Args<FuseRemovemappingIn>(arguments).Count;
                if (count is 0 or > FuseConstants.RemoveMappingMaxEntries || (uint)rest.Length != count * FuseConstants.RemoveMappingEntrySize)
                {
                    return Invalid(reply, unique, "REMOVEMAPPING count is zero, too large or does not match the body");
                }

                var list = new FuseRemoveMappingList(rest);
                return Status(reply, unique, await (_options.MappingServer is { } removeServer
                    ? removeServer.RemoveMappingAsync(context, list)
                    : fs.RemoveMappingAsync(context, list)).ConfigureAwait(false));
            }

            case FuseOpcode.SyncFs:
                return Status(reply, unique, await fs.SyncFsAsync(context).ConfigureAwait(false));
            default:
                return FuseReplyWriter.WriteStatus(reply.Span, unique, Errno.ENOSYS);
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<int> IoctlAsync(FuseRequestContext context, FuseIoctlIn args, ReadOnlyMemory<byte> rest, Memory<byte> reply)
    {
        ulong unique = context.Unique;
        if (args.InSize > (uint)rest.Length)
        {
            return Invalid(reply, unique, "IOCTL in_size exceeds the data sent");
        }

        Memory<byte> output = reply.Slice(FuseReplyWriter.HeaderSize + FuseIoctlOut.Size);
        output = output.Slice(0, (int)Math.Min(args.OutSize, (uint)output.Length));
        FuseResult<FuseIoctlResult> result = await _fileSystem.IoctlAsync(context, args, rest.Slice(0, (int)args.InSize), output).ConfigureAwait(false);
        if (!result.IsSuccess)
        {
            return Status(reply, unique, result.Error);
        }

        if ((uint)result.Value.OutputLength > (uint)output.Length)
        {
            return Misbehaved(reply, unique, "IOCTL reported more output than its buffer holds");
        }

        var header = new FuseIoctlOut { Result = result.Value.Result };
        MemoryMarshal.Write(reply.Span.Slice(FuseReplyWriter.HeaderSize), in header);
        return FuseReplyWriter.WriteDataHeader(reply.Span, unique, FuseIoctlOut.Size + result.Value.OutputLength);
    }

    /// <summary>The largest length a 32-bit <c>COPY_FILE_RANGE</c> can report: <c>UINT_MAX &amp; PAGE_MASK</c>.</summary>
    private const ulong MaxCopyFileRange32 = uint.MaxValue & ~4095UL;

    /// <summary>Reads fixed arguments; a shorter (older minor) layout leaves the remaining fields zero.</summary>
    private static T Args<T>(ReadOnlyMemory<byte> arguments)
        where T : unmanaged
        => FuseRequestParser.ReadArgs<T>(arguments.Span, arguments.Length);

    private int Status(Memory<byte> reply, ulong unique, Errno error)
        => FuseReplyWriter.WriteStatus(reply.Span, unique, CheckErrno(error, unique));

    private int Struct<T>(Memory<byte> reply, ulong unique, FuseResult<T> result)
        where T : unmanaged
        => result.IsSuccess
            ? FuseReplyWriter.WriteStruct(reply.Span, unique, result.Value)
            : Status(reply, unique, result.Error);

    /// <summary>Finishes a reply whose data the filesystem wrote in place.</summary>
    private int Data(Memory<byte> reply, ulong unique, FuseResult<int> result, int room)
    {
        if (!result.IsSuccess)
        {
            return Status(reply, unique, result.Error);
        }

        if ((uint)result.Value > (uint)room)
        {
            return Misbehaved(reply, unique, "the filesystem reported more bytes than its buffer holds");
        }

        return FuseReplyWriter.WriteDataHeader(reply.Span, unique, result.Value);
    }

    /// <summary>GETXATTR/LISTXATTR: a size query (size 0) gets <c>fuse_getxattr_out</c>, otherwise the data or ERANGE.</summary>
    private int Xattr(Memory<byte> reply, ulong unique, uint size, FuseResult<int> result, int room)
    {
        if (!result.IsSuccess)
        {
            return Status(reply, unique, result.Error);
        }

        if (result.Value < 0)
        {
            return Misbehaved(reply, unique, "the filesystem reported a negative attribute length");
        }

        if (size == 0)
        {
            return FuseReplyWriter.WriteStruct(reply.Span, unique, new FuseGetxattrOut { Size = (uint)result.Value });
        }

        if ((uint)result.Value > size)
        {
            return Status(reply, unique, Errno.ERANGE);
        }

        return result.Value > room ? Status(reply, unique, Errno.ERANGE) : FuseReplyWriter.WriteDataHeader(reply.Span, unique, result.Value);
    }

    private int Invalid(Memory<byte> reply, ulong unique, string reason)
    {
        Log.MalformedRequest(_logger, unique, reason);
        return FuseReplyWriter.WriteStatus(reply.Span, unique, Errno.EINVAL);
    }

    private int Misbehaved(Memory<byte> reply, ulong unique, string reason)
    {
        Log.FileSystemMisbehaved(_logger, unique, reason);
        return FuseReplyWriter.WriteStatus(reply.Span, unique, Errno.EIO);
    }

    /// <summary>The client accepts errors in 1..511 only; anything else from a filesystem becomes EIO.</summary>
    private Errno CheckErrno(Errno error, ulong unique)
    {
        if ((uint)error < 512)
        {
            return error;
        }

        Log.FileSystemMisbehaved(_logger, unique, $"invalid errno {(int)error}");
        return Errno.EIO;
    }
}
