using System.Diagnostics.CodeAnalysis;
using VirtioFs.Protocol;

namespace VirtioFs.Dax;

/// <summary>
/// A DAX window and its single owner. Two allocators (or an allocator and something else) handing out the same window
/// ranges would map two files into one place, so whoever uses the window claims it first.
/// </summary>
public sealed class DaxWindowOwnership
{
    private object? _owner;

    /// <summary>Creates an unowned window of the given shape.</summary>
    /// <param name="geometry">The window's shape.</param>
    public DaxWindowOwnership(DaxWindowGeometry geometry)
    {
        ArgumentNullException.ThrowIfNull(geometry);
        Geometry = geometry;
    }

    /// <summary>The window's shape.</summary>
    public DaxWindowGeometry Geometry { get; }

    /// <summary>Whether some owner holds the window.</summary>
    public bool IsClaimed => Volatile.Read(ref _owner) is not null;

    /// <summary>Whether <paramref name="owner"/> holds the window.</summary>
    /// <param name="owner">A candidate owner.</param>
    /// <returns>True when <paramref name="owner"/> is the owner.</returns>
    public bool IsOwnedBy(object owner) => ReferenceEquals(Volatile.Read(ref _owner), owner);

    /// <summary>Claims the window for <paramref name="owner"/>. Claiming again by the same owner is harmless.</summary>
    /// <param name="owner">The claimant, compared by reference.</param>
    /// <exception cref="DaxWindowOwnershipException">Another owner holds the window.</exception>
    public void Claim(object owner)
    {
        ArgumentNullException.ThrowIfNull(owner);
        object? previous = Interlocked.CompareExchange(ref _owner, owner, null);
        if (previous is not null && !ReferenceEquals(previous, owner))
        {
            ThrowOwnership("The DAX window is already claimed by another owner.");
        }
    }

    /// <summary>Releases the window held by <paramref name="owner"/>.</summary>
    /// <param name="owner">The owner that claimed it.</param>
    /// <exception cref="DaxWindowOwnershipException"><paramref name="owner"/> does not hold the window; nothing changes.</exception>
    public void Release(object owner)
    {
        ArgumentNullException.ThrowIfNull(owner);
        if (!ReferenceEquals(Interlocked.CompareExchange(ref _owner, null, owner), owner))
        {
            ThrowOwnership("Only the owner of the DAX window may release it.");
        }
    }

    [DoesNotReturn]
    private static void ThrowOwnership(string message) => throw new DaxWindowOwnershipException(message);
}

/// <summary>A DAX window was claimed while another owner held it, or released by someone who does not hold it.</summary>
public sealed class DaxWindowOwnershipException : FuseException
{
    /// <summary>Creates an exception with a message.</summary>
    /// <param name="message">What went wrong.</param>
    public DaxWindowOwnershipException(string message)
        : base(message)
    {
    }
}
