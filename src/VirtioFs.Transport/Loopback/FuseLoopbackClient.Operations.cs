using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using VirtioFs.Protocol;

namespace VirtioFs.Transport;

public sealed partial class FuseLoopbackClient
{
    /// <summary><c>FUSE_INIT</c>: negotiates as a kernel of the given minor version and capabilities would.</summary>
    /// <param name="options">The emulated kernel; defaults to 7.45 offering every capability.</param>
    /// <returns>The server's reply (fields beyond the minor's reply size are zero), or its error.</returns>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<FuseResult<FuseInitOut>> InitAsync(FuseClientInitOptions? options = null)
    {
        options ??= new FuseClientInitOptions();
        bool extended = options.Minor >= 36;
        int size = extended ? FuseInitIn.Size : FuseConstants.InitInSizeBefore736;
        ulong flags = (ulong)options.Flags;
        if (extended && flags > uint.MaxValue)
        {
            flags |= (ulong)FuseInitFlags.InitExt;
        }

        PendingRequest pending = Begin(FuseOpcode.Init, 0, size, FuseInitOut.Size);
        var args = new FuseInitIn
        {
            Major = options.Major,
            Minor = options.Minor,
            MaxReadahead = options.MaxReadahead,
            Flags = (uint)flags,
            Flags2 = extended ? (uint)(flags >> 32) : 0,
        };
        WriteArgs(Body(pending), in args, size);
        int replySize = options.Major != FuseConstants.KernelVersion ? FuseConstants.CompatInitOutSize
            : options.Minor < 23 ? FuseConstants.Compat22InitOutSize : FuseInitOut.Size;
        FuseResult<FuseInitOut> result = await CallAsync<FuseInitOut>(pending, Math.Min(replySize, FuseConstants.CompatInitOutSize)).ConfigureAwait(false);
        if (result.IsSuccess && options.Major == FuseConstants.KernelVersion)
        {
            ProtocolMinor = result.Value.Minor;
            NegotiatedFlags = (FuseInitFlags)(result.Value.Flags | ((ulong)result.Value.Flags2 << 32));
        }

        return result;
    }

    /// <summary><c>FUSE_LOOKUP</c>.</summary>
    /// <param name="parent">The directory.</param>
    /// <param name="name">The name.</param>
    /// <returns>The entry or an error.</returns>
    public ValueTask<FuseResult<FuseEntryOut>> LookupAsync(ulong parent, string name)
    {
        PendingRequest pending = Begin(FuseOpcode.Lookup, parent, NameSize(name), FuseEntryOut.Size);
        WriteName(Body(pending), 0, name);
        return CallAsync<FuseEntryOut>(pending);
    }

    /// <summary><c>FUSE_LOOKUP</c> with a name given as bytes (no allocation).</summary>
    /// <param name="parent">The directory.</param>
    /// <param name="name">The name, without NUL.</param>
    /// <returns>The entry or an error.</returns>
    public ValueTask<FuseResult<FuseEntryOut>> LookupAsync(ulong parent, ReadOnlySpan<byte> name)
    {
        PendingRequest pending = Begin(FuseOpcode.Lookup, parent, name.Length + 1, FuseEntryOut.Size);
        Span<byte> body = Body(pending);
        name.CopyTo(body);
        body[name.Length] = 0;
        return CallAsync<FuseEntryOut>(pending);
    }

    /// <summary><c>FUSE_FORGET</c>; completes once the server has consumed it.</summary>
    /// <param name="nodeId">The node.</param>
    /// <param name="lookupCount">The lookups to drop.</param>
    /// <returns>A task.</returns>
    public ValueTask ForgetAsync(ulong nodeId, ulong lookupCount)
    {
        PendingRequest pending = Begin(FuseOpcode.Forget, nodeId, FuseForgetIn.Size, 0);
        WriteArgs(Body(pending), new FuseForgetIn { Nlookup = lookupCount });
        return CallNoReplyAsync(pending);
    }

    /// <summary><c>FUSE_BATCH_FORGET</c>; completes once the server has consumed it.</summary>
    /// <param name="nodes">The nodes and counts.</param>
    /// <returns>A task.</returns>
    public ValueTask BatchForgetAsync(ReadOnlySpan<FuseForgetOne> nodes)
    {
        ReadOnlySpan<byte> entries = MemoryMarshal.AsBytes(nodes);
        PendingRequest pending = Begin(FuseOpcode.BatchForget, 0, FuseBatchForgetIn.Size + entries.Length, 0);
        WriteArgs(Body(pending), new FuseBatchForgetIn { Count = (uint)nodes.Length });
        entries.CopyTo(Body(pending).Slice(FuseBatchForgetIn.Size));
        return CallNoReplyAsync(pending);
    }

    /// <summary><c>FUSE_GETATTR</c>.</summary>
    /// <param name="nodeId">The node.</param>
    /// <param name="fh">A file handle to use (<c>FUSE_GETATTR_FH</c>), or null.</param>
    /// <returns>The attributes or an error.</returns>
    public ValueTask<FuseResult<FuseAttrOut>> GetAttrAsync(ulong nodeId, ulong? fh = null)
    {
        PendingRequest pending = Begin(FuseOpcode.GetAttr, nodeId, FuseGetattrIn.Size, FuseAttrOut.Size);
        var args = new FuseGetattrIn { GetattrFlags = fh.HasValue ? (uint)FuseGetAttrFlags.Fh : 0, Fh = fh ?? 0 };
        WriteArgs(Body(pending), in args);
        return CallAsync<FuseAttrOut>(pending);
    }

