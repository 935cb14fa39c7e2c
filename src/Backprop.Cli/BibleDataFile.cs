using System.Buffers.Binary;
using System.Globalization;

namespace Backprop.Cli;

/// <summary>
/// Decodes the text file of the Bible Retrieval System (Chip Chapin, 1989; Debian's <c>bible-kjv-text</c> ships it
/// as <c>usr/lib/bible.data</c>): format "EC02". Layout, all integers big-endian 32-bit:
/// <c>"EC"</c> <c>"02"</c>, an 80-byte NUL-terminated description, the window size W and the window count n, then
/// n + 1 file offsets (window k is the bytes [offset k, offset k + 1); the last offset is the end of the data).
/// Each window is W bytes of text (the last one fewer) compressed on its own with Unix <c>compress</c>: LZW, codes
/// of 9 up to 16 bits, block mode, read in groups of n_bits bytes. The 3-byte <c>compress</c> header (1F 9D, then
/// the bits and block flag) sits once between the table and the first window; the original reader ignores it and
/// assumes 16 bits and block mode, which is what it says.
/// </summary>
internal static class BibleDataFile
{
    /// <summary>The largest text decoded: 64 MiB (the KJV is 4.2 MiB), checked from the header before allocating.</summary>
    public const int MaxTextBytes = 64 << 20;

    private const int HeaderBytes = 4 + 80 + 4 + 4;
    private const int Clear = 256, First = 257, InitialBits = 9;

    /// <summary>The whole text of an EC02 file.</summary>
    /// <param name="file">The file's bytes.</param>
    /// <param name="name">The file's name, for messages.</param>
    /// <returns>The concatenated windows.</returns>
    /// <exception cref="InvalidDataException">The file is not EC02, its table does not fit it, the text would exceed
    /// <see cref="MaxTextBytes"/>, or a window does not decompress to its size; the message names the file and window.</exception>
    public static byte[] Decode(ReadOnlySpan<byte> file, string name)
    {
        if (file.Length < HeaderBytes || file[0] != 'E' || file[1] != 'C')
            throw Bad(name, "not a Bible Retrieval System text file (no \"EC\" magic number)");
        if (file[2] != '0' || file[3] != '2')
            throw Bad(name, $"file structure version \"{(char)file[2]}{(char)file[3]}\", expected \"02\"");

        int window = BinaryPrimitives.ReadInt32BigEndian(file[84..]);
        int windows = BinaryPrimitives.ReadInt32BigEndian(file[88..]);
        if (window <= 0 || windows <= 0 || (long)window * windows > MaxTextBytes)
            throw Bad(name, string.Create(CultureInfo.InvariantCulture, $"{windows} windows of {window} bytes (at most {MaxTextBytes} bytes of text are decoded)"));
        long tableEnd = HeaderBytes + (4L * (windows + 1));
        if (tableEnd > file.Length)
            throw Bad(name, string.Create(CultureInfo.InvariantCulture, $"the table of {windows + 1} window offsets ends at byte {tableEnd}, past the end of the file ({file.Length} bytes)"));

        var offsets = new int[windows + 1];
        for (int k = 0; k <= windows; k++)
        {
            offsets[k] = BinaryPrimitives.ReadInt32BigEndian(file[(HeaderBytes + (4 * k))..]);
            if (offsets[k] < (k == 0 ? tableEnd : offsets[k - 1]) || offsets[k] > file.Length)
                throw Bad(name, string.Create(CultureInfo.InvariantCulture, $"window offset {k} is {offsets[k]}, outside {(k == 0 ? tableEnd : offsets[k - 1])} … {file.Length}"));
        }

        (int maxBits, bool block) = CompressHeader(file[(int)tableEnd..offsets[0]], name);
        var text = new byte[(long)window * windows];
        var lzw = new Lzw(maxBits, block);
        int length = 0;
        for (int k = 0; k < windows; k++)
        {
            int n = lzw.Decode(file[offsets[k]..offsets[k + 1]], text.AsSpan(length, window), name, k);
            if (n != window && k != windows - 1)
                throw Bad(name, string.Create(CultureInfo.InvariantCulture, $"window {k} decompresses to {n} bytes, expected {window}"));
            length += n;
        }

        return length == text.Length ? text : text[..length];
    }

