using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using VirtioFs.Protocol;

namespace VirtioFs.Dax;

/// <summary>
/// Serves <c>FUSE_SETUPMAPPING</c>/<c>FUSE_REMOVEMAPPING</c> into a DAX window: validates each request, asks the
/// filesystem (<see cref="IDaxFileProvider"/>) for the file, carries the mapping out through an <see cref="IDaxWindow"/>
/// and keeps the window's mapping table. Give it to a session with <see cref="FuseSessionOptions.MappingServer"/>.
/// </summary>
/// <remarks>
/// <para><b>SETUPMAPPING</b>: flags only <see cref="FuseSetupMappingFlags.Read"/>/<see cref="FuseSetupMappingFlags.Write"/>;
/// <c>len &gt; 0</c>; <c>foffset</c>, <c>moffset</c> and <c>len</c> multiples of <c>1 &lt;&lt; MapAlignment</c>;
/// <c>moffset + len</c> inside the window and <c>foffset + len</c> a valid file offset (overflow-checked): otherwise
/// <see cref="Errno.EINVAL"/>. A write on a read-only export is <see cref="Errno.EROFS"/>. The provider answers for the node
/// and handle (<see cref="Errno.ENOENT"/>/<see cref="Errno.ESTALE"/>, <see cref="Errno.EBADF"/>, <see cref="Errno.EACCES"/>/<see cref="Errno.EPERM"/>);
/// the server double-checks what it returns: a file of another node is <see cref="Errno.EBADF"/> (for a handle), a file
/// that is not regular <see cref="Errno.EINVAL"/>, a write through a handle not opened for writing <see cref="Errno.EACCES"/>.
/// A failed map answers the window's (host) errno and leaves the range's previous mapping in place where it can be restored.
/// Mapping an already mapped window range replaces it: that is how a read-only mapping is upgraded to writable.</para>
/// <para><b>REMOVEMAPPING</b>: every entry is checked as above before anything is unmapped (one bad entry fails the
/// request with <see cref="Errno.EINVAL"/>); removing a range that is not mapped succeeds.</para>
/// <para>Each mapping holds its own <see cref="DaxFileReference"/>, so releasing a file handle does not end it.
/// <see cref="Reset"/> unmaps everything.</para>
/// </remarks>
public sealed partial class DaxMappingServer : IFuseMappingServer
{
    private const ulong KnownFlags = (ulong)(FuseSetupMappingFlags.Read | FuseSetupMappingFlags.Write);

    private readonly IDaxWindow _window;
    private readonly IDaxFileProvider _files;
    private readonly DaxWindowGeometry _geometry;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly DaxMappingTable _table = new();
    private int _generation;

    /// <summary>Creates a server.</summary>
    /// <param name="window">The window mappings are carried out in.</param>
    /// <param name="files">The filesystem's side: which nodes may be mapped.</param>
    /// <param name="readOnlyExport">Whether the export is read-only: writable mappings are refused with <see cref="Errno.EROFS"/>. Default false.</param>
    /// <param name="logger">Where failures of the window are logged.</param>
    public DaxMappingServer(IDaxWindow window, IDaxFileProvider files, bool readOnlyExport = false, ILogger<DaxMappingServer>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(window);
        ArgumentNullException.ThrowIfNull(files);
        _window = window;
        _files = files;
        _geometry = window.Geometry ?? throw new ArgumentException("The window has no geometry.", nameof(window));
        ReadOnlyExport = readOnlyExport;
        _logger = logger ?? (ILogger)NullLogger.Instance;
    }

    /// <summary>log2 of the window's page size: the alignment of every offset and length.</summary>
    public int MapAlignment => _geometry.MapAlignment;

    /// <summary>The window's size in bytes.</summary>
    public long WindowSize => _geometry.WindowSize;

    /// <summary>Whether writable mappings are refused.</summary>
    public bool ReadOnlyExport { get; }