    /// <summary><c>FUSE_SETATTR</c>.</summary>
    /// <param name="nodeId">The node.</param>
    /// <param name="args">What to change.</param>
    /// <returns>The resulting attributes or an error.</returns>
    public ValueTask<FuseResult<FuseAttrOut>> SetAttrAsync(ulong nodeId, FuseSetattrIn args)
    {
        PendingRequest pending = Begin(FuseOpcode.SetAttr, nodeId, FuseSetattrIn.StructSize, FuseAttrOut.Size);
        WriteArgs(Body(pending), in args);
        return CallAsync<FuseAttrOut>(pending);
    }

    /// <summary><c>FUSE_STATX</c>.</summary>
    /// <param name="nodeId">The node.</param>
    /// <param name="args">Mask, flags and optional handle.</param>
    /// <returns>The statx reply or an error.</returns>
    public ValueTask<FuseResult<FuseStatxOut>> StatxAsync(ulong nodeId, FuseStatxIn args)
    {
        PendingRequest pending = Begin(FuseOpcode.Statx, nodeId, FuseStatxIn.Size, FuseStatxOut.Size);
        WriteArgs(Body(pending), in args);
        return CallAsync<FuseStatxOut>(pending);
    }

    /// <summary><c>FUSE_READLINK</c>.</summary>
    /// <param name="nodeId">The symbolic link.</param>
    /// <returns>The target or an error.</returns>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<FuseResult<string>> ReadLinkAsync(ulong nodeId)
    {
        byte[] target = new byte[4096];
        PendingRequest pending = Begin(FuseOpcode.ReadLink, nodeId, 0, target.Length);
        FuseResult<int> result = await CallDataAsync(pending, target).ConfigureAwait(false);
        return result.IsSuccess ? System.Text.Encoding.UTF8.GetString(target, 0, result.Value) : result.Error;
    }

    /// <summary><c>FUSE_SYMLINK</c>.</summary>
    /// <param name="parent">The directory.</param>
    /// <param name="name">The link's name.</param>
    /// <param name="target">The link's target.</param>
    /// <returns>The new entry or an error.</returns>
    public ValueTask<FuseResult<FuseEntryOut>> SymlinkAsync(ulong parent, string name, string target)
    {
        PendingRequest pending = Begin(FuseOpcode.Symlink, parent, NameSize(name) + NameSize(target), FuseEntryOut.Size);
        WriteName(Body(pending), WriteName(Body(pending), 0, name), target);
        return CallAsync<FuseEntryOut>(pending);
    }

    /// <summary><c>FUSE_MKNOD</c>.</summary>
    /// <param name="parent">The directory.</param>
    /// <param name="name">The name.</param>
    /// <param name="mode">Type and permission bits.</param>
    /// <param name="rdev">Device number for device nodes.</param>
    /// <param name="umask">The caller's umask.</param>
    /// <returns>The new entry or an error.</returns>
    public ValueTask<FuseResult<FuseEntryOut>> MkNodAsync(ulong parent, string name, uint mode, uint rdev = 0, uint umask = 0)
    {
        int argsSize = ProtocolMinor < 12 ? FuseConstants.CompatMknodInSize : FuseMknodIn.Size;
        PendingRequest pending = Begin(FuseOpcode.MkNod, parent, argsSize + NameSize(name), FuseEntryOut.Size);
        WriteArgs(Body(pending), new FuseMknodIn { Mode = mode, Rdev = rdev, Umask = umask }, argsSize);
        WriteName(Body(pending), argsSize, name);
        return CallAsync<FuseEntryOut>(pending);
    }

    /// <summary><c>FUSE_MKDIR</c>.</summary>
    /// <param name="parent">The directory.</param>
    /// <param name="name">The name.</param>
    /// <param name="mode">Permission bits.</param>
    /// <param name="umask">The caller's umask.</param>
    /// <returns>The new entry or an error.</returns>
    public ValueTask<FuseResult<FuseEntryOut>> MkDirAsync(ulong parent, string name, uint mode, uint umask = 0)
    {
        PendingRequest pending = Begin(FuseOpcode.MkDir, parent, FuseMkdirIn.Size + NameSize(name), FuseEntryOut.Size);
        WriteArgs(Body(pending), new FuseMkdirIn { Mode = mode, Umask = umask });
        WriteName(Body(pending), FuseMkdirIn.Size, name);
        return CallAsync<FuseEntryOut>(pending);
    }

    /// <summary><c>FUSE_UNLINK</c>.</summary>
    /// <param name="parent">The directory.</param>
    /// <param name="name">The name.</param>
    /// <returns>The outcome.</returns>
    public ValueTask<Errno> UnlinkAsync(ulong parent, string name) => NameOnly(FuseOpcode.Unlink, parent, name);

