using System.ComponentModel;
using System.Runtime.InteropServices;
using System.Text;

namespace VirtioFs.Integration.Tests;

/// <summary>The few libc calls the tests need that .NET does not expose.</summary>
internal static unsafe class Native
{
    public const int ENOENT = 2;
    public const int EINTR = 4;
    public const int EIO = 5;
    public const int ENODATA = 61;
    public const int ENOTCONN = 107;
    public const int SIGINT = 2;
    public const int SIGKILL = 9;

    private const string Libc = "libc.so.6";
    private const int AtFdCwd = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const uint StatxBasicStats = 0x7FF;
    private const int MntDetach = 2;

    public const short PollIn = 0x1;

    [StructLayout(LayoutKind.Sequential)]
    public struct PollFd
    {
        public int Fd;
        public short Events;
        public short ReturnedEvents;
    }

    [DllImport(Libc, EntryPoint = "poll", SetLastError = true)]
    private static extern int PollRaw(PollFd* fds, nuint count, int timeout);

    /// <summary>poll(2) of one descriptor: the returned events, 0 on timeout.</summary>
    public static short Poll(SafeHandle fd, short events, TimeSpan timeout)
    {
        var poll = new PollFd { Fd = (int)fd.DangerousGetHandle(), Events = events };
        int n = PollRaw(&poll, 1, (int)timeout.TotalMilliseconds);
        Check(n < 0 ? -1 : 0, "poll");
        return n == 0 ? (short)0 : poll.ReturnedEvents;
    }

    [DllImport(Libc, EntryPoint = "geteuid")]
    public static extern uint GetEUid();

    [DllImport(Libc, EntryPoint = "getuid")]
    public static extern uint GetUid();

    [DllImport(Libc, EntryPoint = "getgid")]
    public static extern uint GetGid();

    [DllImport(Libc, EntryPoint = "kill", SetLastError = true)]
    public static extern int Kill(int pid, int signal);

    [DllImport(Libc, EntryPoint = "setxattr", SetLastError = true)]
    private static extern int SetXattrRaw(string path, string name, byte* value, nuint size, int flags);

    [DllImport(Libc, EntryPoint = "getxattr", SetLastError = true)]
    private static extern nint GetXattrRaw(string path, string name, byte* value, nuint size);

    [DllImport(Libc, EntryPoint = "listxattr", SetLastError = true)]
    private static extern nint ListXattrRaw(string path, byte* list, nuint size);

    [DllImport(Libc, EntryPoint = "removexattr", SetLastError = true)]
    private static extern int RemoveXattrRaw(string path, string name);

    [DllImport(Libc, EntryPoint = "link", SetLastError = true)]
    private static extern int LinkRaw(string oldPath, string newPath);

    [DllImport(Libc, EntryPoint = "statx", SetLastError = true)]
    private static extern int StatxRaw(int dirfd, string path, int flags, uint mask, StatxBuffer* buffer);

    [DllImport(Libc, EntryPoint = "umount2", SetLastError = true)]
    private static extern int Umount2Raw(string target, int flags);

    public static int LastError => Marshal.GetLastPInvokeError();

    public static void SetXattr(string path, string name, byte[] value)
    {
        fixed (byte* data = value)
        {
            Check(SetXattrRaw(path, name, data, (nuint)value.Length, 0), $"setxattr({path}, {name})");
        }
    }

    /// <summary>The value, or null with ENODATA.</summary>
    public static byte[]? GetXattr(string path, string name)
    {
        nint size = GetXattrRaw(path, name, null, 0);
        if (size < 0)
        {
            return LastError == ENODATA ? null : throw Error($"getxattr({path}, {name})");
        }

        byte[] value = new byte[size];
        fixed (byte* data = value)
        {
            nint n = GetXattrRaw(path, name, data, (nuint)value.Length);
            Check(n < 0 ? -1 : 0, $"getxattr({path}, {name})");
            return value.AsSpan(0, (int)n).ToArray();
        }
    }

    public static string[] ListXattr(string path)
    {
        nint size = ListXattrRaw(path, null, 0);
        Check(size < 0 ? -1 : 0, $"listxattr({path})");
        byte[] list = new byte[Math.Max(size, 1)];
        fixed (byte* data = list)
        {
            nint n = ListXattrRaw(path, data, (nuint)list.Length);
            Check(n < 0 ? -1 : 0, $"listxattr({path})");
            return Encoding.UTF8.GetString(list, 0, (int)n).Split('\0', StringSplitOptions.RemoveEmptyEntries);
        }
    }

    public static void RemoveXattr(string path, string name) => Check(RemoveXattrRaw(path, name), $"removexattr({path}, {name})");

    public static void Link(string oldPath, string newPath) => Check(LinkRaw(oldPath, newPath), $"link({oldPath}, {newPath})");

    /// <summary><c>statx</c> without following a final symbolic link; 0 or the errno.</summary>
    public static int TryStat(string path, out StatxBuffer stat)
    {
        StatxBuffer buffer;
        int result = StatxRaw(AtFdCwd, path, AtSymlinkNoFollow, StatxBasicStats, &buffer);
        stat = buffer;
        return result == 0 ? 0 : LastError;
    }

    public static StatxBuffer Stat(string path)
    {
        int error = TryStat(path, out StatxBuffer stat);
        return error == 0 ? stat : throw new Win32Exception(error, $"statx({path}): {new Win32Exception(error).Message}");
    }

    /// <summary>Lazily detaches a mount; 0 or the errno.</summary>
    public static int LazyUnmount(string target) => Umount2Raw(target, MntDetach) == 0 ? 0 : LastError;

    private static void Check(int result, string what)
    {
        if (result != 0)
        {
            throw Error(what);
        }
    }

    private static Win32Exception Error(string what)
    {
        int error = LastError;
        return new Win32Exception(error, $"{what}: {new Win32Exception(error).Message} (errno {error})");
    }

    /// <summary><c>struct statx</c> (256 bytes, the same on every architecture).</summary>
    [StructLayout(LayoutKind.Sequential, Size = 256)]
    public struct StatxBuffer
    {
        public uint Mask;
        public uint BlkSize;
        public ulong Attributes;
        public uint Nlink;
        public uint Uid;
        public uint Gid;
        public ushort Mode;
        private ushort _spare0;
        public ulong Ino;
        public ulong Size;
        public ulong Blocks;
        public ulong AttributesMask;
        public StatxTimestamp Atime;
        public StatxTimestamp Btime;
        public StatxTimestamp Ctime;
        public StatxTimestamp Mtime;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct StatxTimestamp
    {
        public long Seconds;
        public uint Nanoseconds;
        private int _reserved;

        public readonly long TotalNanoseconds => (Seconds * 1_000_000_000) + Nanoseconds;
    }
}
