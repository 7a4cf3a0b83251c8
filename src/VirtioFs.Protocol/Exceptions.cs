namespace VirtioFs.Protocol;

/// <summary>The base of every exception VirtioFs throws.</summary>
public class FuseException : Exception
{
    /// <summary>Creates an exception with a message.</summary>
    /// <param name="message">What went wrong.</param>
    public FuseException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and a cause.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="innerException">The cause.</param>
    public FuseException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>A channel or session cannot continue: it was closed, the peer broke the protocol, or the transport failed.</summary>
public sealed class FuseChannelException : FuseException
{
    /// <summary>Creates an exception with a message.</summary>
    /// <param name="message">What went wrong.</param>
    public FuseChannelException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and a cause.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="innerException">The cause.</param>
    public FuseChannelException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>A single operation is not possible under the negotiated protocol (for example a notification the client's minor version lacks), or the peer answered it with an error.</summary>
public sealed class FuseProtocolException : FuseException
{
    /// <summary>Creates an exception with a message.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="error">The errno that describes it, if any.</param>
    public FuseProtocolException(string message, Errno error = Errno.Success)
        : base(message)
    {
        Error = error;
    }

    /// <summary>The errno that describes the failure, or <see cref="Errno.Success"/> when none applies.</summary>
    public Errno Error { get; }
}