    /// <summary><c>FUSE_RMDIR</c>.</summary>
    /// <param name="parent">The directory.</param>
    /// <param name="name">The name.</param>
    /// <returns>The outcome.</returns>
    public ValueTask<Errno> RmDirAsync(ulong parent, string name) => NameOnly(FuseOpcode.RmDir, parent, name);

    /// <summary><c>FUSE_RENAME</c>.</summary>
    /// <param name="parent">The source directory.</param>
    /// <param name="name">The source name.</param>
    /// <param name="newParent">The destination directory.</param>
    /// <param name="newName">The destination name.</param>
    /// <returns>The outcome.</returns>
    public ValueTask<Errno> RenameAsync(ulong parent, string name, ulong newParent, string newName)
    {
        PendingRequest pending = Begin(FuseOpcode.Rename, parent, FuseRenameIn.Size + NameSize(name) + NameSize(newName), 0);
        WriteArgs(Body(pending), new FuseRenameIn { Newdir = newParent });
        WriteName(Body(pending), WriteName(Body(pending), FuseRenameIn.Size, name), newName);
        return CallStatusAsync(pending);
    }

    /// <summary><c>FUSE_RENAME2</c>.</summary>
    /// <param name="parent">The source directory.</param>
    /// <param name="name">The source name.</param>
    /// <param name="newParent">The destination directory.</param>
    /// <param name="newName">The destination name.</param>
    /// <param name="flags">Rename flags.</param>
    /// <returns>The outcome.</returns>
    public ValueTask<Errno> Rename2Async(ulong parent, string name, ulong newParent, string newName, FuseRenameFlags flags)
    {
        PendingRequest pending = Begin(FuseOpcode.Rename2, parent, FuseRename2In.Size + NameSize(name) + NameSize(newName), 0);
        WriteArgs(Body(pending), new FuseRename2In { Newdir = newParent, Flags = (uint)flags });
        WriteName(Body(pending), WriteName(Body(pending), FuseRename2In.Size, name), newName);
        return CallStatusAsync(pending);
    }

    /// <summary><c>FUSE_LINK</c>.</summary>
    /// <param name="nodeId">The existing node.</param>
    /// <param name="newParent">The directory of the new name.</param>
    /// <param name="newName">The new name.</param>
    /// <returns>The entry or an error.</returns>
    public ValueTask<FuseResult<FuseEntryOut>> LinkAsync(ulong nodeId, ulong newParent, string newName)
    {
        PendingRequest pending = Begin(FuseOpcode.Link, newParent, FuseLinkIn.Size + NameSize(newName), FuseEntryOut.Size);
        WriteArgs(Body(pending), new FuseLinkIn { Oldnodeid = nodeId });
        WriteName(Body(pending), FuseLinkIn.Size, newName);
        return CallAsync<FuseEntryOut>(pending);
    }

    /// <summary><c>FUSE_OPEN</c>.</summary>
    /// <param name="nodeId">The file.</param>
    /// <param name="flags">Open flags (<c>O_*</c>).</param>
    /// <returns>The handle or an error.</returns>
    public ValueTask<FuseResult<FuseOpenOut>> OpenAsync(ulong nodeId, uint flags) => Open(FuseOpcode.Open, nodeId, flags);

    /// <summary><c>FUSE_OPENDIR</c>.</summary>
    /// <param name="nodeId">The directory.</param>
    /// <param name="flags">Open flags.</param>
    /// <returns>The handle or an error.</returns>
    public ValueTask<FuseResult<FuseOpenOut>> OpenDirAsync(ulong nodeId, uint flags = 0) => Open(FuseOpcode.OpenDir, nodeId, flags);

    /// <summary><c>FUSE_CREATE</c>.</summary>
    /// <param name="parent">The directory.</param>
    /// <param name="name">The name.</param>
    /// <param name="flags">Open flags.</param>
    /// <param name="mode">Permission bits (and <c>S_IFREG</c>).</param>
    /// <param name="umask">The caller's umask.</param>
    /// <returns>The entry and handle or an error.</returns>
    public ValueTask<FuseResult<FuseCreateOut>> CreateAsync(ulong parent, string name, uint flags, uint mode, uint umask = 0)
    {
        PendingRequest pending = Begin(FuseOpcode.Create, parent, FuseCreateIn.Size + NameSize(name), FuseCreateOut.Size);
        WriteArgs(Body(pending), new FuseCreateIn { Flags = flags, Mode = mode, Umask = umask });
        WriteName(Body(pending), FuseCreateIn.Size, name);
        return CallAsync<FuseCreateOut>(pending);
    }

    /// <summary><c>FUSE_TMPFILE</c>.</summary>
    /// <param name="parent">The directory.</param>
    /// <param name="flags">Open flags.</param>
    /// <param name="mode">Permission bits (and <c>S_IFREG</c>).</param>
    /// <param name="umask">The caller's umask.</param>
    /// <returns>The entry and handle or an error.</returns>
    public ValueTask<FuseResult<FuseCreateOut>> TmpFileAsync(ulong parent, uint flags, uint mode, uint umask = 0)
    {
        PendingRequest pending = Begin(FuseOpcode.TmpFile, parent, FuseCreateIn.Size, FuseCreateOut.Size);
        WriteArgs(Body(pending), new FuseCreateIn { Flags = flags, Mode = mode, Umask = umask });
        return CallAsync<FuseCreateOut>(pending);
    }

