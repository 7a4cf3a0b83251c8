using Microsoft.Win32.SafeHandles;
using VirtioFs.Transport.VhostUser;

namespace VirtioFs.Transport.Tests.VhostUser;

/// <summary>
/// A <see cref="VhostUserVring"/> over a <see cref="GuestDriver"/>'s rings, with kick and call eventfds as the VMM
/// would pass them: the test kicks by signalling the kick eventfd and counts calls by reading the call eventfd.
/// </summary>
internal sealed class TestVring : IDisposable
{
    private readonly SafeFileHandle _kick = EventFd.Create();
    private readonly SafeFileHandle _call = EventFd.Create();
    private long _calls;

    public TestVring(GuestDriver driver, bool indirect = true, bool eventIndex = false)
    {
        Vring = new VhostUserVring(0) { Size = driver.QueueSize, Address = driver.RingAddress, Enabled = true };

        // The vring owns both descriptors from here on (it closes them when disposed); the test only signals and reads them.
        Vring.SetKick(_kick);
        Vring.SetCall(_call);
        Vring.Attach(driver.Memory, indirect, eventIndex);
    }

    public VhostUserVring Vring { get; }

    /// <summary>Calls signalled so far (the eventfd counter, read without blocking, summed over reads).</summary>
    public unsafe long Calls
    {
        get
        {
            ulong value;
            if (Interop.Read(_call, (byte*)&value, sizeof(ulong)) == sizeof(ulong))
            {
                _calls += (long)value;
            }

            return _calls;
        }
    }

    public void Kick() => Assert.True(EventFd.Signal(_kick));

    public void Dispose() => Vring.Dispose();
}
