using System.Buffers.Binary;
using System.Diagnostics;
using Xunit.Abstractions;

namespace VirtioFs.Protocol.Tests.Session;

/// <summary>
/// Mutation fuzzing of the request path: a corpus of valid requests (one or more per opcode) is mutated with a fixed
/// seed (byte flips, truncation, extension, header field overwrites, NUL removal) and fed to one session through
/// <see cref="FuseSession.HandleRequestAsync"/>. Nothing may escape or hang, and every reply must be well formed.
/// </summary>
public class MutationTests(ITestOutputHelper output)
{
    // Fixed by default so that failures reproduce; VIRTIOFS_FUZZ_SEED / VIRTIOFS_FUZZ_COUNT explore further.
    private static readonly int Seed = int.TryParse(Environment.GetEnvironmentVariable("VIRTIOFS_FUZZ_SEED"), out int seed) ? seed : 20261121;
    private static readonly int Mutations = int.TryParse(Environment.GetEnvironmentVariable("VIRTIOFS_FUZZ_COUNT"), out int count) ? count : 200_000;
    private const int ReplyRoom = 16 * 1024;

    [Fact]
    public async Task Mutated_requests_never_escape_hang_or_get_malformed_replies()
    {
        output.WriteLine($"seed {Seed}, {Mutations} mutations");
        var random = new Random(Seed);
        byte[][] corpus = BuildCorpus();
        var fs = new MutationFileSystem();
        FuseSession session = await StartAsync(fs);
        byte[] reply = new byte[ReplyRoom];
        var stats = new Dictionary<string, int>();
        int sessions = 1;
        var watch = Stopwatch.StartNew();

        for (int i = 0; i < Mutations; i++)
        {
            byte[] request = Mutate(corpus[random.Next(corpus.Length)], random);
            int room = random.Next(10) == 0 ? random.Next(16, 600) : ReplyRoom;
            int length;
            try
            {
                ValueTask<int> pending = session.HandleRequestAsync(request, reply.AsMemory(0, room));
                length = pending.IsCompleted ? await pending : await pending.AsTask().WaitAsync(SessionHarness.Timeout);
            }
            catch (Exception ex)
            {
                Assert.Fail($"mutation {i} (seed {Seed}): {ex.GetType().Name}: {ex.Message}\nrequest {Convert.ToHexString(request)}\n{ex}");
                return;
            }

            string? problem = CheckReply(request, reply, room, length);
            Assert.True(problem is null, $"mutation {i} (seed {Seed}): {problem}\nrequest {Convert.ToHexString(request)}\nreply {Convert.ToHexString(reply, 0, Math.Min(length, 64))}");
            string outcome = length == 0 ? "no reply" : BinaryPrimitives.ReadInt32LittleEndian(reply.AsSpan(4)) switch
            {
                0 => "success",
                int error => ((Errno)(-error)).ToString(),
            };
            stats[outcome] = stats.GetValueOrDefault(outcome) + 1;

            if (session.IsDestroyed)
            {
                session = await StartAsync(fs);
                sessions++;
            }
        }

        watch.Stop();
        output.WriteLine($"{Mutations} mutations in {watch.Elapsed.TotalSeconds:F2} s over {sessions} session(s)");
        foreach ((string outcome, int count) in stats.OrderByDescending(p => p.Value))
        {
            output.WriteLine($"  {outcome}: {count}");
        }

        // The mutations must reach the filesystem, not only the validators.
        Assert.True(stats.GetValueOrDefault("success") > Mutations / 20, $"only {stats.GetValueOrDefault("success")} successes");
        Assert.True(stats.GetValueOrDefault("EINVAL") > 0);
        Assert.True(stats.GetValueOrDefault("EIO") > 0);
        Assert.True(stats.GetValueOrDefault("ENOSYS") > 0);
    }

