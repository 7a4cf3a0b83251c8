using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using VirtioFs.Protocol;

namespace VirtioFs.Protocol.Tests;

/// <summary>
/// Pins the FUSE ABI layer to the kernel header (protocol 7.45): struct sizes, every field offset (padding
/// included), and the numeric values of opcodes, notify codes, flags and constants. Expected values are the
/// sizeof/offsetof results of the C header compiled for x86-64/aarch64 (all structs are naturally aligned).
/// </summary>
public class AbiLayoutTests
{
    // ---------------------------------------------------------------- sizes

    /// <summary>Every ABI struct with its C <c>sizeof</c>.</summary>
    public static TheoryData<Type, int> StructSizes => new()
    {
        { typeof(FuseAttr), 88 },
        { typeof(FuseSxTime), 16 },
        { typeof(FuseStatx), 256 },
        { typeof(FuseKstatfs), 80 },
        { typeof(FuseFileLock), 24 },
        { typeof(FuseEntryOut), 128 },
        { typeof(FuseForgetIn), 8 },
        { typeof(FuseForgetOne), 16 },
        { typeof(FuseBatchForgetIn), 8 },
        { typeof(FuseGetattrIn), 16 },
        { typeof(FuseAttrOut), 104 },
        { typeof(FuseStatxIn), 24 },
        { typeof(FuseStatxOut), 288 },
        { typeof(FuseMknodIn), 16 },
        { typeof(FuseMkdirIn), 8 },
        { typeof(FuseRenameIn), 8 },
        { typeof(FuseRename2In), 16 },
        { typeof(FuseLinkIn), 8 },
        { typeof(FuseSetattrIn), 88 },
        { typeof(FuseOpenIn), 8 },
        { typeof(FuseCreateIn), 16 },
        { typeof(FuseOpenOut), 16 },
        { typeof(FuseReleaseIn), 24 },
        { typeof(FuseFlushIn), 24 },
        { typeof(FuseReadIn), 40 },
        { typeof(FuseWriteIn), 40 },
        { typeof(FuseWriteOut), 8 },
        { typeof(FuseStatfsOut), 80 },
        { typeof(FuseFsyncIn), 16 },
        { typeof(FuseSetxattrIn), 16 },
        { typeof(FuseGetxattrIn), 8 },
        { typeof(FuseGetxattrOut), 8 },
        { typeof(FuseLkIn), 48 },
        { typeof(FuseLkOut), 24 },
        { typeof(FuseAccessIn), 8 },
        { typeof(FuseInitIn), 64 },
        { typeof(FuseInitOut), 64 },
        { typeof(CuseInitIn), 16 },
        { typeof(CuseInitOut), 72 },
        { typeof(FuseInterruptIn), 8 },
        { typeof(FuseBmapIn), 16 },
        { typeof(FuseBmapOut), 8 },
        { typeof(FuseIoctlIn), 32 },
        { typeof(FuseIoctlIovec), 16 },
        { typeof(FuseIoctlOut), 16 },
        { typeof(FusePollIn), 24 },
        { typeof(FusePollOut), 8 },
        { typeof(FuseNotifyPollWakeupOut), 8 },
        { typeof(FuseFallocateIn), 32 },
        { typeof(FuseInHeader), 40 },
        { typeof(FuseOutHeader), 16 },
        { typeof(FuseDirent), 24 },
        { typeof(FuseDirentplus), 152 },
        { typeof(FuseNotifyInvalInodeOut), 24 },
        { typeof(FuseNotifyInvalEntryOut), 16 },
        { typeof(FuseNotifyDeleteOut), 24 },
        { typeof(FuseNotifyStoreOut), 24 },
        { typeof(FuseNotifyRetrieveOut), 32 },
        { typeof(FuseNotifyRetrieveIn), 40 },
        { typeof(FuseNotifyPruneOut), 16 },
        { typeof(FuseBackingMap), 16 },
        { typeof(FuseLseekIn), 24 },
        { typeof(FuseLseekOut), 8 },
        { typeof(FuseCopyFileRangeIn), 56 },
        { typeof(FuseCopyFileRangeOut), 8 },
        { typeof(FuseSetupmappingIn), 40 },
        { typeof(FuseRemovemappingIn), 4 },
        { typeof(FuseRemovemappingOne), 16 },
        { typeof(FuseSyncfsIn), 8 },
        { typeof(FuseSecctx), 8 },
        { typeof(FuseSecctxHeader), 8 },
        { typeof(FuseExtHeader), 8 },
        { typeof(FuseSuppGroups), 4 },
    };

