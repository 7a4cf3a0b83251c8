using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using VirtioFs.Protocol;

namespace VirtioFs.Samples.Passthrough;

/// <summary>
/// The host calls of the passthrough filesystem: one <see cref="LibraryImportAttribute"/> per libc function, errno read
/// right after the call through <see cref="LastErrno"/>. Paths are NUL-terminated UTF-8 bytes (names come from the
/// kernel as bytes and are passed on unchanged, never decoded). Linux x86_64 values throughout.
/// </summary>
internal static unsafe partial class Interop
{
    private const string Libc = "libc.so.6";

    internal const int O_RDONLY = 0;
    internal const int O_WRONLY = 1;
    internal const int O_RDWR = 2;
    internal const int O_ACCMODE = 3;
    internal const int O_CREAT = 0x40;
    internal const int O_EXCL = 0x80;
    internal const int O_NOCTTY = 0x100;
    internal const int O_TRUNC = 0x200;
    internal const int O_APPEND = 0x400;
    internal const int O_DIRECT = 0x4000;
    internal const int O_DIRECTORY = 0x10000;
    internal const int O_NOFOLLOW = 0x20000;
    internal const int O_CLOEXEC = 0x80000;
    internal const int O_PATH = 0x200000;
    internal const int O_TMPFILE = 0x410000;

    internal const int AT_FDCWD = -100;
    internal const int AT_SYMLINK_NOFOLLOW = 0x100;
    internal const int AT_REMOVEDIR = 0x200;
    internal const int AT_EACCESS = 0x200;
    internal const int AT_SYMLINK_FOLLOW = 0x400;
    internal const int AT_NO_AUTOMOUNT = 0x800;
    internal const int AT_EMPTY_PATH = 0x1000;
    internal const int AT_STATX_SYNC_TYPE = 0x6000;

    internal const uint STATX_BASIC_STATS = 0x7FF;
    internal const uint STATX_ALL = 0xFFF;

    internal const long UTIME_NOW = (1L << 30) - 1;
    internal const long UTIME_OMIT = (1L << 30) - 2;

    internal const int F_OFD_GETLK = 36;
    internal const int F_OFD_SETLK = 37;
    internal const int F_OFD_SETLKW = 38;
    internal const short F_RDLCK = 0;
    internal const short F_WRLCK = 1;
    internal const short F_UNLCK = 2;
    internal const int LOCK_SH = 1;
    internal const int LOCK_EX = 2;
    internal const int LOCK_NB = 4;
    internal const int LOCK_UN = 8;

    internal const long SYS_capget = 125;
    internal const long SYS_capset = 126;
    internal const long SYS_setgroups = 116;
    internal const long SYS_setfsuid = 122;
    internal const long SYS_setfsgid = 123;
    internal const long SYS_getdents64 = 217;
    internal const long SYS_gettid = 186;
    internal const long SYS_tgkill = 234;

    internal const int PROT_READ = 1;
    internal const int PROT_WRITE = 2;
    internal const int PROT_EXEC = 4;
    internal const int MAP_PRIVATE = 0x02;
    internal const int MAP_ANONYMOUS = 0x20;
    internal const int SIG_UNBLOCK = 1;
    internal const int SIGRTMAX = 64;

    /// <summary><c>_LINUX_CAPABILITY_VERSION_3</c>: 64-bit capability sets in two 32-bit words.</summary>
    internal const uint CapabilityVersion3 = 0x20080522;

    /// <summary><c>struct timespec</c>.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    /// <summary><c>struct flock</c> (x86_64: 32 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct Flock
    {
        public short Type;
        public short Whence;
        public long Start;
        public long Length;
        public int Pid;
    }

    /// <summary><c>struct statfs</c> (x86_64: 120 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct StatFs
    {
        public long Type;
        public long BlockSize;
        public ulong Blocks;
        public ulong BlocksFree;
        public ulong BlocksAvailable;
        public ulong Files;
        public ulong FilesFree;
        public ulong FsId;
        public long NameLength;
        public long FragmentSize;
        public long Flags;
        public long Spare0;
        public long Spare1;
        public long Spare2;
        public long Spare3;
    }

    /// <summary><c>struct __user_cap_header_struct</c>.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct CapHeader
    {
        public uint Version;
        public int Pid;
    }

    /// <summary><c>struct __user_cap_data_struct</c>; version 3 uses two of them.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct CapData
    {
        public uint Effective;
        public uint Permitted;
        public uint Inheritable;
    }

