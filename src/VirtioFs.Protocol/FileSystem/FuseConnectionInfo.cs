namespace VirtioFs.Protocol;

/// <summary>What the INIT handshake negotiated: protocol version, capabilities and limits.</summary>
public sealed class FuseConnectionInfo
{
    internal FuseConnectionInfo(uint clientMinor, FuseInitFlags clientFlags, FuseInitOut reply, IFusePassthrough? passthrough)
    {
        ClientMinor = clientMinor;
        ClientFlags = clientFlags;
        ProtocolMinor = reply.Minor;
        Flags = (FuseInitFlags)(reply.Flags | ((ulong)reply.Flags2 << 32));
        MaxReadahead = reply.MaxReadahead;
        MaxWrite = reply.MaxWrite;
        MaxPages = reply.MaxPages;
        MaxBackground = reply.MaxBackground;
        CongestionThreshold = reply.CongestionThreshold;
        TimeGranularity = reply.TimeGran;
        MapAlignment = reply.MapAlignment;
        MaxStackDepth = reply.MaxStackDepth;
        Passthrough = (Flags & FuseInitFlags.Passthrough) != 0 ? passthrough : null;
    }

    /// <summary>The protocol minor version in use: the smaller of the client's and ours (7.<i>minor</i>).</summary>
    public uint ProtocolMinor { get; }

    /// <summary>The minor version the client (kernel) offered.</summary>
    public uint ClientMinor { get; }

    /// <summary>Every capability the client offered, including those not negotiated.</summary>
    public FuseInitFlags ClientFlags { get; }

    /// <summary>The negotiated capabilities (offered ∩ supported ∩ enabled).</summary>
    public FuseInitFlags Flags { get; }

    /// <summary>The negotiated maximum readahead in bytes.</summary>
    public uint MaxReadahead { get; }

    /// <summary>The largest <c>WRITE</c> payload the client will send.</summary>
    public uint MaxWrite { get; }

    /// <summary>The maximum number of pages per request (with <see cref="FuseInitFlags.MaxPages"/>).</summary>
    public ushort MaxPages { get; }

    /// <summary>The client's limit of background requests.</summary>
    public ushort MaxBackground { get; }

    /// <summary>The client's congestion threshold.</summary>
    public ushort CongestionThreshold { get; }

    /// <summary>Timestamp granularity in nanoseconds.</summary>
    public uint TimeGranularity { get; }

    /// <summary>log2 of the DAX mapping alignment in bytes; 0 unless <see cref="FuseInitFlags.MapAlignment"/> was negotiated.</summary>
    public ushort MapAlignment { get; }

    /// <summary>The filesystem stacking depth declared for passthrough (0 without <see cref="FuseInitFlags.Passthrough"/>).</summary>
    public uint MaxStackDepth { get; }

    /// <summary>Backing-file registration, when <see cref="FuseInitFlags.Passthrough"/> was negotiated and the transport supports it; else null.</summary>
    public IFusePassthrough? Passthrough { get; }

    /// <summary>Whether the negotiated minor version is at least 7.<paramref name="minor"/>.</summary>
    /// <param name="minor">The minor version to test.</param>
    /// <returns>True when the connection speaks that version or a newer one.</returns>
    public bool Supports(uint minor) => ProtocolMinor >= minor;
}
