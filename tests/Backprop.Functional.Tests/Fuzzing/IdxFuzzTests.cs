using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using Xunit;
using Xunit.Abstractions;

namespace Backprop.Functional.Tests.Fuzzing;

/// <summary>Mutated IDX files, plain and gzip-compressed, through <see cref="Idx.ReadImages"/>,
/// <see cref="Idx.ReadLabels"/> and <see cref="Idx.LoadMnist"/> (with a valid file as the other half of the pair).</summary>
public sealed class IdxFuzzTests(ITestOutputHelper output)
{
    [Fact]
    public void Idx_mutatedFiles_loadOrThrowInvalidData()
    {
        var report = Fuzzer.Run(new IdxTarget(), output);

        Assert.True(report.Failures.Count == 0, report.FailureMessage);
    }
}

internal sealed class IdxTarget : IFuzzTarget
{
    private static readonly (int Count, int Rows, int Columns)[] Shapes = [(3, 4, 5), (2, 28, 28), (1, 1, 1), (0, 2, 2), (7, 3, 2)];

    private readonly byte[][] _images;
    private readonly byte[][] _labels;

    public IdxTarget()
    {
        _images = new byte[Shapes.Length][];
        _labels = new byte[Shapes.Length][];
        for (int s = 0; s < Shapes.Length; s++)
        {
            var (count, rows, columns) = Shapes[s];
            var pixels = new byte[count * rows * columns];
            for (int i = 0; i < pixels.Length; i++) pixels[i] = (byte)((i * 37) + s);
            _images[s] = Bytes(3, [count, rows, columns], pixels);
            var labels = new byte[count];
            for (int i = 0; i < count; i++) labels[i] = (byte)((i + s) % 10);
            _labels[s] = Bytes(1, [count], labels);
        }
    }

    public string Format => "idx";

    public FuzzCase Make(ref SeededRandom rng, int index)
    {
        int s = rng.Next(Shapes.Length), other = rng.Next(Shapes.Length);
        int kind = rng.Next(4);   // 0 images, 1 labels, 2 LoadMnist with mutated images, 3 LoadMnist with mutated labels
        if (kind == 3 && Shapes[s].Count == 0) s = 0;   // the valid images of a LoadMnist pair: a data set needs a sample
        bool images = kind is 0 or 2;
        byte[] seed = images ? _images[s] : _labels[s];
        byte[] otherSeed = images ? _images[other] : _labels[other];
        var recipe = new StringBuilder();
        Mutator.Note(recipe, $"seed {s}");
        bool gzip = rng.Next(10) < 3;
        byte[] bytes;
        if (gzip && rng.Next(50) == 0)
        {
            // A small "bomb": an honest header over a few MB of zeros that compress to a few KB.
            int count = 1000 + rng.Next(4000);
            bytes = images ? Bytes(3, [count, 28, 28], new byte[count * 784]) : Bytes(1, [count], new byte[count]);
            if (rng.Next(2) == 0) Mutator.WriteInteger(bytes.AsSpan(4, 4), (ulong)count + 1 + (ulong)rng.Next(1 << 20), bigEndian: true);
            Mutator.Note(recipe, $"zeros count {count}, header {BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(4))}");
            bytes = Mutator.Gzip(bytes);
        }
        else if (gzip && rng.Next(2) == 0)
        {
            bytes = Mutator.Havoc(Mutator.Gzip(seed), Mutator.Gzip(otherSeed), ref rng, recipe);   // damaged compressed stream
            Mutator.Note(recipe, "(on the gzip bytes)");
        }
        else
        {
            bytes = rng.Next(5) < 2 ? Structured(seed, images, ref rng, recipe) : seed;
            if (bytes == seed || rng.Next(3) == 0) bytes = Mutator.Havoc(bytes, otherSeed, ref rng, recipe);
            if (gzip)
            {
                bytes = Mutator.Gzip(bytes);
                Mutator.Note(recipe, "then gzip");
            }
        }

        string entry = (kind switch { 0 => "ReadImages", 1 => "ReadLabels", 2 => "LoadMnist(images mutated)", _ => "LoadMnist(labels mutated)" })
            + (gzip ? " gzip" : "");
        long boundLength = gzip ? Math.Max(bytes.Length, Mutator.GunzipLength(bytes, cap: 1L << 26)) : bytes.Length;
        return new FuzzCase(bytes, entry, recipe.ToString()) { BoundLength = boundLength, Argument = s, Kind = kind };
    }

