using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace VirtioFs.Transport;

/// <summary>Unix-domain sockets (<c>sys/socket.h</c>, <c>sys/un.h</c>) for the vhost-user server. Values are Linux's.</summary>
internal static unsafe partial class Interop
{
    internal const int SHUT_RDWR = 2;
    internal const int MSG_CTRUNC = 0x8;
    internal const int MSG_NOSIGNAL = 0x4000;
    internal const int MSG_CMSG_CLOEXEC = 0x40000000;

    /// <summary><c>sizeof(struct cmsghdr)</c> on 64-bit Linux: <c>{ size_t cmsg_len; int cmsg_level; int cmsg_type; }</c>.</summary>
    internal const int CmsgHeaderSize = 16;

    /// <summary><c>sizeof(sun_path)</c>.</summary>
    internal const int UnixPathMax = 108;

    /// <summary><c>struct sockaddr_un { sa_family_t sun_family; char sun_path[108]; }</c>.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct SockAddrUnix
    {
        public ushort Family;
        public fixed byte Path[UnixPathMax];
    }

    internal const uint S_IFMT = 0xf000;
    internal const uint S_IFSOCK = 0xc000;
    private const int AT_FDCWD = -100;
    private const int AT_SYMLINK_NOFOLLOW = 0x100;
    private const uint STATX_TYPE = 1;

    /// <summary><c>statx</c>; the buffer is a <c>struct statx</c> (256 bytes), whose <c>stx_mode</c> (u16) is at offset 28 on every architecture.</summary>
    [LibraryImport(Libc, EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Statx(int directory, string path, int flags, uint mask, byte* buffer);

    /// <summary>The file type and mode bits of <paramref name="path"/> itself (a symlink is not followed), with <paramref name="errno"/> set on failure.</summary>
    internal static uint LStatMode(string path, out Protocol.Errno errno)
    {
        byte* buffer = stackalloc byte[256];
        if (Statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_TYPE, buffer) != 0)
        {
            errno = LastErrno;
            return 0;
        }

        errno = Protocol.Errno.Success;
        return *(ushort*)(buffer + 28);
    }

    [LibraryImport(Libc, EntryPoint = "socket", SetLastError = true)]
    internal static partial int Socket(int domain, int type, int protocol);

    [LibraryImport(Libc, EntryPoint = "bind", SetLastError = true)]
    internal static partial int Bind(SafeFileHandle fd, SockAddrUnix* address, uint length);

    [LibraryImport(Libc, EntryPoint = "connect", SetLastError = true)]
    internal static partial int Connect(SafeFileHandle fd, SockAddrUnix* address, uint length);

    [LibraryImport(Libc, EntryPoint = "listen", SetLastError = true)]
    internal static partial int Listen(SafeFileHandle fd, int backlog);

    [LibraryImport(Libc, EntryPoint = "accept4", SetLastError = true)]
    internal static partial int Accept4(SafeFileHandle fd, void* address, void* length, int flags);

    [LibraryImport(Libc, EntryPoint = "shutdown", SetLastError = true)]
    internal static partial int Shutdown(SafeFileHandle fd, int how);

    internal const int SO_RCVTIMEO = 20;
    internal const int SO_SNDTIMEO = 21;

    /// <summary><c>struct timeval</c>.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct TimeVal
    {
        public long Seconds;
        public long Microseconds;
    }

    [LibraryImport(Libc, EntryPoint = "setsockopt", SetLastError = true)]
    internal static partial int SetSockOpt(SafeFileHandle fd, int level, int name, void* value, uint length);

    [LibraryImport(Libc, EntryPoint = "sendmsg", SetLastError = true)]
    internal static partial nint SendMsg(SafeFileHandle fd, MsgHdr* message, int flags);

    /// <summary>
    /// Takes ownership of every <c>SCM_RIGHTS</c> descriptor a <c>recvmsg</c> received into <paramref name="message"/>'s
    /// control buffer, walking each <c>cmsghdr</c> by its own <c>cmsg_len</c> (bounded by what the kernel filled).
    /// </summary>
    /// <returns>Whether the kernel dropped descriptors for want of control room (<c>MSG_CTRUNC</c>; it closed them).</returns>
    internal static bool TakeRightsDescriptors(MsgHdr* message, List<SafeFileHandle> into)
    {
        byte* control = (byte*)message->Control;
        nuint offset = 0;
        while (offset + CmsgHeaderSize <= message->ControlLength)
        {
            nuint length = *(nuint*)(control + offset);
            if (length < CmsgHeaderSize || offset + length > message->ControlLength)
            {
                break;
            }

            if (*(int*)(control + offset + 8) == SOL_SOCKET && *(int*)(control + offset + 12) == SCM_RIGHTS)
            {
                int count = (int)((length - CmsgHeaderSize) / 4);
                for (int i = 0; i < count; i++)
                {
                    into.Add(Own(((int*)(control + offset + CmsgHeaderSize))[i]));
                }
            }

            offset += (length + 7) & ~(nuint)7;
        }

        return (message->Flags & MSG_CTRUNC) != 0;
    }

    /// <summary>Builds a <c>sockaddr_un</c> for <paramref name="path"/>; false when the path does not fit (with its NUL).</summary>
    internal static bool TryMakeUnixAddress(string path, out SockAddrUnix address)
    {
        address = default;
        address.Family = AF_UNIX;
        int length = System.Text.Encoding.UTF8.GetByteCount(path);
        if (length == 0 || length >= UnixPathMax || path.Contains('\0'))
        {
            return false;
        }

        fixed (byte* destination = address.Path)
        {
            System.Text.Encoding.UTF8.GetBytes(path, new Span<byte>(destination, UnixPathMax));
        }

        return true;
    }
}
