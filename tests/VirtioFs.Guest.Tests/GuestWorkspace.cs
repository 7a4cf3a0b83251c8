namespace VirtioFs.Guest.Tests;

/// <summary>
/// A fresh directory under /tmp for one test: the vhost-user socket (short path: sun_path holds 108 bytes) and the
/// export of a host-directory backend. Disposing removes it; dispose the processes first.
/// </summary>
internal sealed class GuestWorkspace : IDisposable
{
    public GuestWorkspace()
    {
        Root = Path.Combine("/tmp", "vfs-guest-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(ExportDirectory);
    }

    public string Root { get; }

    /// <summary>What a host-directory backend exports (ext4 or tmpfs here: both keep user.* xattrs).</summary>
    public string ExportDirectory => Path.Combine(Root, "export");

    public string SocketPath => Path.Combine(Root, "vhost.sock");

    /// <summary>The virtio-fs tag (at most 36 bytes).</summary>
    public string Tag => "vfs-guest-test";

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a leftover directory under /tmp does not fail a test.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