    [Fact]
    public async Task Every_corpus_request_succeeds_unmutated()
    {
        var fs = new MutationFileSystem();
        FuseSession session = await StartAsync(fs);
        byte[] reply = new byte[ReplyRoom];
        foreach (byte[] request in BuildCorpus())
        {
            uint opcode = BinaryPrimitives.ReadUInt32LittleEndian(request.AsSpan(4));
            int length = await session.HandleRequestAsync(request, reply).AsTask().WaitAsync(SessionHarness.Timeout);

            Assert.Null(CheckReply(request, reply, reply.Length, length));
            if (opcode is (uint)FuseOpcode.Forget or (uint)FuseOpcode.BatchForget or (uint)FuseOpcode.NotifyReply or (uint)FuseOpcode.Interrupt)
            {
                // Nothing is in flight for INTERRUPT: it is remembered for its request, and not answered.
                Assert.Equal(0, length);
            }
            else if (opcode == (uint)FuseOpcode.Init)
            {
                Assert.Equal(-(int)Errno.EIO, BinaryPrimitives.ReadInt32LittleEndian(reply.AsSpan(4)));
            }
            else
            {
                Assert.True(BinaryPrimitives.ReadInt32LittleEndian(reply.AsSpan(4)) == 0, $"opcode {(FuseOpcode)opcode} failed");
            }
        }

        Assert.Equal(3, fs.ForgetCount);
    }

    /// <summary>Returns why a reply is malformed, or null.</summary>
    private static string? CheckReply(byte[] request, byte[] reply, int room, int length)
    {
        if (length == 0)
        {
            // Dropped: only a message too short for a reply header, or a request that is never answered.
            if (request.Length < 16)
            {
                return null;
            }

            uint opcode = BinaryPrimitives.ReadUInt32LittleEndian(request.AsSpan(4));
            // INTERRUPT is answered only when malformed: a well-formed one cancels or is remembered, silently.
            return request.Length >= 40 && opcode is (uint)FuseOpcode.Forget or (uint)FuseOpcode.BatchForget or (uint)FuseOpcode.NotifyReply or (uint)FuseOpcode.Interrupt
                ? null
                : $"no reply to a {request.Length}-byte request with opcode {opcode}";
        }

        if (length < 16 || length > room)
        {
            return $"reply length {length} outside [16, {room}]";
        }

        uint len = BinaryPrimitives.ReadUInt32LittleEndian(reply);
        int error = BinaryPrimitives.ReadInt32LittleEndian(reply.AsSpan(4));
        ulong unique = BinaryPrimitives.ReadUInt64LittleEndian(reply.AsSpan(8));
        if (len != (uint)length)
        {
            return $"header len {len} but {length} bytes returned";
        }

        if (error is < -511 or > 0)
        {
            return $"error {error} outside [-511, 0]";
        }

        if (request.Length >= 16 && unique != BinaryPrimitives.ReadUInt64LittleEndian(request.AsSpan(8)))
        {
            return $"unique {unique:x} does not match the request's";
        }

        if (error != 0 && length != 16)
        {
            return $"error reply of {length} bytes";
        }

        return null;
    }

    private static async Task<FuseSession> StartAsync(FuseFileSystem fs)
    {
        var session = new FuseSession(fs);
        byte[] reply = new byte[ReplyRoom];
        int length = await session.HandleRequestAsync(RequestBuilder.Init(45, KernelFlags.For(45)), reply).AsTask().WaitAsync(SessionHarness.Timeout);
        Assert.Equal(80, length);
        Assert.NotNull(session.Connection);
        return session;
    }

    // ------------------------------------------------------------------ mutations

