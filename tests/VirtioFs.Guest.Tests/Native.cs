using System.ComponentModel;
using System.Runtime.InteropServices;

namespace VirtioFs.Guest.Tests;

/// <summary>The few libc calls the host-side checks need that .NET does not expose.</summary>
internal static unsafe partial class Native
{
    private const string Libc = "libc.so.6";
    private const int AtFdCwd = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const uint StatxBasicStats = 0x7FF;

    [LibraryImport(Libc, EntryPoint = "geteuid")]
    public static partial uint GetEUid();

    [LibraryImport(Libc, EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int StatxRaw(int dirfd, string path, int flags, uint mask, StatxBuffer* buffer);

    [LibraryImport(Libc, EntryPoint = "getxattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint GetXattrRaw(string path, string name, byte* value, nuint size);

    /// <summary><c>statx</c> without following a final symbolic link.</summary>
    public static StatxBuffer Stat(string path)
    {
        StatxBuffer buffer;
        if (StatxRaw(AtFdCwd, path, AtSymlinkNoFollow, StatxBasicStats, &buffer) != 0)
        {
            throw Error($"statx({path})");
        }

        return buffer;
    }

    public static byte[] GetXattr(string path, string name)
    {
        byte[] value = new byte[4096];
        fixed (byte* data = value)
        {
            nint n = GetXattrRaw(path, name, data, (nuint)value.Length);
            return n >= 0 ? value.AsSpan(0, (int)n).ToArray() : throw Error($"getxattr({path}, {name})");
        }
    }

    private static Win32Exception Error(string what)
    {
        int error = Marshal.GetLastPInvokeError();
        return new Win32Exception(error, $"{what}: {new Win32Exception(error).Message} (errno {error})");
    }

    /// <summary>The start of <c>struct statx</c> (256 bytes, the same on every architecture).</summary>
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
    }
}
