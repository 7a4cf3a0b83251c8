namespace VirtioFs.Protocol;

/// <summary>
/// How a <see cref="FuseSession"/> negotiates and serves. Every setter validates its value and throws
/// <see cref="ArgumentOutOfRangeException"/> with the allowed range.
/// </summary>
public sealed class FuseSessionOptions
{
    /// <summary>The capabilities enabled by default (see <see cref="Capabilities"/>).</summary>
    public const FuseInitFlags DefaultCapabilities =
        FuseInitFlags.AsyncRead | FuseInitFlags.BigWrites | FuseInitFlags.HasIoctlDir | FuseInitFlags.AutoInvalData
        | FuseInitFlags.AsyncDio | FuseInitFlags.ParallelDirops | FuseInitFlags.AbortError | FuseInitFlags.MaxPages
        | FuseInitFlags.SetxattrExt | FuseInitFlags.InitExt | FuseInitFlags.MapAlignment | FuseInitFlags.HasExpireOnly
        | FuseInitFlags.HasResend;

    /// <summary>The capabilities this library can honour at the protocol level. The others
    /// (<see cref="FuseInitFlags.FileOps"/>, the splice flags, <see cref="FuseInitFlags.InitReserved"/>,
    /// <see cref="FuseInitFlags.OverIoUring"/>, <see cref="FuseInitFlags.RequestTimeout"/>) are never negotiated.</summary>
    public const FuseInitFlags SupportedCapabilities = (FuseInitFlags)((1UL << 43) - 1)
        & ~(FuseInitFlags.FileOps | FuseInitFlags.SpliceWrite | FuseInitFlags.SpliceMove | FuseInitFlags.SpliceRead
            | FuseInitFlags.InitReserved | FuseInitFlags.OverIoUring | FuseInitFlags.RequestTimeout);

    /// <summary>The largest <see cref="MaxWrite"/>: 256 pages of 4 KiB, the kernel's <c>FUSE_MAX_MAX_PAGES</c> default.</summary>
    public const int MaxWriteLimit = 256 * 4096;

    /// <summary>The newest minor version this library speaks.</summary>
    public const uint LatestMinor = FuseConstants.KernelMinorVersion;

    /// <summary>The oldest minor version this library accepts (7.9: the first with today's request layouts).</summary>
    public const uint OldestMinor = 9;

    private int _maxWrite = MaxWriteLimit;
    private uint _timeGranularity = 1;
    private int _mapAlignment = 12;
    private uint _maxStackDepth = 1;
    private int _workersPerChannel = Environment.ProcessorCount;
    private int _maxPendingRequests = 64;
    private FuseInitFlags _capabilities = DefaultCapabilities;
    private IFuseMappingServer? _mappingServer;

    /// <summary>
    /// The capabilities the filesystem wants; INIT negotiates <c>offered ∩ supported ∩ this</c>. Default: <see cref="DefaultCapabilities"/>.
    /// Enable the ones whose semantics the filesystem implements (for example <see cref="FuseInitFlags.PosixLocks"/>,
    /// <see cref="FuseInitFlags.DoReaddirplus"/>, <see cref="FuseInitFlags.WritebackCache"/>).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A capability the library cannot honour is included.</exception>
    public FuseInitFlags Capabilities
    {
        get => _capabilities;
        set
        {
            FuseInitFlags unsupported = value & ~SupportedCapabilities;
            if (unsupported != 0)
            {
                ThrowHelper.ThrowArgumentOutOfRange(nameof(value), $"Capabilities {unsupported} are not supported by this library.");
            }

            _capabilities = value;
        }
    }

    /// <summary>The largest <c>WRITE</c> payload, in bytes: 4096 to <see cref="MaxWriteLimit"/>. Default 1 MiB.
    /// Request buffers are this plus 4 KiB, one per worker.</summary>
    public int MaxWrite
    {
        get => _maxWrite;
        set
        {
            if (value is < 4096 or > MaxWriteLimit)
            {
                ThrowHelper.ThrowArgumentOutOfRange(nameof(value), $"MaxWrite must be between 4096 and {MaxWriteLimit}.");
            }

            _maxWrite = value;
        }
    }

    /// <summary>The largest readahead in bytes; the negotiated value is the smaller of this and the client's. Default: the client's.</summary>
    public uint MaxReadahead { get; set; } = uint.MaxValue;

    /// <summary>The maximum of outstanding background requests the client should allow; 0 (default) keeps the client's default.</summary>
    public ushort MaxBackground { get; set; }

    /// <summary>The number of background requests at which the client considers the filesystem congested; 0 (default) keeps the client's default.</summary>
    public ushort CongestionThreshold { get; set; }