    /// <summary>glibc's <c>struct sigaction</c> (x86_64: 152 bytes; the 1024-bit <c>sigset_t</c> is 128 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct SigAction
    {
        public nint Handler;
        public SigSet Mask;
        public int Flags;
        public int Padding;
        public nint Restorer;
    }

    /// <summary>glibc's <c>sigset_t</c>: signal n is bit n - 1.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal unsafe struct SigSet
    {
        public fixed ulong Bits[16];

        public static SigSet Of(int signal)
        {
            SigSet set = default;
            set.Bits[(signal - 1) / 64] = 1UL << ((signal - 1) % 64);
            return set;
        }
    }

    [LibraryImport(Libc, EntryPoint = "openat", SetLastError = true)]
    internal static partial int OpenAt(SafeFileHandle dirFd, byte* path, int flags, uint mode);

    [LibraryImport(Libc, EntryPoint = "openat", SetLastError = true)]
    internal static partial int OpenAt(int dirFd, byte* path, int flags, uint mode);

    [LibraryImport(Libc, EntryPoint = "statx", SetLastError = true)]
    internal static partial int Statx(SafeFileHandle dirFd, byte* path, int flags, uint mask, FuseStatx* buffer);

    [LibraryImport(Libc, EntryPoint = "fchownat", SetLastError = true)]
    internal static partial int FchownAt(SafeFileHandle dirFd, byte* path, uint uid, uint gid, int flags);

    [LibraryImport(Libc, EntryPoint = "fchmodat", SetLastError = true)]
    internal static partial int FchmodAt(int dirFd, byte* path, uint mode, int flags);

    [LibraryImport(Libc, EntryPoint = "fchmod", SetLastError = true)]
    internal static partial int Fchmod(SafeFileHandle fd, uint mode);

    [LibraryImport(Libc, EntryPoint = "utimensat", SetLastError = true)]
    internal static partial int UtimensAt(SafeFileHandle dirFd, byte* path, TimeSpec* times, int flags);

    [LibraryImport(Libc, EntryPoint = "truncate", SetLastError = true)]
    internal static partial int Truncate(byte* path, long length);

    [LibraryImport(Libc, EntryPoint = "ftruncate", SetLastError = true)]
    internal static partial int Ftruncate(SafeFileHandle fd, long length);

    [LibraryImport(Libc, EntryPoint = "readlinkat", SetLastError = true)]
    internal static partial nint ReadLinkAt(SafeFileHandle dirFd, byte* path, byte* buffer, nuint size);

    [LibraryImport(Libc, EntryPoint = "symlinkat", SetLastError = true)]
    internal static partial int SymlinkAt(byte* target, SafeFileHandle dirFd, byte* path);

    [LibraryImport(Libc, EntryPoint = "mknodat", SetLastError = true)]
    internal static partial int MknodAt(SafeFileHandle dirFd, byte* path, uint mode, ulong device);

    [LibraryImport(Libc, EntryPoint = "mkdirat", SetLastError = true)]
    internal static partial int MkdirAt(SafeFileHandle dirFd, byte* path, uint mode);

    [LibraryImport(Libc, EntryPoint = "unlinkat", SetLastError = true)]
    internal static partial int UnlinkAt(SafeFileHandle dirFd, byte* path, int flags);

    [LibraryImport(Libc, EntryPoint = "renameat2", SetLastError = true)]
    internal static partial int RenameAt2(SafeFileHandle oldDirFd, byte* oldPath, SafeFileHandle newDirFd, byte* newPath, uint flags);

    [LibraryImport(Libc, EntryPoint = "linkat", SetLastError = true)]
    internal static partial int LinkAt(int oldDirFd, byte* oldPath, SafeFileHandle newDirFd, byte* newPath, int flags);

    [LibraryImport(Libc, EntryPoint = "pread64", SetLastError = true)]
    internal static partial nint PRead(SafeFileHandle fd, byte* buffer, nuint count, long offset);

    [LibraryImport(Libc, EntryPoint = "pwrite64", SetLastError = true)]
    internal static partial nint PWrite(SafeFileHandle fd, byte* buffer, nuint count, long offset);

    [LibraryImport(Libc, EntryPoint = "lseek64", SetLastError = true)]
    internal static partial long Lseek(SafeFileHandle fd, long offset, int whence);

