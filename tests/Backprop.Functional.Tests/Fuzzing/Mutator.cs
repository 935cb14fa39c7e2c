using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace Backprop.Functional.Tests.Fuzzing;

/// <summary>Format-blind mutations of a byte string, each drawn from the case's own generator and named in the
/// recipe: bit flips, byte edits, truncations, extensions, inserts, deletes, duplicated ranges, splices with a
/// second valid file, and interesting integers (0, ±1, 2³¹ − 1, 2³², 2⁶⁴ − 1 …) written little- or big-endian.</summary>
internal static class Mutator
{
    /// <summary>Values that sit on the edges of 8-, 16-, 32- and 64-bit sizes.</summary>
    public static readonly ulong[] Interesting =
    [
        0, 1, 2, 3, 7, 8, 9, 10, 16, 255, 256, 65535, 65536, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0x100000000,
        0x7FFFFFFFFFFFFFFF, 0x8000000000000000, 0xFFFFFFFFFFFFFFFF, 100_000_000, 100_000_001, 2_147_483_591,
    ];

    private static readonly byte[] InterestingBytes = [0x00, 0x01, 0x7F, 0x80, 0xFF, (byte)'"', (byte)',', (byte)'\n', (byte)'\\', (byte)'{', (byte)'-', (byte)'9'];

    /// <summary>Applies 1–4 random mutations to a copy of <paramref name="input"/>.</summary>
    public static byte[] Havoc(byte[] input, byte[] other, ref SeededRandom rng, StringBuilder recipe)
    {
        byte[] bytes = input;
        int count = 1 + rng.Next(4);
        for (int k = 0; k < count; k++) bytes = Once(bytes, other, ref rng, recipe);
        return bytes;
    }

