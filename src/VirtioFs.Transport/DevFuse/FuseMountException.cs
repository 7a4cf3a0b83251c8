using VirtioFs.Protocol;

namespace VirtioFs.Transport;

/// <summary>Mounting or unmounting failed; the message names the cause and the fix.</summary>
public sealed class FuseMountException : FuseException
{
    /// <summary>Creates an exception.</summary>
    /// <param name="message">The cause and the fix.</param>
    /// <param name="error">The errno behind it, if any.</param>
    public FuseMountException(string message, Errno error = Errno.Success)
        : base(message)
    {
        Error = error;
    }

    /// <summary>The errno behind the failure, or <see cref="Errno.Success"/>.</summary>
    public Errno Error { get; }
}
