using System.Buffers.Binary;
using System.Globalization;
using System.IO.Compression;
using System.Numerics;

namespace Backprop.Functional;

/// <summary>
/// Reads the IDX format used by MNIST: a big-endian header (two zero bytes, element type, dimension count,
/// then one 32-bit size per dimension) followed by exactly the product of the sizes in data bytes.
/// Only unsigned-byte data (type 0x08) is supported. Gzip-compressed files are read transparently
/// (detected by the gzip signature, whatever the file name).
/// <para>Threads: no shared state; files may be read from several threads at once.</para>
/// </summary>
public static class Idx
{
    /// <summary>Magic number of an IDX file of unsigned bytes with three dimensions (images: count × rows × columns).</summary>
    public const int ImagesMagic = 0x00000803;

    /// <summary>Magic number of an IDX file of unsigned bytes with one dimension (labels).</summary>
    public const int LabelsMagic = 0x00000801;

    /// <summary>Number of classes in MNIST-style label files (digits 0..9).</summary>
    public const int MnistClasses = 10;

    /// <summary>Reads an IDX image file (magic 0x00000803).</summary>
    /// <param name="path">Path of the file, optionally gzip-compressed.</param>
    /// <returns>The image count, rows and columns per image, and the pixels row-major [count × rows × columns].</returns>
    /// <exception cref="InvalidDataException">The file is not an IDX image file, or is truncated or too long.</exception>
    public static (int Count, int Rows, int Columns, byte[] Pixels) ReadImages(string path)
    {
        (int[] dims, byte[] data) = Read(path, dimensions: 3, "images");
        if (dims[1] == 0 || dims[2] == 0)
        {
            throw Bad(path, string.Create(CultureInfo.InvariantCulture, $"images must have at least 1 × 1 pixels, header says {dims[1]} × {dims[2]}"));
        }

        return (dims[0], dims[1], dims[2], data);
    }

    /// <summary>Reads an IDX label file (magic 0x00000801).</summary>
    /// <param name="path">Path of the file, optionally gzip-compressed.</param>
    /// <returns>One byte per label.</returns>
    /// <exception cref="InvalidDataException">The file is not an IDX label file, or is truncated or too long.</exception>
    public static byte[] ReadLabels(string path) => Read(path, dimensions: 1, "labels").Data;

