using System.Diagnostics.CodeAnalysis;

namespace VirtioFs.Dax;

internal static class DaxThrowHelper
{
    [DoesNotReturn]
    public static void ThrowPolicyChoseNonCandidate(int range)
        => throw new InvalidOperationException($"The reclaim policy chose range {range}, which was not among the candidates.");

    [DoesNotReturn]
    public static void ThrowTooManyRanges(long count)
        => throw new ArgumentOutOfRangeException("window", count, $"The window must have at most {DaxRangeAllocator.MaxRanges} ranges.");
}
