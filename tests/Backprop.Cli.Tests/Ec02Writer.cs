using System.Buffers.Binary;
using System.Text;

namespace Backprop.Cli.Tests;

/// <summary>Writes Bible Retrieval System "EC02" files for tests: the header, the window table, the compress header
/// and each window compressed on its own the way Unix <c>compress</c> does (LZW, block mode, codes packed in groups of
/// n_bits bytes, a group flushed whole when the width changes, CLEAR when the table is full).</summary>
internal static class Ec02Writer
{
    public static byte[] Write(byte[] text, int window, int maxBits = 16, string description = "Compressed Data File")
    {
        var windows = new List<byte[]>();
        for (int start = 0; start < text.Length; start += window)
            windows.Add(Compress(text.AsSpan(start, Math.Min(window, text.Length - start)), maxBits));

        var file = new MemoryStream();
        file.Write("EC02"u8);
        var name = new byte[80];
        Encoding.ASCII.GetBytes(description).CopyTo(name, 0);
        file.Write(name);
        WriteInt(file, window);
        WriteInt(file, windows.Count);
        int offset = 4 + 80 + 8 + (4 * (windows.Count + 1)) + 3;
        foreach (byte[] w in windows)
        {
            WriteInt(file, offset);
            offset += w.Length;
        }

        WriteInt(file, offset);
        file.Write([0x1F, 0x9D, (byte)(0x80 | maxBits)]);
        foreach (byte[] w in windows) file.Write(w);
        return file.ToArray();
    }

    public static void WriteInt(Stream s, int value)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(b, value);
        s.Write(b);
    }

    /// <summary>LZW as compress 4.0 writes it, without its header.</summary>
    public static byte[] Compress(ReadOnlySpan<byte> input, int maxBits)
    {
        var output = new List<byte>();
        int maxMax = 1 << maxBits, bits = 9, maxCode = 511, free = 257;
        bool clearFlag = false;
        var group = new byte[16];
        int offset = 0;   // bits used in the group

        void Emit(int code)
        {
            for (int i = 0; i < bits; i++, offset++)
                if (((code >> i) & 1) != 0) group[offset >> 3] |= (byte)(1 << (offset & 7));
            if (offset == bits * 8)
            {
                output.AddRange(group.AsSpan(0, bits).ToArray());
                Array.Clear(group);
                offset = 0;
            }

            if (free > maxCode || clearFlag)
            {
                if (offset > 0) output.AddRange(group.AsSpan(0, bits).ToArray());   // the whole group: the reader starts a new one
                Array.Clear(group);
                offset = 0;
                if (clearFlag)
                {
                    bits = 9;
                    maxCode = 511;
                    clearFlag = false;
                }
                else
                {
                    bits++;
                    maxCode = bits == maxBits ? maxMax : (1 << bits) - 1;
                }
            }
        }

        if (input.IsEmpty) return [];
        var table = new Dictionary<(int, byte), int>();
        int ent = input[0];
        for (int i = 1; i < input.Length; i++)
        {
            byte c = input[i];
            if (table.TryGetValue((ent, c), out int code))
            {
                ent = code;
                continue;
            }

            Emit(ent);
            if (free < maxMax)
            {
                table[(ent, c)] = free++;
                ent = c;
            }
            else
            {
                ent = c;
                table.Clear();
                free = 257;
                clearFlag = true;
                Emit(256);
            }
        }

        Emit(ent);
        if (offset > 0) output.AddRange(group.AsSpan(0, (offset + 7) / 8).ToArray());
        return [.. output];
    }
}
