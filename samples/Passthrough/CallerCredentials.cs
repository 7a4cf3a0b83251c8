using System.Buffers;
using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.Win32.SafeHandles;
using VirtioFs.Protocol;

namespace VirtioFs.Samples.Passthrough;

/// <summary>
/// Runs host calls as the caller: the calling thread takes the caller's fsuid, fsgid and supplementary groups, and
/// (for a caller other than root) gives up its effective capabilities, so the host kernel makes every permission
/// decision exactly as for the caller itself: DAC, sticky directories, <c>trusted.*</c>/<c>security.*</c> xattrs,
/// device nodes, set-group-id inheritance, clearing set-user-id bits on write.
/// </summary>
/// <remarks>
/// <para>Credentials are per thread in Linux, but glibc's <c>setgroups</c> (and <c>setfsuid</c> wrappers in some
/// versions) broadcast to every thread of the process, so the raw system calls are used. A switch is always undone on
/// the same thread before it returns to the thread pool: callers take a <see cref="Scope"/> and dispose it
/// synchronously, with no <c>await</c> in between.</para>
/// <para>Supplementary groups: <c>fuse_in_header</c> carries only fsuid/fsgid, and the kernel's
/// <c>FUSE_EXT_GROUPS</c> extension (<c>FUSE_CREATE_SUPP_GROUP</c>) carries at most one group and only on create
/// requests. So the groups are read from <c>/proc/&lt;pid&gt;/status</c> of the calling process (cached per
/// pid for a second), plus any group the extension sends. Requests without a pid (writeback) get no supplementary groups.</para>
/// <para>Only a server running as root (with CAP_SETUID, CAP_SETGID) can switch; otherwise every call runs with the
/// server's own credentials, as a single-user server would.</para>
/// </remarks>
internal sealed unsafe class CallerCredentials
{
    private static readonly long GroupsCacheTicks = TimeSpan.FromSeconds(1).Ticks;

    private readonly uint _uid;
    private readonly uint _gid;
    private readonly uint[] _groups;
    private readonly Interop.CapData _caps0;
    private readonly Interop.CapData _caps1;
    private readonly ConcurrentDictionary<uint, (long Stamp, uint[] Groups)> _groupCache = new();
    private readonly bool _callersAreLocal;

    /// <param name="callersAreLocal">Whether request pids are processes of this host, whose supplementary groups
    /// <c>/proc</c> tells (see <see cref="PassthroughOptions.CallersAreLocal"/>).</param>
    public CallerCredentials(bool callersAreLocal)
    {
        _callersAreLocal = callersAreLocal;
        _uid = Interop.GetUid();
        _gid = Interop.GetGid();
        int n = Interop.GetGroups(0, null);
        _groups = new uint[Math.Max(n, 0)];
        fixed (uint* g = _groups)
        {
            n = Interop.GetGroups(_groups.Length, g);
        }

        if (n != _groups.Length)
        {
            throw new InvalidOperationException($"getgroups failed: {Interop.LastErrno}.");
        }

        var header = new Interop.CapHeader { Version = Interop.CapabilityVersion3 };
        Interop.CapData* data = stackalloc Interop.CapData[2];
        if (Interop.Syscall(Interop.SYS_capget, (nint)(&header), (nint)data, 0) != 0)
        {
            throw new InvalidOperationException($"capget failed: {Interop.LastErrno}.");
        }

        _caps0 = data[0];
        _caps1 = data[1];
        const uint CapSetGid = 1 << 6, CapSetUid = 1 << 7;
        CanSwitch = _uid == 0 && (_caps0.Effective & (CapSetGid | CapSetUid)) == (CapSetGid | CapSetUid);
    }

    /// <summary>The most supplementary groups a thread can have (the kernel's <c>NGROUPS_MAX</c>).</summary>
    private const int NGroupsMax = 65536;

    /// <summary>The most groups taken from a request's extension (the kernel sends one).</summary>
    private const int MaxExtensionGroups = 32;

    /// <summary>Whether this process can take its callers' credentials (it runs as root).</summary>
    public bool CanSwitch { get; }

    /// <summary>Switches the calling thread to the caller's credentials until the scope is disposed.</summary>
    public Scope Enter(in FuseRequestContext context)
    {
        if (!CanSwitch || (context.Uid == _uid && context.Gid == _gid) || context.Uid == FuseConstants.InvalidUidGid
            || context.Gid == FuseConstants.InvalidUidGid)
        {
            return default;
        }

        if (context.Uid == 0)
        {
            // Root keeps its capabilities (so permissions do not matter); only the group of new files does.
            SetFsGid(context.Gid);
            return new Scope(this, SwitchKind.GroupOnly);
        }

        // The kernel sends at most one group in the extension (FUSE_CREATE_SUPP_GROUP); a client sending more is
        // cut to a few, and the whole list to what setgroups accepts, so that neither the stack nor the call can fail.
        uint[] processGroups = _callersAreLocal ? ProcessGroups(context.Pid) : [];
        int extra = Math.Min(context.Extensions.SupplementaryGroupCount, Math.Max(0, Math.Min(MaxExtensionGroups, NGroupsMax - processGroups.Length)));
        int count = Math.Min(processGroups.Length, NGroupsMax) + extra;
        uint[]? rented = null;
        Span<uint> groups = count <= 256 ? stackalloc uint[256] : (rented = ArrayPool<uint>.Shared.Rent(count));
        try
        {
            processGroups.AsSpan(0, count - extra).CopyTo(groups);
            for (int i = 0; i < extra; i++)
            {
                groups[count - extra + i] = context.Extensions.GetSupplementaryGroup(i);
            }

            fixed (uint* list = groups)
            {
                Check(Interop.Syscall(Interop.SYS_setgroups, count, (nint)list, 0) == 0, "setgroups");
            }
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<uint>.Shared.Return(rented);
            }
        }