    /// <summary><c>FUSE_READ</c> into <paramref name="destination"/> (no allocation).</summary>
    /// <param name="nodeId">The file.</param>
    /// <param name="fh">The handle.</param>
    /// <param name="offset">Where to read.</param>
    /// <param name="destination">Where the data goes; its length is the size asked for.</param>
    /// <returns>The bytes read or an error.</returns>
    public ValueTask<FuseResult<int>> ReadAsync(ulong nodeId, ulong fh, ulong offset, Memory<byte> destination)
    {
        PendingRequest pending = Begin(FuseOpcode.Read, nodeId, FuseReadIn.StructSize, destination.Length);
        WriteArgs(Body(pending), new FuseReadIn { Fh = fh, Offset = offset, Size = (uint)destination.Length });
        return CallDataAsync(pending, destination);
    }

    /// <summary><c>FUSE_WRITE</c>.</summary>
    /// <param name="nodeId">The file.</param>
    /// <param name="fh">The handle.</param>
    /// <param name="offset">Where to write.</param>
    /// <param name="data">The data.</param>
    /// <param name="writeFlags"><see cref="FuseWriteFlags"/>.</param>
    /// <returns>The bytes written or an error.</returns>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<FuseResult<int>> WriteAsync(ulong nodeId, ulong fh, ulong offset, ReadOnlyMemory<byte> data, FuseWriteFlags writeFlags = FuseWriteFlags.None)
    {
        PendingRequest pending = Begin(FuseOpcode.Write, nodeId, FuseWriteIn.StructSize + data.Length, FuseWriteOut.StructSize);
        WriteArgs(Body(pending), new FuseWriteIn { Fh = fh, Offset = offset, Size = (uint)data.Length, WriteFlags = (uint)writeFlags });
        data.Span.CopyTo(Body(pending).Slice(FuseWriteIn.StructSize));
        FuseResult<FuseWriteOut> result = await CallAsync<FuseWriteOut>(pending).ConfigureAwait(false);
        return result.IsSuccess ? (int)result.Value.Size : result.Error;
    }

    /// <summary><c>FUSE_STATFS</c>.</summary>
    /// <param name="nodeId">Any node of the filesystem.</param>
    /// <returns>The statistics or an error.</returns>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<FuseResult<FuseKstatfs>> StatFsAsync(ulong nodeId = FuseConstants.RootId)
    {
        PendingRequest pending = Begin(FuseOpcode.StatFs, nodeId, 0, FuseStatfsOut.Size);
        FuseResult<FuseStatfsOut> result = await CallAsync<FuseStatfsOut>(pending).ConfigureAwait(false);
        return result.IsSuccess ? result.Value.St : result.Error;
    }

    /// <summary><c>FUSE_RELEASE</c>.</summary>
    /// <param name="nodeId">The file.</param>
    /// <param name="fh">The handle.</param>
    /// <param name="flags">The open flags.</param>
    /// <param name="releaseFlags"><see cref="FuseReleaseFlags"/>.</param>
    /// <param name="lockOwner">The lock owner, for <see cref="FuseReleaseFlags.FlockUnlock"/>.</param>
    /// <returns>The outcome.</returns>
    public ValueTask<Errno> ReleaseAsync(ulong nodeId, ulong fh, uint flags = 0, FuseReleaseFlags releaseFlags = FuseReleaseFlags.None, ulong lockOwner = 0)
        => Release(FuseOpcode.Release, nodeId, new FuseReleaseIn { Fh = fh, Flags = flags, ReleaseFlags = (uint)releaseFlags, LockOwner = lockOwner });

    /// <summary><c>FUSE_RELEASEDIR</c>.</summary>
    /// <param name="nodeId">The directory.</param>
    /// <param name="fh">The handle.</param>
    /// <returns>The outcome.</returns>
    public ValueTask<Errno> ReleaseDirAsync(ulong nodeId, ulong fh) => Release(FuseOpcode.ReleaseDir, nodeId, new FuseReleaseIn { Fh = fh });

    /// <summary><c>FUSE_FSYNC</c>.</summary>
    /// <param name="nodeId">The file.</param>
    /// <param name="fh">The handle.</param>
    /// <param name="dataOnly">Whether only data must be persisted (<c>fdatasync</c>).</param>
    /// <returns>The outcome.</returns>
    public ValueTask<Errno> FsyncAsync(ulong nodeId, ulong fh, bool dataOnly = false) => Fsync(FuseOpcode.Fsync, nodeId, fh, dataOnly);

    /// <summary><c>FUSE_FSYNCDIR</c>.</summary>
    /// <param name="nodeId">The directory.</param>
    /// <param name="fh">The handle.</param>
    /// <param name="dataOnly">Whether only data must be persisted.</param>
    /// <returns>The outcome.</returns>
    public ValueTask<Errno> FsyncDirAsync(ulong nodeId, ulong fh, bool dataOnly = false) => Fsync(FuseOpcode.FsyncDir, nodeId, fh, dataOnly);