    /// <summary>Every field (public and private padding) with its C <c>offsetof</c>.</summary>
    public static TheoryData<Type, string, int> FieldOffsets => new()
    {
        { typeof(FuseAttr), "Ino", 0 },
        { typeof(FuseAttr), "Size", 8 },
        { typeof(FuseAttr), "Blocks", 16 },
        { typeof(FuseAttr), "Atime", 24 },
        { typeof(FuseAttr), "Mtime", 32 },
        { typeof(FuseAttr), "Ctime", 40 },
        { typeof(FuseAttr), "Atimensec", 48 },
        { typeof(FuseAttr), "Mtimensec", 52 },
        { typeof(FuseAttr), "Ctimensec", 56 },
        { typeof(FuseAttr), "Mode", 60 },
        { typeof(FuseAttr), "Nlink", 64 },
        { typeof(FuseAttr), "Uid", 68 },
        { typeof(FuseAttr), "Gid", 72 },
        { typeof(FuseAttr), "Rdev", 76 },
        { typeof(FuseAttr), "Blksize", 80 },
        { typeof(FuseAttr), "Flags", 84 },

        { typeof(FuseSxTime), "TvSec", 0 },
        { typeof(FuseSxTime), "TvNsec", 8 },
        { typeof(FuseSxTime), "_reserved", 12 },

        { typeof(FuseStatx), "Mask", 0 },
        { typeof(FuseStatx), "Blksize", 4 },
        { typeof(FuseStatx), "Attributes", 8 },
        { typeof(FuseStatx), "Nlink", 16 },
        { typeof(FuseStatx), "Uid", 20 },
        { typeof(FuseStatx), "Gid", 24 },
        { typeof(FuseStatx), "Mode", 28 },
        { typeof(FuseStatx), "_spare0", 30 },
        { typeof(FuseStatx), "Ino", 32 },
        { typeof(FuseStatx), "Size", 40 },
        { typeof(FuseStatx), "Blocks", 48 },
        { typeof(FuseStatx), "AttributesMask", 56 },
        { typeof(FuseStatx), "Atime", 64 },
        { typeof(FuseStatx), "Btime", 80 },
        { typeof(FuseStatx), "Ctime", 96 },
        { typeof(FuseStatx), "Mtime", 112 },
        { typeof(FuseStatx), "RdevMajor", 128 },
        { typeof(FuseStatx), "RdevMinor", 132 },
        { typeof(FuseStatx), "DevMajor", 136 },
        { typeof(FuseStatx), "DevMinor", 140 },
        { typeof(FuseStatx), "_spare2", 144 },

        { typeof(FuseKstatfs), "Blocks", 0 },
        { typeof(FuseKstatfs), "Bfree", 8 },
        { typeof(FuseKstatfs), "Bavail", 16 },
        { typeof(FuseKstatfs), "Files", 24 },
        { typeof(FuseKstatfs), "Ffree", 32 },
        { typeof(FuseKstatfs), "Bsize", 40 },
        { typeof(FuseKstatfs), "Namelen", 44 },
        { typeof(FuseKstatfs), "Frsize", 48 },
        { typeof(FuseKstatfs), "_padding", 52 },
        { typeof(FuseKstatfs), "_spare", 56 },

        { typeof(FuseFileLock), "Start", 0 },
        { typeof(FuseFileLock), "End", 8 },
        { typeof(FuseFileLock), "Type", 16 },
        { typeof(FuseFileLock), "Pid", 20 },

        { typeof(FuseEntryOut), "Nodeid", 0 },
        { typeof(FuseEntryOut), "Generation", 8 },
        { typeof(FuseEntryOut), "EntryValid", 16 },
        { typeof(FuseEntryOut), "AttrValid", 24 },
        { typeof(FuseEntryOut), "EntryValidNsec", 32 },
        { typeof(FuseEntryOut), "AttrValidNsec", 36 },
        { typeof(FuseEntryOut), "Attr", 40 },

        { typeof(FuseForgetIn), "Nlookup", 0 },

        { typeof(FuseForgetOne), "Nodeid", 0 },
        { typeof(FuseForgetOne), "Nlookup", 8 },

        { typeof(FuseBatchForgetIn), "Count", 0 },
        { typeof(FuseBatchForgetIn), "_dummy", 4 },

        { typeof(FuseGetattrIn), "GetattrFlags", 0 },
        { typeof(FuseGetattrIn), "_dummy", 4 },
        { typeof(FuseGetattrIn), "Fh", 8 },

        { typeof(FuseAttrOut), "AttrValid", 0 },
        { typeof(FuseAttrOut), "AttrValidNsec", 8 },
        { typeof(FuseAttrOut), "_dummy", 12 },
        { typeof(FuseAttrOut), "Attr", 16 },

        { typeof(FuseStatxIn), "GetattrFlags", 0 },
        { typeof(FuseStatxIn), "_reserved", 4 },
        { typeof(FuseStatxIn), "Fh", 8 },
        { typeof(FuseStatxIn), "SxFlags", 16 },
        { typeof(FuseStatxIn), "SxMask", 20 },

        { typeof(FuseStatxOut), "AttrValid", 0 },
        { typeof(FuseStatxOut), "AttrValidNsec", 8 },
        { typeof(FuseStatxOut), "Flags", 12 },
        { typeof(FuseStatxOut), "_spare", 16 },
        { typeof(FuseStatxOut), "Stat", 32 },

        { typeof(FuseMknodIn), "Mode", 0 },
        { typeof(FuseMknodIn), "Rdev", 4 },
        { typeof(FuseMknodIn), "Umask", 8 },
        { typeof(FuseMknodIn), "_padding", 12 },

        { typeof(FuseMkdirIn), "Mode", 0 },
        { typeof(FuseMkdirIn), "Umask", 4 },

        { typeof(FuseRenameIn), "Newdir", 0 },

        { typeof(FuseRename2In), "Newdir", 0 },
        { typeof(FuseRename2In), "Flags", 8 },
        { typeof(FuseRename2In), "_padding", 12 },

        { typeof(FuseLinkIn), "Oldnodeid", 0 },

        { typeof(FuseSetattrIn), "Valid", 0 },
        { typeof(FuseSetattrIn), "_padding", 4 },
        { typeof(FuseSetattrIn), "Fh", 8 },
        { typeof(FuseSetattrIn), "Size", 16 },
        { typeof(FuseSetattrIn), "LockOwner", 24 },
        { typeof(FuseSetattrIn), "Atime", 32 },
        { typeof(FuseSetattrIn), "Mtime", 40 },
        { typeof(FuseSetattrIn), "Ctime", 48 },
        { typeof(FuseSetattrIn), "Atimensec", 56 },
        { typeof(FuseSetattrIn), "Mtimensec", 60 },
        { typeof(FuseSetattrIn), "Ctimensec", 64 },
        { typeof(FuseSetattrIn), "Mode", 68 },
        { typeof(FuseSetattrIn), "_unused4", 72 },
        { typeof(FuseSetattrIn), "Uid", 76 },
        { typeof(FuseSetattrIn), "Gid", 80 },
        { typeof(FuseSetattrIn), "_unused5", 84 },

        { typeof(FuseOpenIn), "Flags", 0 },
        { typeof(FuseOpenIn), "OpenFlags", 4 },

        { typeof(FuseCreateIn), "Flags", 0 },
        { typeof(FuseCreateIn), "Mode", 4 },
        { typeof(FuseCreateIn), "Umask", 8 },
        { typeof(FuseCreateIn), "OpenFlags", 12 },

        { typeof(FuseOpenOut), "Fh", 0 },
        { typeof(FuseOpenOut), "OpenFlags", 8 },
        { typeof(FuseOpenOut), "BackingId", 12 },

        { typeof(FuseReleaseIn), "Fh", 0 },
        { typeof(FuseReleaseIn), "Flags", 8 },
        { typeof(FuseReleaseIn), "ReleaseFlags", 12 },
        { typeof(FuseReleaseIn), "LockOwner", 16 },

        { typeof(FuseFlushIn), "Fh", 0 },
        { typeof(FuseFlushIn), "_unused", 8 },
        { typeof(FuseFlushIn), "_padding", 12 },
        { typeof(FuseFlushIn), "LockOwner", 16 },

        { typeof(FuseReadIn), "Fh", 0 },
        { typeof(FuseReadIn), "Offset", 8 },
        { typeof(FuseReadIn), "Size", 16 },
        { typeof(FuseReadIn), "ReadFlags", 20 },
        { typeof(FuseReadIn), "LockOwner", 24 },
        { typeof(FuseReadIn), "Flags", 32 },
        { typeof(FuseReadIn), "_padding", 36 },

        { typeof(FuseWriteIn), "Fh", 0 },
        { typeof(FuseWriteIn), "Offset", 8 },
        { typeof(FuseWriteIn), "Size", 16 },
        { typeof(FuseWriteIn), "WriteFlags", 20 },
        { typeof(FuseWriteIn), "LockOwner", 24 },
        { typeof(FuseWriteIn), "Flags", 32 },
        { typeof(FuseWriteIn), "_padding", 36 },

        { typeof(FuseWriteOut), "Size", 0 },
        { typeof(FuseWriteOut), "_padding", 4 },

        { typeof(FuseStatfsOut), "St", 0 },

        { typeof(FuseFsyncIn), "Fh", 0 },
        { typeof(FuseFsyncIn), "FsyncFlags", 8 },
        { typeof(FuseFsyncIn), "_padding", 12 },

        { typeof(FuseSetxattrIn), "Size", 0 },
        { typeof(FuseSetxattrIn), "Flags", 4 },
        { typeof(FuseSetxattrIn), "SetxattrFlags", 8 },
        { typeof(FuseSetxattrIn), "_padding", 12 },

        { typeof(FuseGetxattrIn), "Size", 0 },
        { typeof(FuseGetxattrIn), "_padding", 4 },

        { typeof(FuseGetxattrOut), "Size", 0 },
        { typeof(FuseGetxattrOut), "_padding", 4 },

        { typeof(FuseLkIn), "Fh", 0 },
        { typeof(FuseLkIn), "Owner", 8 },
        { typeof(FuseLkIn), "Lk", 16 },
        { typeof(FuseLkIn), "LkFlags", 40 },
        { typeof(FuseLkIn), "_padding", 44 },

        { typeof(FuseLkOut), "Lk", 0 },

        { typeof(FuseAccessIn), "Mask", 0 },
        { typeof(FuseAccessIn), "_padding", 4 },

        { typeof(FuseInitIn), "Major", 0 },
        { typeof(FuseInitIn), "Minor", 4 },
        { typeof(FuseInitIn), "MaxReadahead", 8 },
        { typeof(FuseInitIn), "Flags", 12 },
        { typeof(FuseInitIn), "Flags2", 16 },
        { typeof(FuseInitIn), "_unused", 20 },

        { typeof(FuseInitOut), "Major", 0 },
        { typeof(FuseInitOut), "Minor", 4 },
        { typeof(FuseInitOut), "MaxReadahead", 8 },
        { typeof(FuseInitOut), "Flags", 12 },
        { typeof(FuseInitOut), "MaxBackground", 16 },
        { typeof(FuseInitOut), "CongestionThreshold", 18 },
        { typeof(FuseInitOut), "MaxWrite", 20 },
        { typeof(FuseInitOut), "TimeGran", 24 },
        { typeof(FuseInitOut), "MaxPages", 28 },
        { typeof(FuseInitOut), "MapAlignment", 30 },
        { typeof(FuseInitOut), "Flags2", 32 },
        { typeof(FuseInitOut), "MaxStackDepth", 36 },
        { typeof(FuseInitOut), "RequestTimeout", 40 },
        { typeof(FuseInitOut), "_unused", 42 },

        { typeof(CuseInitIn), "Major", 0 },
        { typeof(CuseInitIn), "Minor", 4 },
        { typeof(CuseInitIn), "_unused", 8 },
        { typeof(CuseInitIn), "Flags", 12 },

        { typeof(CuseInitOut), "Major", 0 },
        { typeof(CuseInitOut), "Minor", 4 },
        { typeof(CuseInitOut), "_unused", 8 },
        { typeof(CuseInitOut), "Flags", 12 },
        { typeof(CuseInitOut), "MaxRead", 16 },
        { typeof(CuseInitOut), "MaxWrite", 20 },
        { typeof(CuseInitOut), "DevMajor", 24 },
        { typeof(CuseInitOut), "DevMinor", 28 },
        { typeof(CuseInitOut), "_spare", 32 },

        { typeof(FuseInterruptIn), "Unique", 0 },

        { typeof(FuseBmapIn), "Block", 0 },
        { typeof(FuseBmapIn), "Blocksize", 8 },
        { typeof(FuseBmapIn), "_padding", 12 },

        { typeof(FuseBmapOut), "Block", 0 },

        { typeof(FuseIoctlIn), "Fh", 0 },
        { typeof(FuseIoctlIn), "Flags", 8 },
        { typeof(FuseIoctlIn), "Cmd", 12 },
        { typeof(FuseIoctlIn), "Arg", 16 },
        { typeof(FuseIoctlIn), "InSize", 24 },
        { typeof(FuseIoctlIn), "OutSize", 28 },

        { typeof(FuseIoctlIovec), "Base", 0 },
        { typeof(FuseIoctlIovec), "Len", 8 },

        { typeof(FuseIoctlOut), "Result", 0 },
        { typeof(FuseIoctlOut), "Flags", 4 },
        { typeof(FuseIoctlOut), "InIovs", 8 },
        { typeof(FuseIoctlOut), "OutIovs", 12 },

        { typeof(FusePollIn), "Fh", 0 },
        { typeof(FusePollIn), "Kh", 8 },
        { typeof(FusePollIn), "Flags", 16 },
        { typeof(FusePollIn), "Events", 20 },

        { typeof(FusePollOut), "Revents", 0 },
        { typeof(FusePollOut), "_padding", 4 },

        { typeof(FuseNotifyPollWakeupOut), "Kh", 0 },

        { typeof(FuseFallocateIn), "Fh", 0 },
        { typeof(FuseFallocateIn), "Offset", 8 },
        { typeof(FuseFallocateIn), "Length", 16 },
        { typeof(FuseFallocateIn), "Mode", 24 },
        { typeof(FuseFallocateIn), "_padding", 28 },

        { typeof(FuseInHeader), "Len", 0 },
        { typeof(FuseInHeader), "Opcode", 4 },
        { typeof(FuseInHeader), "Unique", 8 },
        { typeof(FuseInHeader), "Nodeid", 16 },
        { typeof(FuseInHeader), "Uid", 24 },
        { typeof(FuseInHeader), "Gid", 28 },
        { typeof(FuseInHeader), "Pid", 32 },
        { typeof(FuseInHeader), "TotalExtlen", 36 },
        { typeof(FuseInHeader), "_padding", 38 },

        { typeof(FuseOutHeader), "Len", 0 },
        { typeof(FuseOutHeader), "Error", 4 },
        { typeof(FuseOutHeader), "Unique", 8 },

        { typeof(FuseDirent), "Ino", 0 },
        { typeof(FuseDirent), "Off", 8 },
        { typeof(FuseDirent), "Namelen", 16 },
        { typeof(FuseDirent), "Type", 20 },

        { typeof(FuseDirentplus), "EntryOut", 0 },
        { typeof(FuseDirentplus), "Dirent", 128 },

        { typeof(FuseNotifyInvalInodeOut), "Ino", 0 },
        { typeof(FuseNotifyInvalInodeOut), "Off", 8 },
        { typeof(FuseNotifyInvalInodeOut), "Len", 16 },

        { typeof(FuseNotifyInvalEntryOut), "Parent", 0 },
        { typeof(FuseNotifyInvalEntryOut), "Namelen", 8 },
        { typeof(FuseNotifyInvalEntryOut), "Flags", 12 },

        { typeof(FuseNotifyDeleteOut), "Parent", 0 },
        { typeof(FuseNotifyDeleteOut), "Child", 8 },
        { typeof(FuseNotifyDeleteOut), "Namelen", 16 },
        { typeof(FuseNotifyDeleteOut), "_padding", 20 },

        { typeof(FuseNotifyStoreOut), "Nodeid", 0 },
        { typeof(FuseNotifyStoreOut), "Offset", 8 },
        { typeof(FuseNotifyStoreOut), "Size", 16 },
        { typeof(FuseNotifyStoreOut), "_padding", 20 },

        { typeof(FuseNotifyRetrieveOut), "NotifyUnique", 0 },
        { typeof(FuseNotifyRetrieveOut), "Nodeid", 8 },
        { typeof(FuseNotifyRetrieveOut), "Offset", 16 },
        { typeof(FuseNotifyRetrieveOut), "Size", 24 },
        { typeof(FuseNotifyRetrieveOut), "_padding", 28 },

        { typeof(FuseNotifyRetrieveIn), "_dummy1", 0 },
        { typeof(FuseNotifyRetrieveIn), "Offset", 8 },
        { typeof(FuseNotifyRetrieveIn), "Size", 16 },
        { typeof(FuseNotifyRetrieveIn), "_dummy2", 20 },
        { typeof(FuseNotifyRetrieveIn), "_dummy3", 24 },
        { typeof(FuseNotifyRetrieveIn), "_dummy4", 32 },

        { typeof(FuseNotifyPruneOut), "Count", 0 },
        { typeof(FuseNotifyPruneOut), "_padding", 4 },
        { typeof(FuseNotifyPruneOut), "_spare", 8 },

        { typeof(FuseBackingMap), "Fd", 0 },
        { typeof(FuseBackingMap), "Flags", 4 },
        { typeof(FuseBackingMap), "_padding", 8 },

        { typeof(FuseLseekIn), "Fh", 0 },
        { typeof(FuseLseekIn), "Offset", 8 },
        { typeof(FuseLseekIn), "Whence", 16 },
        { typeof(FuseLseekIn), "_padding", 20 },

        { typeof(FuseLseekOut), "Offset", 0 },

        { typeof(FuseCopyFileRangeIn), "FhIn", 0 },
        { typeof(FuseCopyFileRangeIn), "OffIn", 8 },
        { typeof(FuseCopyFileRangeIn), "NodeidOut", 16 },
        { typeof(FuseCopyFileRangeIn), "FhOut", 24 },
        { typeof(FuseCopyFileRangeIn), "OffOut", 32 },
        { typeof(FuseCopyFileRangeIn), "Len", 40 },
        { typeof(FuseCopyFileRangeIn), "Flags", 48 },

        { typeof(FuseCopyFileRangeOut), "BytesCopied", 0 },

        { typeof(FuseSetupmappingIn), "Fh", 0 },
        { typeof(FuseSetupmappingIn), "Foffset", 8 },
        { typeof(FuseSetupmappingIn), "Len", 16 },
        { typeof(FuseSetupmappingIn), "Flags", 24 },
        { typeof(FuseSetupmappingIn), "Moffset", 32 },

        { typeof(FuseRemovemappingIn), "Count", 0 },

        { typeof(FuseRemovemappingOne), "Moffset", 0 },
        { typeof(FuseRemovemappingOne), "Len", 8 },

        { typeof(FuseSyncfsIn), "_padding", 0 },

        { typeof(FuseSecctx), "Size", 0 },
        { typeof(FuseSecctx), "_padding", 4 },

        { typeof(FuseSecctxHeader), "Size", 0 },
        { typeof(FuseSecctxHeader), "NrSecctx", 4 },

        { typeof(FuseExtHeader), "Size", 0 },
        { typeof(FuseExtHeader), "Type", 4 },

        { typeof(FuseSuppGroups), "NrGroups", 0 },
    };

