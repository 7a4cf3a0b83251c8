namespace VirtioFs.Protocol;

/// <summary>
/// One row per opcode of protocol 7.45: name, the fixed argument size of the newest minor, how many
/// NUL-terminated names follow, and whether the request is answered. Version-specific sizes are applied by
/// <see cref="FuseOpcodeInfo.ArgumentSize"/>; everything else in the session reads this table.
/// </summary>
internal static class FuseOpcodeTable
{
    private static readonly FuseOpcodeInfo?[] Rows = Build();

    /// <summary>The highest opcode in the table.</summary>
    public const int MaxOpcode = (int)FuseOpcode.CopyFileRange64;

    public static FuseOpcodeInfo? Get(uint opcode) => opcode < (uint)Rows.Length ? Rows[opcode] : null;

    /// <summary>Every defined row, in opcode order.</summary>
    public static IEnumerable<FuseOpcodeInfo> All => Rows.OfType<FuseOpcodeInfo>();

    private static FuseOpcodeInfo?[] Build()
    {
        var rows = new FuseOpcodeInfo?[MaxOpcode + 1];
        void Add(FuseOpcode op, string name, int args, int names = 0, bool noReply = false)
            => rows[(int)op] = new FuseOpcodeInfo(op, name, args, names, noReply);

        Add(FuseOpcode.Lookup, "LOOKUP", 0, names: 1);
        Add(FuseOpcode.Forget, "FORGET", FuseForgetIn.Size, noReply: true);
        Add(FuseOpcode.GetAttr, "GETATTR", FuseGetattrIn.Size);
        Add(FuseOpcode.SetAttr, "SETATTR", FuseSetattrIn.StructSize);
        Add(FuseOpcode.ReadLink, "READLINK", 0);
        Add(FuseOpcode.Symlink, "SYMLINK", 0, names: 2);
        Add(FuseOpcode.MkNod, "MKNOD", FuseMknodIn.Size, names: 1);
        Add(FuseOpcode.MkDir, "MKDIR", FuseMkdirIn.Size, names: 1);
        Add(FuseOpcode.Unlink, "UNLINK", 0, names: 1);
        Add(FuseOpcode.RmDir, "RMDIR", 0, names: 1);
        Add(FuseOpcode.Rename, "RENAME", FuseRenameIn.Size, names: 2);
        Add(FuseOpcode.Link, "LINK", FuseLinkIn.Size, names: 1);
        Add(FuseOpcode.Open, "OPEN", FuseOpenIn.Size);
        Add(FuseOpcode.Read, "READ", FuseReadIn.StructSize);
        Add(FuseOpcode.Write, "WRITE", FuseWriteIn.StructSize);
        Add(FuseOpcode.StatFs, "STATFS", 0);
        Add(FuseOpcode.Release, "RELEASE", FuseReleaseIn.Size);
        Add(FuseOpcode.Fsync, "FSYNC", FuseFsyncIn.Size);
        Add(FuseOpcode.SetXattr, "SETXATTR", FuseSetxattrIn.StructSize, names: 1);
        Add(FuseOpcode.GetXattr, "GETXATTR", FuseGetxattrIn.StructSize, names: 1);
        Add(FuseOpcode.ListXattr, "LISTXATTR", FuseGetxattrIn.StructSize);
        Add(FuseOpcode.RemoveXattr, "REMOVEXATTR", 0, names: 1);
        Add(FuseOpcode.Flush, "FLUSH", FuseFlushIn.Size);
        Add(FuseOpcode.Init, "INIT", FuseInitIn.Size);
        Add(FuseOpcode.OpenDir, "OPENDIR", FuseOpenIn.Size);
        Add(FuseOpcode.ReadDir, "READDIR", FuseReadIn.StructSize);
        Add(FuseOpcode.ReleaseDir, "RELEASEDIR", FuseReleaseIn.Size);
        Add(FuseOpcode.FsyncDir, "FSYNCDIR", FuseFsyncIn.Size);
        Add(FuseOpcode.GetLk, "GETLK", FuseLkIn.Size);
        Add(FuseOpcode.SetLk, "SETLK", FuseLkIn.Size);
        Add(FuseOpcode.SetLkw, "SETLKW", FuseLkIn.Size);
        Add(FuseOpcode.Access, "ACCESS", FuseAccessIn.Size);
        Add(FuseOpcode.Create, "CREATE", FuseCreateIn.Size, names: 1);
        Add(FuseOpcode.Interrupt, "INTERRUPT", FuseInterruptIn.Size);
        Add(FuseOpcode.Bmap, "BMAP", FuseBmapIn.Size);
        Add(FuseOpcode.Destroy, "DESTROY", 0);
        Add(FuseOpcode.Ioctl, "IOCTL", FuseIoctlIn.Size);
        Add(FuseOpcode.Poll, "POLL", FusePollIn.Size);
        Add(FuseOpcode.NotifyReply, "NOTIFY_REPLY", FuseNotifyRetrieveIn.StructSize, noReply: true);
        Add(FuseOpcode.BatchForget, "BATCH_FORGET", FuseBatchForgetIn.Size, noReply: true);
        Add(FuseOpcode.Fallocate, "FALLOCATE", FuseFallocateIn.Size);
        Add(FuseOpcode.ReadDirPlus, "READDIRPLUS", FuseReadIn.StructSize);
        Add(FuseOpcode.Rename2, "RENAME2", FuseRename2In.Size, names: 2);
        Add(FuseOpcode.Lseek, "LSEEK", FuseLseekIn.Size);
        Add(FuseOpcode.CopyFileRange, "COPY_FILE_RANGE", FuseCopyFileRangeIn.Size);
        Add(FuseOpcode.SetupMapping, "SETUPMAPPING", FuseSetupmappingIn.Size);
        Add(FuseOpcode.RemoveMapping, "REMOVEMAPPING", FuseRemovemappingIn.Size);
        Add(FuseOpcode.SyncFs, "SYNCFS", FuseSyncfsIn.Size);
        Add(FuseOpcode.TmpFile, "TMPFILE", FuseCreateIn.Size);
        Add(FuseOpcode.Statx, "STATX", FuseStatxIn.Size);
        Add(FuseOpcode.CopyFileRange64, "COPY_FILE_RANGE_64", FuseCopyFileRangeIn.Size);
        return rows;
    }
}

