using System.Runtime.InteropServices;

namespace VirtioFs.Transport.VhostUser;

/*
 * vhost-user wire format (QEMU docs/interop/vhost-user.rst, "Message Specification"), little-endian:
 *
 *   header   { u32 request; u32 flags; u32 size; }        flags: bits 0-1 version (1), bit 2 REPLY, bit 3 NEED_REPLY
 *   payload  size bytes, one of:
 *     u64                                                  features, protocol features, queue num, ack, mem slots
 *     vring state   { u32 index; u32 num; }
 *     vring address { u32 index; u32 flags; u64 descriptor; u64 used; u64 available; u64 log; }
 *     memory table  { u32 nregions; u32 padding; region[nregions]; }   region = { u64 gpa; u64 size; u64 uaddr; u64 mmap_offset; }
 *     single region { u64 padding; region; }
 *     vring fd      u64: bits 0-7 index, bit 8 "no fd" (polling)
 *     config        { u32 offset; u32 size; u32 flags; u8 payload[size]; }
 *   file descriptors travel as SCM_RIGHTS ancillary data on the message's first byte.
 */

/// <summary>Front-end (VMM) requests, <c>VHOST_USER_*</c>.</summary>
internal enum VhostUserRequest : uint
{
    GetFeatures = 1,
    SetFeatures = 2,
    SetOwner = 3,
    ResetOwner = 4,
    SetMemTable = 5,
    SetLogBase = 6,
    SetLogFd = 7,
    SetVringNum = 8,
    SetVringAddr = 9,
    SetVringBase = 10,
    GetVringBase = 11,
    SetVringKick = 12,
    SetVringCall = 13,
    SetVringErr = 14,
    GetProtocolFeatures = 15,
    SetProtocolFeatures = 16,
    GetQueueNum = 17,
    SetVringEnable = 18,
    SendRarp = 19,
    NetSetMtu = 20,
    SetBackendReqFd = 21,
    IotlbMsg = 22,
    SetVringEndian = 23,
    GetConfig = 24,
    SetConfig = 25,
    CreateCryptoSession = 26,
    CloseCryptoSession = 27,
    PostcopyAdvise = 28,
    PostcopyListen = 29,
    PostcopyEnd = 30,
    GetInflightFd = 31,
    SetInflightFd = 32,
    GpuSetSocket = 33,
    ResetDevice = 34,
    VringKick = 35,
    GetMaxMemSlots = 36,
    AddMemReg = 37,
    RemMemReg = 38,
    SetStatus = 39,
    GetStatus = 40,
    GetSharedObject = 41,
    SetDeviceStateFd = 42,
    CheckDeviceState = 43,
    GetShmemConfig = 44,
}

/// <summary>Back-end requests (on the channel of <c>SET_BACKEND_REQ_FD</c>), <c>VHOST_USER_BACKEND_*</c>.</summary>
internal enum VhostUserBackendRequest : uint
{
    ShmemMap = 9,
    ShmemUnmap = 10,
}

/// <summary>Constants of the vhost-user protocol and of the virtio features a virtio-fs backend negotiates through it.</summary>
internal static class VhostUserProtocol
{
    public const uint Version = 1;
    public const uint FlagVersionMask = 0x3;
    public const uint FlagReply = 1 << 2;
    public const uint FlagNeedReply = 1 << 3;

    public const int HeaderSize = 12;

    /// <summary>Our bound on a payload: the largest legal one is a memory table of 8 regions (264 bytes) or a 256-byte config.</summary>
    public const int MaxPayloadSize = 4096;

    /// <summary><c>VHOST_MEMORY_BASELINE_NREGIONS</c>: regions in one <c>SET_MEM_TABLE</c>, and descriptors in one message.</summary>
    public const int MaxMessageFds = 8;

    public const int MemoryRegionSize = 32;

    /// <summary>Bits of a vring-fd payload: the index, and "no descriptor attached".</summary>
    public const ulong VringIndexMask = 0xff;
    public const ulong VringNoFd = 1 << 8;


    /// <summary><c>VHOST_USER_MAX_CONFIG_SIZE</c>.</summary>
    public const int MaxConfigSize = 256;

    // Virtio feature bits (GET/SET_FEATURES).
    public const ulong FeatureIndirectDescriptors = 1ul << VirtqLayout.FeatureIndirectDescriptors;
    public const ulong FeatureEventIndex = 1ul << VirtqLayout.FeatureEventIndex;
    public const ulong FeatureProtocolFeatures = 1ul << 30;
    public const ulong FeatureVersion1 = 1ul << 32;