    private const BindingFlags InstanceFields = BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic;

    private static int UnsafeSizeOf(Type t)
        => (int)typeof(Unsafe).GetMethod(nameof(Unsafe.SizeOf))!.MakeGenericMethod(t).Invoke(null, null)!;

    /// <summary>The struct's size constant: <c>Size</c>, or <c>StructSize</c> where a C field <c>size</c> owns the name.</summary>
    private static int DeclaredSize(Type t)
    {
        FieldInfo? f = t.GetField("Size", BindingFlags.Public | BindingFlags.Static);
        if (f is null || !f.IsLiteral)
        {
            f = t.GetField("StructSize", BindingFlags.Public | BindingFlags.Static);
        }

        Assert.NotNull(f);
        Assert.True(f!.IsLiteral, $"{t.Name}.{f.Name} must be a const");
        return (int)f.GetRawConstantValue()!;
    }

    [Theory]
    [MemberData(nameof(StructSizes))]
    public void Struct_size_matches_kernel(Type type, int expected)
    {
        Assert.True(type.IsValueType);
        Assert.True(type.IsLayoutSequential, $"{type.Name} must be LayoutKind.Sequential");
        Assert.Equal(expected, UnsafeSizeOf(type));
        Assert.Equal(expected, Marshal.SizeOf(type));
        Assert.Equal(expected, DeclaredSize(type));
    }

