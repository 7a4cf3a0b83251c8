using System.Buffers.Binary;

namespace VirtioFs.Guest.Tests;

/// <summary>
/// The guest's checksum and data pattern (scripts/guest/vfs-tool.c), recomputed on the host. vfs64:
/// h = 0xcbf29ce484222325; for each little-endian 64-bit word w, the last one zero-padded:
/// h = (h ^ w) * 0x100000001b3, h ^= h >> 32; finally the same step with w = the length in bytes.
/// The pattern (<c>vfs-tool write PATH MIB SEED</c>) is xorshift64 (13, 7, 17) from SEED, one word at a time.
/// </summary>
internal static class Vfs64
{
    private const ulong Offset = 0xcbf29ce484222325;
    private const ulong Prime = 0x100000001b3;

    /// <summary>The checksum of a host file, as the guest prints it (16 hex digits).</summary>
    public static string OfFile(string path)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0);
        byte[] buffer = new byte[(1 << 20) + 8];
        ulong h = Offset, total = 0;
        int have = 0; // bytes not yet hashed, fewer than 8 between reads
        int read;
        while ((read = file.Read(buffer, have, 1 << 20)) > 0)
        {
            total += (ulong)read;
            have += read;
            int words = have / 8;
            for (int i = 0; i < words; i++)
            {
                h = Mix(h, BinaryPrimitives.ReadUInt64LittleEndian(buffer.AsSpan(i * 8)));
            }

            buffer.AsSpan(words * 8, have - (words * 8)).CopyTo(buffer);
            have -= words * 8;
        }

        if (have > 0)
        {
            Span<byte> last = stackalloc byte[8];
            last.Clear();
            buffer.AsSpan(0, have).CopyTo(last);
            h = Mix(h, BinaryPrimitives.ReadUInt64LittleEndian(last));
        }

        return Format(Mix(h, total));
    }

    /// <summary>The checksum of the first <paramref name="length"/> bytes of the pattern written with <paramref name="seed"/>.</summary>
    public static string OfPattern(ulong seed, long length)
    {
        ulong x = seed == 0 ? 1 : seed, h = Offset;
        for (long done = 0; done < length; done += 8)
        {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            long remaining = length - done;
            h = Mix(h, remaining >= 8 ? x : x & ((1UL << (int)(remaining * 8)) - 1));
        }

        return Format(Mix(h, (ulong)length));
    }

    private static ulong Mix(ulong h, ulong w)
    {
        h = (h ^ w) * Prime;
        return h ^ (h >> 32);
    }

    private static string Format(ulong h) => h.ToString("x16", System.Globalization.CultureInfo.InvariantCulture);
}
