using System.Buffers.Binary;

namespace VirtioFs.Protocol;

/// <summary>
/// Who sent a request and for which node: the caller's credentials from <c>fuse_in_header</c>,
/// its extensions (supplementary groups, security contexts), and a token cancelled when the
/// client interrupts the request (<c>FUSE_INTERRUPT</c>) or the session stops.
/// </summary>
/// <remarks>
/// <see cref="Extensions"/> points into the request buffer: it is valid only until the operation completes.
/// </remarks>
public readonly struct FuseRequestContext
{
    /// <summary>Creates a context.</summary>
    /// <param name="unique">The request's unique identifier.</param>
    /// <param name="nodeId">The node the request is about.</param>
    /// <param name="uid">The caller's effective user id.</param>
    /// <param name="gid">The caller's effective group id.</param>
    /// <param name="pid">The caller's thread group id (0 for requests not made on behalf of a process).</param>
    /// <param name="extensions">The request's extension area (may be empty).</param>
    /// <param name="cancellationToken">Cancelled when the request is interrupted.</param>
    public FuseRequestContext(ulong unique, ulong nodeId, uint uid, uint gid, uint pid, FuseRequestExtensions extensions, CancellationToken cancellationToken)
    {
        Unique = unique;
        NodeId = nodeId;
        Uid = uid;
        Gid = gid;
        Pid = pid;
        Extensions = extensions;
        CancellationToken = cancellationToken;
    }

    /// <summary>The request's unique identifier, as chosen by the client.</summary>
    public ulong Unique { get; }

    /// <summary>The node the request is about (the parent directory for name-based operations).</summary>
    public ulong NodeId { get; }

    /// <summary>The caller's effective (filesystem) user id; <see cref="FuseConstants.InvalidUidGid"/> when unmapped.</summary>
    public uint Uid { get; }

    /// <summary>The caller's effective (filesystem) group id; <see cref="FuseConstants.InvalidUidGid"/> when unmapped.</summary>
    public uint Gid { get; }

    /// <summary>The caller's thread group id.</summary>
    public uint Pid { get; }

    /// <summary>Request extensions (protocol 7.38+): supplementary groups and security contexts.</summary>
    public FuseRequestExtensions Extensions { get; }

    /// <summary>Cancelled when the client interrupts this request or the session shuts down.</summary>
    public CancellationToken CancellationToken { get; }
}

/// <summary>
/// The extension area that trails a request's arguments when <c>fuse_in_header.total_extlen</c> is non-zero
/// (protocol 7.38+). The session validates the area before the filesystem sees it.
/// </summary>
/// <remarks>Valid only until the operation completes: it points into the request buffer.</remarks>
public readonly struct FuseRequestExtensions
{
    private readonly ReadOnlyMemory<byte> _groups;

    internal FuseRequestExtensions(ReadOnlyMemory<byte> securityContexts, int securityContextCount, ReadOnlyMemory<byte> groups)
    {
        SecurityContexts = securityContexts;
        SecurityContextCount = securityContextCount;
        _groups = groups;
    }

    /// <summary>The number of supplementary groups sent (<c>FUSE_EXT_GROUPS</c>, with <c>FUSE_CREATE_SUPP_GROUP</c>).</summary>
    public int SupplementaryGroupCount => _groups.Length / sizeof(uint);

    /// <summary>Returns a supplementary group id.</summary>
    /// <param name="index">Zero-based index below <see cref="SupplementaryGroupCount"/>.</param>
    /// <returns>The group id.</returns>
    public uint GetSupplementaryGroup(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, SupplementaryGroupCount);
        return BinaryPrimitives.ReadUInt32LittleEndian(_groups.Span.Slice(index * sizeof(uint)));
    }

    /// <summary>
    /// The raw security contexts (<c>FUSE_SECURITY_CTX</c>): <see cref="SecurityContextCount"/> records of
    /// <c>fuse_secctx</c>, a NUL-terminated name and the context value, each record padded to 8 bytes.
    /// </summary>
    public ReadOnlyMemory<byte> SecurityContexts { get; }

    /// <summary>The number of security contexts in <see cref="SecurityContexts"/>.</summary>
    public int SecurityContextCount { get; }
}