    /// <summary>Header-aware edits: sizes set to edge values, magic bytes changed, data lengthened or shortened,
    /// a consistent reshape, labels outside 0..9.</summary>
    private static byte[] Structured(byte[] seed, bool images, ref SeededRandom rng, StringBuilder recipe)
    {
        var b = (byte[])seed.Clone();
        int dims = images ? 3 : 1;
        switch (rng.Next(6))
        {
            case 0:
            case 1:
            {
                int d = rng.Next(dims);
                ulong value = rng.Next(4) == 0 ? (ulong)rng.Next(1 << 17) : Mutator.Interesting[rng.Next(Mutator.Interesting.Length)];
                Mutator.WriteInteger(b.AsSpan(4 + (4 * d), 4), value, bigEndian: true);
                Mutator.Note(recipe, $"dimension {d} = {BinaryPrimitives.ReadUInt32BigEndian(b.AsSpan(4 + (4 * d)))}");
                if (rng.Next(2) == 0)
                {
                    int d2 = rng.Next(dims);
                    ulong v2 = Mutator.Interesting[rng.Next(Mutator.Interesting.Length)];
                    Mutator.WriteInteger(b.AsSpan(4 + (4 * d2), 4), v2, bigEndian: true);
                    Mutator.Note(recipe, $"dimension {d2} = {BinaryPrimitives.ReadUInt32BigEndian(b.AsSpan(4 + (4 * d2)))}");
                }
                return b;
            }
            case 2:
            {
                int at = rng.Next(4);
                b[at] = at == 2 ? (byte)(0x08 + rng.Next(8)) : at == 3 ? (byte)rng.Next(6) : (byte)rng.Next(256);
                Mutator.Note(recipe, $"magic byte {at} = {b[at]:X2}");
                return b;
            }
            case 3:
            {
                int delta = rng.Next(2) == 0 ? -(1 + rng.Next(Math.Max(1, b.Length - (4 + (4 * dims))))) : 1 + rng.Next(1000);
                Mutator.Note(recipe, $"data {delta:+#;-#}");
                return delta < 0 ? b[..Math.Max(0, b.Length + delta)] : [.. b, .. new byte[delta]];
            }
            case 4:
            {
                // Same data, another shape with the same product: loads.
                int data = b.Length - (4 + (4 * dims));
                if (images)
                {
                    int rows = 1 + rng.Next(Math.Max(1, data));
                    if (data % rows != 0) rows = 1;
                    (uint c, uint r, uint col) = rng.Next(2) == 0 ? (1u, (uint)rows, (uint)(data / rows)) : ((uint)(data / rows), (uint)rows, 1u);
                    if (data == 0) (c, r, col) = (0, (uint)rng.Next(70000), (uint)rng.Next(70000));
                    BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(4), c);
                    BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(8), r);
                    BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(12), col);
                    Mutator.Note(recipe, $"reshape {c}×{r}×{col}");
                }
                return b;
            }
            default:
            {
                int header = 4 + (4 * dims);
                if (b.Length == header) return b;
                int at = header + rng.Next(b.Length - header);
                b[at] = (byte)(10 + rng.Next(246));
                Mutator.Note(recipe, $"data byte {at} = {b[at]}");
                return b;
            }
        }
    }

    public Func<long> Prepare(FuzzCase c, string directory)
    {
        string path = Path.Combine(directory, Fuzzer.FileStem + (c.Kind is 0 or 2 ? "-images" : "-labels"));
        File.WriteAllBytes(path, c.Bytes);
        switch (c.Kind)
        {
            case 0:
                return () =>
                {
                    var (count, rows, columns, pixels) = Idx.ReadImages(path);
                    Check((long)count * rows * columns == pixels.Length && rows > 0 && columns > 0, "ReadImages shape does not match its pixels");
                    return pixels.Length;
                };
            case 1:
                return () => Idx.ReadLabels(path).Length;
            default:
            {
                string companion = Path.Combine(directory, c.Kind == 2 ? "companion-labels" : "companion-images");
                File.WriteAllBytes(companion, c.Kind == 2 ? _labels[c.Argument] : _images[c.Argument]);
                string imagesPath = c.Kind == 2 ? path : companion, labelsPath = c.Kind == 2 ? companion : path;
                return () =>
                {
                    var d = Idx.LoadMnist(imagesPath, labelsPath, "fuzz");
                    Check(d.X.Length == (long)d.Count * d.Features && d.Y.Length == d.Count * 10 && d.Labels!.Length == d.Count,
                        "LoadMnist data set does not match its shape");
                    return 4L * (d.X.Length + d.Y.Length + d.Labels!.Length);
                };
            }
        }
    }

    public string? KnownAfterRun(FuzzCase c, Exception e) => null;

    private static void Check(bool condition, string what)
    {
        if (!condition) throw new InvalidOperationException("inconsistent loaded value: " + what);
    }

    /// <summary>IDX bytes of unsigned bytes: 0, 0, 0x08, dimension count, big-endian sizes, data.</summary>
    public static byte[] Bytes(int dimensions, int[] sizes, byte[] data)
    {
        var b = new byte[4 + (4 * dimensions) + data.Length];
        b[2] = 0x08;
        b[3] = (byte)dimensions;
        for (int d = 0; d < dimensions; d++) BinaryPrimitives.WriteInt32BigEndian(b.AsSpan(4 + (4 * d)), sizes[d]);
        data.CopyTo(b, 4 + (4 * dimensions));
        return b;
    }
}