    [Theory]
    [MemberData(nameof(FieldOffsets))]
    public void Field_offset_matches_kernel(Type type, string field, int expected)
    {
        FieldInfo? info = type.GetField(field, InstanceFields);
        Assert.NotNull(info);
        Assert.Equal(expected, (int)Marshal.OffsetOf(type, field));
        if (field.StartsWith('_'))
        {
            Assert.True(info!.IsPrivate, $"{type.Name}.{field} is padding and must be private");
        }
        else
        {
            Assert.True(info!.IsPublic, $"{type.Name}.{field} must be public");
        }
    }

    [Fact]
    public void Tables_cover_every_struct_and_every_field()
    {
        var sizes = StructSizes.Select(r => (Type)r[0]).ToList();
        Assert.Equal(73, sizes.Count);
        Assert.Equal(sizes.Count, sizes.Distinct().Count());

        var offsets = FieldOffsets.Select(r => ((Type)r[0], (string)r[1])).ToList();
        Assert.Equal(offsets.Count, offsets.Distinct().Count());
        Assert.All(offsets, o => Assert.Contains(o.Item1, sizes));

        foreach (Type t in sizes)
        {
            var declared = t.GetFields(InstanceFields).Select(f => f.Name).OrderBy(n => n, StringComparer.Ordinal);
            var listed = offsets.Where(o => o.Item1 == t).Select(o => o.Item2).OrderBy(n => n, StringComparer.Ordinal);
            Assert.Equal(listed, declared);
        }
    }