    /// <summary>The number of mapped extents.</summary>
    public int MappingCount
    {
        get
        {
            lock (_lock)
            {
                return _table.Count;
            }
        }
    }

    /// <summary>A snapshot of the mapping table, sorted by window offset.</summary>
    /// <returns>The mapped ranges (extents that touch are reported separately).</returns>
    public IReadOnlyList<DaxMapping> GetMappings()
    {
        lock (_lock)
        {
            return _table.Snapshot();
        }
    }

    /// <summary>A snapshot of one node's mappings, sorted by window offset: what a host-side truncate or eviction of the
    /// file must take into account.</summary>
    /// <param name="nodeId">The node.</param>
    /// <returns>The node's mapped ranges; empty when it has none.</returns>
    public IReadOnlyList<DaxMapping> GetMappings(ulong nodeId)
    {
        lock (_lock)
        {
            return _table.Snapshot(nodeId);
        }
    }

    /// <inheritdoc />
    public async ValueTask<Errno> SetupMappingAsync(FuseRequestContext context, FuseSetupmappingIn args)
    {
        int generation = Volatile.Read(ref _generation);
        if ((args.Flags & ~KnownFlags) != 0)
        {
            return Invalid(context, "SETUPMAPPING has unknown flags");
        }

        if (!_geometry.IsMappable(args.Moffset, args.Len) || !_geometry.IsAligned(args.Foffset) || args.Foffset > (ulong)long.MaxValue - args.Len)
        {
            return Invalid(context, "SETUPMAPPING range is empty, misaligned or out of bounds");
        }

        bool writable = (args.Flags & (ulong)FuseSetupMappingFlags.Write) != 0;
        if (writable && ReadOnlyExport)
        {
            return Errno.EROFS;
        }

        ulong? fh = args.Fh == FuseConstants.SetupMappingFhNone ? null : args.Fh;
        FuseResult<DaxFileReference> opened = await _files.OpenForMappingAsync(context, context.NodeId, fh, writable).ConfigureAwait(false);
        if (!opened.IsSuccess)
        {
            return opened.Error;
        }

        DaxFileReference? file = opened.Value;
        if (file is null)
        {
            LogProviderMisbehaved(_logger, context.Unique, "returned no file");
            return Errno.EIO;
        }

        try
        {
            Errno refused = Check(context, file, fh, writable);
            if (refused != Errno.Success)
            {
                return refused;
            }

            return Map(generation, (long)args.Moffset, (long)args.Len, file, (long)args.Foffset, writable);
        }
        finally
        {
            file.Release();
        }
    }

    /// <inheritdoc />
    public ValueTask<Errno> RemoveMappingAsync(FuseRequestContext context, FuseRemoveMappingList ranges)
    {
        if (ranges.Count is 0 or > FuseConstants.RemoveMappingMaxEntries)
        {
            return new(Invalid(context, "REMOVEMAPPING count is zero or too large"));
        }

        for (int i = 0; i < ranges.Count; i++)
        {
            FuseRemovemappingOne entry = ranges[i];
            if (!_geometry.IsMappable(entry.Moffset, entry.Len))
            {
                return new(Invalid(context, "REMOVEMAPPING entry is empty, misaligned or out of bounds"));
            }
        }

        Errno first = Errno.Success;
        lock (_lock)
        {
            for (int i = 0; i < ranges.Count; i++)
            {
                FuseRemovemappingOne entry = ranges[i];
                long start = (long)entry.Moffset, end = start + (long)entry.Len;
                if (!_table.Overlaps(start, end))
                {
                    continue;
                }

                Errno error = _window.Unmap(start, end - start);
                if (error == Errno.Success)
                {
                    _table.Carve(start, end);
                }
                else
                {
                    LogUnmapFailed(_logger, start, end - start, error);
                    if (first == Errno.Success)
                    {
                        first = error;
                    }
                }
            }
        }

        return new(first);
    }