/// <summary>One row of <see cref="FuseOpcodeTable"/>.</summary>
internal sealed class FuseOpcodeInfo(FuseOpcode opcode, string name, int argumentSize, int nameCount, bool noReply)
{
    public FuseOpcode Opcode { get; } = opcode;

    public string Name { get; } = name;

    /// <summary>The fixed argument size of protocol 7.45.</summary>
    public int LatestArgumentSize { get; } = argumentSize;

    /// <summary>How many NUL-terminated names follow the fixed arguments.</summary>
    public int NameCount { get; } = nameCount;

    /// <summary>True for requests that are never answered (FORGET, BATCH_FORGET, NOTIFY_REPLY).</summary>
    public bool NoReply { get; } = noReply;

    /// <summary>The metric tag of this opcode, built once.</summary>
    public KeyValuePair<string, object?> Tag { get; } = new("fuse.opcode", name);

    /// <summary>The fixed argument size under a negotiated minor version and capabilities (the version quirks live here).</summary>
    public int ArgumentSize(uint minor, FuseInitFlags flags) => Opcode switch
    {
        FuseOpcode.MkNod when minor < 12 => FuseConstants.CompatMknodInSize,
        FuseOpcode.Create when minor < 12 => FuseOpenIn.Size,
        FuseOpcode.SetXattr when (flags & FuseInitFlags.SetxattrExt) == 0 => FuseConstants.CompatSetxattrInSize,
        _ => LatestArgumentSize,
    };
}