    [Fact]
    public void Generic_size_helpers_agree_for_key_structs()
    {
        Assert.Equal(40, Unsafe.SizeOf<FuseInHeader>());
        Assert.Equal(40, Marshal.SizeOf<FuseInHeader>());
        Assert.Equal(16, Unsafe.SizeOf<FuseOutHeader>());
        Assert.Equal(88, Unsafe.SizeOf<FuseAttr>());
        Assert.Equal(128, Unsafe.SizeOf<FuseEntryOut>());
        Assert.Equal(104, Marshal.SizeOf<FuseAttrOut>());
        Assert.Equal(64, Unsafe.SizeOf<FuseInitIn>());
        Assert.Equal(64, Marshal.SizeOf<FuseInitIn>());
        Assert.Equal(64, Unsafe.SizeOf<FuseInitOut>());
        Assert.Equal(64, Marshal.SizeOf<FuseInitOut>());
        Assert.Equal(256, Unsafe.SizeOf<FuseStatx>());
        Assert.Equal(256, Marshal.SizeOf<FuseStatx>());
        Assert.Equal(288, Unsafe.SizeOf<FuseStatxOut>());
        Assert.Equal(80, Marshal.SizeOf<FuseKstatfs>());
        Assert.Equal(72, Marshal.SizeOf<CuseInitOut>());
        Assert.Equal(152, Unsafe.SizeOf<FuseDirentplus>());
    }

    /// <summary>Signed C fields and nested struct fields keep their exact types.</summary>
    public static TheoryData<Type, string, Type> FieldTypes => new()
    {
        { typeof(FuseOutHeader), "Error", typeof(int) },
        { typeof(FuseInHeader), "TotalExtlen", typeof(ushort) },
        { typeof(FuseOpenOut), "BackingId", typeof(int) },
        { typeof(FuseIoctlOut), "Result", typeof(int) },
        { typeof(FuseBackingMap), "Fd", typeof(int) },
        { typeof(FuseSxTime), "TvSec", typeof(long) },
        { typeof(FuseSxTime), "_reserved", typeof(int) },
        { typeof(FuseNotifyInvalInodeOut), "Off", typeof(long) },
        { typeof(FuseNotifyInvalInodeOut), "Len", typeof(long) },
        { typeof(FuseStatx), "Mode", typeof(ushort) },
        { typeof(FuseInitOut), "MaxBackground", typeof(ushort) },
        { typeof(FuseInitOut), "RequestTimeout", typeof(ushort) },
        { typeof(FuseCopyFileRangeIn), "Flags", typeof(ulong) },
        { typeof(FuseSetupmappingIn), "Flags", typeof(ulong) },
        { typeof(FuseAttr), "Flags", typeof(uint) },
        { typeof(FuseEntryOut), "Attr", typeof(FuseAttr) },
        { typeof(FuseAttrOut), "Attr", typeof(FuseAttr) },
        { typeof(FuseLkIn), "Lk", typeof(FuseFileLock) },
        { typeof(FuseLkOut), "Lk", typeof(FuseFileLock) },
        { typeof(FuseStatfsOut), "St", typeof(FuseKstatfs) },
        { typeof(FuseStatxOut), "Stat", typeof(FuseStatx) },
        { typeof(FuseStatx), "Atime", typeof(FuseSxTime) },
        { typeof(FuseDirentplus), "EntryOut", typeof(FuseEntryOut) },
        { typeof(FuseDirentplus), "Dirent", typeof(FuseDirent) },
    };

