using System.Globalization;

namespace VirtioFs.Transport;

/// <summary>
/// The mount's entry in the fuse control filesystem (<c>/sys/fs/fuse/connections/&lt;dev&gt;</c>): writing its
/// <c>abort</c> file ends the connection, which is the one way to wake workers blocked in <c>read(/dev/fuse)</c>
/// without waiting for the last user of a lazily detached mount.
/// </summary>
internal sealed class FuseConnectionControl
{
    private const string ControlRoot = "/sys/fs/fuse/connections";
    private readonly string? _abortPath;
    private int _aborted;

    private FuseConnectionControl(string? abortPath)
    {
        _abortPath = abortPath;
    }

    /// <summary>Finds the connection of the filesystem mounted at <paramref name="mountPoint"/> (its device minor, from
    /// <c>/proc/self/mountinfo</c>), mounting fusectl first when root and it is not mounted.</summary>
    public static FuseConnectionControl Find(string mountPoint)
    {
        string? device = null;
        foreach (string line in File.ReadLines("/proc/self/mountinfo"))
        {
            // "id parent major:minor root mountpoint ...": the last match is the newest mount.
            string[] fields = line.Split(' ');
            if (fields.Length > 4 && fields[4] == EscapeMountInfo(mountPoint))
            {
                device = fields[2];
            }
        }

        if (device is null || !device.StartsWith("0:", StringComparison.Ordinal))
        {
            return new FuseConnectionControl(null);
        }

        EnsureFusectl();
        string abort = Path.Combine(ControlRoot, uint.Parse(device.AsSpan(2), CultureInfo.InvariantCulture).ToString(CultureInfo.InvariantCulture), "abort");
        return new FuseConnectionControl(File.Exists(abort) ? abort : null);
    }

    /// <summary>Aborts the connection once: blocked readers return, pending callers get <c>ENOTCONN</c>. Does nothing when
    /// fusectl is not available or the connection is already gone.</summary>
    public void Abort()
    {
        if (_abortPath is null || Interlocked.Exchange(ref _aborted, 1) != 0)
        {
            return;
        }

        try
        {
            File.WriteAllText(_abortPath, "1");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // The connection already ended (its control directory went away) or we may not write it.
        }
    }

    private static void EnsureFusectl()
    {
        if (!Directory.Exists(ControlRoot) || Directory.EnumerateFileSystemEntries(ControlRoot).Any() || Interop.GetEUid() != 0)
        {
            return;
        }

        // Not mounted yet (an empty directory): mount it, as systemd usually does at boot. A failure leaves abort unavailable.
        _ = Interop.Mount("fusectl", ControlRoot, "fusectl", 0, string.Empty);
    }

    /// <summary>mountinfo escapes space, tab, newline and backslash as octal.</summary>
    private static string EscapeMountInfo(string path)
        => path.Replace("\\", "\\134", StringComparison.Ordinal).Replace(" ", "\\040", StringComparison.Ordinal)
            .Replace("\t", "\\011", StringComparison.Ordinal).Replace("\n", "\\012", StringComparison.Ordinal);
}
