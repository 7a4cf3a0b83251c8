namespace VirtioFs.Protocol.Tests.Session;

/// <summary>
/// <c>enum fuse_opcode</c> of <c>fuse_kernel.h</c> (7.45) as the kernel sends each request: the C name, the
/// <c>sizeof</c> of its fixed argument struct (x86-64/aarch64), the number of NUL-terminated names after it, and
/// whether it is answered. Transcribed from the header, independently of the library's table.
/// </summary>
internal static class KernelOpcodes
{
    public sealed record Row(uint Opcode, string CName, int ArgumentSize, int Names, bool NoReply);

    public static readonly Row[] All =
    [
        new(1, "FUSE_LOOKUP", 0, 1, false),
        new(2, "FUSE_FORGET", 8, 0, true),                // fuse_forget_in
        new(3, "FUSE_GETATTR", 16, 0, false),             // fuse_getattr_in
        new(4, "FUSE_SETATTR", 88, 0, false),             // fuse_setattr_in
        new(5, "FUSE_READLINK", 0, 0, false),
        new(6, "FUSE_SYMLINK", 0, 2, false),
        new(8, "FUSE_MKNOD", 16, 1, false),               // fuse_mknod_in
        new(9, "FUSE_MKDIR", 8, 1, false),                // fuse_mkdir_in
        new(10, "FUSE_UNLINK", 0, 1, false),
        new(11, "FUSE_RMDIR", 0, 1, false),
        new(12, "FUSE_RENAME", 8, 2, false),              // fuse_rename_in
        new(13, "FUSE_LINK", 8, 1, false),                // fuse_link_in
        new(14, "FUSE_OPEN", 8, 0, false),                // fuse_open_in
        new(15, "FUSE_READ", 40, 0, false),               // fuse_read_in
        new(16, "FUSE_WRITE", 40, 0, false),              // fuse_write_in
        new(17, "FUSE_STATFS", 0, 0, false),
        new(18, "FUSE_RELEASE", 24, 0, false),            // fuse_release_in
        new(20, "FUSE_FSYNC", 16, 0, false),              // fuse_fsync_in
        new(21, "FUSE_SETXATTR", 16, 1, false),           // fuse_setxattr_in
        new(22, "FUSE_GETXATTR", 8, 1, false),            // fuse_getxattr_in
        new(23, "FUSE_LISTXATTR", 8, 0, false),           // fuse_getxattr_in
        new(24, "FUSE_REMOVEXATTR", 0, 1, false),
        new(25, "FUSE_FLUSH", 24, 0, false),              // fuse_flush_in
        new(26, "FUSE_INIT", 64, 0, false),               // fuse_init_in
        new(27, "FUSE_OPENDIR", 8, 0, false),             // fuse_open_in
        new(28, "FUSE_READDIR", 40, 0, false),            // fuse_read_in
        new(29, "FUSE_RELEASEDIR", 24, 0, false),         // fuse_release_in
        new(30, "FUSE_FSYNCDIR", 16, 0, false),           // fuse_fsync_in
        new(31, "FUSE_GETLK", 48, 0, false),              // fuse_lk_in
        new(32, "FUSE_SETLK", 48, 0, false),              // fuse_lk_in
        new(33, "FUSE_SETLKW", 48, 0, false),             // fuse_lk_in
        new(34, "FUSE_ACCESS", 8, 0, false),              // fuse_access_in
        new(35, "FUSE_CREATE", 16, 1, false),             // fuse_create_in
        new(36, "FUSE_INTERRUPT", 8, 0, false),           // fuse_interrupt_in
        new(37, "FUSE_BMAP", 16, 0, false),               // fuse_bmap_in
        new(38, "FUSE_DESTROY", 0, 0, false),
        new(39, "FUSE_IOCTL", 32, 0, false),              // fuse_ioctl_in
        new(40, "FUSE_POLL", 24, 0, false),               // fuse_poll_in
        new(41, "FUSE_NOTIFY_REPLY", 40, 0, true),        // fuse_notify_retrieve_in
        new(42, "FUSE_BATCH_FORGET", 8, 0, true),         // fuse_batch_forget_in
        new(43, "FUSE_FALLOCATE", 32, 0, false),          // fuse_fallocate_in
        new(44, "FUSE_READDIRPLUS", 40, 0, false),        // fuse_read_in
        new(45, "FUSE_RENAME2", 16, 2, false),            // fuse_rename2_in
        new(46, "FUSE_LSEEK", 24, 0, false),              // fuse_lseek_in
        new(47, "FUSE_COPY_FILE_RANGE", 56, 0, false),    // fuse_copy_file_range_in
        new(48, "FUSE_SETUPMAPPING", 40, 0, false),       // fuse_setupmapping_in
        new(49, "FUSE_REMOVEMAPPING", 4, 0, false),       // fuse_removemapping_in
        new(50, "FUSE_SYNCFS", 8, 0, false),              // fuse_syncfs_in
        new(51, "FUSE_TMPFILE", 16, 0, false),            // fuse_create_in
        new(52, "FUSE_STATX", 24, 0, false),              // fuse_statx_in
        new(53, "FUSE_COPY_FILE_RANGE_64", 56, 0, false), // fuse_copy_file_range_in
    ];

    public static Row Get(uint opcode) => All.Single(r => r.Opcode == opcode);
}
