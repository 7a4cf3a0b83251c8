using VirtioFs.Dax;
using VirtioFs.Protocol;

namespace VirtioFs.Transport;

/// <summary>
/// The mapping requests of a <see cref="DaxRangeAllocator"/> sent over a <see cref="FuseLoopbackClient"/>:
/// <c>FUSE_SETUPMAPPING</c> with <c>fh = ~0</c> (the server resolves the file by node id, as for a Linux guest) and
/// <c>FUSE_REMOVEMAPPING</c> with one request per batch the allocator hands over.
/// </summary>
/// <remarks>A request cannot be taken back once sent, so the cancellation tokens are not honoured.</remarks>
public sealed class FuseLoopbackMappingChannel : IDaxMappingChannel
{
    private readonly FuseLoopbackClient _client;

    /// <summary>Creates a channel over <paramref name="client"/>.</summary>
    /// <param name="client">The client; its session must have a mapping server (<see cref="FuseSessionOptions.MappingServer"/>).</param>
    public FuseLoopbackMappingChannel(FuseLoopbackClient client)
    {
        ArgumentNullException.ThrowIfNull(client);
        _client = client;
    }

    /// <inheritdoc />
    public ValueTask<Errno> SetupMappingAsync(ulong nodeId, ulong fileOffset, ulong length, ulong windowOffset, bool writable, CancellationToken cancellationToken)
    {
        FuseSetupMappingFlags flags = writable ? FuseSetupMappingFlags.Read | FuseSetupMappingFlags.Write : FuseSetupMappingFlags.Read;
        var args = new FuseSetupmappingIn
        {
            Fh = FuseConstants.SetupMappingFhNone,
            Foffset = fileOffset,
            Len = length,
            Flags = (ulong)flags,
            Moffset = windowOffset,
        };
        return _client.SetupMappingAsync(nodeId, args);
    }

    /// <inheritdoc />
    /// <returns><see cref="Errno.EINVAL"/> without sending anything when <paramref name="ranges"/> is empty or longer
    /// than <see cref="FuseConstants.RemoveMappingMaxEntries"/>; else the server's answer.</returns>
    public ValueTask<Errno> RemoveMappingAsync(ulong nodeId, ReadOnlyMemory<DaxRemoval> ranges, CancellationToken cancellationToken)
    {
        if (ranges.IsEmpty || ranges.Length > FuseConstants.RemoveMappingMaxEntries)
        {
            return new(Errno.EINVAL);
        }

        Span<FuseRemovemappingOne> entries = stackalloc FuseRemovemappingOne[ranges.Length];
        ReadOnlySpan<DaxRemoval> source = ranges.Span;
        for (int i = 0; i < source.Length; i++)
        {
            entries[i] = new FuseRemovemappingOne { Moffset = source[i].WindowOffset, Len = source[i].Length };
        }

        return _client.RemoveMappingAsync(nodeId, entries);
    }
}
