using VirtioFs.Protocol;

namespace VirtioFs.Dax.Tests.Serving;

public sealed class DaxFileReferenceTests
{
    [Fact]
    public void TheHandleClosesAfterTheLastReleaseEvenWhenItsOwnerDisposedItFirst()
    {
        var handle = new TestHandle();
        var reference = new DaxFileReference(2, FuseFileMode.RegularFile | 0x1A4, handle, isWritable: true);
        Assert.True(reference.IsRegularFile);
        Assert.Same(reference, reference.AddReference());
        handle.Dispose();

        reference.Release();
        Assert.False(handle.Released);
        reference.Release();
        Assert.True(handle.Released);
        Assert.True(reference.IsReleased);

        Assert.Throws<ObjectDisposedException>(() => reference.AddReference());
        Assert.Throws<InvalidOperationException>(reference.Release);
    }

    [Fact]
    public void AClosedHandleCannotBeReferenced()
    {
        var handle = new TestHandle();
        handle.Dispose();
        Assert.Throws<ObjectDisposedException>(() => new DaxFileReference(2, FuseFileMode.RegularFile, handle, false));
        Assert.False(new DaxFileReference(3, FuseFileMode.Directory, new TestHandle(), false).IsRegularFile);
    }
}