    /// <summary>Timestamp granularity in nanoseconds: 1 to 1,000,000,000, a power of ten. Default 1.</summary>
    public uint TimeGranularity
    {
        get => _timeGranularity;
        set
        {
            uint v = value;
            while (v > 1 && v % 10 == 0)
            {
                v /= 10;
            }

            if (value is 0 or > 1_000_000_000 || v != 1)
            {
                ThrowHelper.ThrowArgumentOutOfRange(nameof(value), "TimeGranularity must be a power of ten between 1 and 1,000,000,000 nanoseconds.");
            }

            _timeGranularity = value;
        }
    }

    /// <summary>
    /// log2 of the byte alignment of DAX mapping offsets (<c>map_alignment</c>), sent only when the client offers
    /// <see cref="FuseInitFlags.MapAlignment"/>. 0 to 21, so that 2 MiB (the client's mapping size) is a multiple of it. Default 12 (4 KiB pages).
    /// </summary>
    public int MapAlignment
    {
        get => _mapAlignment;
        set
        {
            CheckMapAlignment(value, nameof(value));
            _mapAlignment = value;
        }
    }

    /// <summary>
    /// Serves DAX mappings: when set, <c>SETUPMAPPING</c>/<c>REMOVEMAPPING</c> go to it instead of the filesystem, INIT
    /// sends its <see cref="IFuseMappingServer.MapAlignment"/> in place of <see cref="MapAlignment"/>, and it is
    /// <see cref="IFuseMappingServer.Reset"/> when the session ends. Default null: the filesystem's methods are called
    /// (they answer <see cref="Errno.ENOSYS"/> unless overridden).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The server's <see cref="IFuseMappingServer.MapAlignment"/> is outside 0 to 21.</exception>
    public IFuseMappingServer? MappingServer
    {
        get => _mappingServer;
        set
        {
            if (value is not null)
            {
                CheckMapAlignment(value.MapAlignment, nameof(value));
            }

            _mappingServer = value;
        }
    }

    /// <summary>The stacking depth declared with <see cref="FuseInitFlags.Passthrough"/>: 1 or 2 (the kernel's <c>FILESYSTEM_MAX_STACK_DEPTH</c>). Default 1.</summary>
    public uint MaxStackDepth
    {
        get => _maxStackDepth;
        set
        {
            if (value is < 1 or > 2)
            {
                ThrowHelper.ThrowArgumentOutOfRange(nameof(value), "MaxStackDepth must be 1 or 2.");
            }

            _maxStackDepth = value;
        }
    }

    /// <summary>How many requests one channel serves concurrently (workers per channel): 1 to 1024. Default: the processor count.</summary>
    public int WorkersPerChannel
    {
        get => _workersPerChannel;
        set
        {
            if (value is < 1 or > 1024)
            {
                ThrowHelper.ThrowArgumentOutOfRange(nameof(value), "WorkersPerChannel must be between 1 and 1024.");
            }

            _workersPerChannel = value;
        }
    }

    /// <summary>
    /// How many requests whose filesystem call has not completed may be set aside, each with its own buffers, while
    /// their worker goes on reading: 0 to 65536. Default 64.
    /// </summary>
    /// <remarks>A filesystem method that waits for another request (a <c>SETLKW</c> waiting for an unlock, a read
    /// waiting for data another caller writes) would otherwise hold its worker, and once every worker waits, nobody
    /// reads the unlock, the write or the <c>INTERRUPT</c>: the mount hangs. Past this many, a worker waits for its own
    /// request again, which bounds the memory a flood of slow requests can take (two buffers of
    /// <see cref="RequestBufferSize"/> each). Methods that complete synchronously never use it.</remarks>
    public int MaxPendingRequests
    {
        get => _maxPendingRequests;
        set
        {
            if (value is < 0 or > 65536)
            {
                ThrowHelper.ThrowArgumentOutOfRange(nameof(value), "MaxPendingRequests must be between 0 and 65536.");
            }

            _maxPendingRequests = value;
        }
    }

    /// <summary>Throws unless <paramref name="mapAlignment"/> is 0 to 21, so that 2 MiB (the client's mapping size) is a multiple of the alignment.</summary>
    private static void CheckMapAlignment(int mapAlignment, string parameter)
    {
        if (mapAlignment is < 0 or > 21)
        {
            ThrowHelper.ThrowArgumentOutOfRange(parameter, "MapAlignment is log2 of the alignment and must be between 0 and 21, so that 2 MiB is a multiple of 1 << MapAlignment.");
        }
    }

    /// <summary>The size of a request buffer: <see cref="MaxWrite"/> plus room for the header, arguments and names.</summary>
    public int RequestBufferSize => _maxWrite + 4096;

    /// <summary>The size of a reply buffer: the largest data reply plus room for the header.</summary>
    public int ReplyBufferSize => _maxWrite + 4096;
}
