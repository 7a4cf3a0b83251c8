using System.Buffers.Binary;
using VirtioFs.Protocol;

namespace VirtioFs.Samples.Passthrough;

public sealed unsafe partial class PassthroughFileSystem
{
    /// <inheritdoc/>
    public override ValueTask<FuseResult<FuseOpenOut>> OpenDirAsync(FuseRequestContext context, FuseOpenIn args)
    {
        Inode? inode = Node(context.NodeId);
        if (inode is null)
        {
            return new(Errno.ESTALE);
        }

        int fd;
        using (CallerCredentials.Scope scope = _credentials.Enter(context))
        {
            fd = Reopen(inode, Interop.O_RDONLY | Interop.O_DIRECTORY);
        }

        if (fd < 0)
        {
            return new(Interop.LastErrno);
        }

        var handle = new FileHandle(inode, Interop.Own(fd), Interop.O_RDONLY | Interop.O_DIRECTORY) { Directory = new DirectoryStream() };
        FuseResult<FuseOpenOut> reply = OpenReply(handle, regular: false);
        if (!reply.IsSuccess)
        {
            return new(reply);
        }

        // A directory takes no file flags (no direct I/O); with the cache kept, its listing is cached too.
        FuseOpenOut open = reply.Value;
        open.OpenFlags = _options.Cache == PassthroughCacheMode.Always ? (uint)(FuseOpenOutFlags.KeepCache | FuseOpenOutFlags.CacheDir) : 0;
        return new(open);
    }

    /// <inheritdoc/>
    public override ValueTask<Errno> ReleaseDirAsync(FuseRequestContext context, FuseReleaseIn args) => ReleaseAsync(context, args);

    /// <inheritdoc/>
    public override ValueTask<Errno> FsyncDirAsync(FuseRequestContext context, FuseFsyncIn args) => FsyncAsync(context, args);

    /// <inheritdoc/>
    public override ValueTask<Errno> ReadDirAsync(FuseRequestContext context, FuseReadIn args, FuseDirectoryWriter writer)
        => new(List(context, args, writer));

    /// <inheritdoc/>
    public override ValueTask<Errno> ReadDirPlusAsync(FuseRequestContext context, FuseReadIn args, FuseDirectoryWriter writer)
        => new(List(context, args, writer));

    /// <summary>
    /// Lists from the host's <c>getdents64</c> records (<c>u64 d_ino, s64 d_off, u16 d_reclen, u8 d_type, char d_name[]</c>),
    /// passing the host's <c>d_off</c> cookies on as the client's offsets.
    /// </summary>
    private Errno List(FuseRequestContext context, FuseReadIn args, FuseDirectoryWriter writer)
    {
        FileHandle? handle = Handle(args.Fh);
        if (handle?.Directory is not { } stream)
        {
            return Errno.EBADF;
        }

        // READDIRPLUS looks every entry up, which needs search permission on the directory: as the caller.
        using CallerCredentials.Scope scope = writer.IsPlus ? _credentials.Enter(context) : default;
        lock (stream.Lock)
        {
            if (stream.Position != (long)args.Offset)
            {
                if (Interop.Lseek(handle.Fd, (long)args.Offset, 0) < 0)
                {
                    return Interop.LastErrno;
                }

                stream.Position = (long)args.Offset;
                stream.Start = stream.End = 0;
            }

            fixed (byte* buffer = stream.Buffer)
            {
                while (true)
                {
                    if (stream.Start >= stream.End)
                    {
                        long n = Interop.Syscall(Interop.SYS_getdents64, (nint)handle.Fd.DangerousGetHandle(), (nint)buffer, stream.Buffer.Length);
                        if (n < 0)
                        {
                            return writer.Count > 0 ? Errno.Success : Interop.LastErrno;
                        }

                        if (n == 0)
                        {
                            return Errno.Success;
                        }

                        stream.Start = 0;
                        stream.End = (int)n;
                    }

                    ReadOnlySpan<byte> record = stream.Buffer.AsSpan(stream.Start, stream.End - stream.Start);
                    ulong ino = BinaryPrimitives.ReadUInt64LittleEndian(record);
                    long next = BinaryPrimitives.ReadInt64LittleEndian(record.Slice(8));
                    int length = BinaryPrimitives.ReadUInt16LittleEndian(record.Slice(16));
                    byte type = record[18];
                    ReadOnlySpan<byte> name = record.Slice(19, length - 19);
                    name = name.Slice(0, name.IndexOf((byte)0));
                    bool added = writer.IsPlus
                        ? AddPlus(handle.Inode, writer, ino, (ulong)next, type, name, buffer + stream.Start + 19)
                        : writer.TryAdd(ino, (ulong)next, (FuseDirentType)type, name);
                    if (!added)
                    {
                        return Errno.Success;
                    }

                    stream.Start += length;
                    stream.Position = next;
                }
            }
        }
    }

    private bool AddPlus(Inode directory, FuseDirectoryWriter writer, ulong ino, ulong next, byte type, ReadOnlySpan<byte> name, byte* terminatedName)
    {
        bool dots = name.SequenceEqual("."u8) || name.SequenceEqual(".."u8);
        if (dots || LookupName(directory, terminatedName, out FuseEntryOut entry) != Errno.Success)
        {
            // No node for "." and "..", nor for an entry that vanished or cannot be looked up: the client looks it up itself.
            entry = new FuseEntryOut { Attr = new FuseAttr { Ino = ino, Mode = (uint)type << 12 } };
            return writer.TryAddPlus(entry, next, name);
        }

        if (!writer.TryAddPlus(entry, next, name))
        {
            _inodes.Forget(entry.Nodeid, 1);
            return false;
        }

        return true;
    }
}