    /// <summary><c>FUSE_FLUSH</c>.</summary>
    /// <param name="nodeId">The file.</param>
    /// <param name="fh">The handle.</param>
    /// <param name="lockOwner">The closing owner.</param>
    /// <returns>The outcome.</returns>
    public ValueTask<Errno> FlushAsync(ulong nodeId, ulong fh, ulong lockOwner = 0)
    {
        PendingRequest pending = Begin(FuseOpcode.Flush, nodeId, FuseFlushIn.Size, 0);
        WriteArgs(Body(pending), new FuseFlushIn { Fh = fh, LockOwner = lockOwner });
        return CallStatusAsync(pending);
    }

    /// <summary><c>FUSE_SETXATTR</c> (in the 16-byte layout when <see cref="FuseInitFlags.SetxattrExt"/> was negotiated, else 8).</summary>
    /// <param name="nodeId">The node.</param>
    /// <param name="name">The attribute's name.</param>
    /// <param name="value">The value.</param>
    /// <param name="flags"><c>XATTR_CREATE</c> (1) or <c>XATTR_REPLACE</c> (2).</param>
    /// <returns>The outcome.</returns>
    public ValueTask<Errno> SetXattrAsync(ulong nodeId, string name, ReadOnlyMemory<byte> value, uint flags = 0)
    {
        int argsSize = (NegotiatedFlags & FuseInitFlags.SetxattrExt) != 0 ? FuseSetxattrIn.StructSize : FuseConstants.CompatSetxattrInSize;
        PendingRequest pending = Begin(FuseOpcode.SetXattr, nodeId, argsSize + NameSize(name) + value.Length, 0);
        WriteArgs(Body(pending), new FuseSetxattrIn { Size = (uint)value.Length, Flags = flags }, argsSize);
        int offset = WriteName(Body(pending), argsSize, name);
        value.Span.CopyTo(Body(pending).Slice(offset));
        return CallStatusAsync(pending);
    }

    /// <summary><c>FUSE_GETXATTR</c>: with an empty <paramref name="buffer"/>, asks for the value's size.</summary>
    /// <param name="nodeId">The node.</param>
    /// <param name="name">The attribute's name.</param>
    /// <param name="buffer">Where the value goes; empty for a size query.</param>
    /// <returns>The value's size (query) or the bytes copied, or an error.</returns>
    public ValueTask<FuseResult<int>> GetXattrAsync(ulong nodeId, string name, Memory<byte> buffer)
    {
        PendingRequest pending = Begin(FuseOpcode.GetXattr, nodeId, FuseGetxattrIn.StructSize + NameSize(name), Math.Max(buffer.Length, FuseGetxattrOut.StructSize));
        WriteArgs(Body(pending), new FuseGetxattrIn { Size = (uint)buffer.Length });
        WriteName(Body(pending), FuseGetxattrIn.StructSize, name);
        return CallXattrAsync(pending, buffer);
    }

    /// <summary><c>FUSE_LISTXATTR</c>: with an empty <paramref name="buffer"/>, asks for the list's size.</summary>
    /// <param name="nodeId">The node.</param>
    /// <param name="buffer">Where the NUL-separated names go; empty for a size query.</param>
    /// <returns>The list's size (query) or the bytes copied, or an error.</returns>
    public ValueTask<FuseResult<int>> ListXattrAsync(ulong nodeId, Memory<byte> buffer)
    {
        PendingRequest pending = Begin(FuseOpcode.ListXattr, nodeId, FuseGetxattrIn.StructSize, Math.Max(buffer.Length, FuseGetxattrOut.StructSize));
        WriteArgs(Body(pending), new FuseGetxattrIn { Size = (uint)buffer.Length });
        return CallXattrAsync(pending, buffer);
    }

    /// <summary><c>FUSE_REMOVEXATTR</c>.</summary>
    /// <param name="nodeId">The node.</param>
    /// <param name="name">The attribute's name.</param>
    /// <returns>The outcome.</returns>
    public ValueTask<Errno> RemoveXattrAsync(ulong nodeId, string name) => NameOnly(FuseOpcode.RemoveXattr, nodeId, name);

    /// <summary><c>FUSE_READDIR</c>, decoded.</summary>
    /// <param name="nodeId">The directory.</param>
    /// <param name="fh">The handle.</param>
    /// <param name="offset">The offset cookie to resume from (0 to start).</param>
    /// <param name="size">The reply room.</param>
    /// <returns>The entries (empty at the end) or an error.</returns>
    public ValueTask<FuseResult<IReadOnlyList<FuseDirectoryEntry>>> ReadDirAsync(ulong nodeId, ulong fh, ulong offset, uint size = 4096)
        => ReadDirectory(FuseOpcode.ReadDir, nodeId, fh, offset, size);

    /// <summary><c>FUSE_READDIRPLUS</c>, decoded; each entry with a non-zero node id counts as a lookup.</summary>
    /// <param name="nodeId">The directory.</param>
    /// <param name="fh">The handle.</param>
    /// <param name="offset">The offset cookie to resume from (0 to start).</param>
    /// <param name="size">The reply room.</param>
    /// <returns>The entries (empty at the end) or an error.</returns>
    public ValueTask<FuseResult<IReadOnlyList<FuseDirectoryEntry>>> ReadDirPlusAsync(ulong nodeId, ulong fh, ulong offset, uint size = 4096)
        => ReadDirectory(FuseOpcode.ReadDirPlus, nodeId, fh, offset, size);

