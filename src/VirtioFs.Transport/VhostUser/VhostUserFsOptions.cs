using System.Text;

namespace VirtioFs.Transport;

/// <summary>How a <see cref="VhostUserFsBackend"/> presents its virtio-fs device to the VMM.</summary>
public sealed class VhostUserFsOptions
{
    /// <summary>The longest tag (<c>struct virtio_fs_config</c>'s <c>tag[36]</c>), in UTF-8 bytes.</summary>
    public const int MaxTagLength = 36;

    /// <summary>Creates options.</summary>
    /// <param name="socketPath">Where to listen for the VMM (a stale socket file there is replaced).</param>
    /// <param name="tag">The name the guest mounts (<c>mount -t virtiofs &lt;tag&gt; /mnt</c>): 1 to 36 bytes of UTF-8, no NUL.</param>
    /// <exception cref="ArgumentException">The path is empty or the tag is empty, too long or holds a NUL.</exception>
    public VhostUserFsOptions(string socketPath, string tag)
    {
        ArgumentException.ThrowIfNullOrEmpty(socketPath);
        ArgumentException.ThrowIfNullOrEmpty(tag);
        int length = Encoding.UTF8.GetByteCount(tag);
        if (length > MaxTagLength || tag.Contains('\0'))
        {
            throw new ArgumentException($"A virtio-fs tag is 1 to {MaxTagLength} bytes of UTF-8 without NUL; '{tag}' is {length} bytes.", nameof(tag));
        }

        SocketPath = socketPath;
        Tag = tag;
    }

    /// <summary>The socket path.</summary>
    public string SocketPath { get; }

    /// <summary>The tag.</summary>
    public string Tag { get; }

    /// <summary>
    /// Request queues offered besides the hiprio queue (<c>num_request_queues</c>), each served by its own worker; 1 to 64,
    /// default 1. The VMM may use fewer (QEMU: <c>vhost-user-fs-pci,num-request-queues=N</c>).
    /// </summary>
    public int RequestQueues
    {
        get;
        init
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, 64);
            field = value;
        }
    } = 1;

    /// <summary>
    /// Whether to wait for the next VMM after one disconnects (a guest reboot with a new VMM process), instead of
    /// ending <see cref="VhostUserFsBackend.RunAsync"/>. Default false.
    /// </summary>
    public bool Reconnect { get; init; }

    /// <summary>
    /// The DAX window to offer (virtio shared memory region 0, with <c>VHOST_USER_PROTOCOL_F_SHMEM</c>), or null for
    /// none (the default). Serve mappings into it with a <see cref="Dax.DaxMappingServer"/> in the sessions' options.
    /// </summary>
    public VhostUserDaxWindow? DaxWindow { get; init; }

    /// <summary>Memory regions a VMM may add with <c>ADD_MEM_REG</c> (<c>GET_MAX_MEM_SLOTS</c>); 1 to 509, default 32.</summary>
    public int MaxMemorySlots
    {
        get;
        init
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, 509);
            field = value;
        }
    } = 32;
}
