using System.Runtime.CompilerServices;

namespace VirtioFs.Protocol;

// Fixed-size arrays used for reserved/spare ABI fields. They are never read or written, they
// only give the containing structs their exact C sizes.
#pragma warning disable CS0169 // Field is never used

[InlineArray(1)]
internal struct AbiUInt16Array1
{
    private ushort _element0;
}

[InlineArray(11)]
internal struct AbiUInt16Array11
{
    private ushort _element0;
}

[InlineArray(6)]
internal struct AbiUInt32Array6
{
    private uint _element0;
}

[InlineArray(10)]
internal struct AbiUInt32Array10
{
    private uint _element0;
}

[InlineArray(11)]
internal struct AbiUInt32Array11
{
    private uint _element0;
}

[InlineArray(2)]
internal struct AbiUInt64Array2
{
    private ulong _element0;
}

[InlineArray(14)]
internal struct AbiUInt64Array14
{
    private ulong _element0;
}
