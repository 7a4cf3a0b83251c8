using System.Runtime.InteropServices;
using VirtioFs.Protocol;

namespace VirtioFs.Dax;

/// <summary>
/// A counted reference to a host file that can be mapped into a DAX window: the node it belongs to, its file type,
/// whether it was opened for writing, and the host handle a window maps from.
/// </summary>
/// <remarks>
/// <para>The reference holds the <see cref="SafeHandle"/> open (<see cref="SafeHandle.DangerousAddRef"/>) until its
/// last <see cref="Release"/>: a filesystem may dispose its own handle (for example on <c>RELEASE</c>) while window
/// mappings of the file live on.</para>
/// <para>A new reference has a count of one. Each holder calls <see cref="Release"/> once; <see cref="AddReference"/>
/// gives out another.</para>
/// </remarks>
public sealed class DaxFileReference
{
    private int _count = 1;

    /// <summary>Creates a reference with a count of one.</summary>
    /// <param name="nodeId">The node the file belongs to.</param>
    /// <param name="mode">The file's mode (only the type bits, <see cref="FuseFileMode.TypeMask"/>, are used).</param>
    /// <param name="handle">The host file; kept open until the last release.</param>
    /// <param name="isWritable">Whether <paramref name="handle"/> was opened for writing.</param>
    /// <exception cref="ObjectDisposedException"><paramref name="handle"/> is closed.</exception>
    public DaxFileReference(ulong nodeId, uint mode, SafeHandle handle, bool isWritable)
    {
        ArgumentNullException.ThrowIfNull(handle);
        bool added = false;
        handle.DangerousAddRef(ref added);
        NodeId = nodeId;
        Mode = mode;
        Handle = handle;
        IsWritable = isWritable;
    }

    /// <summary>The node the file belongs to.</summary>
    public ulong NodeId { get; }

    /// <summary>The file's mode.</summary>
    public uint Mode { get; }

    /// <summary>Whether the file is a regular file (the only kind that can be mapped).</summary>
    public bool IsRegularFile => (Mode & FuseFileMode.TypeMask) == FuseFileMode.RegularFile;

    /// <summary>Whether the handle was opened for writing.</summary>
    public bool IsWritable { get; }

    /// <summary>The host file; valid while the reference is held.</summary>
    public SafeHandle Handle { get; }

    /// <summary>Whether the last reference was released.</summary>
    public bool IsReleased => Volatile.Read(ref _count) == 0;

    /// <summary>Takes another reference.</summary>
    /// <returns>This object.</returns>
    /// <exception cref="ObjectDisposedException">The last reference was already released.</exception>
    public DaxFileReference AddReference()
    {
        int count;
        do
        {
            count = Volatile.Read(ref _count);
            ObjectDisposedException.ThrowIf(count == 0, this);
        }
        while (Interlocked.CompareExchange(ref _count, count + 1, count) != count);

        return this;
    }

    /// <summary>Releases one reference; the last lets the handle close.</summary>
    /// <exception cref="InvalidOperationException">More releases than references.</exception>
    public void Release()
    {
        int count = Interlocked.Decrement(ref _count);
        if (count == 0)
        {
            Handle.DangerousRelease();
        }
        else if (count < 0)
        {
            Interlocked.Increment(ref _count);
            throw new InvalidOperationException("The DAX file reference was released more often than it was taken.");
        }
    }
}