    // Protocol feature bits (GET/SET_PROTOCOL_FEATURES).
    public const ulong ProtocolMq = 1ul << 0;
    public const ulong ProtocolReplyAck = 1ul << 3;
    public const ulong ProtocolBackendReq = 1ul << 5;
    public const ulong ProtocolConfig = 1ul << 9;
    public const ulong ProtocolBackendSendFd = 1ul << 10;
    public const ulong ProtocolResetDevice = 1ul << 13;
    public const ulong ProtocolConfigureMemSlots = 1ul << 15;
    public const ulong ProtocolShmem = 1ul << 20;

    /// <summary><c>VHOST_USER_FLAG_MAP_RW</c> in a <c>SHMEM_MAP</c>: a writable mapping (read-only otherwise).</summary>
    public const ulong ShmemMapWritable = 1;

    /// <summary>The reply of <c>GET_SHMEM_CONFIG</c>: <c>{ u32 nregions; u32 padding; u64 memory_sizes[8]; }</c>.</summary>
    public const int ShmemConfigSize = 8 + (8 * MaxMessageFds);

    /// <summary>The features a virtio-fs device offers.</summary>
    public const ulong OfferedFeatures = FeatureVersion1 | FeatureIndirectDescriptors | FeatureEventIndex | FeatureProtocolFeatures;

    /// <summary>The protocol features we offer.</summary>
    public const ulong OfferedProtocolFeatures =
        ProtocolMq | ProtocolReplyAck | ProtocolBackendReq | ProtocolBackendSendFd | ProtocolConfig | ProtocolConfigureMemSlots | ProtocolResetDevice;

    /// <summary>virtio-fs config space: <c>struct virtio_fs_config { u8 tag[36]; le32 num_request_queues; }</c>.</summary>
    public const int FsConfigSize = 40;
    public const int FsTagSize = 36;

    /// <summary>The payload size each request must have, or -1 when it varies (checked by its handler).</summary>
    public static int PayloadSize(VhostUserRequest request) => request switch
    {
        VhostUserRequest.GetFeatures or VhostUserRequest.SetOwner or VhostUserRequest.ResetOwner or VhostUserRequest.GetProtocolFeatures
            or VhostUserRequest.GetQueueNum or VhostUserRequest.ResetDevice or VhostUserRequest.GetMaxMemSlots or VhostUserRequest.SetBackendReqFd
            or VhostUserRequest.GetShmemConfig => 0,
        VhostUserRequest.SetFeatures or VhostUserRequest.SetProtocolFeatures or VhostUserRequest.SetVringKick
            or VhostUserRequest.SetVringCall or VhostUserRequest.SetVringErr => sizeof(ulong),
        VhostUserRequest.SetVringNum or VhostUserRequest.SetVringBase or VhostUserRequest.GetVringBase or VhostUserRequest.SetVringEnable => VringState.Size,
        VhostUserRequest.SetVringAddr => VringAddress.Size,
        VhostUserRequest.AddMemReg or VhostUserRequest.RemMemReg => 8 + MemoryRegionSize,
        _ => -1,
    };

    /// <summary>Whether the request has a reply of its own (so <c>NEED_REPLY</c> adds no ack).</summary>
    public static bool HasReply(VhostUserRequest request) => request is VhostUserRequest.GetFeatures or VhostUserRequest.GetProtocolFeatures
        or VhostUserRequest.GetQueueNum or VhostUserRequest.GetVringBase or VhostUserRequest.GetConfig or VhostUserRequest.GetMaxMemSlots
        or VhostUserRequest.GetShmemConfig;
}

/// <summary>The message header.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct VhostUserHeader
{
    public uint Request;
    public uint Flags;
    public uint Size;
}

/// <summary><c>struct vhost_vring_state</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct VringState
{
    public const int Size = 8;

    public uint Index;
    public uint Num;
}

/// <summary><c>struct vhost_vring_addr</c> (vhost-user order: descriptor, used, available, log).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct VringAddress
{
    public const int Size = 40;

    public uint Index;
    public uint Flags;
    public ulong Descriptor;
    public ulong Used;
    public ulong Available;
    public ulong Log;
}

/// <summary>A memory region description.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct VhostUserMemoryRegion
{
    public ulong GuestPhysicalAddress;
    public ulong Size;
    public ulong UserspaceAddress;
    public ulong MmapOffset;
}

/// <summary><c>struct VhostUserMMap</c>, the payload of <c>SHMEM_MAP</c>/<c>SHMEM_UNMAP</c>: <c>{ u8 shmid; u8 padding[7]; u64 fd_offset; u64 shm_offset; u64 len; u64 flags; }</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct VhostUserShmemMapping
{
    public const int Size = 40;

    public ulong ShmId;
    public ulong FileOffset;
    public ulong ShmOffset;
    public ulong Length;
    public ulong Flags;
}

/// <summary>The head of a config payload: <c>{ u32 offset; u32 size; u32 flags; }</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct VhostUserConfigHeader
{
    public const int Size = 12;

    public uint Offset;
    public uint Length;
    public uint Flags;
}