    /// <summary><c>FUSE_GETLK</c>.</summary>
    /// <param name="nodeId">The file.</param>
    /// <param name="args">Handle, owner and the lock to test.</param>
    /// <returns>The conflicting lock (or <c>F_UNLCK</c>) or an error.</returns>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<FuseResult<FuseFileLock>> GetLkAsync(ulong nodeId, FuseLkIn args)
    {
        PendingRequest pending = Begin(FuseOpcode.GetLk, nodeId, FuseLkIn.Size, FuseLkOut.Size);
        WriteArgs(Body(pending), in args);
        FuseResult<FuseLkOut> result = await CallAsync<FuseLkOut>(pending).ConfigureAwait(false);
        return result.IsSuccess ? result.Value.Lk : result.Error;
    }

    /// <summary><c>FUSE_SETLK</c> or, with <paramref name="wait"/>, <c>FUSE_SETLKW</c>.</summary>
    /// <param name="nodeId">The file.</param>
    /// <param name="args">Handle, owner and the lock.</param>
    /// <param name="wait">Whether to wait for conflicting locks.</param>
    /// <returns>The outcome.</returns>
    public ValueTask<Errno> SetLkAsync(ulong nodeId, FuseLkIn args, bool wait = false)
    {
        PendingRequest pending = Begin(wait ? FuseOpcode.SetLkw : FuseOpcode.SetLk, nodeId, FuseLkIn.Size, 0);
        WriteArgs(Body(pending), in args);
        return CallStatusAsync(pending);
    }

    /// <summary><c>FUSE_ACCESS</c>.</summary>
    /// <param name="nodeId">The node.</param>
    /// <param name="mask"><c>R_OK</c> (4), <c>W_OK</c> (2), <c>X_OK</c> (1) or <c>F_OK</c> (0).</param>
    /// <returns>The outcome.</returns>
    public ValueTask<Errno> AccessAsync(ulong nodeId, uint mask)
    {
        PendingRequest pending = Begin(FuseOpcode.Access, nodeId, FuseAccessIn.Size, 0);
        WriteArgs(Body(pending), new FuseAccessIn { Mask = mask });
        return CallStatusAsync(pending);
    }

    /// <summary><c>FUSE_INTERRUPT</c> of request <paramref name="unique"/>; the interrupt's own unique is <c>unique | 1</c>, as the kernel sends it.</summary>
    /// <param name="unique">The request to interrupt.</param>
    /// <returns><see cref="Errno.Success"/> when the server took the interrupt without a reply (as it should), or the error it answered.</returns>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<Errno> InterruptAsync(ulong unique)
    {
        PendingRequest pending = Begin(FuseOpcode.Interrupt, 0, FuseInterruptIn.Size, 0, unique | 1);
        WriteArgs(Body(pending), new FuseInterruptIn { Unique = unique });
        try
        {
            int length = await Send(pending).ConfigureAwait(false);
            return length == 0 ? Errno.Success : ReadStatus(pending, length, out _);
        }
        finally
        {
            _pair.Return(pending);
        }
    }

    /// <summary><c>FUSE_BMAP</c>.</summary>
    /// <param name="nodeId">The file.</param>
    /// <param name="block">The file block.</param>
    /// <param name="blockSize">The block size.</param>
    /// <returns>The device block or an error.</returns>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<FuseResult<ulong>> BmapAsync(ulong nodeId, ulong block, uint blockSize)
    {
        PendingRequest pending = Begin(FuseOpcode.Bmap, nodeId, FuseBmapIn.Size, FuseBmapOut.Size);
        WriteArgs(Body(pending), new FuseBmapIn { Block = block, Blocksize = blockSize });
        FuseResult<FuseBmapOut> result = await CallAsync<FuseBmapOut>(pending).ConfigureAwait(false);
        return result.IsSuccess ? result.Value.Block : result.Error;
    }

    /// <summary><c>FUSE_DESTROY</c>: ends the session.</summary>
    /// <returns>The outcome.</returns>
    public ValueTask<Errno> DestroyAsync()
    {
        PendingRequest pending = Begin(FuseOpcode.Destroy, 0, 0, 0);
        return CallStatusAsync(pending);
    }

