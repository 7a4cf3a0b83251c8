using System.Runtime.InteropServices;

namespace VirtioFs.Transport;

/// <summary>Memory mappings (<c>sys/mman.h</c>): the in-process DAX window and vhost-user guest memory. Values are Linux's (x86-64 and arm64 alike).</summary>
internal static unsafe partial class Interop
{
    internal const int PROT_NONE = 0;
    internal const int PROT_READ = 1;
    internal const int PROT_WRITE = 2;

    internal const int MAP_SHARED = 0x01;
    internal const int MAP_PRIVATE = 0x02;
    internal const int MAP_FIXED = 0x10;
    internal const int MAP_ANONYMOUS = 0x20;
    internal const int MAP_NORESERVE = 0x4000;

    /// <summary><c>MAP_FAILED</c>: <c>(void*)-1</c>.</summary>
    internal static readonly void* MapFailed = (void*)-1;

    /// <summary><c>mmap</c>; the descriptor is a plain int because anonymous mappings pass -1 (callers hold a
    /// reference on the file's <see cref="SafeHandle"/> around the call).</summary>
    [LibraryImport(Libc, EntryPoint = "mmap", SetLastError = true)]
    internal static partial void* MMap(void* address, nuint length, int protection, int flags, int fd, long offset);

    [LibraryImport(Libc, EntryPoint = "munmap", SetLastError = true)]
    internal static partial int MUnmap(void* address, nuint length);
}
