using System.ComponentModel;
using System.Diagnostics;
using System.Text;
using Microsoft.Win32.SafeHandles;
using VirtioFs.Protocol;

namespace VirtioFs.Transport;

public sealed partial class FuseMount
{
    private const string Fusermount = "fusermount3";

    /// <summary>
    /// Mounts through <c>fusermount3</c>: it gets one end of a socket pair in <c>_FUSE_COMMFD</c>, mounts, and sends the
    /// <c>/dev/fuse</c> descriptor back with <c>SCM_RIGHTS</c>. With <c>auto_unmount</c> it stays alive and unmounts when
    /// our end of the socket closes (this process exiting included).
    /// </summary>
    private static unsafe SafeFileHandle MountWithFusermount(FuseMountOptions options, out SafeFileHandle? socket)
    {
        int* pair = stackalloc int[2];
        if (Interop.SocketPair(Interop.AF_UNIX, Interop.SOCK_STREAM | Interop.SOCK_CLOEXEC, 0, pair) != 0)
        {
            throw new FuseMountException($"socketpair failed: {Interop.LastErrno}.", Interop.LastErrno);
        }

        SafeFileHandle ours = Interop.Own(pair[0]);
        using SafeFileHandle theirs = Interop.Own(pair[1]);
        try
        {
            // fusermount3 must inherit its end.
            if (Interop.Fcntl(pair[1], Interop.F_SETFD, 0) != 0)
            {
                throw new FuseMountException($"fcntl(F_SETFD) failed: {Interop.LastErrno}.", Interop.LastErrno);
            }

            var data = new StringBuilder();
            AppendCommonOptions(data, options, forFusermount: true);
            data.Append(",auto_unmount");
            using Process process = StartFusermount(["-o", data.ToString(), "--", options.MountPoint], pair[1].ToString(System.Globalization.CultureInfo.InvariantCulture));
            theirs.Dispose();

            SafeFileHandle? device = ReceiveDescriptor(ours);
            if (device is null)
            {
                process.WaitForExit(5000);
                string stderr = process.StandardError.ReadToEnd().Trim();
                throw new FuseMountException($"fusermount3 did not mount {options.MountPoint}: {(stderr.Length > 0 ? stderr : "no reason given")}.", Errno.EIO);
            }

            socket = ours;
            return device;
        }
        catch
        {
            ours.Dispose();
            throw;
        }
    }

    /// <summary>The <c>/dev/fuse</c> descriptor fusermount3 sends over the <c>_FUSE_COMMFD</c> socket, or null when it sent none.</summary>
    private static unsafe SafeFileHandle? ReceiveDescriptor(SafeFileHandle socket)
    {
        byte data;
        byte* control = stackalloc byte[64];
        var iov = new Interop.IoVec { Base = &data, Length = 1 };
        var message = new Interop.MsgHdr { Iov = &iov, IovLength = 1, Control = control, ControlLength = 64 };
        nint n;
        do
        {
            n = Interop.RecvMsg(socket, &message, Interop.MSG_CMSG_CLOEXEC);
        }
        while (n < 0 && Interop.LastErrno == Errno.EINTR);

        var received = new List<SafeFileHandle>(1);
        if (n > 0)
        {
            Interop.TakeRightsDescriptors(&message, received);
        }

        // One descriptor is the protocol; anything more is closed.
        for (int i = 1; i < received.Count; i++)
        {
            received[i].Dispose();
        }

        return received.Count > 0 ? received[0] : null;
    }

    private static Process StartFusermount(string[] arguments, string? commFd)
    {
        var start = new ProcessStartInfo(Fusermount) { RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        if (commFd is not null)
        {
            start.Environment["_FUSE_COMMFD"] = commFd;
        }

        try
        {
            return Process.Start(start) ?? throw new FuseMountException("fusermount3 could not be started.");
        }
        catch (Win32Exception ex)
        {
            throw new FuseMountException($"fusermount3 is missing ({ex.Message}): install the fuse3 package (apt-get install fuse3), or mount as root.", Errno.ENOENT);
        }
    }

    private static void RunFusermount(string[] arguments)
    {
        using Process process = StartFusermount(arguments, commFd: null);
        string stderr = process.StandardError.ReadToEnd().Trim();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new FuseMountException($"fusermount3 {string.Join(' ', arguments)} failed: {stderr}.", Errno.EIO);
        }
    }
}
