using VirtioFs.Protocol;

namespace VirtioFs.Dax;

/// <summary>
/// Carries out mappings in a DAX window: an in-process window (file ranges <c>mmap</c>ed into a reserved address
/// range) or a VMM's shared memory region (vhost-user <c>SHMEM_MAP</c>/<c>SHMEM_UNMAP</c>).
/// </summary>
/// <remarks>
/// <para><see cref="DaxMappingServer"/> validates every request before calling, and serializes its calls: offsets and
/// lengths are non-zero multiples of <c>1 &lt;&lt; Geometry.MapAlignment</c> and lie inside the window. Calls are made
/// under the server's lock, so they should complete promptly.</para>
/// <para>An unmapped window range must not expose any file's data (an in-process window leaves it inaccessible).</para>
/// </remarks>
public interface IDaxWindow
{
    /// <summary>The window's size and mapping alignment (log2 of its page size).</summary>
    DaxWindowGeometry Geometry { get; }

    /// <summary>Maps <paramref name="length"/> bytes of <paramref name="file"/> from <paramref name="fileOffset"/> at
    /// <paramref name="windowOffset"/>, replacing whatever that window range held.</summary>
    /// <param name="windowOffset">The window offset.</param>
    /// <param name="length">The length in bytes.</param>
    /// <param name="file">The file; alive for the duration of the call (the server keeps its own reference while mapped).</param>
    /// <param name="fileOffset">The file offset.</param>
    /// <param name="writable">Map for reading and writing; otherwise read-only.</param>
    /// <returns><see cref="Errno.Success"/>, or the host's errno. After a failure the range may be unmapped.</returns>
    Errno Map(long windowOffset, long length, DaxFileReference file, long fileOffset, bool writable);

    /// <summary>Unmaps a window range (mapped or not), leaving it inaccessible.</summary>
    /// <param name="windowOffset">The window offset.</param>
    /// <param name="length">The length in bytes.</param>
    /// <returns><see cref="Errno.Success"/>, or the host's errno.</returns>
    Errno Unmap(long windowOffset, long length);

    /// <summary>Unmaps the whole window (session end or device reset).</summary>
    void UnmapAll();
}