    [Theory]
    [MemberData(nameof(FieldTypes))]
    public void Field_has_exact_type(Type type, string field, Type expected)
        => Assert.Equal(expected, type.GetField(field, InstanceFields)!.FieldType);

    // ---------------------------------------------------------------- bytes

    private static byte[] BytesOf<T>(T value)
        where T : struct
        => MemoryMarshal.AsBytes(MemoryMarshal.CreateReadOnlySpan(ref value, 1)).ToArray();

    [Fact]
    public void Default_structs_are_all_zero_bytes()
    {
        Assert.All(BytesOf(default(FuseInHeader)), b => Assert.Equal(0, b));
        Assert.All(BytesOf(default(FuseInitIn)), b => Assert.Equal(0, b));
        Assert.All(BytesOf(default(FuseInitOut)), b => Assert.Equal(0, b));
        Assert.All(BytesOf(default(FuseStatx)), b => Assert.Equal(0, b));
        Assert.All(BytesOf(default(FuseStatxOut)), b => Assert.Equal(0, b));
        Assert.All(BytesOf(default(FuseSetattrIn)), b => Assert.Equal(0, b));
        Assert.All(BytesOf(default(FuseKstatfs)), b => Assert.Equal(0, b));
        Assert.All(BytesOf(default(CuseInitOut)), b => Assert.Equal(0, b));
        Assert.All(BytesOf(default(FuseDirentplus)), b => Assert.Equal(0, b));
    }

    [Fact]
    public void Object_initializer_leaves_reserved_tail_of_init_out_zero()
    {
        var init = new FuseInitOut
        {
            Major = 0xFFFFFFFF, Minor = 0xFFFFFFFF, MaxReadahead = 0xFFFFFFFF, Flags = 0xFFFFFFFF,
            MaxBackground = 0xFFFF, CongestionThreshold = 0xFFFF, MaxWrite = 0xFFFFFFFF, TimeGran = 0xFFFFFFFF,
            MaxPages = 0xFFFF, MapAlignment = 0xFFFF, Flags2 = 0xFFFFFFFF, MaxStackDepth = 0xFFFFFFFF,
            RequestTimeout = 0xFFFF,
        };
        byte[] bytes = BytesOf(init);
        Assert.All(bytes.AsSpan(0, 42).ToArray(), b => Assert.Equal(0xFF, b));
        Assert.All(bytes.AsSpan(42).ToArray(), b => Assert.Equal(0, b));
    }

    [Fact]
    public void In_header_golden_bytes()
    {
        Assert.True(BitConverter.IsLittleEndian);
        var header = new FuseInHeader
        {
            Len = 0x11223344,
            Opcode = (uint)FuseOpcode.Init,
            Unique = 0x0102030405060708,
            Nodeid = 0xA1A2A3A4A5A6A7A8,
            Uid = 1000,
            Gid = 0xDEADBEEF,
            Pid = 0x00C0FFEE,
            TotalExtlen = 0x0506,
        };
        byte[] expected =
        [
            0x44, 0x33, 0x22, 0x11, // len
            0x1A, 0x00, 0x00, 0x00, // opcode 26
            0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, // unique
            0xA8, 0xA7, 0xA6, 0xA5, 0xA4, 0xA3, 0xA2, 0xA1, // nodeid
            0xE8, 0x03, 0x00, 0x00, // uid
            0xEF, 0xBE, 0xAD, 0xDE, // gid
            0xEE, 0xFF, 0xC0, 0x00, // pid
            0x06, 0x05, // total_extlen
            0x00, 0x00, // padding
        ];

        var buffer = new byte[FuseInHeader.Size];
        MemoryMarshal.Write(buffer, in header);
        Assert.Equal(expected, buffer);
        Assert.Equal(expected, BytesOf(header));

        FuseInHeader back = MemoryMarshal.Read<FuseInHeader>(expected);
        Assert.Equal(header, back);
    }

    [Fact]
    public void Out_header_golden_bytes()
    {
        var header = new FuseOutHeader { Len = 16, Error = -2, Unique = 0x8000000000000001 };
        byte[] expected =
        [
            0x10, 0x00, 0x00, 0x00,
            0xFE, 0xFF, 0xFF, 0xFF,
            0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80,
        ];
        Assert.Equal(expected, BytesOf(header));
    }

    // ---------------------------------------------------------------- enums and constants

