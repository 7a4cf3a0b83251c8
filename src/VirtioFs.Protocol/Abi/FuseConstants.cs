namespace VirtioFs.Protocol;

/// <summary>Numeric constants of the FUSE kernel protocol (ABI 7.45).</summary>
public static class FuseConstants
{
    /// <summary>Major protocol version implemented (<c>FUSE_KERNEL_VERSION</c>).</summary>
    public const uint KernelVersion = 7;

    /// <summary>Highest minor protocol version implemented (<c>FUSE_KERNEL_MINOR_VERSION</c>).</summary>
    public const uint KernelMinorVersion = 45;

    /// <summary>Node id of the filesystem root (<c>FUSE_ROOT_ID</c>).</summary>
    public const ulong RootId = 1UL;

    /// <summary>Smallest request buffer the kernel accepts from a server (<c>FUSE_MIN_READ_BUFFER</c>).</summary>
    public const int MinReadBuffer = 8192;

    /// <summary>Size of <see cref="FuseEntryOut"/> for minors below 7.9 (<c>FUSE_COMPAT_ENTRY_OUT_SIZE</c>).</summary>
    public const int CompatEntryOutSize = 120;

    /// <summary>Size of <see cref="FuseAttrOut"/> for minors below 7.9 (<c>FUSE_COMPAT_ATTR_OUT_SIZE</c>).</summary>
    public const int CompatAttrOutSize = 96;

    /// <summary>Size of <see cref="FuseMknodIn"/> for minors below 7.12 (<c>FUSE_COMPAT_MKNOD_IN_SIZE</c>).</summary>
    public const int CompatMknodInSize = 8;

    /// <summary>Size of <see cref="FuseWriteIn"/> for minors below 7.9 (<c>FUSE_COMPAT_WRITE_IN_SIZE</c>).</summary>
    public const int CompatWriteInSize = 24;

    /// <summary>Size of <see cref="FuseStatfsOut"/> for minors below 7.4 (<c>FUSE_COMPAT_STATFS_SIZE</c>).</summary>
    public const int CompatStatfsSize = 48;

    /// <summary>Size of <see cref="FuseSetxattrIn"/> unless <see cref="FuseInitFlags.SetxattrExt"/> was negotiated (<c>FUSE_COMPAT_SETXATTR_IN_SIZE</c>).</summary>
    public const int CompatSetxattrInSize = 8;

    /// <summary>Size of <see cref="FuseInitOut"/> for minors below 7.5 (<c>FUSE_COMPAT_INIT_OUT_SIZE</c>).</summary>
    public const int CompatInitOutSize = 8;

    /// <summary>Size of <see cref="FuseInitOut"/> for minors 7.5 to 7.22 (<c>FUSE_COMPAT_22_INIT_OUT_SIZE</c>).</summary>
    public const int Compat22InitOutSize = 24;

    /// <summary>Size of <see cref="FuseInitIn"/> before 7.36 (major, minor, max_readahead, flags).</summary>
    public const int InitInSizeBefore736 = 16;

    /// <summary>Maximum of input plus output iovecs in an unrestricted ioctl retry (<c>FUSE_IOCTL_MAX_IOV</c>).</summary>
    public const int IoctlMaxIov = 256;

    /// <summary>Highest valid <see cref="FuseSecctxHeader.NrSecctx"/>; extension types above it are <see cref="FuseExtensionType"/> values (<c>FUSE_MAX_NR_SECCTX</c>).</summary>
    public const uint MaxNrSecctx = 31;

    /// <summary>Bit of <see cref="FuseInHeader.Unique"/> marking a resent request (<c>FUSE_UNIQUE_RESEND</c>, 7.40).</summary>
    public const ulong UniqueResend = 1UL << 63;

    /// <summary>Value of <see cref="FuseInHeader.Uid"/>/<see cref="FuseInHeader.Gid"/> when an idmapped caller cannot be mapped (<c>FUSE_INVALID_UIDGID</c>).</summary>
    public const uint InvalidUidGid = uint.MaxValue;

    /// <summary>Value of <see cref="FuseSetupmappingIn.Fh"/> meaning "no file handle, resolve by node id" (~0).</summary>
    public const ulong SetupMappingFhNone = ulong.MaxValue;

    /// <summary>Size of one <see cref="FuseRemovemappingOne"/> record.</summary>
    public const int RemoveMappingEntrySize = FuseRemovemappingOne.Size;

    /// <summary>Maximum number of <see cref="FuseRemovemappingOne"/> records per request with 4 KiB pages (<c>FUSE_REMOVEMAPPING_MAX_ENTRY</c>).</summary>
    public const int RemoveMappingMaxEntries = 4096 / RemoveMappingEntrySize;

    /// <summary>The longest name the kernel sends (<c>FUSE_NAME_MAX</c>); longer names are answered <c>ENAMETOOLONG</c> before a filesystem sees them.</summary>
    public const int NameMax = 1024;

    /// <summary>The longest symlink target, without its NUL (<c>PATH_MAX</c> − 1); longer targets are answered <c>ENAMETOOLONG</c>.</summary>
    public const int SymlinkTargetMax = 4095;

    /// <summary>Offset of the name in a READDIR record (<c>FUSE_NAME_OFFSET</c>).</summary>
    public const int DirentNameOffset = FuseDirent.Size;

    /// <summary>Offset of the name in a READDIRPLUS record (<c>FUSE_NAME_OFFSET_DIRENTPLUS</c>).</summary>
    public const int DirentPlusNameOffset = FuseDirentplus.Size;

    /// <summary>Maximum length of the CUSE device info string (<c>CUSE_INIT_INFO_MAX</c>).</summary>
    public const int CuseInitInfoMax = 4096;

    /// <summary>CUSE init flag: use unrestricted ioctl (<c>CUSE_UNRESTRICTED_IOCTL</c>).</summary>
    public const uint CuseUnrestrictedIoctl = 1U << 0;

    /// <summary>Rounds a directory record size up to the next multiple of 8 (<c>FUSE_DIRENT_ALIGN</c>).</summary>
    /// <param name="size">Unaligned record size in bytes (must not be negative).</param>
    /// <returns>The aligned size.</returns>
    public static int DirentAlign(int size) => (size + 7) & ~7;
}

/// <summary>
/// Types of request extensions (<see cref="FuseExtHeader.Type"/>, 7.38+). Types 0..<see cref="FuseConstants.MaxNrSecctx"/>
/// are reserved for the security-context header (C <c>enum fuse_ext_type</c>).
/// </summary>
public enum FuseExtensionType : uint
{
    /// <summary>Supplementary groups extension, payload <see cref="FuseSuppGroups"/> (<c>FUSE_EXT_GROUPS</c>).</summary>
    Groups = 32,
}
