using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace VirtioFs.Transport;

/// <summary>
/// Our own thin libc layer: one <see cref="LibraryImportAttribute"/> per function, errno read right after the call
/// with <see cref="Marshal.GetLastPInvokeError"/>. Everything OS-specific in VirtioFs lives in this folder.
/// </summary>
internal static unsafe partial class Interop
{
    private const string Libc = "libc.so.6";

    internal const int O_RDWR = 2;
    internal const int O_CLOEXEC = 0x80000;

    internal const int MNT_DETACH = 2;

    internal const int AF_UNIX = 1;
    internal const int SOCK_STREAM = 1;
    internal const int SOCK_CLOEXEC = 0x80000;
    internal const int SOL_SOCKET = 1;
    internal const int SCM_RIGHTS = 1;

    [StructLayout(LayoutKind.Sequential)]
    internal struct IoVec
    {
        public void* Base;
        public nuint Length;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct MsgHdr
    {
        public void* Name;
        public uint NameLength;
        public IoVec* Iov;
        public nuint IovLength;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }

    [LibraryImport(Libc, EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int Open(string path, int flags, int mode);

    [LibraryImport(Libc, EntryPoint = "read", SetLastError = true)]
    internal static partial nint Read(SafeFileHandle fd, byte* buffer, nuint count);

    [LibraryImport(Libc, EntryPoint = "writev", SetLastError = true)]
    internal static partial nint WriteV(SafeFileHandle fd, IoVec* iov, int count);

    [LibraryImport(Libc, EntryPoint = "ioctl", SetLastError = true)]
    internal static partial int Ioctl(SafeFileHandle fd, nuint request, void* argument);

    [LibraryImport(Libc, EntryPoint = "mount", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int Mount(string source, string target, string fileSystemType, nuint flags, string data);

    [LibraryImport(Libc, EntryPoint = "umount2", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int Umount2(string target, int flags);

    [LibraryImport(Libc, EntryPoint = "socketpair", SetLastError = true)]
    internal static partial int SocketPair(int domain, int type, int protocol, int* fds);

    [LibraryImport(Libc, EntryPoint = "recvmsg", SetLastError = true)]
    internal static partial nint RecvMsg(SafeFileHandle fd, MsgHdr* message, int flags);

    internal const int F_SETFD = 2;

    [LibraryImport(Libc, EntryPoint = "fcntl", SetLastError = true)]
    internal static partial int Fcntl(int fd, int command, int argument);

    [LibraryImport(Libc, EntryPoint = "getuid")]
    internal static partial uint GetUid();

    [LibraryImport(Libc, EntryPoint = "getgid")]
    internal static partial uint GetGid();

    [LibraryImport(Libc, EntryPoint = "geteuid")]
    internal static partial uint GetEUid();

    /// <summary>The errno of the last call made through this class, as a typed value.</summary>
    internal static Protocol.Errno LastErrno => (Protocol.Errno)Marshal.GetLastPInvokeError();

    /// <summary>Wraps a raw descriptor (closed by the handle).</summary>
    internal static SafeFileHandle Own(int fd) => new((nint)fd, ownsHandle: true);
}
