namespace VirtioFs.Transport.VhostUser;

/// <summary>
/// The two doorbells of a virtqueue: the driver's kick (vhost-user's kick eventfd) and the device's call (the call
/// eventfd, an interrupt to the guest). An eventfd pair implements it for VMMs; tests implement it in memory.
/// </summary>
internal interface IVirtqueueNotifier
{
    /// <summary>Completes when the driver kicked since the last wait ended (kicks coalesce, as an eventfd's counter does).</summary>
    /// <param name="cancellationToken">Ends the wait (with <see cref="OperationCanceledException"/>).</param>
    ValueTask WaitForKickAsync(CancellationToken cancellationToken);

    /// <summary>Interrupts the driver: used buffers are ready.</summary>
    void SignalCall();
}