    [LibraryImport(Libc, EntryPoint = "fsync", SetLastError = true)]
    internal static partial int Fsync(SafeFileHandle fd);

    [LibraryImport(Libc, EntryPoint = "fdatasync", SetLastError = true)]
    internal static partial int Fdatasync(SafeFileHandle fd);

    [LibraryImport(Libc, EntryPoint = "syncfs", SetLastError = true)]
    internal static partial int SyncFs(SafeFileHandle fd);

    [LibraryImport(Libc, EntryPoint = "dup", SetLastError = true)]
    internal static partial int Dup(SafeFileHandle fd);

    [LibraryImport(Libc, EntryPoint = "close", SetLastError = true)]
    internal static partial int Close(int fd);

    [LibraryImport(Libc, EntryPoint = "fallocate64", SetLastError = true)]
    internal static partial int Fallocate(SafeFileHandle fd, int mode, long offset, long length);

    [LibraryImport(Libc, EntryPoint = "copy_file_range", SetLastError = true)]
    internal static partial nint CopyFileRange(SafeFileHandle fdIn, long* offsetIn, SafeFileHandle fdOut, long* offsetOut, nuint length, uint flags);

    [LibraryImport(Libc, EntryPoint = "fstatfs64", SetLastError = true)]
    internal static partial int FstatFs(SafeFileHandle fd, StatFs* buffer);

    [LibraryImport(Libc, EntryPoint = "faccessat", SetLastError = true)]
    internal static partial int FaccessAt(SafeFileHandle dirFd, byte* path, int mode, int flags);

    [LibraryImport(Libc, EntryPoint = "fcntl", SetLastError = true)]
    internal static partial int FcntlLock(SafeFileHandle fd, int command, Flock* flock);

    [LibraryImport(Libc, EntryPoint = "flock", SetLastError = true)]
    internal static partial int FileLock(SafeFileHandle fd, int operation);

    [LibraryImport(Libc, EntryPoint = "getxattr", SetLastError = true)]
    internal static partial nint GetXattr(byte* path, byte* name, byte* value, nuint size);

    [LibraryImport(Libc, EntryPoint = "setxattr", SetLastError = true)]
    internal static partial int SetXattr(byte* path, byte* name, byte* value, nuint size, int flags);

    [LibraryImport(Libc, EntryPoint = "listxattr", SetLastError = true)]
    internal static partial nint ListXattr(byte* path, byte* list, nuint size);

    [LibraryImport(Libc, EntryPoint = "removexattr", SetLastError = true)]
    internal static partial int RemoveXattr(byte* path, byte* name);

    [LibraryImport(Libc, EntryPoint = "sigaction", SetLastError = true)]
    internal static partial int SigActionCall(int signal, SigAction* action, SigAction* oldAction);

    [LibraryImport(Libc, EntryPoint = "pthread_sigmask")]
    internal static partial int PthreadSigmask(int how, SigSet* set, SigSet* oldSet);

    [LibraryImport(Libc, EntryPoint = "mmap", SetLastError = true)]
    internal static partial nint Mmap(nint address, nuint length, int protection, int flags, int fd, long offset);

    [LibraryImport(Libc, EntryPoint = "mprotect", SetLastError = true)]
    internal static partial int Mprotect(nint address, nuint length, int protection);

    [LibraryImport(Libc, EntryPoint = "getpid")]
    internal static partial int GetPid();

    [LibraryImport(Libc, EntryPoint = "umask")]
    internal static partial uint Umask(uint mask);

    [LibraryImport(Libc, EntryPoint = "getgroups", SetLastError = true)]
    internal static partial int GetGroups(int size, uint* list);

    [LibraryImport(Libc, EntryPoint = "getuid")]
    internal static partial uint GetUid();

    [LibraryImport(Libc, EntryPoint = "getgid")]
    internal static partial uint GetGid();

    /// <summary>The raw system call, for the per-thread credential calls that glibc's wrappers would broadcast to every thread.</summary>
    [LibraryImport(Libc, EntryPoint = "syscall", SetLastError = true)]
    internal static partial long Syscall(long number, nint arg1, nint arg2, nint arg3);

    /// <summary>The errno of the last call made through this class, as a typed value.</summary>
    internal static Errno LastErrno => (Errno)Marshal.GetLastPInvokeError();

    /// <summary>Wraps a raw descriptor (closed by the handle).</summary>
    internal static SafeFileHandle Own(int fd) => new((nint)fd, ownsHandle: true);
}
