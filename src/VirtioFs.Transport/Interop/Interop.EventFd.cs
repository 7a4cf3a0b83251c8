using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace VirtioFs.Transport;

/// <summary>Event descriptors and waiting on descriptors (<c>sys/eventfd.h</c>, <c>poll.h</c>, <c>sys/mman.h</c>'s <c>memfd_create</c>).</summary>
internal static unsafe partial class Interop
{
    internal const int EFD_CLOEXEC = 0x80000;
    internal const int EFD_NONBLOCK = 0x800;
    internal const int MFD_CLOEXEC = 1;

    internal const short POLLIN = 0x1;

    internal const int SEEK_END = 2;

    /// <summary><c>struct pollfd</c>.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct PollFd
    {
        public int Fd;
        public short Events;
        public short ReturnedEvents;
    }

    [LibraryImport(Libc, EntryPoint = "eventfd", SetLastError = true)]
    internal static partial int EventFd(uint initialValue, int flags);

    [LibraryImport(Libc, EntryPoint = "poll", SetLastError = true)]
    internal static partial int Poll(PollFd* fds, nuint count, int timeout);

    [LibraryImport(Libc, EntryPoint = "write", SetLastError = true)]
    internal static partial nint Write(SafeFileHandle fd, byte* buffer, nuint count);

    [LibraryImport(Libc, EntryPoint = "memfd_create", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int MemfdCreate(string name, uint flags);

    [LibraryImport(Libc, EntryPoint = "ftruncate", SetLastError = true)]
    internal static partial int FTruncate(SafeFileHandle fd, long length);

    [LibraryImport(Libc, EntryPoint = "lseek", SetLastError = true)]
    internal static partial long LSeek(SafeFileHandle fd, long offset, int whence);
}
