using VirtioFs.Protocol;

namespace VirtioFs.Dax;

/// <summary>
/// The requests a DAX range allocator sends: <c>FUSE_SETUPMAPPING</c> and <c>FUSE_REMOVEMAPPING</c>. Implement it over
/// any channel (the loopback client, a guest-side queue, a test fake); the allocator decides what to send and when.
/// </summary>
/// <remarks>
/// Both calls answer with an <see cref="Errno"/> value; throw only when the channel itself cannot continue. A request
/// cannot be aborted once sent (virtio-fs answers every request), so honouring the token is optional.
/// </remarks>
public interface IDaxMappingChannel
{
    /// <summary>Maps <paramref name="length"/> bytes of node <paramref name="nodeId"/> from <paramref name="fileOffset"/>
    /// at window offset <paramref name="windowOffset"/>, readable and, when <paramref name="writable"/>, writable.
    /// Mapping an already mapped window range replaces it (that is how a read-only mapping is upgraded).</summary>
    /// <param name="nodeId">The node whose file is mapped.</param>
    /// <param name="fileOffset">The file offset, aligned to the range size.</param>
    /// <param name="length">The length: one range, even past the end of the file.</param>
    /// <param name="windowOffset">The window offset of the range.</param>
    /// <param name="writable">Whether to map with <c>FUSE_SETUPMAPPING_FLAG_WRITE</c>.</param>
    /// <param name="cancellationToken">Cancels the wait for the answer, where the channel can.</param>
    /// <returns><see cref="Errno.Success"/> or the error the peer answered.</returns>
    ValueTask<Errno> SetupMappingAsync(ulong nodeId, ulong fileOffset, ulong length, ulong windowOffset, bool writable, CancellationToken cancellationToken);

    /// <summary>Removes the mappings of the given window ranges, at most
    /// <see cref="FuseConstants.RemoveMappingMaxEntries"/> of them in one request.</summary>
    /// <param name="nodeId">The node the ranges were mapped for.</param>
    /// <param name="ranges">The window ranges; valid only during the call (the allocator reuses the buffer).</param>
    /// <param name="cancellationToken">Cancels the wait for the answer, where the channel can.</param>
    /// <returns><see cref="Errno.Success"/> or the error the peer answered.</returns>
    ValueTask<Errno> RemoveMappingAsync(ulong nodeId, ReadOnlyMemory<DaxRemoval> ranges, CancellationToken cancellationToken);
}

/// <summary>One entry of <c>FUSE_REMOVEMAPPING</c>: a window range (<c>fuse_removemapping_one { moffset, len }</c>).</summary>
/// <param name="WindowOffset">The window offset (<c>moffset</c>).</param>
/// <param name="Length">The length (<c>len</c>).</param>
public readonly record struct DaxRemoval(ulong WindowOffset, ulong Length);
