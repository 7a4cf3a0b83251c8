namespace VirtioFs.Dax;

/// <summary>One mapped window range, as reported by <see cref="DaxMappingServer.GetMappings()"/>.</summary>
/// <param name="WindowOffset">The window offset.</param>
/// <param name="Length">The length in bytes.</param>
/// <param name="NodeId">The node whose file is mapped.</param>
/// <param name="FileOffset">The file offset mapped at <paramref name="WindowOffset"/>.</param>
/// <param name="Writable">Whether the range is mapped for writing.</param>
public readonly record struct DaxMapping(long WindowOffset, long Length, ulong NodeId, long FileOffset, bool Writable)
{
    /// <summary>The window offset just past the range.</summary>
    public long WindowEnd => WindowOffset + Length;
}
