using System.Diagnostics.CodeAnalysis;

namespace VirtioFs.Dax;

internal static class DaxThrowHelper
{
    [DoesNotReturn]
    public static void ThrowPolicyChoseNonCandidate(int range)
        => throw new InvalidOperationException($"The reclaim policy chose range {range}, which was not among the candidates.");

    /// <summary>The options' range rule: <paramref name="value"/> when it lies in [<paramref name="min"/>,
    /// <paramref name="max"/>], else <see cref="ArgumentOutOfRangeException"/> with <paramref name="message"/>.</summary>
    public static T InRange<T>(T value, T min, T max, string paramName, string message)
        where T : IComparable<T>
        => value.CompareTo(min) >= 0 && value.CompareTo(max) <= 0 ? value : throw new ArgumentOutOfRangeException(paramName, value, message);

    [DoesNotReturn]
    public static void ThrowTooManyRanges(long count)
        => throw new ArgumentOutOfRangeException("window", count, $"The window must have at most {DaxRangeAllocator.MaxRanges} ranges.");
}
