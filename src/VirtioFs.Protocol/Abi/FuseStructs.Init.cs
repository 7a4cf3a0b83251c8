using System.Runtime.InteropServices;

namespace VirtioFs.Protocol;

#pragma warning disable CS0169 // ABI padding fields are never used

/// <summary>
/// Argument of <see cref="FuseOpcode.Init"/> (C <c>struct fuse_init_in</c>, 64 bytes from 7.36;
/// 16 bytes (<see cref="FuseConstants.InitInSizeBefore736"/>) before 7.36, and only 8 bytes before 7.6).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseInitIn
{
    /// <summary>Size of this structure in bytes.</summary>
    public const int Size = 64;

    /// <summary>Kernel major protocol version.</summary>
    public uint Major;

    /// <summary>Kernel minor protocol version.</summary>
    public uint Minor;

    /// <summary>Maximum readahead in bytes (7.6+).</summary>
    public uint MaxReadahead;

    /// <summary>Low 32 bits of the kernel's <see cref="FuseInitFlags"/> (7.6+).</summary>
    public uint Flags;

    /// <summary>High 32 bits of the kernel's <see cref="FuseInitFlags"/>, valid with <see cref="FuseInitFlags.InitExt"/> (7.36+).</summary>
    public uint Flags2;

    private AbiUInt32Array11 _unused;
}

/// <summary>
/// Reply of <see cref="FuseOpcode.Init"/> (C <c>struct fuse_init_out</c>, 64 bytes from 7.23; 24 bytes
/// (<see cref="FuseConstants.Compat22InitOutSize"/>) from 7.5 to 7.22, 8 bytes (<see cref="FuseConstants.CompatInitOutSize"/>) before 7.5).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseInitOut
{
    /// <summary>Size of this structure in bytes.</summary>
    public const int Size = 64;

    /// <summary>Server major protocol version.</summary>
    public uint Major;

    /// <summary>Server minor protocol version.</summary>
    public uint Minor;

    /// <summary>Maximum readahead in bytes (7.6+).</summary>
    public uint MaxReadahead;

    /// <summary>Low 32 bits of the accepted <see cref="FuseInitFlags"/> (7.5+).</summary>
    public uint Flags;

    /// <summary>Maximum number of pending background requests (7.13+).</summary>
    public ushort MaxBackground;

    /// <summary>Number of background requests at which the kernel reports congestion (7.13+).</summary>
    public ushort CongestionThreshold;

    /// <summary>Maximum size of a write request's data (7.5+).</summary>
    public uint MaxWrite;

    /// <summary>Timestamp granularity in nanoseconds supported by the filesystem (7.23+).</summary>
    public uint TimeGran;

    /// <summary>Maximum pages per request, valid with <see cref="FuseInitFlags.MaxPages"/> (7.28+).</summary>
    public ushort MaxPages;

    /// <summary>log2 of the DAX mapping alignment, valid with <see cref="FuseInitFlags.MapAlignment"/> (7.31+).</summary>
    public ushort MapAlignment;

    /// <summary>High 32 bits of the accepted <see cref="FuseInitFlags"/>, valid with <see cref="FuseInitFlags.InitExt"/> (7.36+).</summary>
    public uint Flags2;

    /// <summary>Maximum stacking depth of passthrough backing files (7.40+).</summary>
    public uint MaxStackDepth;

    /// <summary>Request timeout in seconds, valid with <see cref="FuseInitFlags.RequestTimeout"/> (7.43+).</summary>
    public ushort RequestTimeout;

    private AbiUInt16Array11 _unused;
}

/// <summary>Argument of <see cref="FuseOpcode.CuseInit"/> (C <c>struct cuse_init_in</c>, 16 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct CuseInitIn
{
    /// <summary>Size of this structure in bytes.</summary>
    public const int Size = 16;

    /// <summary>Kernel major protocol version.</summary>
    public uint Major;

    /// <summary>Kernel minor protocol version.</summary>
    public uint Minor;

    private uint _unused;

    /// <summary>CUSE init flags (<see cref="FuseConstants.CuseUnrestrictedIoctl"/>).</summary>
    public uint Flags;
}

/// <summary>
/// Reply of <see cref="FuseOpcode.CuseInit"/> (C <c>struct cuse_init_out</c>, 72 bytes); followed by the device
/// info string (at most <see cref="FuseConstants.CuseInitInfoMax"/> bytes).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct CuseInitOut
{
    /// <summary>Size of this structure in bytes.</summary>
    public const int Size = 72;

    /// <summary>Server major protocol version.</summary>
    public uint Major;

    /// <summary>Server minor protocol version.</summary>
    public uint Minor;

    private uint _unused;

    /// <summary>Accepted CUSE init flags.</summary>
    public uint Flags;

    /// <summary>Maximum read size.</summary>
    public uint MaxRead;

    /// <summary>Maximum write size.</summary>
    public uint MaxWrite;

    /// <summary>Character device major number.</summary>
    public uint DevMajor;

    /// <summary>Character device minor number.</summary>
    public uint DevMinor;

    private AbiUInt32Array10 _spare;
}