    private static void AssertEnum<TEnum>(IReadOnlyDictionary<string, ulong> expected)
        where TEnum : struct, Enum
    {
        var actual = Enum.GetNames<TEnum>().ToDictionary(
            n => n, n => Convert.ToUInt64(Enum.Parse<TEnum>(n), System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(expected.OrderBy(p => p.Key, StringComparer.Ordinal), actual.OrderBy(p => p.Key, StringComparer.Ordinal));
    }

    [Fact]
    public void Opcodes_match_kernel()
    {
        Assert.Equal(typeof(uint), Enum.GetUnderlyingType(typeof(FuseOpcode)));
        AssertEnum<FuseOpcode>(new Dictionary<string, ulong>
        {
            ["Lookup"] = 1, ["Forget"] = 2, ["GetAttr"] = 3, ["SetAttr"] = 4, ["ReadLink"] = 5, ["Symlink"] = 6,
            ["MkNod"] = 8, ["MkDir"] = 9, ["Unlink"] = 10, ["RmDir"] = 11, ["Rename"] = 12, ["Link"] = 13,
            ["Open"] = 14, ["Read"] = 15, ["Write"] = 16, ["StatFs"] = 17, ["Release"] = 18, ["Fsync"] = 20,
            ["SetXattr"] = 21, ["GetXattr"] = 22, ["ListXattr"] = 23, ["RemoveXattr"] = 24, ["Flush"] = 25,
            ["Init"] = 26, ["OpenDir"] = 27, ["ReadDir"] = 28, ["ReleaseDir"] = 29, ["FsyncDir"] = 30,
            ["GetLk"] = 31, ["SetLk"] = 32, ["SetLkw"] = 33, ["Access"] = 34, ["Create"] = 35, ["Interrupt"] = 36,
            ["Bmap"] = 37, ["Destroy"] = 38, ["Ioctl"] = 39, ["Poll"] = 40, ["NotifyReply"] = 41,
            ["BatchForget"] = 42, ["Fallocate"] = 43, ["ReadDirPlus"] = 44, ["Rename2"] = 45, ["Lseek"] = 46,
            ["CopyFileRange"] = 47, ["SetupMapping"] = 48, ["RemoveMapping"] = 49, ["SyncFs"] = 50,
            ["TmpFile"] = 51, ["Statx"] = 52, ["CopyFileRange64"] = 53, ["CuseInit"] = 4096,
        });

        for (uint op = 1; op <= 53; op++)
        {
            Assert.Equal(op is not 7 and not 19, Enum.IsDefined((FuseOpcode)op));
        }
    }

    [Fact]
    public void Notify_codes_match_kernel()
    {
        Assert.Equal(typeof(int), Enum.GetUnderlyingType(typeof(FuseNotifyCode)));
        AssertEnum<FuseNotifyCode>(new Dictionary<string, ulong>
        {
            ["Poll"] = 1, ["InvalInode"] = 2, ["InvalEntry"] = 3, ["Store"] = 4, ["Retrieve"] = 5,
            ["Delete"] = 6, ["Resend"] = 7, ["IncEpoch"] = 8, ["Prune"] = 9,
        });
    }

    [Fact]
    public void Init_flags_match_kernel()
    {
        Assert.Equal(typeof(ulong), Enum.GetUnderlyingType(typeof(FuseInitFlags)));
        string[] byBit =
        [
            "AsyncRead", "PosixLocks", "FileOps", "AtomicOTrunc", "ExportSupport", "BigWrites", "DontMask",
            "SpliceWrite", "SpliceMove", "SpliceRead", "FlockLocks", "HasIoctlDir", "AutoInvalData",
            "DoReaddirplus", "ReaddirplusAuto", "AsyncDio", "WritebackCache", "NoOpenSupport", "ParallelDirops",
            "HandleKillpriv", "PosixAcl", "AbortError", "MaxPages", "CacheSymlinks", "NoOpendirSupport",
            "ExplicitInvalData", "MapAlignment", "Submounts", "HandleKillprivV2", "SetxattrExt", "InitExt",
            "InitReserved",
            // bits 32.. travel in flags2
            "SecurityCtx", "HasInodeDax", "CreateSuppGroup", "HasExpireOnly", "DirectIoAllowMmap", "Passthrough",
            "NoExportSupport", "HasResend", "AllowIdmap", "OverIoUring", "RequestTimeout",
        ];
        var expected = byBit.Select((name, bit) => (name, value: 1UL << bit)).ToDictionary(p => p.name, p => p.value);
        expected["None"] = 0;
        AssertEnum<FuseInitFlags>(expected);

        Assert.Equal(0x20000000UL, (ulong)FuseInitFlags.SetxattrExt);
        Assert.Equal(0x40000000UL, (ulong)FuseInitFlags.InitExt);
        Assert.Equal(1UL << 32, (ulong)FuseInitFlags.SecurityCtx);
        Assert.Equal(1UL << 42, (ulong)FuseInitFlags.RequestTimeout);
    }

    [Fact]
    public void Open_out_flags_match_kernel() => AssertEnum<FuseOpenOutFlags>(new Dictionary<string, ulong>
    {
        ["None"] = 0, ["DirectIo"] = 1, ["KeepCache"] = 2, ["NonSeekable"] = 4, ["CacheDir"] = 8, ["Stream"] = 16,
        ["NoFlush"] = 32, ["ParallelDirectWrites"] = 64, ["Passthrough"] = 128,
    });

    [Fact]
    public void Setattr_valid_bits_match_kernel() => AssertEnum<FuseSetAttrValid>(new Dictionary<string, ulong>
    {
        ["None"] = 0, ["Mode"] = 1 << 0, ["Uid"] = 1 << 1, ["Gid"] = 1 << 2, ["Size"] = 1 << 3, ["Atime"] = 1 << 4,
        ["Mtime"] = 1 << 5, ["Fh"] = 1 << 6, ["AtimeNow"] = 1 << 7, ["MtimeNow"] = 1 << 8, ["LockOwner"] = 1 << 9,
        ["Ctime"] = 1 << 10, ["KillSuidGid"] = 1 << 11,
    });

    [Fact]
    public void Small_flag_enums_match_kernel()
    {
        AssertEnum<FuseAttrFlags>(new Dictionary<string, ulong> { ["None"] = 0, ["Submount"] = 1, ["Dax"] = 2 });
        AssertEnum<FuseRenameFlags>(new Dictionary<string, ulong> { ["None"] = 0, ["NoReplace"] = 1, ["Exchange"] = 2, ["Whiteout"] = 4 });
        AssertEnum<FuseFsyncFlags>(new Dictionary<string, ulong> { ["None"] = 0, ["FdataSync"] = 1 });
        AssertEnum<FuseLockFlags>(new Dictionary<string, ulong> { ["None"] = 0, ["Flock"] = 1 });
        AssertEnum<FuseReleaseFlags>(new Dictionary<string, ulong> { ["None"] = 0, ["Flush"] = 1, ["FlockUnlock"] = 2 });
        AssertEnum<FuseGetAttrFlags>(new Dictionary<string, ulong> { ["None"] = 0, ["Fh"] = 1 });
        AssertEnum<FuseWriteFlags>(new Dictionary<string, ulong> { ["None"] = 0, ["Cache"] = 1, ["LockOwner"] = 2, ["KillSuidGid"] = 4 });
        AssertEnum<FuseReadFlags>(new Dictionary<string, ulong> { ["None"] = 0, ["LockOwner"] = 2 });
        AssertEnum<FuseIoctlFlags>(new Dictionary<string, ulong>
        {
            ["None"] = 0, ["Compat"] = 1, ["Unrestricted"] = 2, ["Retry"] = 4, ["Bit32"] = 8, ["Dir"] = 16, ["CompatX32"] = 32,
        });
        AssertEnum<FusePollFlags>(new Dictionary<string, ulong> { ["None"] = 0, ["ScheduleNotify"] = 1 });
        AssertEnum<FuseOpenInFlags>(new Dictionary<string, ulong> { ["None"] = 0, ["KillSuidGid"] = 1 });
        AssertEnum<FuseSetXattrFlags>(new Dictionary<string, ulong> { ["None"] = 0, ["AclKillSgid"] = 1 });
        AssertEnum<FuseNotifyInvalEntryFlags>(new Dictionary<string, ulong> { ["None"] = 0, ["ExpireOnly"] = 1 });
        AssertEnum<FuseSetupMappingFlags>(new Dictionary<string, ulong> { ["None"] = 0, ["Write"] = 1, ["Read"] = 2 });
        Assert.Equal(typeof(ulong), Enum.GetUnderlyingType(typeof(FuseSetupMappingFlags)));

        Type[] flagEnums =
        [
            typeof(FuseInitFlags), typeof(FuseOpenOutFlags), typeof(FuseSetAttrValid), typeof(FuseAttrFlags),
            typeof(FuseRenameFlags), typeof(FuseFsyncFlags), typeof(FuseLockFlags), typeof(FuseReleaseFlags),
            typeof(FuseGetAttrFlags), typeof(FuseWriteFlags), typeof(FuseReadFlags), typeof(FuseIoctlFlags),
            typeof(FusePollFlags), typeof(FuseOpenInFlags), typeof(FuseSetXattrFlags),
            typeof(FuseNotifyInvalEntryFlags), typeof(FuseSetupMappingFlags),
        ];
        Assert.All(flagEnums, t => Assert.True(t.IsDefined(typeof(FlagsAttribute), false), t.Name));
    }

    [Fact]
    public void Dirent_types_and_extension_types_match_kernel()
    {
        AssertEnum<FuseDirentType>(new Dictionary<string, ulong>
        {
            ["Unknown"] = 0, ["Fifo"] = 1, ["Chr"] = 2, ["Dir"] = 4, ["Blk"] = 6, ["Reg"] = 8, ["Lnk"] = 10, ["Sock"] = 12,
        });
        AssertEnum<FuseExtensionType>(new Dictionary<string, ulong> { ["Groups"] = 32 });
    }

    [Fact]
    public void Constants_match_kernel()
    {
        Assert.Equal(7u, FuseConstants.KernelVersion);
        Assert.Equal(45u, FuseConstants.KernelMinorVersion);
        Assert.Equal(1UL, FuseConstants.RootId);
        Assert.Equal(8192, FuseConstants.MinReadBuffer);
        Assert.Equal(120, FuseConstants.CompatEntryOutSize);
        Assert.Equal(96, FuseConstants.CompatAttrOutSize);
        Assert.Equal(8, FuseConstants.CompatMknodInSize);
        Assert.Equal(24, FuseConstants.CompatWriteInSize);
        Assert.Equal(48, FuseConstants.CompatStatfsSize);
        Assert.Equal(8, FuseConstants.CompatSetxattrInSize);
        Assert.Equal(8, FuseConstants.CompatInitOutSize);
        Assert.Equal(24, FuseConstants.Compat22InitOutSize);
        Assert.Equal(16, FuseConstants.InitInSizeBefore736);
        Assert.Equal(256, FuseConstants.IoctlMaxIov);
        Assert.Equal(31u, FuseConstants.MaxNrSecctx);
        Assert.Equal(0x8000000000000000UL, FuseConstants.UniqueResend);
        Assert.Equal(0xFFFFFFFFu, FuseConstants.InvalidUidGid);
        Assert.Equal(ulong.MaxValue, FuseConstants.SetupMappingFhNone);
        Assert.Equal(16, FuseConstants.RemoveMappingEntrySize);
        Assert.Equal(256, FuseConstants.RemoveMappingMaxEntries);
        Assert.Equal(24, FuseConstants.DirentNameOffset);
        Assert.Equal(152, FuseConstants.DirentPlusNameOffset);
        Assert.Equal(4096, FuseConstants.CuseInitInfoMax);
        Assert.Equal(1u, FuseConstants.CuseUnrestrictedIoctl);

        // The compat sizes are prefixes of the current structs.
        Assert.Equal(FuseConstants.CompatEntryOutSize, FuseEntryOut.Size - 8);
        Assert.Equal(FuseConstants.CompatAttrOutSize, FuseAttrOut.Size - 8);
        Assert.Equal(FuseConstants.CompatWriteInSize, (int)Marshal.OffsetOf<FuseWriteIn>("LockOwner"));
        Assert.Equal(FuseConstants.CompatStatfsSize, (int)Marshal.OffsetOf<FuseKstatfs>("Frsize"));
        Assert.Equal(FuseConstants.CompatMknodInSize, (int)Marshal.OffsetOf<FuseMknodIn>("Umask"));
        Assert.Equal(FuseConstants.CompatSetxattrInSize, (int)Marshal.OffsetOf<FuseSetxattrIn>("SetxattrFlags"));
        Assert.Equal(FuseConstants.CompatInitOutSize, (int)Marshal.OffsetOf<FuseInitOut>("MaxReadahead"));
        Assert.Equal(FuseConstants.Compat22InitOutSize, (int)Marshal.OffsetOf<FuseInitOut>("TimeGran"));
        Assert.Equal(FuseConstants.InitInSizeBefore736, (int)Marshal.OffsetOf<FuseInitIn>("Flags2"));
        Assert.Equal(FuseNotifyRetrieveIn.StructSize, FuseWriteIn.StructSize);
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(1, 8)]
    [InlineData(7, 8)]
    [InlineData(8, 8)]
    [InlineData(9, 16)]
    [InlineData(24 + 5, 32)]
    [InlineData(152 + 1, 160)]
    public void DirentAlign_rounds_up_to_8(int size, int expected)
        => Assert.Equal(expected, FuseConstants.DirentAlign(size));
}