    private static (int MaxBits, bool Block) CompressHeader(ReadOnlySpan<byte> gap, string name)
    {
        if (gap.Length == 0)
            return (16, true);
        if (gap.Length != 3 || gap[0] != 0x1F || gap[1] != 0x9D || (gap[2] & 0x1F) is < InitialBits or > 16)
            throw Bad(name, string.Create(CultureInfo.InvariantCulture, $"{gap.Length} bytes between the window table and the first window that are not a compress header (1F 9D, 9–16 bits)"));
        return (gap[2] & 0x1F, (gap[2] & 0x80) != 0);
    }

    private static InvalidDataException Bad(string name, string why) => new($"{name}: {why}");

    /// <summary>LZW decompression as Unix <c>compress</c> writes it (the reader's <c>cmp_decompress</c>): codes are packed
    /// little-endian in groups of n_bits bytes (8 codes); the code width grows when the next free entry passes the
    /// largest code of the width, and after a CLEAR (256, block mode) falls back to 9; each change starts a new group.
    /// The table is reset for every window.</summary>
    private sealed class Lzw(int maxBits, bool block)
    {
        private readonly ushort[] _prefix = new ushort[1 << maxBits];
        private readonly byte[] _suffix = new byte[1 << maxBits];
        private readonly byte[] _stack = new byte[1 << maxBits];

        public int Decode(ReadOnlySpan<byte> input, Span<byte> output, string name, int window)
        {
            int maxMaxCode = 1 << maxBits;
            int bits = InitialBits, maxCode = (1 << bits) - 1, free = block ? First : 256;
            bool cleared = false;
            int position = 0, groupStart = 0, groupBits = 0, offset = 0;   // the group of codes being read, in bits
            for (int c = 0; c < 256; c++) _suffix[c] = (byte)c;

            int Next(ReadOnlySpan<byte> input)
            {
                if (cleared || offset >= groupBits || free > maxCode)
                {
                    if (free > maxCode)
                    {
                        bits++;
                        maxCode = bits == maxBits ? maxMaxCode : (1 << bits) - 1;
                    }

                    if (cleared)
                    {
                        bits = InitialBits;
                        maxCode = (1 << bits) - 1;
                        cleared = false;
                    }

                    int size = Math.Min(bits, input.Length - position);
                    if (size <= 0) return -1;
                    groupStart = position;
                    position += size;
                    offset = 0;
                    groupBits = (size << 3) - (bits - 1);   // a code must start early enough to fit the group
                }

                int at = groupStart * 8 + offset, code = 0;
                for (int i = 0; i < bits; i++, at++)
                    code |= ((input[at >> 3] >> (at & 7)) & 1) << i;
                offset += bits;
                return code;
            }

            int old = Next(input), n = 0;
            if (old < 0) return 0;
            if (old > 255) throw Corrupt(name, window, $"its first code is {old}, not a character");
            int last = old;
            output[n++] = (byte)last;
            for (int code; (code = Next(input)) >= 0;)
            {
                if (code == Clear && block)
                {
                    cleared = true;
                    free = First - 1;
                    if ((code = Next(input)) < 0) break;
                }

                int incoming = code, depth = 0;
                if (code > free) throw Corrupt(name, window, string.Create(CultureInfo.InvariantCulture, $"code {code} is past the table's {free} entries"));
                if (code == free)   // the KwKwK case: the string just being defined
                {
                    _stack[depth++] = (byte)last;
                    code = old;
                }

                while (code >= 256)
                {
                    _stack[depth++] = _suffix[code];
                    code = _prefix[code];
                }

                last = _suffix[code];
                _stack[depth++] = (byte)last;
                if (n + depth > output.Length) throw Corrupt(name, window, string.Create(CultureInfo.InvariantCulture, $"it decompresses past {output.Length} bytes"));
                while (depth > 0) output[n++] = _stack[--depth];

                if (free < maxMaxCode)
                {
                    _prefix[free] = (ushort)old;
                    _suffix[free] = (byte)last;
                    free++;
                }

                old = incoming;
            }

            return n;
        }

        private static InvalidDataException Corrupt(string name, int window, string why) =>
            new($"{name}: window {window} is corrupt: {why}");
    }
}
