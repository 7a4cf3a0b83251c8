using VirtioFs.Dax;

namespace VirtioFs.Dax.Tests;

public sealed class DaxWindowGeometryTests
{
    private const long MiB = 1024 * 1024;

    [Fact]
    public void SplitsTheWindowIntoFixedRanges()
    {
        var geometry = new DaxWindowGeometry(9 * MiB);
        Assert.Equal(2 * MiB, geometry.RangeSize);
        Assert.Equal(4, geometry.RangeCount);
        Assert.Equal(6 * MiB, geometry.RangeOffset(3));
        Assert.Throws<ArgumentOutOfRangeException>(() => geometry.RangeOffset(4));
        Assert.Throws<ArgumentOutOfRangeException>(() => geometry.RangeOffset(-1));
    }

    [Theory]
    [InlineData(0UL, 0UL)]
    [InlineData(2 * MiB - 1, 0UL)]
    [InlineData(2 * MiB, 2 * MiB)]
    [InlineData(5UL * 1024 * 1024 * 1024 + 3, 5UL * 1024 * 1024 * 1024)]
    public void RangeStartAlignsDown(ulong fileOffset, ulong expected)
        => Assert.Equal(expected, new DaxWindowGeometry(2 * MiB).RangeStart(fileOffset));

    [Fact]
    public void ChecksAlignmentAndBoundsWithoutOverflow()
    {
        var geometry = new DaxWindowGeometry(4 * MiB, mapAlignment: 12);
        Assert.True(geometry.IsAligned(8192));
        Assert.False(geometry.IsAligned(4097));
        Assert.True(geometry.Contains(2 * MiB, 2 * MiB));
        Assert.False(geometry.Contains(2 * MiB, 2 * MiB + 4096));
        Assert.False(geometry.Contains(0, 0));
        Assert.False(geometry.Contains(ulong.MaxValue - 4095, 8192));
        Assert.False(geometry.Contains(4096, ulong.MaxValue));
    }

    [Theory]
    [InlineData(0UL, 4096UL, true)]
    [InlineData(2 * MiB, 2 * MiB, true)]
    [InlineData(0UL, 0UL, false)]
    [InlineData(4096UL, 2048UL, false)]
    [InlineData(2048UL, 4096UL, false)]
    [InlineData(4 * MiB - 4096, 8192UL, false)]
    [InlineData(ulong.MaxValue - 4095, 8192UL, false)]
    [InlineData(4096UL, ulong.MaxValue - 4095, false)]
    public void MappableRangesAreNonEmptyAlignedAndInside(ulong offset, ulong length, bool expected)
        => Assert.Equal(expected, new DaxWindowGeometry(4 * MiB, mapAlignment: 12).IsMappable(offset, length));

    [Theory]
    [InlineData(2 * MiB, 2 * MiB, 22)]
    [InlineData(2 * MiB, 2 * MiB, -1)]
    [InlineData(2 * MiB, 3 * MiB, 12)]
    [InlineData(2 * MiB, 2048, 12)]
    [InlineData(MiB, 2 * MiB, 12)]
    public void RejectsInvalidShapes(long window, long range, int alignment)
        => Assert.Throws<ArgumentOutOfRangeException>(() => new DaxWindowGeometry(window, range, alignment));
}