    public static byte[] Once(byte[] bytes, byte[] other, ref SeededRandom rng, StringBuilder recipe)
    {
        int n = bytes.Length;
        switch (rng.Next(10))
        {
            case 0 when n > 0:
            {
                var b = (byte[])bytes.Clone();
                int flips = 1 + rng.Next(8);
                for (int f = 0; f < flips; f++)
                {
                    int at = rng.Next(n), bit = rng.Next(8);
                    b[at] ^= (byte)(1 << bit);
                    Note(recipe, $"flip {at}.{bit}");
                }
                return b;
            }
            case 1 when n > 0:
            {
                var b = (byte[])bytes.Clone();
                int at = rng.Next(n);
                b[at] = rng.Next(2) == 0 ? (byte)rng.Next(256) : InterestingBytes[rng.Next(InterestingBytes.Length)];
                Note(recipe, $"set {at}={b[at]:X2}");
                return b;
            }
            case 2 when n > 0:
            {
                int cut = rng.Next(n);
                Note(recipe, $"truncate {cut}");
                return bytes[..cut];
            }
            case 3:
            {
                int extra = rng.Next(4) switch { 0 => 1, 1 => 1 + rng.Next(16), 2 => 1 + rng.Next(512), _ => 1 + rng.Next(8192) };
                var b = new byte[n + extra];
                bytes.CopyTo(b, 0);
                int fill = rng.Next(3);
                for (int i = n; i < b.Length; i++)
                    b[i] = fill == 0 ? (byte)0 : fill == 1 ? (byte)rng.Next(256) : (n > 0 ? bytes[i % n] : (byte)' ');
                Note(recipe, $"extend +{extra} ({(fill == 0 ? "zeros" : fill == 1 ? "random" : "repeat")})");
                return b;
            }
            case 4:
            {
                int at = rng.Next(n + 1), len = 1 + rng.Next(rng.Next(2) == 0 ? 8 : 256);
                var insert = new byte[len];
                for (int i = 0; i < len; i++) insert[i] = rng.Next(2) == 0 ? (byte)rng.Next(256) : InterestingBytes[rng.Next(InterestingBytes.Length)];
                Note(recipe, $"insert {len}@{at}");
                return [.. bytes.AsSpan(0, at), .. insert, .. bytes.AsSpan(at)];
            }
            case 5 when n > 0:
            {
                int at = rng.Next(n), len = 1 + rng.Next(Math.Min(n - at, rng.Next(2) == 0 ? 8 : 256));
                Note(recipe, $"delete {len}@{at}");
                return [.. bytes.AsSpan(0, at), .. bytes.AsSpan(at + len)];
            }
            case 6 when n > 0:
            {
                int from = rng.Next(n), len = 1 + rng.Next(Math.Min(n - from, 512)), at = rng.Next(n + 1);
                int times = rng.Next(4) == 0 ? 1 + rng.Next(64) : 1;
                var chunk = bytes.AsSpan(from, len).ToArray();
                var b = new List<byte>(n + (len * times));
                b.AddRange(bytes.AsSpan(0, at));
                for (int t = 0; t < times; t++) b.AddRange(chunk);
                b.AddRange(bytes.AsSpan(at));
                Note(recipe, $"duplicate [{from},+{len})×{times}@{at}");
                return [.. b];
            }
            case 7:
            {
                int cutA = rng.Next(n + 1), cutB = rng.Next(other.Length + 1);
                Note(recipe, $"splice {cutA}|other {cutB}");
                return [.. bytes.AsSpan(0, cutA), .. other.AsSpan(cutB)];
            }
            case 8 when n > 0:
            {
                int width = 1 << rng.Next(4);   // 1, 2, 4, 8 bytes
                if (n < width) goto default;
                int at = rng.Next(n - width + 1);
                ulong value = Interesting[rng.Next(Interesting.Length)];
                if (rng.Next(3) == 0) value = unchecked(value + (ulong)(rng.Next(3) - 1));
                bool big = rng.Next(2) == 0;
                var b = (byte[])bytes.Clone();
                WriteInteger(b.AsSpan(at, width), value, big);
                Note(recipe, $"int{width * 8}{(big ? "be" : "le")} {value}@{at}");
                return b;
            }
            case 9 when n > 1:
            {
                var b = (byte[])bytes.Clone();
                int i = rng.Next(n), j = rng.Next(n);
                (b[i], b[j]) = (b[j], b[i]);
                Note(recipe, $"swap {i},{j}");
                return b;
            }
            default:
            {
                var b = new byte[n + 1];
                bytes.CopyTo(b, 0);
                b[n] = (byte)rng.Next(256);
                Note(recipe, "append 1");
                return b;
            }
        }
    }

    public static void WriteInteger(Span<byte> destination, ulong value, bool bigEndian)
    {
        Span<byte> all = stackalloc byte[8];
        if (bigEndian) BinaryPrimitives.WriteUInt64BigEndian(all, value);
        else BinaryPrimitives.WriteUInt64LittleEndian(all, value);
        (bigEndian ? all[(8 - destination.Length)..] : all[..destination.Length]).CopyTo(destination);
    }

    public static void Note(StringBuilder recipe, string step)
    {
        if (recipe.Length > 0) recipe.Append("; ");
        recipe.Append(step);
    }

    public static byte[] Gzip(byte[] raw)
    {
        using var memory = new MemoryStream();
        using (var gzip = new GZipStream(memory, CompressionLevel.Fastest, leaveOpen: true)) gzip.Write(raw);
        return memory.ToArray();
    }

    /// <summary>The decompressed length of a gzip input, at most <paramref name="cap"/> (bytes up to the first error).</summary>
    public static long GunzipLength(byte[] gz, long cap)
    {
        long total = 0;
        try
        {
            using var gzip = new GZipStream(new MemoryStream(gz), CompressionMode.Decompress);
            var buffer = new byte[1 << 16];
            int read;
            while (total < cap && (read = gzip.Read(buffer)) > 0) total += read;
        }
        catch (InvalidDataException)
        {
        }
        return Math.Min(total, cap);
    }
}
