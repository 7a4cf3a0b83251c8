using System.Diagnostics.CodeAnalysis;

namespace VirtioFs.Protocol;

/// <summary>
/// The outcome of a filesystem operation: a value or an <see cref="Protocol.Errno"/>.
/// Both convert implicitly, so an operation can <c>return entry;</c> or <c>return Errno.ENOENT;</c>.
/// </summary>
/// <typeparam name="T">The type of the value of a successful operation.</typeparam>
public readonly struct FuseResult<T>
{
    private readonly T _value;

    /// <summary>Creates a successful result.</summary>
    /// <param name="value">The value.</param>
    public FuseResult(T value)
    {
        _value = value;
        Error = Errno.Success;
    }

    /// <summary>Creates a failed result (or, for <see cref="Errno.Success"/>, a success with the default value).</summary>
    /// <param name="error">The error.</param>
    public FuseResult(Errno error)
    {
        _value = default!;
        Error = error;
    }

    /// <summary>The error; <see cref="Errno.Success"/> when the operation succeeded.</summary>
    public Errno Error { get; }

    /// <summary>Whether the operation succeeded.</summary>
    [MemberNotNullWhen(true, nameof(Value))]
    public bool IsSuccess => Error == Errno.Success;

    /// <summary>The value of a successful operation; the default value after a failure.</summary>
    public T? Value => _value;

    /// <summary>Wraps a value as a successful result.</summary>
    /// <param name="value">The value.</param>
    public static implicit operator FuseResult<T>(T value) => new(value);

    /// <summary>Wraps an error as a failed result.</summary>
    /// <param name="error">The error.</param>
    public static implicit operator FuseResult<T>(Errno error) => new(error);

    /// <inheritdoc />
    public override string ToString() => IsSuccess ? $"Ok({_value})" : Error.ToString();
}