    private static byte[] Mutate(byte[] original, Random random)
    {
        byte[] m = original;
        bool lenOverwritten = false;
        int operations = random.Next(1, 4);
        for (int k = 0; k < operations; k++)
        {
            switch (random.Next(9))
            {
                case 0: // byte flips
                    m = (byte[])m.Clone();
                    for (int n = random.Next(1, 5); n > 0 && m.Length > 0; n--)
                    {
                        m[random.Next(m.Length)] ^= (byte)random.Next(1, 256);
                    }

                    break;
                case 1: // truncation
                    m = m.AsSpan(0, random.Next(m.Length + 1)).ToArray();
                    break;
                case 2: // extension with random bytes
                {
                    byte[] tail = new byte[random.Next(1, 65)];
                    random.NextBytes(tail);
                    m = [.. m, .. tail];
                    break;
                }

                case 3: // header len
                    if (m.Length >= 4)
                    {
                        m = (byte[])m.Clone();
                        uint l = (uint)m.Length;
                        uint[] values = [0, 1, l - 1, l + 1, uint.MaxValue, 16, 40, (uint)random.Next(), l + (uint)random.Next(1, 4096)];
                        BinaryPrimitives.WriteUInt32LittleEndian(m, values[random.Next(values.Length)]);
                        lenOverwritten = true;
                    }

                    break;
                case 4: // opcode
                    if (m.Length >= 8)
                    {
                        m = (byte[])m.Clone();
                        uint[] values = [0, 1, 7, 19, 26, 54, 4096, uint.MaxValue, (uint)random.Next(0, 60), (uint)random.Next(1, 54), (uint)random.Next() * 2];
                        BinaryPrimitives.WriteUInt32LittleEndian(m.AsSpan(4), values[random.Next(values.Length)]);
                    }

                    break;
                case 5: // total_extlen
                    if (m.Length >= 38)
                    {
                        m = (byte[])m.Clone();
                        ushort fit = (ushort)Math.Max(0, (m.Length - 40) / 8);
                        ushort[] values = [0, 1, 2, 3, ushort.MaxValue, fit, (ushort)(fit + 1), (ushort)Math.Max(0, fit - 1), (ushort)random.Next(0, 65536)];
                        BinaryPrimitives.WriteUInt16LittleEndian(m.AsSpan(36), values[random.Next(values.Length)]);
                    }

                    break;
                case 6: // NUL removal
                    if (m.Length > 40)
                    {
                        m = (byte[])m.Clone();
                        bool all = random.Next(2) == 0;
                        int start = 40 + random.Next(m.Length - 40);
                        for (int p = start; p < m.Length; p++)
                        {
                            if (m[p] == 0)
                            {
                                m[p] = (byte)'A';
                                if (!all)
                                {
                                    break;
                                }
                            }
                        }
                    }

                    break;
                case 7: // a run of random bytes in the body
                    if (m.Length > 40)
                    {
                        m = (byte[])m.Clone();
                        int start = 40 + random.Next(m.Length - 40);
                        random.NextBytes(m.AsSpan(start, Math.Min(m.Length - start, random.Next(1, 17))));
                    }

                    break;
                default: // a 32-bit field of the arguments set to an edge value (sizes, counts, offsets)
                    if (m.Length >= 44)
                    {
                        m = (byte[])m.Clone();
                        int at = 40 + (4 * random.Next((m.Length - 40) / 4));
                        uint[] values = [0, 1, uint.MaxValue, 0x80000000, 4095, 4096, 4097, 256, 257, (uint)random.Next()];
                        BinaryPrimitives.WriteUInt32LittleEndian(m.AsSpan(at), values[random.Next(values.Length)]);
                    }

                    break;
            }
        }

        // Most of the time keep len consistent so that mutations get past the header check.
        if (!lenOverwritten && m.Length >= 4 && random.Next(4) != 0)
        {
            m = m == original ? (byte[])m.Clone() : m;
            BinaryPrimitives.WriteUInt32LittleEndian(m, (uint)m.Length);
        }

        return m;
    }

    // ------------------------------------------------------------------ corpus

