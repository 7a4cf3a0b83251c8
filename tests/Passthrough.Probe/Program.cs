using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using VirtioFs.Passthrough.Probe;

// A POSIX probe for the Passthrough conformance tests: runs as whatever user it was started as (setpriv), reads one
// command per line on stdin (tab-separated), runs it with plain system calls and prints one result line:
// "ok [value]" or "err <ERRNO NAME>". Paths are relative to the root set by the "root" command.
Console.InputEncoding = Encoding.UTF8;
_ = Probe.Umask(0x12); // 022, whatever the parent had
var probe = new Probe();
using var output = new StreamWriter(Console.OpenStandardOutput()) { AutoFlush = true, NewLine = "\n" };
string? line;
while ((line = Console.In.ReadLine()) is not null)
{
    string result;
    try
    {
        result = probe.Run(line.Split('\t'));
    }
    catch (Exception ex) when (ex is FormatException or IndexOutOfRangeException or KeyNotFoundException)
    {
        result = "bad " + ex.Message.Replace('\n', ' ');
    }

    output.WriteLine(result);
}

return 0;

namespace VirtioFs.Passthrough.Probe
{
    internal sealed unsafe partial class Probe
    {
        private const string Libc = "libc.so.6";
        private readonly Dictionary<string, int> _fds = [];
        private readonly Dictionary<string, (long A, long M, long C)> _marks = [];
        private readonly Dictionary<string, (nint Address, long Length)> _maps = [];
        private string _root = "/";

        [StructLayout(LayoutKind.Sequential)]
        private struct Flock
        {
            public short Type;
            public short Whence;
            public long Start;
            public long Length;
            public int Pid;
        }

        [StructLayout(LayoutKind.Sequential)]
        private struct TimeSpec
        {
            public long Sec;
            public long Nsec;
        }

        [StructLayout(LayoutKind.Explicit, Size = 256)]
        private struct Statx
        {
            [FieldOffset(0)] public uint Mask;
            [FieldOffset(16)] public uint Nlink;
            [FieldOffset(20)] public uint Uid;
            [FieldOffset(24)] public uint Gid;
            [FieldOffset(28)] public ushort Mode;
            [FieldOffset(40)] public ulong Size;
            [FieldOffset(48)] public ulong Blocks;
            [FieldOffset(64)] public long ATimeSec;
            [FieldOffset(72)] public uint ATimeNsec;
            [FieldOffset(96)] public long CTimeSec;
            [FieldOffset(104)] public uint CTimeNsec;
            [FieldOffset(112)] public long MTimeSec;
            [FieldOffset(120)] public uint MTimeNsec;
            [FieldOffset(128)] public uint RdevMajor;
            [FieldOffset(132)] public uint RdevMinor;
        }

        [LibraryImport(Libc, EntryPoint = "umask")]
        internal static partial uint Umask(uint mask);

