using VirtioFs.Protocol;

namespace VirtioFs.Transport;

/// <summary>The vhost-user backend cannot go on: its socket could not be set up, or the VMM's connection failed.</summary>
public sealed class VhostUserException : FuseException
{
    /// <summary>Creates an exception.</summary>
    /// <param name="message">The cause (and, where there is one, the fix).</param>
    /// <param name="error">The errno behind it, if any.</param>
    public VhostUserException(string message, Errno error = Errno.Success)
        : base(message)
    {
        Error = error;
    }

    /// <summary>The errno behind the failure, or <see cref="Errno.Success"/>.</summary>
    public Errno Error { get; }
}
