namespace VirtioFs.Protocol.Tests.Session;

/// <summary>
/// The INIT flags a kernel of a given minor version offers: every capability bit of <c>fuse_kernel.h</c> up to
/// that minor (bits 0..15 predate 7.23 and are offered together here; FUSE_FILE_OPS and FUSE_INIT_RESERVED never are).
/// </summary>
internal static class KernelFlags
{
    private static readonly (FuseInitFlags Flag, uint Minor)[] Introduced =
    [
        (FuseInitFlags.AsyncRead, 9), (FuseInitFlags.PosixLocks, 9), (FuseInitFlags.AtomicOTrunc, 9),
        (FuseInitFlags.ExportSupport, 10), (FuseInitFlags.BigWrites, 9), (FuseInitFlags.DontMask, 12),
        (FuseInitFlags.SpliceWrite, 14), (FuseInitFlags.SpliceMove, 14), (FuseInitFlags.SpliceRead, 14),
        (FuseInitFlags.FlockLocks, 17), (FuseInitFlags.HasIoctlDir, 18), (FuseInitFlags.AutoInvalData, 20),
        (FuseInitFlags.DoReaddirplus, 21), (FuseInitFlags.ReaddirplusAuto, 21), (FuseInitFlags.AsyncDio, 22),
        (FuseInitFlags.WritebackCache, 23), (FuseInitFlags.NoOpenSupport, 23), (FuseInitFlags.ParallelDirops, 25),
        (FuseInitFlags.HandleKillpriv, 26), (FuseInitFlags.PosixAcl, 26), (FuseInitFlags.AbortError, 27),
        (FuseInitFlags.MaxPages, 28), (FuseInitFlags.CacheSymlinks, 28), (FuseInitFlags.NoOpendirSupport, 29),
        (FuseInitFlags.ExplicitInvalData, 30), (FuseInitFlags.MapAlignment, 31), (FuseInitFlags.Submounts, 32),
        (FuseInitFlags.HandleKillprivV2, 33), (FuseInitFlags.SetxattrExt, 33), (FuseInitFlags.InitExt, 36),
        (FuseInitFlags.SecurityCtx, 36), (FuseInitFlags.HasInodeDax, 36), (FuseInitFlags.CreateSuppGroup, 38),
        (FuseInitFlags.HasExpireOnly, 38), (FuseInitFlags.DirectIoAllowMmap, 39), (FuseInitFlags.Passthrough, 40),
        (FuseInitFlags.NoExportSupport, 40), (FuseInitFlags.HasResend, 40), (FuseInitFlags.AllowIdmap, 41),
        (FuseInitFlags.OverIoUring, 42), (FuseInitFlags.RequestTimeout, 43),
    ];

    public static FuseInitFlags For(uint minor)
    {
        FuseInitFlags flags = FuseInitFlags.None;
        foreach ((FuseInitFlags flag, uint introduced) in Introduced)
        {
            if (introduced <= minor)
            {
                flags |= flag;
            }
        }

        return flags;
    }
}