    /// <summary>Unmaps the whole window and empties the table, releasing every file reference. A
    /// <c>SETUPMAPPING</c> still waiting for its file when this runs is answered <see cref="Errno.EIO"/> and maps nothing.</summary>
    public void Reset()
    {
        lock (_lock)
        {
            Interlocked.Increment(ref _generation);
            try
            {
                _window.UnmapAll();
            }
            catch (Exception ex)
            {
                LogResetFailed(_logger, ex);
            }

            _table.Clear();
        }
    }

    /// <summary>Double-checks the provider's answer.</summary>
    private Errno Check(FuseRequestContext context, DaxFileReference file, ulong? fh, bool writable)
    {
        if (file.NodeId != context.NodeId)
        {
            if (fh is not null)
            {
                return Errno.EBADF;
            }

            LogProviderMisbehaved(_logger, context.Unique, "returned a file of another node");
            return Errno.EIO;
        }

        if (!file.IsRegularFile)
        {
            return Errno.EINVAL;
        }

        return writable && !file.IsWritable ? Errno.EACCES : Errno.Success;
    }

    private Errno Map(int generation, long start, long length, DaxFileReference file, long fileOffset, bool writable)
    {
        long end = start + length;
        lock (_lock)
        {
            if (generation != _generation)
            {
                // Reset ran while the file was being opened: the session it belonged to is gone.
                return Errno.EIO;
            }

            Errno error = _window.Map(start, length, file, fileOffset, writable);
            if (error != Errno.Success)
            {
                LogMapFailed(_logger, start, length, error);
                Restore(start, end);
                return error;
            }

            _table.Carve(start, end);
            _table.Add(new DaxMappingTable.Extent(start, length, file.NodeId, fileOffset, writable, file.AddReference()));
            return Errno.Success;
        }
    }

    /// <summary>After a failed map, puts back what the range held (the failed call may have unmapped it); what cannot
    /// be restored is unmapped and dropped from the table. The table still describes the range as it was before the
    /// failed call, so what to restore is read from it here, on the failure path only.</summary>
    private void Restore(long start, long end)
    {
        long cursor = start;
        foreach (DaxMappingTable.Extent part in _table.Clip(start, end))
        {
            UnmapGap(cursor, part.Start);
            if (_window.Map(part.Start, part.Length, part.File, part.FileOffset, part.Writable) != Errno.Success)
            {
                _window.Unmap(part.Start, part.Length);
                _table.Carve(part.Start, part.End);
            }

            cursor = part.End;
        }

        UnmapGap(cursor, end);
    }

    private void UnmapGap(long start, long end)
    {
        if (start < end)
        {
            _window.Unmap(start, end - start);
        }
    }

    private Errno Invalid(FuseRequestContext context, string reason)
    {
        LogInvalid(_logger, context.Unique, reason);
        return Errno.EINVAL;
    }

    [LoggerMessage(1, LogLevel.Debug, "DAX request {Unique} refused: {Reason}")]
    private static partial void LogInvalid(ILogger logger, ulong unique, string reason);

    [LoggerMessage(2, LogLevel.Warning, "DAX window failed to map {Length} bytes at window offset {Offset}: {Error}")]
    private static partial void LogMapFailed(ILogger logger, long offset, long length, Errno error);

    [LoggerMessage(3, LogLevel.Warning, "DAX window failed to unmap {Length} bytes at window offset {Offset}: {Error}")]
    private static partial void LogUnmapFailed(ILogger logger, long offset, long length, Errno error);

    [LoggerMessage(4, LogLevel.Error, "DAX window failed to unmap everything on reset")]
    private static partial void LogResetFailed(ILogger logger, Exception exception);

    [LoggerMessage(5, LogLevel.Error, "DAX file provider misbehaved (unique {Unique}): {Reason}; answered EIO")]
    private static partial void LogProviderMisbehaved(ILogger logger, ulong unique, string reason);
}