    /// <summary><c>FUSE_IOCTL</c> (restricted).</summary>
    /// <param name="nodeId">The file.</param>
    /// <param name="fh">The handle.</param>
    /// <param name="command">The ioctl command.</param>
    /// <param name="argument">The ioctl argument.</param>
    /// <param name="input">Input data.</param>
    /// <param name="outputSize">The output size the command defines.</param>
    /// <param name="flags"><see cref="FuseIoctlFlags"/>.</param>
    /// <returns>The ioctl's result and output, or an error.</returns>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<FuseResult<FuseIoctlReply>> IoctlAsync(ulong nodeId, ulong fh, uint command, ulong argument, ReadOnlyMemory<byte> input, uint outputSize, FuseIoctlFlags flags = FuseIoctlFlags.None)
    {
        PendingRequest pending = Begin(FuseOpcode.Ioctl, nodeId, FuseIoctlIn.Size + input.Length, FuseIoctlOut.Size + (int)outputSize);
        var args = new FuseIoctlIn { Fh = fh, Flags = (uint)flags, Cmd = command, Arg = argument, InSize = (uint)input.Length, OutSize = outputSize };
        WriteArgs(Body(pending), in args);
        input.Span.CopyTo(Body(pending).Slice(FuseIoctlIn.Size));
        byte[] reply = new byte[FuseIoctlOut.Size + outputSize];
        FuseResult<int> result = await CallDataAsync(pending, reply).ConfigureAwait(false);
        if (!result.IsSuccess)
        {
            return result.Error;
        }

        if (result.Value < FuseIoctlOut.Size)
        {
            throw new FuseProtocolException("IOCTL reply shorter than fuse_ioctl_out.", Errno.EPROTO);
        }

        FuseIoctlOut header = MemoryMarshal.Read<FuseIoctlOut>(reply);
        return new FuseIoctlReply(header.Result, reply.AsSpan(FuseIoctlOut.Size, result.Value - FuseIoctlOut.Size).ToArray());
    }

    /// <summary><c>FUSE_POLL</c>.</summary>
    /// <param name="nodeId">The file.</param>
    /// <param name="fh">The handle.</param>
    /// <param name="kernelHandle">The handle a later poll wake-up names.</param>
    /// <param name="flags"><see cref="FusePollFlags"/>.</param>
    /// <param name="events">The requested events.</param>
    /// <returns>The ready events or an error.</returns>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<FuseResult<uint>> PollAsync(ulong nodeId, ulong fh, ulong kernelHandle, FusePollFlags flags, uint events)
    {
        PendingRequest pending = Begin(FuseOpcode.Poll, nodeId, FusePollIn.Size, FusePollOut.Size);
        WriteArgs(Body(pending), new FusePollIn { Fh = fh, Kh = kernelHandle, Flags = (uint)flags, Events = events });
        FuseResult<FusePollOut> result = await CallAsync<FusePollOut>(pending).ConfigureAwait(false);
        return result.IsSuccess ? result.Value.Revents : result.Error;
    }

    /// <summary><c>FUSE_NOTIFY_REPLY</c>: answers a retrieve notification with cached data.</summary>
    /// <param name="notifyUnique">The retrieve's <see cref="FuseNotifyRetrieveOut.NotifyUnique"/>.</param>
    /// <param name="nodeId">The node.</param>
    /// <param name="offset">Where the data starts.</param>
    /// <param name="data">The data.</param>
    /// <returns>A task that completes when the server consumed it.</returns>
    public ValueTask NotifyReplyAsync(ulong notifyUnique, ulong nodeId, ulong offset, ReadOnlySpan<byte> data)
    {
        PendingRequest pending = Begin(FuseOpcode.NotifyReply, nodeId, FuseNotifyRetrieveIn.StructSize + data.Length, 0, notifyUnique);
        WriteArgs(Body(pending), new FuseNotifyRetrieveIn { Offset = offset, Size = (uint)data.Length });
        data.CopyTo(Body(pending).Slice(FuseNotifyRetrieveIn.StructSize));
        return CallNoReplyAsync(pending);
    }

    /// <summary><c>FUSE_FALLOCATE</c>.</summary>
    /// <param name="nodeId">The file.</param>
    /// <param name="fh">The handle.</param>
    /// <param name="offset">Start of the range.</param>
    /// <param name="length">Length of the range.</param>
    /// <param name="mode">Linux <c>fallocate</c> mode bits.</param>
    /// <returns>The outcome.</returns>
    public ValueTask<Errno> FallocateAsync(ulong nodeId, ulong fh, ulong offset, ulong length, uint mode = 0)
    {
        PendingRequest pending = Begin(FuseOpcode.Fallocate, nodeId, FuseFallocateIn.Size, 0);
        WriteArgs(Body(pending), new FuseFallocateIn { Fh = fh, Offset = offset, Length = length, Mode = mode });
        return CallStatusAsync(pending);
    }

    /// <summary><c>FUSE_LSEEK</c>.</summary>
    /// <param name="nodeId">The file.</param>
    /// <param name="fh">The handle.</param>
    /// <param name="offset">The starting offset.</param>
    /// <param name="whence"><c>SEEK_SET</c> 0, <c>SEEK_CUR</c> 1, <c>SEEK_END</c> 2, <c>SEEK_DATA</c> 3, <c>SEEK_HOLE</c> 4.</param>
    /// <returns>The resulting offset or an error.</returns>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<FuseResult<ulong>> LseekAsync(ulong nodeId, ulong fh, ulong offset, uint whence)
    {
        PendingRequest pending = Begin(FuseOpcode.Lseek, nodeId, FuseLseekIn.Size, FuseLseekOut.Size);
        WriteArgs(Body(pending), new FuseLseekIn { Fh = fh, Offset = offset, Whence = whence });
        FuseResult<FuseLseekOut> result = await CallAsync<FuseLseekOut>(pending).ConfigureAwait(false);
        return result.IsSuccess ? result.Value.Offset : result.Error;
    }

