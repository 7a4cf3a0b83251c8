using VirtioFs.Protocol;

namespace VirtioFs.Dax;

/// <summary>
/// Decides which files may be mapped into a DAX window: implemented by the filesystem, which alone knows its nodes,
/// handles and permissions. <see cref="DaxMappingServer"/> asks it once per <c>SETUPMAPPING</c>.
/// </summary>
public interface IDaxFileProvider
{
    /// <summary>Resolves the file a <c>SETUPMAPPING</c> maps and checks the caller may map it.</summary>
    /// <param name="context">The request context (credentials of the caller).</param>
    /// <param name="nodeId">The node to map.</param>
    /// <param name="fileHandle">The open file handle named by the request, or null when the client asked to resolve
    /// by node (<see cref="FuseConstants.SetupMappingFhNone"/>, what Linux guests send).</param>
    /// <param name="writable">Whether the mapping will be written through.</param>
    /// <returns>
    /// A new reference (the caller releases it once; the server takes its own for each mapping) whose
    /// <see cref="DaxFileReference.NodeId"/> is <paramref name="nodeId"/>; or an errno: <see cref="Errno.ENOENT"/> or
    /// <see cref="Errno.ESTALE"/> for an unknown node, <see cref="Errno.EBADF"/> for an unknown handle or one of another
    /// node, <see cref="Errno.EACCES"/>/<see cref="Errno.EPERM"/> when the caller may not access the file as asked,
    /// <see cref="Errno.EROFS"/> for a write on a read-only export, or the host's errno when the file cannot be opened.
    /// </returns>
    ValueTask<FuseResult<DaxFileReference>> OpenForMappingAsync(FuseRequestContext context, ulong nodeId, ulong? fileHandle, bool writable);
}