        [LibraryImport(Libc, EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static partial int Open(string path, int flags, uint mode);

        [LibraryImport(Libc, EntryPoint = "close", SetLastError = true)]
        private static partial int Close(int fd);

        [LibraryImport(Libc, EntryPoint = "write", SetLastError = true)]
        private static partial nint Write(int fd, byte* buffer, nuint count);

        [LibraryImport(Libc, EntryPoint = "read", SetLastError = true)]
        private static partial nint Read(int fd, byte* buffer, nuint count);

        [LibraryImport(Libc, EntryPoint = "pwrite64", SetLastError = true)]
        private static partial nint PWrite(int fd, byte* buffer, nuint count, long offset);

        [LibraryImport(Libc, EntryPoint = "pread64", SetLastError = true)]
        private static partial nint PRead(int fd, byte* buffer, nuint count, long offset);

        [LibraryImport(Libc, EntryPoint = "lseek64", SetLastError = true)]
        private static partial long Lseek(int fd, long offset, int whence);

        [LibraryImport(Libc, EntryPoint = "ftruncate64", SetLastError = true)]
        private static partial int Ftruncate(int fd, long length);

        [LibraryImport(Libc, EntryPoint = "truncate64", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static partial int Truncate(string path, long length);

        [LibraryImport(Libc, EntryPoint = "fsync", SetLastError = true)]
        private static partial int Fsync(int fd);

        [LibraryImport(Libc, EntryPoint = "fallocate64", SetLastError = true)]
        private static partial int Fallocate(int fd, int mode, long offset, long length);

        [LibraryImport(Libc, EntryPoint = "mkdir", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static partial int Mkdir(string path, uint mode);

        [LibraryImport(Libc, EntryPoint = "rmdir", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static partial int Rmdir(string path);

        [LibraryImport(Libc, EntryPoint = "unlink", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static partial int Unlink(string path);

        [LibraryImport(Libc, EntryPoint = "renameat2", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static partial int Rename2(int oldDir, string oldPath, int newDir, string newPath, uint flags);

        [LibraryImport(Libc, EntryPoint = "link", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static partial int Link(string oldPath, string newPath);

        [LibraryImport(Libc, EntryPoint = "symlink", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static partial int Symlink(string target, string path);

        [LibraryImport(Libc, EntryPoint = "readlink", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static partial nint ReadLink(string path, byte* buffer, nuint size);

        [LibraryImport(Libc, EntryPoint = "mknod", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static partial int Mknod(string path, uint mode, ulong dev);

        [LibraryImport(Libc, EntryPoint = "chmod", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static partial int Chmod(string path, uint mode);

        [LibraryImport(Libc, EntryPoint = "fchmod", SetLastError = true)]
        private static partial int Fchmod(int fd, uint mode);

        [LibraryImport(Libc, EntryPoint = "lchown", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static partial int Lchown(string path, uint uid, uint gid);

        [LibraryImport(Libc, EntryPoint = "utimensat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static partial int UtimensAt(int dirFd, string path, TimeSpec* times, int flags);

        [LibraryImport(Libc, EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static partial int StatxCall(int dirFd, string path, int flags, uint mask, Statx* buffer);

        [LibraryImport(Libc, EntryPoint = "access", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static partial int Access(string path, int mode);

        [LibraryImport(Libc, EntryPoint = "lsetxattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static partial int SetXattr(string path, string name, byte* value, nuint size, int flags);

        [LibraryImport(Libc, EntryPoint = "lgetxattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static partial nint GetXattr(string path, string name, byte* value, nuint size);

        [LibraryImport(Libc, EntryPoint = "llistxattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static partial nint ListXattr(string path, byte* list, nuint size);

        [LibraryImport(Libc, EntryPoint = "lremovexattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static partial int RemoveXattr(string path, string name);

        [LibraryImport(Libc, EntryPoint = "fcntl", SetLastError = true)]
        private static partial int FcntlLock(int fd, int command, Flock* flock);

        [LibraryImport(Libc, EntryPoint = "flock", SetLastError = true)]
        private static partial int FileLock(int fd, int operation);

        [LibraryImport(Libc, EntryPoint = "mmap", SetLastError = true)]
        private static partial nint Mmap(nint address, nuint length, int protection, int flags, int fd, long offset);

        [LibraryImport(Libc, EntryPoint = "munmap", SetLastError = true)]
        private static partial int Munmap(nint address, nuint length);

        [LibraryImport(Libc, EntryPoint = "msync", SetLastError = true)]
        private static partial int Msync(nint address, nuint length, int flags);

        [LibraryImport(Libc, EntryPoint = "strerrorname_np")]
        private static partial nint ErrnoName(int errno);

        private string P(string relative) => relative.StartsWith('/') ? relative : Path.Join(_root, relative);

        private static string Err()
        {
            int errno = Marshal.GetLastPInvokeError();
            return "err " + (Marshal.PtrToStringUTF8(ErrnoName(errno)) ?? errno.ToString(CultureInfo.InvariantCulture));
        }

        private static string Ok(long rc, string value = "") => rc >= 0 ? (value.Length == 0 ? "ok" : "ok " + value) : Err();

        private static int I(string s) => s.StartsWith("0x", StringComparison.Ordinal)
            ? int.Parse(s.AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture)
            : s.StartsWith('0') && s.Length > 1 ? Convert.ToInt32(s, 8) : int.Parse(s, CultureInfo.InvariantCulture);

        private static long L(string s) => long.Parse(s, CultureInfo.InvariantCulture);

        public string Run(string[] a)
        {
            switch (a[0])
            {
                case "root": _root = a[1]; return "ok";
                case "pid": return "ok " + Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
                case "open":
                {
                    int fd = Open(P(a[2]), I(a[3]), a.Length > 4 ? (uint)I(a[4]) : 0);
                    if (fd < 0)
                    {
                        return Err();
                    }

                    if (_fds.Remove(a[1], out int old))
                    {
                        Close(old);
                    }

                    _fds[a[1]] = fd;
                    return "ok";
                }

                case "close": return Ok(Close(_fds[a[1]]) + (_fds.Remove(a[1]) ? 0 : 0));
                case "write":
                {
                    byte[] data = Encoding.UTF8.GetBytes(a[2]);
                    fixed (byte* p = data)
                    {
                        nint n = Write(_fds[a[1]], p, (nuint)data.Length);
                        return Ok(n, n.ToString(CultureInfo.InvariantCulture));
                    }
                }

                case "pwritehex": return PWriteBytes(_fds[a[1]], L(a[2]), Convert.FromHexString(a[3]));
                case "pwrite": return PWriteBytes(_fds[a[1]], L(a[2]), Encoding.UTF8.GetBytes(a[3]));

                case "read":
                {
                    byte[] data = new byte[I(a[2])];
                    fixed (byte* p = data)
                    {
                        nint n = Read(_fds[a[1]], p, (nuint)data.Length);
                        return n < 0 ? Err() : "ok " + Escape(data.AsSpan(0, (int)n));
                    }
                }

                case "preadhex":
                {
                    byte[] data = new byte[I(a[3])];
                    fixed (byte* p = data)
                    {
                        int total = 0;
                        while (total < data.Length)
                        {
                            nint n = PRead(_fds[a[1]], p + total, (nuint)(data.Length - total), L(a[2]) + total);
                            if (n < 0)
                            {
                                return Err();
                            }

                            if (n == 0)
                            {
                                break;
                            }

                            total += (int)n;
                        }

                        return "ok " + Convert.ToHexString(data, 0, total);
                    }
                }

                case "pread":
                {
                    byte[] data = new byte[I(a[3])];
                    fixed (byte* p = data)
                    {
                        nint n = PRead(_fds[a[1]], p, (nuint)data.Length, L(a[2]));
                        return n < 0 ? Err() : "ok " + Escape(data.AsSpan(0, (int)n));
                    }
                }

                case "lseek":
                {
                    long n = Lseek(_fds[a[1]], L(a[2]), I(a[3]));
                    return Ok(n, n.ToString(CultureInfo.InvariantCulture));
                }

                case "ftruncate": return Ok(Ftruncate(_fds[a[1]], L(a[2])));
                case "truncate": return Ok(Truncate(P(a[1]), L(a[2])));
                case "fsync": return Ok(Fsync(_fds[a[1]]));
                case "fallocate": return Ok(Fallocate(_fds[a[1]], I(a[2]), L(a[3]), L(a[4])));
                case "fchmod": return Ok(Fchmod(_fds[a[1]], (uint)I(a[2])));
                case "mkdir": return Ok(Mkdir(P(a[1]), (uint)I(a[2])));
                case "rmdir": return Ok(Rmdir(P(a[1])));
                case "unlink": return Ok(Unlink(P(a[1])));
                case "rename": return Ok(Rename2(-100, P(a[1]), -100, P(a[2]), a.Length > 3 ? (uint)I(a[3]) : 0));
                case "link": return Ok(Link(P(a[1]), P(a[2])));
                case "symlink": return Ok(Symlink(a[1], P(a[2])));
                case "readlink":
                {
                    byte[] data = new byte[4096];
                    fixed (byte* p = data)
                    {
                        nint n = ReadLink(P(a[1]), p, (nuint)data.Length);
                        return n < 0 ? Err() : "ok " + Encoding.UTF8.GetString(data, 0, (int)n);
                    }
                }

                case "mknod": return Ok(Mknod(P(a[1]), (uint)I(a[2]), a.Length > 3 ? (ulong)L(a[3]) : 0));
                case "chmod": return Ok(Chmod(P(a[1]), (uint)I(a[2])));
                case "chown": return Ok(Lchown(P(a[1]), (uint)L(a[2]), (uint)L(a[3])));
                case "utimes":
                {
                    TimeSpec* t = stackalloc TimeSpec[2];
                    t[0] = Time(a[2]);
                    t[1] = Time(a[3]);
                    return Ok(UtimensAt(-100, P(a[1]), a[2] == "null" ? null : t, 0x100));
                }

                case "stat" or "lstat":
                {
                    Statx st;
                    if (StatxAt(a[1], a[0] == "lstat" ? AtSymlinkNoFollow : 0, &st) != 0)
                    {
                        return Err();
                    }

                    // No inode or device numbers (they differ between the runs), no absolute times.
                    return string.Create(CultureInfo.InvariantCulture, $"ok mode={st.Mode:o} uid={st.Uid} gid={st.Gid} size={st.Size} nlink={st.Nlink} rdev={st.RdevMajor}:{st.RdevMinor}");
                }

                case "blocks":
                {
                    Statx st;
                    return StatxAt(a[1], AtSymlinkNoFollow, &st) != 0 ? Err() : "ok " + (st.Blocks > 0 ? "allocated" : "none");
                }

                case "mtime":
                {
                    Statx st;
                    return StatxAt(a[1], AtSymlinkNoFollow, &st) != 0 ? Err() : string.Create(CultureInfo.InvariantCulture, $"ok {st.ATimeSec}.{st.ATimeNsec:D9} {st.MTimeSec}.{st.MTimeNsec:D9}");
                }

                case "tsmark":
                {
                    Statx st;
                    if (StatxAt(a[1], AtSymlinkNoFollow, &st) != 0)
                    {
                        return Err();
                    }

                    _marks[a[1]] = (Nanos(st.ATimeSec, st.ATimeNsec), Nanos(st.MTimeSec, st.MTimeNsec), Nanos(st.CTimeSec, st.CTimeNsec));
                    Thread.Sleep(20); // beyond the coarse clock's tick, so that a change shows
                    return "ok";
                }

                case "tsdiff":
                {
                    Statx st;
                    if (StatxAt(a[1], AtSymlinkNoFollow, &st) != 0)
                    {
                        return Err();
                    }

                    var m = _marks[a[1]];
                    return "ok " + Change('a', m.A, Nanos(st.ATimeSec, st.ATimeNsec)) + Change('m', m.M, Nanos(st.MTimeSec, st.MTimeNsec))
                        + Change('c', m.C, Nanos(st.CTimeSec, st.CTimeNsec));
                }

                case "access": return Ok(Access(P(a[1]), I(a[2])));
                case "setxattr":
                {
                    byte[] value = Encoding.UTF8.GetBytes(a[3]);
                    fixed (byte* p = value)
                    {
                        return Ok(SetXattr(P(a[1]), a[2], p, (nuint)value.Length, a.Length > 4 ? I(a[4]) : 0));
                    }
                }

                case "getxattr":
                {
                    byte[] value = new byte[a.Length > 3 ? I(a[3]) : 4096];
                    fixed (byte* p = value)
                    {
                        nint n = GetXattr(P(a[1]), a[2], value.Length == 0 ? null : p, (nuint)value.Length);
                        return n < 0 ? Err() : value.Length == 0 ? "ok size=" + n.ToString(CultureInfo.InvariantCulture) : "ok " + Encoding.UTF8.GetString(value, 0, (int)n);
                    }
                }

                case "listxattr":
                {
                    byte[] list = new byte[65536];
                    fixed (byte* p = list)
                    {
                        nint n = ListXattr(P(a[1]), p, (nuint)list.Length);
                        if (n < 0)
                        {
                            return Err();
                        }

                        string[] names = Encoding.UTF8.GetString(list, 0, (int)n).Split('\0', StringSplitOptions.RemoveEmptyEntries);
                        Array.Sort(names, StringComparer.Ordinal);
                        return "ok " + string.Join(',', names.Where(x => !x.StartsWith("security.selinux", StringComparison.Ordinal)));
                    }
                }

                case "removexattr": return Ok(RemoveXattr(P(a[1]), a[2]));
                case "lock":
                {
                    // lock <fd> <cmd: getlk|setlk|setlkw|ofdget|ofdset> <type r|w|u> <start> <len>
                    var fl = new Flock { Type = a[3] switch { "r" => 0, "w" => 1, _ => 2 }, Start = L(a[4]), Length = L(a[5]) };
                    int cmd = a[2] switch { "getlk" => 5, "setlk" => 6, "setlkw" => 7, "ofdget" => 36, "ofdset" => 37, _ => throw new FormatException(a[2]) };
                    if (FcntlLock(_fds[a[1]], cmd, &fl) != 0)
                    {
                        return Err();
                    }

                    return cmd is 5 or 36
                        ? string.Create(CultureInfo.InvariantCulture, $"ok {"rwu"[fl.Type]} {fl.Start} {fl.Length} pid={(fl.Pid > 0 ? "set" : fl.Pid.ToString(CultureInfo.InvariantCulture))}")
                        : "ok";
                }

                case "lockpid":
                {
                    var fl = new Flock { Type = a[2] switch { "r" => 0, "w" => 1, _ => 2 }, Start = L(a[3]), Length = L(a[4]) };
                    return FcntlLock(_fds[a[1]], 5, &fl) != 0 ? Err() : "ok " + fl.Pid.ToString(CultureInfo.InvariantCulture);
                }

                case "flock": return Ok(FileLock(_fds[a[1]], a[2] switch { "sh" => 1, "ex" => 2, "shnb" => 5, "exnb" => 6, _ => 8 }));
                case "readdir":
                {
                    try
                    {
                        string[] names = [.. Directory.EnumerateFileSystemEntries(P(a[1])).Select(Path.GetFileName)!];
                        Array.Sort(names, StringComparer.Ordinal);
                        return "ok " + string.Join(',', names);
                    }
                    catch (UnauthorizedAccessException)
                    {
                        return "err EACCES";
                    }
                    catch (DirectoryNotFoundException)
                    {
                        return "err ENOENT";
                    }
                    catch (IOException ex)
                    {
                        return "err " + (Marshal.PtrToStringUTF8(ErrnoName(ex.HResult & 0xFFFF)) ?? ex.HResult.ToString(CultureInfo.InvariantCulture));
                    }
                }

                case "mmap":
                {
                    // mmap <name> <fd> <length>: a shared read-write mapping of the file
                    nint address = Mmap(0, (nuint)L(a[3]), 3, 1, _fds[a[2]], 0);
                    if (address == -1)
                    {
                        return Err();
                    }

                    _maps[a[1]] = (address, L(a[3]));
                    return "ok";
                }

                case "mwritehex":
                {
                    byte[] data = Convert.FromHexString(a[3]);
                    Marshal.Copy(data, 0, _maps[a[1]].Address + (nint)L(a[2]), data.Length);
                    return "ok";
                }

                case "mreadhex":
                {
                    byte[] data = new byte[I(a[3])];
                    Marshal.Copy(_maps[a[1]].Address + (nint)L(a[2]), data, 0, data.Length);
                    return "ok " + Convert.ToHexString(data);
                }

                case "munmap":
                {
                    var map = _maps[a[1]];
                    _maps.Remove(a[1]);
                    return Ok(Msync(map.Address, (nuint)map.Length, 4) | Munmap(map.Address, (nuint)map.Length));
                }

                case "sleep": Thread.Sleep(I(a[1])); return "ok";
                case "closeall":
                {
                    foreach (int fd in _fds.Values)
                    {
                        Close(fd);
                    }

                    foreach ((nint address, long length) in _maps.Values)
                    {
                        Munmap(address, (nuint)length);
                    }

                    _fds.Clear();
                    _maps.Clear();
                    _marks.Clear();
                    return "ok";
                }

                default: return "bad command " + a[0];
            }
        }

        private const int AtSymlinkNoFollow = 0x100;

        /// <summary>statx(2) of a path relative to the root, with the basic fields.</summary>
        private int StatxAt(string path, int flags, Statx* st) => StatxCall(-100, P(path), flags, 0x7FF, st);

        private static string PWriteBytes(int fd, long offset, byte[] data)
        {
            fixed (byte* p = data)
            {
                nint n = PWrite(fd, p, (nuint)data.Length, offset);
                return Ok(n, n.ToString(CultureInfo.InvariantCulture));
            }
        }

        private static long Nanos(long seconds, uint nanoseconds) => (seconds * 1_000_000_000) + nanoseconds;

        private static string Change(char name, long before, long after) => after == before ? $"{name}=" : after > before ? $"{name}+" : $"{name}-";

        private static TimeSpec Time(string s) => s switch
        {
            "now" => new TimeSpec { Nsec = (1L << 30) - 1 },
            "omit" => new TimeSpec { Nsec = (1L << 30) - 2 },
            "null" => default,
            _ => new TimeSpec { Sec = L(s), Nsec = 0 },
        };

        private static string Escape(ReadOnlySpan<byte> data) => Encoding.UTF8.GetString(data).Replace("\0", "\\0", StringComparison.Ordinal);
    }
}