    private static byte[][] BuildCorpus()
    {
        ulong unique = 0x100;
        RequestBuilder R(FuseOpcode opcode, ulong nodeId = 1) => new(opcode, unique += 2, nodeId);

        return
        [
            R(FuseOpcode.Lookup).Name("file.txt").Build(),
            R(FuseOpcode.Forget, 5).Args(new FuseForgetIn { Nlookup = 1 }).Build(),
            R(FuseOpcode.GetAttr, 2).Args(new FuseGetattrIn { GetattrFlags = 1, Fh = 3 }).Build(),
            R(FuseOpcode.SetAttr, 2).Args(new FuseSetattrIn { Valid = (uint)(FuseSetAttrValid.Mode | FuseSetAttrValid.Size), Size = 100, Mode = 0x81ED }).Build(),
            R(FuseOpcode.ReadLink, 3).Build(),
            R(FuseOpcode.Symlink).Name("link").Name("../target/file").Build(),
            R(FuseOpcode.MkNod).Args(new FuseMknodIn { Mode = 0x11A4, Rdev = 0, Umask = 0x12 }).Name("fifo").Build(),
            R(FuseOpcode.MkDir).Args(new FuseMkdirIn { Mode = 0x1ED, Umask = 0x12 }).Name("dir").Build(),
            R(FuseOpcode.MkDir).Args(new FuseMkdirIn { Mode = 0x1ED, Umask = 0x12 }).Name("dir2").SupplementaryGroups(10, 20, 30).Build(),
            R(FuseOpcode.Unlink).Name("old").Build(),
            R(FuseOpcode.RmDir).Name("olddir").Build(),
            R(FuseOpcode.Rename).Args(new FuseRenameIn { Newdir = 4 }).Name("a").Name("b").Build(),
            R(FuseOpcode.Rename2).Args(new FuseRename2In { Newdir = 4, Flags = 1 }).Name("from").Name("to").Build(),
            R(FuseOpcode.Link, 4).Args(new FuseLinkIn { Oldnodeid = 2 }).Name("hard").Build(),
            R(FuseOpcode.Open, 2).Args(new FuseOpenIn { Flags = 2 }).Build(),
            R(FuseOpcode.Read, 2).Args(new FuseReadIn { Fh = 1, Offset = 0, Size = 4096 }).Build(),
            R(FuseOpcode.Write, 2).Args(new FuseWriteIn { Fh = 1, Offset = 10, Size = 32 }).Zeros(32).Build(),
            R(FuseOpcode.StatFs).Build(),
            R(FuseOpcode.Release, 2).Args(new FuseReleaseIn { Fh = 1, Flags = 2 }).Build(),
            R(FuseOpcode.Fsync, 2).Args(new FuseFsyncIn { Fh = 1, FsyncFlags = 1 }).Build(),
            R(FuseOpcode.SetXattr, 2).Args(new FuseSetxattrIn { Size = 5, Flags = 0 }).Name("user.key").Bytes("value"u8).Build(),
            R(FuseOpcode.GetXattr, 2).Args(new FuseGetxattrIn { Size = 0 }).Name("user.key").Build(),
            R(FuseOpcode.GetXattr, 2).Args(new FuseGetxattrIn { Size = 64 }).Name("user.key").Build(),
            R(FuseOpcode.ListXattr, 2).Args(new FuseGetxattrIn { Size = 256 }).Build(),
            R(FuseOpcode.RemoveXattr, 2).Name("user.key").Build(),
            R(FuseOpcode.Flush, 2).Args(new FuseFlushIn { Fh = 1, LockOwner = 9 }).Build(),
            R(FuseOpcode.OpenDir).Args(new FuseOpenIn { Flags = 0 }).Build(),
            R(FuseOpcode.ReadDir).Args(new FuseReadIn { Fh = 1, Offset = 0, Size = 4096 }).Build(),
            R(FuseOpcode.ReadDirPlus).Args(new FuseReadIn { Fh = 1, Offset = 2, Size = 4096 }).Build(),
            R(FuseOpcode.ReleaseDir).Args(new FuseReleaseIn { Fh = 1 }).Build(),
            R(FuseOpcode.FsyncDir).Args(new FuseFsyncIn { Fh = 1 }).Build(),
            R(FuseOpcode.GetLk, 2).Args(new FuseLkIn { Fh = 1, Owner = 2, Lk = new FuseFileLock { Start = 0, End = 100, Type = 1, Pid = 5 } }).Build(),
            R(FuseOpcode.SetLk, 2).Args(new FuseLkIn { Fh = 1, Owner = 2, Lk = new FuseFileLock { Start = 0, End = 100, Type = 1, Pid = 5 } }).Build(),
            R(FuseOpcode.SetLkw, 2).Args(new FuseLkIn { Fh = 1, Owner = 2, Lk = new FuseFileLock { Type = 2 } }).Build(),
            R(FuseOpcode.Access, 2).Args(new FuseAccessIn { Mask = 4 }).Build(),
            R(FuseOpcode.Create).Args(new FuseCreateIn { Flags = 0x42, Mode = 0x81A4, Umask = 0x12 }).Name("new.txt").Build(),
            R(FuseOpcode.Interrupt).Args(new FuseInterruptIn { Unique = 0x100 }).Build(),
            R(FuseOpcode.Bmap, 2).Args(new FuseBmapIn { Block = 5, Blocksize = 4096 }).Build(),
            R(FuseOpcode.Ioctl, 2).Args(new FuseIoctlIn { Fh = 1, Cmd = 0x80045401, InSize = 4, OutSize = 8 }).U32(0xDEADBEEF).Build(),
            R(FuseOpcode.Poll, 2).Args(new FusePollIn { Fh = 1, Kh = 7, Flags = 1, Events = 1 }).Build(),
            R(FuseOpcode.NotifyReply, 2).Zeros(8).U64(0).U32(4).Zeros(12).Bytes("data"u8).Build(),
            R(FuseOpcode.BatchForget).U32(2).U32(0).U64(5).U64(1).U64(6).U64(2).Build(),
            R(FuseOpcode.Fallocate, 2).Args(new FuseFallocateIn { Fh = 1, Offset = 0, Length = 4096, Mode = 0 }).Build(),
            R(FuseOpcode.Lseek, 2).Args(new FuseLseekIn { Fh = 1, Offset = 100, Whence = 3 }).Build(),
            R(FuseOpcode.CopyFileRange, 2).Args(new FuseCopyFileRangeIn { FhIn = 1, OffIn = 0, NodeidOut = 3, FhOut = 2, OffOut = 0, Len = 4096 }).Build(),
            R(FuseOpcode.CopyFileRange64, 2).Args(new FuseCopyFileRangeIn { FhIn = 1, NodeidOut = 3, FhOut = 2, Len = 1UL << 33 }).Build(),
            R(FuseOpcode.SetupMapping, 2).Args(new FuseSetupmappingIn { Fh = 1, Foffset = 0, Len = 0x200000, Flags = 1, Moffset = 0x200000 }).Build(),
            R(FuseOpcode.RemoveMapping).U32(2).U64(0).U64(0x200000).U64(0x400000).U64(0x200000).Build(),
            R(FuseOpcode.SyncFs).Args(new FuseSyncfsIn()).Build(),
            R(FuseOpcode.TmpFile).Args(new FuseCreateIn { Flags = 0x410002, Mode = 0x81A4, Umask = 0x12 }).Build(),
            R(FuseOpcode.Statx, 2).Args(new FuseStatxIn { SxMask = 0xFFF }).Build(),
            RequestBuilder.Init(45, KernelFlags.For(45), unique: unique += 2),
        ];
    }

    private sealed class MutationFileSystem : PlausibleFileSystem
    {
        public int ForgetCount { get; private set; }

        public override void Forget(ulong nodeId, ulong lookupCount) => ForgetCount++;

        public override ValueTask<FuseResult<FuseEntryOut>> MkDirAsync(FuseRequestContext context, FuseMkdirIn args, ReadOnlyMemory<byte> name)
            => new(Entry(5));
    }
}
