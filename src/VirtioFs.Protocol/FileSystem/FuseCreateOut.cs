using System.Runtime.InteropServices;

namespace VirtioFs.Protocol;

/// <summary>
/// The reply of <c>FUSE_CREATE</c> and <c>FUSE_TMPFILE</c>: a <c>fuse_entry_out</c> followed by a <c>fuse_open_out</c> (144 bytes).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseCreateOut
{
    /// <summary>The size of the reply body in bytes.</summary>
    public const int Size = FuseEntryOut.Size + FuseOpenOut.Size;

    /// <summary>The new node (its lookup count is incremented).</summary>
    public FuseEntryOut Entry;

    /// <summary>The open handle.</summary>
    public FuseOpenOut Open;
}

/// <summary>The result of <see cref="FuseFileSystem.IoctlAsync"/>.</summary>
/// <param name="Result">The ioctl's return value, passed to the caller.</param>
/// <param name="OutputLength">How many bytes of the output buffer were written.</param>
public readonly record struct FuseIoctlResult(int Result, int OutputLength);