    /// <summary>
    /// Loads an MNIST-style pair of image and label files as a <see cref="Dataset"/>: features are pixel / 255
    /// ([count × rows·columns]), targets are one-hot over <see cref="MnistClasses"/> classes, and <see cref="Dataset.Labels"/> is set.
    /// </summary>
    /// <param name="imagesPath">IDX image file.</param>
    /// <param name="labelsPath">IDX label file.</param>
    /// <param name="name">Name of the resulting data set.</param>
    /// <returns>The data set.</returns>
    /// <exception cref="InvalidDataException">A file is malformed, holds no images, the counts disagree, or a label is not 0..9.</exception>
    public static Dataset LoadMnist(string imagesPath, string labelsPath, string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        (int count, int rows, int columns, byte[] pixels) = ReadImages(imagesPath);
        if (count == 0)
        {
            throw Bad(imagesPath, string.Create(CultureInfo.InvariantCulture,
                $"header says 0 × {rows} × {columns}: no images, and a data set needs at least one"));
        }

        byte[] labelBytes = ReadLabels(labelsPath);
        if (labelBytes.Length != count)
        {
            throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture,
                $"{imagesPath} has {count} images but {labelsPath} has {labelBytes.Length} labels; they must be the same"));
        }

        var labels = new int[count];
        for (int i = 0; i < count; i++)
        {
            int label = labelBytes[i];
            if (label >= MnistClasses)
            {
                throw Bad(labelsPath, string.Create(CultureInfo.InvariantCulture,
                    $"record {i}: label {label} is outside 0..{MnistClasses - 1}"));
            }

            labels[i] = label;
        }

        float[] x = GC.AllocateUninitializedArray<float>(pixels.Length);
        ToUnitFloats(pixels, x);
        float[] y = Dataset.OneHot(labels, MnistClasses);
        return new Dataset(name, count, checked(rows * columns), MnistClasses, x, y, labels);
    }

    /// <summary>x[i] = pixels[i] / 255f exactly (IEEE division, so the vector and scalar paths agree bit for bit).</summary>
    private static void ToUnitFloats(ReadOnlySpan<byte> pixels, Span<float> x)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var divisor = new Vector<float>(255f);
            int step = Vector<byte>.Count;
            int quarter = Vector<float>.Count;
            for (; i <= pixels.Length - step; i += step)
            {
                Vector.Widen(new Vector<byte>(pixels[i..]), out Vector<ushort> low, out Vector<ushort> high);
                Vector.Widen(low, out Vector<uint> a, out Vector<uint> b);
                Vector.Widen(high, out Vector<uint> c, out Vector<uint> d);
                (Vector.ConvertToSingle(a) / divisor).CopyTo(x[i..]);
                (Vector.ConvertToSingle(b) / divisor).CopyTo(x[(i + quarter)..]);
                (Vector.ConvertToSingle(c) / divisor).CopyTo(x[(i + (2 * quarter))..]);
                (Vector.ConvertToSingle(d) / divisor).CopyTo(x[(i + (3 * quarter))..]);
            }
        }

        for (; i < pixels.Length; i++)
        {
            x[i] = pixels[i] / 255f;
        }
    }

    private static (int[] Dims, byte[] Data) Read(string path, int dimensions, string kind)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);
        byte[] sniff = new byte[2];
        int sniffed = file.ReadAtLeast(sniff, 2, throwOnEndOfStream: false);
        bool gzip = sniffed == 2 && sniff[0] == 0x1F && sniff[1] == 0x8B;
        // A pipe (/dev/stdin, a FIFO) cannot seek back and has no length: replay the sniffed bytes, and bound what is
        // read by the header alone, as for gzip.
        Stream input = file.CanSeek ? file : new ReplayStream(sniff.AsMemory(0, sniffed), file);
        if (file.CanSeek) file.Position = 0;
        if (gzip)
        {
            using var unzipped = new GZipStream(input, CompressionMode.Decompress);
            try
            {
                return Parse(path, unzipped, knownLength: null, dimensions, kind);
            }
            catch (InvalidDataException e) when (!e.Message.StartsWith(path, StringComparison.Ordinal))
            {
                throw Bad(path, "corrupt gzip data: " + e.Message, e);
            }
        }

        return Parse(path, input, file.CanSeek ? file.Length : null, dimensions, kind);
    }

    private static (int[] Dims, byte[] Data) Parse(string path, Stream stream, long? knownLength, int dimensions, string kind)
    {
        string compressed = knownLength is not null ? "" : stream is GZipStream ? " (after decompression)" : " (read from a pipe)";
        Span<byte> magic = stackalloc byte[4];
        int got = stream.ReadAtLeast(magic, 4, throwOnEndOfStream: false);
        if (got < 4)
        {
            throw Bad(path, string.Create(CultureInfo.InvariantCulture, $"truncated: file has {got} bytes{compressed}, too short for the 4-byte IDX magic number"));
        }

        int expectedMagic = 0x0800 | dimensions;
        if (magic[0] != 0 || magic[1] != 0)
        {
            throw Bad(path, string.Create(CultureInfo.InvariantCulture,
                $"not an IDX file: magic bytes {magic[0]:X2} {magic[1]:X2} {magic[2]:X2} {magic[3]:X2}, expected {expectedMagic:X8} for IDX {kind}"));
        }

        if (magic[2] != 0x08)
        {
            throw Bad(path, string.Create(CultureInfo.InvariantCulture,
                $"unsupported IDX element type 0x{magic[2]:X2} (magic {BinaryPrimitives.ReadInt32BigEndian(magic):X8}); only 0x08 (unsigned byte) is supported"));
        }

        if (magic[3] != dimensions)
        {
            throw Bad(path, string.Create(CultureInfo.InvariantCulture,
                $"magic {BinaryPrimitives.ReadInt32BigEndian(magic):X8} says {magic[3]} dimensions but IDX {kind} have {dimensions} (expected magic {expectedMagic:X8})"));
        }

        int headerLength = 4 + (4 * dimensions);
        Span<byte> sizes = stackalloc byte[4 * dimensions];
        got = stream.ReadAtLeast(sizes, sizes.Length, throwOnEndOfStream: false);
        if (got < sizes.Length)
        {
            throw Bad(path, string.Create(CultureInfo.InvariantCulture,
                $"truncated: header needs {headerLength} bytes but file has {4 + got}{compressed}"));
        }

        var dims = new int[dimensions];
        for (int d = 0; d < dimensions; d++)
        {
            uint size = BinaryPrimitives.ReadUInt32BigEndian(sizes[(4 * d)..]);
            if (size > int.MaxValue)
            {
                throw Bad(path, string.Create(CultureInfo.InvariantCulture, $"dimension {d} has impossible size {size}"));
            }

            dims[d] = (int)size;
        }

        // One record (an image: rows × columns) must fit an array even when there are no records, since a reader
        // sizes rows of features by it; then all of them together.
        Int128 recordSize = 1;
        for (int d = 1; d < dimensions; d++)
        {
            recordSize *= dims[d];   // IDX images have two such factors, each below 2³¹
        }

        if (recordSize > Array.MaxLength)
        {
            throw Bad(path, string.Create(CultureInfo.InvariantCulture,
                $"header says {Shape(dims, dimensions)}: one of the {kind} is {Shape(dims[1..], dimensions - 1)} = {recordSize} bytes, more than the {Array.MaxLength} bytes supported"));
        }

        long record = (long)recordSize;
        long expected = dims[0] * record;   // < 2³¹ · 2³¹
        if (expected > Array.MaxLength)
        {
            throw Bad(path, string.Create(CultureInfo.InvariantCulture,
                $"header says {Shape(dims, dimensions)} = {expected} bytes of data, more than the {Array.MaxLength} bytes supported"));
        }

        string shape = Shape(dims, dimensions);
        if (knownLength is long length)
        {
            long actual = length - headerLength;
            if (actual != expected)
            {
                throw Bad(path, Mismatch(shape, expected, actual, headerLength, compressed));
            }
        }

        // Read at most expected + 1 bytes, growing the buffer, so a lying header in a compressed file cannot force a huge allocation.
        byte[] data = new byte[(int)Math.Min(expected, knownLength is null ? 1 << 20 : expected)];
        long total = 0;
        while (true)
        {
            if (total == data.Length && total < expected)
            {
                Array.Resize(ref data, (int)Math.Min(expected, data.Length * 2L));
            }

            if (total == expected)
            {
                break;
            }

            int n = stream.Read(data, (int)total, data.Length - (int)total);
            if (n == 0)
            {
                break;
            }

            total += n;
        }

        if (total != expected)
        {
            throw Bad(path, Mismatch(shape, expected, total, headerLength, compressed));
        }

        // One byte more is enough to refuse: reading on to count them would let a gzip bomb run for minutes.
        if (knownLength is null && stream.ReadByte() >= 0)
        {
            throw Bad(path, string.Create(CultureInfo.InvariantCulture,
                $"too long: header says {shape} = {expected} bytes of data but the file has more than the {expected} byte{(expected == 1 ? "" : "s")} after the {headerLength}-byte header{compressed}"));
        }

        return (dims, data);
    }

    private static string Mismatch(string shape, long expected, long actual, int headerLength, string compressed) =>
        string.Create(CultureInfo.InvariantCulture,
            $"{(actual < expected ? "truncated" : "too long")}: header says {shape} = {expected} bytes of data but file has {actual} after the {headerLength}-byte header{compressed}");

    private static string Shape(int[] dims, int count) =>
        string.Join(" × ", dims.Take(count).Select(d => d.ToString(CultureInfo.InvariantCulture)));

    /// <summary>Bytes already read from a stream that cannot seek, then the rest of that stream.</summary>
    private sealed class ReplayStream(ReadOnlyMemory<byte> head, Stream rest) : Stream
    {
        private ReadOnlyMemory<byte> _head = head;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            if (_head.IsEmpty)
            {
                return rest.Read(buffer);
            }

            int n = Math.Min(buffer.Length, _head.Length);
            _head.Span[..n].CopyTo(buffer);
            _head = _head[n..];
            return n;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    private static InvalidDataException Bad(string path, string reason, Exception? inner = null) =>
        new($"{path}: {reason}", inner);
}
