using System.Diagnostics.CodeAnalysis;

namespace VirtioFs.Protocol;

internal static class ThrowHelper
{
    [DoesNotReturn]
    public static void ThrowInvalidOperation(string message) => throw new InvalidOperationException(message);

    [DoesNotReturn]
    public static void ThrowArgument(string paramName, string message) => throw new ArgumentException(message, paramName);

    [DoesNotReturn]
    public static void ThrowArgumentOutOfRange(string paramName, string message) => throw new ArgumentOutOfRangeException(paramName, message);

    [DoesNotReturn]
    public static void ThrowChannel(string message, Exception? inner = null) => throw new FuseChannelException(message, inner);

    [DoesNotReturn]
    public static void ThrowProtocol(string message, Errno error = Errno.Success) => throw new FuseProtocolException(message, error);
}