        SetFsGid(context.Gid);
        _ = Interop.Syscall(Interop.SYS_setfsuid, (nint)context.Uid, 0, 0);
        Check(Interop.Syscall(Interop.SYS_setfsuid, -1, 0, 0) == context.Uid, "setfsuid");
        SetEffectiveCapabilities(0, 0);
        return new Scope(this, SwitchKind.Full);
    }

    private void Restore(SwitchKind kind)
    {
        if (kind == SwitchKind.Full)
        {
            SetEffectiveCapabilities(_caps0.Effective, _caps1.Effective);
            _ = Interop.Syscall(Interop.SYS_setfsuid, (nint)_uid, 0, 0);
            Check(Interop.Syscall(Interop.SYS_setfsuid, -1, 0, 0) == _uid, "setfsuid (restore)");
            fixed (uint* g = _groups)
            {
                Check(Interop.Syscall(Interop.SYS_setgroups, _groups.Length, (nint)g, 0) == 0, "setgroups (restore)");
            }
        }

        SetFsGid(_gid);
    }

    private static void SetFsGid(uint gid)
    {
        _ = Interop.Syscall(Interop.SYS_setfsgid, (nint)gid, 0, 0);
        Check(Interop.Syscall(Interop.SYS_setfsgid, -1, 0, 0) == gid, "setfsgid");
    }

    private void SetEffectiveCapabilities(uint low, uint high)
    {
        var header = new Interop.CapHeader { Version = Interop.CapabilityVersion3 };
        Interop.CapData* data = stackalloc Interop.CapData[2];
        data[0] = _caps0 with { Effective = low };
        data[1] = _caps1 with { Effective = high };
        Check(Interop.Syscall(Interop.SYS_capset, (nint)(&header), (nint)data, 0) == 0, "capset");
    }

    /// <summary>A failed switch must not let the request run with the server's privileges: the process cannot go on.</summary>
    private static void Check(bool ok, string call)
    {
        if (!ok)
        {
            Environment.FailFast($"Passthrough: {call} failed ({Interop.LastErrno}); cannot run requests with the caller's credentials.");
        }
    }

    /// <summary>The supplementary groups of process <paramref name="pid"/> (empty when it is gone or unknown).</summary>
    private uint[] ProcessGroups(uint pid)
    {
        if (pid == 0)
        {
            return [];
        }

        // Every switched request asks: a hit reads the concurrent dictionary without a lock.
        long now = Environment.TickCount64 * TimeSpan.TicksPerMillisecond;
        if (_groupCache.TryGetValue(pid, out var cached) && now - cached.Stamp < GroupsCacheTicks)
        {
            return cached.Groups;
        }

        uint[] groups = ReadGroups(pid);
        if (_groupCache.Count > 4096)
        {
            _groupCache.Clear();
        }

        _groupCache[pid] = (now, groups);
        return groups;
    }

    /// <summary>The <c>Groups:</c> line of <c>/proc/&lt;pid&gt;/status</c>, parsed from the bytes (each new pid of a busy
    /// client, a build spawning compilers say, costs a read: no line strings, no splitting).</summary>
    private static uint[] ReadGroups(uint pid)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(4096);
        try
        {
            int length = 0;
            using (SafeFileHandle status = File.OpenHandle($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/status"))
            {
                int n;
                while ((n = RandomAccess.Read(status, buffer.AsSpan(length), length)) > 0)
                {
                    length += n;
                    if (length == buffer.Length)
                    {
                        // Many groups: the line can be longer than a page.
                        byte[] larger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                        buffer.AsSpan(0, length).CopyTo(larger);
                        ArrayPool<byte>.Shared.Return(buffer);
                        buffer = larger;
                    }
                }
            }

            ReadOnlySpan<byte> line = buffer.AsSpan(0, length);
            int start = line.IndexOf("\nGroups:"u8);
            if (start < 0)
            {
                return [];
            }

            line = line.Slice(start + "\nGroups:"u8.Length);
            int end = line.IndexOf((byte)'\n');
            line = end < 0 ? line : line.Slice(0, end);
            int count = 0;
            for (ReadOnlySpan<byte> rest = line; TakeGroup(ref rest, out _);)
            {
                count++;
            }

            uint[] groups = new uint[count];
            ReadOnlySpan<byte> next = line;
            for (int i = 0; i < count; i++)
            {
                TakeGroup(ref next, out groups[i]);
            }

            return groups;
        }
        catch (IOException)
        {
            // The process has gone: no supplementary groups.
            return [];
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        static bool TakeGroup(ref ReadOnlySpan<byte> rest, out uint group)
        {
            rest = rest.TrimStart(" \t"u8);
            if (!Utf8Parser.TryParse(rest, out group, out int consumed))
            {
                return false;
            }

            rest = rest.Slice(consumed);
            return true;
        }
    }

    internal enum SwitchKind
    {
        None,
        GroupOnly,
        Full,
    }

    /// <summary>The caller's credentials on this thread; disposing restores the server's.</summary>
    public readonly ref struct Scope
    {
        private readonly CallerCredentials? _owner;
        private readonly SwitchKind _kind;

        internal Scope(CallerCredentials owner, SwitchKind kind)
        {
            _owner = owner;
            _kind = kind;
        }

        public void Dispose()
        {
            if (_kind != SwitchKind.None)
            {
                // Callers read errno of the host call after the scope ends: keep it across the restoring calls.
                int errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
                _owner!.Restore(_kind);
                System.Runtime.InteropServices.Marshal.SetLastPInvokeError(errno);
            }
        }
    }
}
