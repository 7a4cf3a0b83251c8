namespace VirtioFs.Samples.Passthrough;

/// <summary>How long the client may cache what <see cref="PassthroughFileSystem"/> tells it.</summary>
public enum PassthroughCacheMode
{
    /// <summary>No caching: entry and attribute timeouts 0, every file opened with <c>FOPEN_DIRECT_IO</c>. The host
    /// directory may change underneath at any time and the mount always shows it (and every permission is checked by the host).</summary>
    Never,

    /// <summary>Short timeouts (1 s); file data is cached and dropped when a file's size or mtime changed on open.</summary>
    Auto,

    /// <summary>Long timeouts (one day) and <c>FOPEN_KEEP_CACHE</c>: only for a host directory nobody else changes.</summary>
    Always,
}

/// <summary>What <see cref="PassthroughFileSystem"/> exports and how.</summary>
public sealed class PassthroughOptions
{
    /// <summary>Creates options for a host directory.</summary>
    /// <param name="sourceDirectory">The host directory to export; it must exist.</param>
    /// <exception cref="ArgumentException">The path is null or empty.</exception>
    public PassthroughOptions(string sourceDirectory)
    {
        ArgumentException.ThrowIfNullOrEmpty(sourceDirectory);
        SourceDirectory = Path.GetFullPath(sourceDirectory);
    }

    /// <summary>The exported host directory (absolute).</summary>
    public string SourceDirectory { get; }

    /// <summary>The cache mode. Default <see cref="PassthroughCacheMode.Auto"/>.</summary>
    public PassthroughCacheMode Cache { get; init; } = PassthroughCacheMode.Auto;

    /// <summary>Refuses every change with <c>EROFS</c>. Default false.</summary>
    public bool ReadOnly { get; init; }

    /// <summary>Asks for the kernel's writeback cache (<c>FUSE_WRITEBACK_CACHE</c>). Default false.</summary>
    public bool Writeback { get; init; }

    /// <summary>Opens regular files with <c>FUSE_PASSTHROUGH</c> backing files, so the kernel reads and writes them
    /// without a round trip (needs CAP_SYS_ADMIN and a kernel with passthrough). Default false.</summary>
    public bool Passthrough { get; init; }

    /// <summary>
    /// Whether the pids of requests are processes of this host (a <c>/dev/fuse</c> mount), so a caller's supplementary
    /// groups are read from <c>/proc/&lt;pid&gt;/status</c>. False for a guest served over vhost-user, whose pids mean
    /// nothing here: only the groups a request carries count. Default true.
    /// </summary>
    public bool CallersAreLocal { get; init; } = true;

    /// <summary>The entry and attribute timeout of the cache mode.</summary>
    public TimeSpan Timeout => Cache switch
    {
        PassthroughCacheMode.Never => TimeSpan.Zero,
        PassthroughCacheMode.Auto => TimeSpan.FromSeconds(1),
        _ => TimeSpan.FromDays(1),
    };
}