    /// <summary><c>FUSE_COPY_FILE_RANGE</c> (32-bit count).</summary>
    /// <param name="nodeId">The source file.</param>
    /// <param name="args">Handles, offsets, destination node, length and flags.</param>
    /// <returns>The bytes copied or an error.</returns>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<FuseResult<ulong>> CopyFileRangeAsync(ulong nodeId, FuseCopyFileRangeIn args)
    {
        PendingRequest pending = Begin(FuseOpcode.CopyFileRange, nodeId, FuseCopyFileRangeIn.Size, FuseWriteOut.StructSize);
        WriteArgs(Body(pending), in args);
        FuseResult<FuseWriteOut> result = await CallAsync<FuseWriteOut>(pending).ConfigureAwait(false);
        return result.IsSuccess ? result.Value.Size : result.Error;
    }

    /// <summary><c>FUSE_COPY_FILE_RANGE_64</c> (7.45+, 64-bit count).</summary>
    /// <param name="nodeId">The source file.</param>
    /// <param name="args">Handles, offsets, destination node, length and flags.</param>
    /// <returns>The bytes copied or an error.</returns>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<FuseResult<ulong>> CopyFileRange64Async(ulong nodeId, FuseCopyFileRangeIn args)
    {
        PendingRequest pending = Begin(FuseOpcode.CopyFileRange64, nodeId, FuseCopyFileRangeIn.Size, FuseCopyFileRangeOut.Size);
        WriteArgs(Body(pending), in args);
        FuseResult<FuseCopyFileRangeOut> result = await CallAsync<FuseCopyFileRangeOut>(pending).ConfigureAwait(false);
        return result.IsSuccess ? result.Value.BytesCopied : result.Error;
    }

    /// <summary><c>FUSE_SETUPMAPPING</c>.</summary>
    /// <param name="nodeId">The file.</param>
    /// <param name="args">Handle, file offset, length, flags and window offset.</param>
    /// <returns>The outcome.</returns>
    public ValueTask<Errno> SetupMappingAsync(ulong nodeId, FuseSetupmappingIn args)
    {
        PendingRequest pending = Begin(FuseOpcode.SetupMapping, nodeId, FuseSetupmappingIn.Size, 0);
        WriteArgs(Body(pending), in args);
        return CallStatusAsync(pending);
    }

    /// <summary><c>FUSE_REMOVEMAPPING</c>.</summary>
    /// <param name="nodeId">The file (the kernel sends the inode's id).</param>
    /// <param name="ranges">The window ranges to unmap.</param>
    /// <returns>The outcome.</returns>
    public ValueTask<Errno> RemoveMappingAsync(ulong nodeId, ReadOnlySpan<FuseRemovemappingOne> ranges)
    {
        ReadOnlySpan<byte> entries = MemoryMarshal.AsBytes(ranges);
        PendingRequest pending = Begin(FuseOpcode.RemoveMapping, nodeId, FuseRemovemappingIn.Size + entries.Length, 0);
        WriteArgs(Body(pending), new FuseRemovemappingIn { Count = (uint)ranges.Length });
        entries.CopyTo(Body(pending).Slice(FuseRemovemappingIn.Size));
        return CallStatusAsync(pending);
    }

    /// <summary><c>FUSE_SYNCFS</c>.</summary>
    /// <param name="nodeId">Any node of the filesystem.</param>
    /// <returns>The outcome.</returns>
    public ValueTask<Errno> SyncFsAsync(ulong nodeId = FuseConstants.RootId)
    {
        PendingRequest pending = Begin(FuseOpcode.SyncFs, nodeId, FuseSyncfsIn.Size, 0);
        Body(pending).Slice(0, FuseSyncfsIn.Size).Clear();
        return CallStatusAsync(pending);
    }

    private ValueTask<Errno> NameOnly(FuseOpcode opcode, ulong nodeId, string name)
    {
        PendingRequest pending = Begin(opcode, nodeId, NameSize(name), 0);
        WriteName(Body(pending), 0, name);
        return CallStatusAsync(pending);
    }

    private ValueTask<FuseResult<FuseOpenOut>> Open(FuseOpcode opcode, ulong nodeId, uint flags)
    {
        PendingRequest pending = Begin(opcode, nodeId, FuseOpenIn.Size, FuseOpenOut.Size);
        WriteArgs(Body(pending), new FuseOpenIn { Flags = flags });
        return CallAsync<FuseOpenOut>(pending);
    }

    private ValueTask<Errno> Release(FuseOpcode opcode, ulong nodeId, FuseReleaseIn args)
    {
        PendingRequest pending = Begin(opcode, nodeId, FuseReleaseIn.Size, 0);
        WriteArgs(Body(pending), in args);
        return CallStatusAsync(pending);
    }

    private ValueTask<Errno> Fsync(FuseOpcode opcode, ulong nodeId, ulong fh, bool dataOnly)
    {
        PendingRequest pending = Begin(opcode, nodeId, FuseFsyncIn.Size, 0);
        WriteArgs(Body(pending), new FuseFsyncIn { Fh = fh, FsyncFlags = dataOnly ? (uint)FuseFsyncFlags.FdataSync : 0 });
        return CallStatusAsync(pending);
    }
}
