using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using VirtioFs.Protocol;

namespace VirtioFs.Transport;

public sealed partial class FuseLoopbackClient
{
    /// <summary>GETXATTR/LISTXATTR: an empty <paramref name="buffer"/> asks for the size (a <c>fuse_getxattr_out</c>
    /// reply), any other gets the data.</summary>
    private ValueTask<FuseResult<int>> CallXattrAsync(PendingRequest pending, Memory<byte> buffer)
        => buffer.IsEmpty ? CallXattrSizeAsync(pending) : CallDataAsync(pending, buffer);

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<FuseResult<int>> CallXattrSizeAsync(PendingRequest pending)
    {
        FuseResult<FuseGetxattrOut> result = await CallAsync<FuseGetxattrOut>(pending).ConfigureAwait(false);
        return result.IsSuccess ? (int)result.Value.Size : result.Error;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<FuseResult<IReadOnlyList<FuseDirectoryEntry>>> ReadDirectory(FuseOpcode opcode, ulong nodeId, ulong fh, ulong offset, uint size)
    {
        PendingRequest pending = Begin(opcode, nodeId, FuseReadIn.StructSize, (int)size);
        WriteArgs(Body(pending), new FuseReadIn { Fh = fh, Offset = offset, Size = size });
        byte[] data = new byte[size];
        FuseResult<int> result = await CallDataAsync(pending, data).ConfigureAwait(false);
        return result.IsSuccess ? ParseDirectory(data.AsSpan(0, result.Value), opcode == FuseOpcode.ReadDirPlus) : result.Error;
    }

    /// <summary>Decodes <c>fuse_dirent</c>/<c>fuse_direntplus</c> records, checking each record's bounds and padding.</summary>
    internal static List<FuseDirectoryEntry> ParseDirectory(ReadOnlySpan<byte> data, bool plus)
    {
        var entries = new List<FuseDirectoryEntry>();
        int prefix = plus ? FuseEntryOut.Size : 0;
        while (!data.IsEmpty)
        {
            if (data.Length < prefix + FuseDirent.Size)
            {
                throw new FuseProtocolException("Truncated directory record.", Errno.EPROTO);
            }

            FuseEntryOut? entry = plus ? MemoryMarshal.Read<FuseEntryOut>(data) : null;
            FuseDirent dirent = MemoryMarshal.Read<FuseDirent>(data.Slice(prefix));
            int length = prefix + FuseDirent.Size + (int)Math.Min(dirent.Namelen, int.MaxValue - 1024);
            int padded = FuseConstants.DirentAlign(length);
            if (dirent.Namelen == 0 || dirent.Namelen > FuseDirectoryWriter.MaxNameLength || padded > data.Length)
            {
                throw new FuseProtocolException("Directory record with a bad name length.", Errno.EPROTO);
            }

            if (data.Slice(length, padded - length).ContainsAnyExcept((byte)0))
            {
                throw new FuseProtocolException("Directory record padding is not zero.", Errno.EPROTO);
            }

            string name = Encoding.UTF8.GetString(data.Slice(prefix + FuseDirent.Size, (int)dirent.Namelen));
            entries.Add(new FuseDirectoryEntry(dirent.Ino, dirent.Off, (FuseDirentType)dirent.Type, name, entry));
            data = data.Slice(padded);
        }

        return entries;
    }
}

/// <summary>A decoded directory entry.</summary>
/// <param name="Ino">The inode number.</param>
/// <param name="NextOffset">The offset cookie of the entry after this one.</param>
/// <param name="Type">The entry's type.</param>
/// <param name="Name">The name.</param>
/// <param name="Entry">For <c>READDIRPLUS</c>, the entry's lookup reply.</param>
public sealed record FuseDirectoryEntry(ulong Ino, ulong NextOffset, FuseDirentType Type, string Name, FuseEntryOut? Entry);

/// <summary>A decoded ioctl reply.</summary>
/// <param name="Result">The ioctl's return value.</param>
/// <param name="Output">The output data.</param>
public sealed record FuseIoctlReply(int Result, byte[] Output);

/// <summary>The kernel a <see cref="FuseLoopbackClient"/> emulates in <c>FUSE_INIT</c>.</summary>
public sealed class FuseClientInitOptions
{
    /// <summary>The major version offered. Default 7.</summary>
    public uint Major { get; init; } = FuseConstants.KernelVersion;

    /// <summary>The minor version offered (for example 26, 31, 36 or 45). Default 45. From 36 on, the
    /// 64-byte <c>fuse_init_in</c> with <c>flags2</c> is sent.</summary>
    public uint Minor { get; init; } = FuseConstants.KernelMinorVersion;

    /// <summary>The readahead offered. Default 128 KiB.</summary>
    public uint MaxReadahead { get; init; } = 128 * 1024;

    /// <summary>The capabilities offered (bits above 31 are sent in <c>flags2</c> with <see cref="FuseInitFlags.InitExt"/>). Default: every flag of 7.45.</summary>
    public FuseInitFlags Flags { get; init; } = (FuseInitFlags)((1UL << 43) - 1);
}
