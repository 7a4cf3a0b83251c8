using System.Runtime.InteropServices;

namespace VirtioFs.Transport;

/// <summary>An address range reserved or mapped with <c>mmap</c>; releasing it <c>munmap</c>s the whole range.</summary>
internal sealed unsafe class SafeMappedRegionHandle : SafeBuffer
{
    public SafeMappedRegionHandle()
        : base(ownsHandle: true)
    {
    }

    /// <summary>Reserves <paramref name="length"/> bytes of address space with no access and no swap reserved.</summary>
    /// <returns>The region, or null with <paramref name="errno"/> set.</returns>
    public static SafeMappedRegionHandle? Reserve(ulong length, out int errno)
    {
        var region = new SafeMappedRegionHandle();
        void* address = Interop.MMap(null, (nuint)length, Interop.PROT_NONE, Interop.MAP_PRIVATE | Interop.MAP_ANONYMOUS | Interop.MAP_NORESERVE, -1, 0);
        if (address == Interop.MapFailed)
        {
            errno = Marshal.GetLastPInvokeError();
            region.SetHandleAsInvalid();
            return null;
        }

        errno = 0;
        region.SetHandle((nint)address);
        region.Initialize(length);
        return region;
    }

    protected override bool ReleaseHandle() => Interop.MUnmap((void*)handle, (nuint)ByteLength) == 0;
}
