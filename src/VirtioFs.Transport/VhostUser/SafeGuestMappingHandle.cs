using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace VirtioFs.Transport.VhostUser;

/// <summary>
/// A guest memory region the VMM shared with us (an fd from <c>VHOST_USER_SET_MEM_TABLE</c>), mapped
/// <c>MAP_SHARED</c>; releasing it <c>munmap</c>s the mapping. Being a <see cref="SafeBuffer"/>, the unmap waits until
/// every reader that acquired it has released it, so a memory-table swap never pulls pages from under a copy.
/// </summary>
internal sealed unsafe class SafeGuestMappingHandle : SafeBuffer
{
    public SafeGuestMappingHandle()
        : base(ownsHandle: true)
    {
    }

    /// <summary>Maps <paramref name="length"/> bytes of <paramref name="fd"/> from file offset 0, read-write and shared.</summary>
    /// <returns>The mapping, or null with <paramref name="errno"/> set.</returns>
    public static SafeGuestMappingHandle? Map(SafeFileHandle fd, ulong length, out int errno)
    {
        var mapping = new SafeGuestMappingHandle();
        bool added = false;
        try
        {
            // The descriptor stays open for the call; mmap keeps its own reference to the file afterwards.
            fd.DangerousAddRef(ref added);
            void* address = Interop.MMap(
                null, (nuint)length, Interop.PROT_READ | Interop.PROT_WRITE, Interop.MAP_SHARED | Interop.MAP_NORESERVE, (int)fd.DangerousGetHandle(), 0);
            if (address == Interop.MapFailed)
            {
                errno = Marshal.GetLastPInvokeError();
                mapping.SetHandleAsInvalid();
                return null;
            }

            errno = 0;
            mapping.SetHandle((nint)address);
            mapping.Initialize(length);
            return mapping;
        }
        finally
        {
            if (added)
            {
                fd.DangerousRelease();
            }
        }
    }

    protected override bool ReleaseHandle() => Interop.MUnmap((void*)handle, (nuint)ByteLength) == 0;
}
