using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace VirtioFs.Protocol;

public sealed partial class FuseSession
{
    /// <summary>
    /// <c>FUSE_INIT</c>: major 7 only (a larger major gets ours back so the client can retry; a smaller one EPROTO);
    /// minor = min(client's, 45), at least <see cref="FuseSessionOptions.OldestMinor"/>; flags = offered ∩ supported ∩ enabled;
    /// the reply is cut to the size the client's minor expects (24 bytes before 7.23).
    /// </summary>
    private async ValueTask<int> HandleInitAsync(FuseInHeader header, ReadOnlyMemory<byte> body, Memory<byte> reply)
    {
        ulong unique = header.Unique;
        if (body.Length < 8)
        {
            Log.MalformedRequest(_logger, unique, "INIT shorter than major and minor");
            return FuseReplyWriter.WriteStatus(reply.Span, unique, Errno.EINVAL);
        }

        uint major = BinaryPrimitives.ReadUInt32LittleEndian(body.Span);
        uint minor = BinaryPrimitives.ReadUInt32LittleEndian(body.Span.Slice(4));
        if (_connection is not null)
        {
            Log.MalformedRequest(_logger, unique, "second INIT");
            return FuseReplyWriter.WriteStatus(reply.Span, unique, Errno.EIO);
        }

        if (major > FuseConstants.KernelVersion)
        {
            Log.InitMajorRetry(_logger, major);
            var ours = new FuseInitOut { Major = FuseConstants.KernelVersion, Minor = FuseSessionOptions.LatestMinor };
            return FuseReplyWriter.WriteStruct(reply.Span, unique, in ours, FuseConstants.CompatInitOutSize);
        }

        if (major < FuseConstants.KernelVersion || minor < FuseSessionOptions.OldestMinor)
        {
            Log.InitRejected(_logger, major, minor);
            return FuseReplyWriter.WriteStatus(reply.Span, unique, Errno.EPROTO);
        }

        if (body.Length < FuseConstants.InitInSizeBefore736)
        {
            Log.MalformedRequest(_logger, unique, "INIT shorter than 16 bytes");
            return FuseReplyWriter.WriteStatus(reply.Span, unique, Errno.EINVAL);
        }

        FuseInitIn args = FuseRequestParser.ReadArgs<FuseInitIn>(body.Span, Math.Min(body.Length, FuseInitIn.Size));
        uint negotiatedMinor = Math.Min(minor, FuseSessionOptions.LatestMinor);
        FuseInitOut init = Negotiate(args, negotiatedMinor, body.Length >= FuseInitIn.Size, out FuseInitFlags offered);
        int size = negotiatedMinor < 5 ? FuseConstants.CompatInitOutSize
            : negotiatedMinor < 23 ? FuseConstants.Compat22InitOutSize
            : FuseInitOut.Size;
        if (reply.Length < FuseReplyWriter.HeaderSize + size)
        {
            return FuseReplyWriter.WriteStatus(reply.Span, unique, Errno.ERANGE);
        }

        // The connection describes what the client will read: fields beyond an older minor's reply size stay zero.
        FuseInitOut sent = FuseRequestParser.ReadArgs<FuseInitOut>(MemoryMarshal.AsBytes(new ReadOnlySpan<FuseInitOut>(in init)), size);
        var connection = new FuseConnectionInfo(minor, offered, sent, NotificationChannel?.Passthrough);

        Errno accepted;
        try
        {
            accepted = await _fileSystem.InitAsync(connection).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Log.FileSystemThrew(_logger, "INIT", unique, ex);
            accepted = Errno.EIO;
        }

        if (accepted != Errno.Success)
        {
            return FuseReplyWriter.WriteStatus(reply.Span, unique, CheckErrno(accepted, unique));
        }

        _connection = connection;
        Log.Initialized(_logger, negotiatedMinor, connection.Flags);
        return FuseReplyWriter.WriteStruct(reply.Span, unique, in sent, size);
    }

    private FuseInitOut Negotiate(FuseInitIn args, uint minor, bool hasFlags2, out FuseInitFlags offered)
    {
        offered = (FuseInitFlags)args.Flags;
        if (minor >= 36 && hasFlags2 && (offered & FuseInitFlags.InitExt) != 0)
        {
            offered |= (FuseInitFlags)((ulong)args.Flags2 << 32);
        }

        FuseInitFlags flags = offered & FuseSessionOptions.SupportedCapabilities & _options.Capabilities;
        if (minor < 36)
        {
            // flags2 and FUSE_INIT_EXT exist from 7.36 on.
            flags &= ~FuseInitFlags.InitExt;
        }

        if ((flags & FuseInitFlags.InitExt) == 0)
        {
            // The client reads flags2 only when the reply carries FUSE_INIT_EXT.
            flags &= (FuseInitFlags)uint.MaxValue;
        }

        bool maxPages = (flags & FuseInitFlags.MaxPages) != 0;
        bool mapAlignment = (flags & FuseInitFlags.MapAlignment) != 0;
        bool passthrough = (flags & FuseInitFlags.Passthrough) != 0;
        return new FuseInitOut
        {
            Major = FuseConstants.KernelVersion,
            Minor = minor,
            MaxReadahead = Math.Min(args.MaxReadahead, _options.MaxReadahead),
            Flags = (uint)flags,
            Flags2 = (uint)((ulong)flags >> 32),
            MaxBackground = _options.MaxBackground,
            CongestionThreshold = _options.CongestionThreshold,
            MaxWrite = (uint)_options.MaxWrite,
            TimeGran = _options.TimeGranularity,
            MaxPages = maxPages ? (ushort)((_options.MaxWrite + 4095) / 4096) : (ushort)0,
            MapAlignment = mapAlignment ? (ushort)(_options.MappingServer?.MapAlignment ?? _options.MapAlignment) : (ushort)0,
            MaxStackDepth = passthrough ? _options.MaxStackDepth : 0,
        };
    }
}
