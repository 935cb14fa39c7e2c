using System.Buffers.Binary;
using System.IO.Compression;
using FsCheck;
using FsCheck.Xunit;
using Xunit;

namespace Backprop.Functional.Tests.Data;

public sealed class IdxTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("backprop-idx-tests-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Builds IDX bytes: 0, 0, type, dims.Length, big-endian sizes, then data.</summary>
    private static byte[] IdxBytes(byte type, int[] dims, byte[] data)
    {
        var bytes = new byte[4 + (4 * dims.Length) + data.Length];
        bytes[2] = type;
        bytes[3] = (byte)dims.Length;
        for (int d = 0; d < dims.Length; d++)
        {
            BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4 + (4 * d)), dims[d]);
        }

        data.CopyTo(bytes, 4 + (4 * dims.Length));
        return bytes;
    }

    private string Write(string name, byte[] bytes)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private string WriteGz(string name, byte[] bytes)
    {
        string path = Path.Combine(_dir, name);
        using var file = File.Create(path);
        using var gzip = new GZipStream(file, CompressionLevel.Fastest);
        gzip.Write(bytes);
        return path;
    }

    private static byte[] Pixels(int n) => [.. Enumerable.Range(0, n).Select(i => (byte)(i * 37))];

    [Fact]
    public void ReadImages_tinyFile_roundTripsShapeAndPixels()
    {
        byte[] pixels = Pixels(3 * 2 * 4);
        string path = Write("images-idx3-ubyte", IdxBytes(0x08, [3, 2, 4], pixels));

        (int count, int rows, int columns, byte[] read) = Idx.ReadImages(path);

        Assert.Equal((3, 2, 4), (count, rows, columns));
        Assert.Equal(pixels, read);
    }

    [Fact]
    public void ReadLabels_tinyFile_roundTrips()
    {
        string path = Write("labels-idx1-ubyte", IdxBytes(0x08, [5], [0, 9, 3, 3, 7]));

        Assert.Equal(new byte[] { 0, 9, 3, 3, 7 }, Idx.ReadLabels(path));
    }

    [Property(MaxTest = 40)]
    public void ReadImages_anySmallShape_roundTrips(NonNegativeInt n, PositiveInt r, PositiveInt c, bool gzip)
    {
        int count = n.Get % 6, rows = 1 + (r.Get % 5), columns = 1 + (c.Get % 5);
        byte[] pixels = Pixels(count * rows * columns);
        byte[] bytes = IdxBytes(0x08, [count, rows, columns], pixels);
        string path = gzip ? WriteGz($"p{Guid.NewGuid():N}.gz", bytes) : Write($"p{Guid.NewGuid():N}", bytes);

        var read = Idx.ReadImages(path);

        Assert.Equal((count, rows, columns), (read.Count, read.Rows, read.Columns));
        Assert.Equal(pixels, read.Pixels);
    }

    [Fact]
    public void ReadImages_gzipCompressed_readsTransparently()
    {
        byte[] pixels = Pixels(2 * 3 * 3);
        string path = WriteGz("images-idx3-ubyte.gz", IdxBytes(0x08, [2, 3, 3], pixels));

        Assert.Equal(pixels, Idx.ReadImages(path).Pixels);
    }

    [Fact]
    public void ReadImages_truncatedFile_refusedNamingFileAndTruncated()
    {
        byte[] full = IdxBytes(0x08, [10, 28, 28], Pixels(10 * 28 * 28));
        string path = Write("train-images-idx3-ubyte", full[..(16 + 1000)]);

        var e = Assert.Throws<InvalidDataException>(() => Idx.ReadImages(path));

        Assert.Contains("train-images-idx3-ubyte", e.Message, StringComparison.Ordinal);
        Assert.Contains("truncated", e.Message, StringComparison.Ordinal);
        Assert.Contains("10 × 28 × 28 = 7840 bytes of data but file has 1000 after the 16-byte header", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadImages_truncatedGzip_refusedNamingFileAndTruncated()
    {
        byte[] full = IdxBytes(0x08, [10, 28, 28], Pixels(10 * 28 * 28));
        string path = WriteGz("train-images-idx3-ubyte.gz", full[..(16 + 1000)]);

        var e = Assert.Throws<InvalidDataException>(() => Idx.ReadImages(path));

        Assert.Contains("train-images-idx3-ubyte.gz", e.Message, StringComparison.Ordinal);
        Assert.Contains("truncated", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadImages_truncatedHeader_refused()
    {
        string path = Write("short", IdxBytes(0x08, [10, 28, 28], [])[..9]);

        var e = Assert.Throws<InvalidDataException>(() => Idx.ReadImages(path));

        Assert.Contains("short", e.Message, StringComparison.Ordinal);
        Assert.Contains("truncated", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadImages_trailingBytes_refusedAsTooLong()
    {
        string path = Write("long", [.. IdxBytes(0x08, [1, 2, 2], Pixels(4)), 1, 2, 3]);

        var e = Assert.Throws<InvalidDataException>(() => Idx.ReadImages(path));

        Assert.Contains("too long", e.Message, StringComparison.Ordinal);
        Assert.Contains("file has 7 after the 16-byte header", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadImages_labelFile_refusedForWrongDimensionCount()
    {
        string path = Write("labels-idx1-ubyte", IdxBytes(0x08, [3], [1, 2, 3]));

        var e = Assert.Throws<InvalidDataException>(() => Idx.ReadImages(path));

        Assert.Contains("labels-idx1-ubyte", e.Message, StringComparison.Ordinal);
        Assert.Contains("00000801", e.Message, StringComparison.Ordinal);
        Assert.Contains("00000803", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadImages_foreignFile_refusedAsNotIdx()
    {
        string path = Write("picture.png", [0x89, (byte)'P', (byte)'N', (byte)'G', 13, 10, 26, 10, 0, 0, 0, 0, 0, 0, 0, 0]);

        var e = Assert.Throws<InvalidDataException>(() => Idx.ReadImages(path));

        Assert.Contains("picture.png", e.Message, StringComparison.Ordinal);
        Assert.Contains("not an IDX file", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadLabels_floatElementType_refused()
    {
        string path = Write("floats-idx1", IdxBytes(0x0D, [1], [0, 0, 0, 0]));

        var e = Assert.Throws<InvalidDataException>(() => Idx.ReadLabels(path));

        Assert.Contains("floats-idx1", e.Message, StringComparison.Ordinal);
        Assert.Contains("element type 0x0D", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LoadMnist_tinyFiles_scalesPixelsAndOneHotEncodes()
    {
        string images = Write("img", IdxBytes(0x08, [2, 1, 2], [0, 255, 51, 102]));
        string labels = Write("lbl", IdxBytes(0x08, [2], [9, 0]));

        Dataset data = Idx.LoadMnist(images, labels, "tiny");

        Assert.Equal(("tiny", 2, 2, 10), (data.Name, data.Count, data.Features, data.Outputs));
        Assert.Equal(new[] { 0f, 1f, 0.2f, 0.4f }, data.X);
        Assert.Equal(new[] { 9, 0 }, data.Labels);
        Assert.Equal(1f, data.Y[9]);
        Assert.Equal(1f, data.Y[10]);
        Assert.Equal(2f, data.Y.Sum());
    }

    [Fact]
    public void LoadMnist_everyByteValue_equalsScalarDivisionBy255()
    {
        byte[] pixels = [.. Enumerable.Range(0, 256).Select(v => (byte)v), 7, 200, 255];
        string images = Write("img", IdxBytes(0x08, [1, 1, pixels.Length], pixels));
        string labels = Write("lbl", IdxBytes(0x08, [1], [4]));

        Dataset data = Idx.LoadMnist(images, labels, "bytes");

        for (int i = 0; i < pixels.Length; i++)
        {
            Assert.Equal(BitConverter.SingleToInt32Bits(pixels[i] / 255f), BitConverter.SingleToInt32Bits(data.X[i]));
        }
    }

    [Fact]
    public void LoadMnist_imageAndLabelCountsDiffer_refused()
    {
        string images = Write("img", IdxBytes(0x08, [3, 2, 2], Pixels(12)));
        string labels = Write("lbl", IdxBytes(0x08, [2], [1, 2]));

        var e = Assert.Throws<InvalidDataException>(() => Idx.LoadMnist(images, labels, "tiny"));

        Assert.Contains("3 images", e.Message, StringComparison.Ordinal);
        Assert.Contains("2 labels", e.Message, StringComparison.Ordinal);
        Assert.Contains("img", e.Message, StringComparison.Ordinal);
        Assert.Contains("lbl", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LoadMnist_labelAboveNine_refusedNamingRecord()
    {
        string images = Write("img", IdxBytes(0x08, [2, 1, 1], [1, 2]));
        string labels = Write("lbl", IdxBytes(0x08, [2], [3, 10]));

        var e = Assert.Throws<InvalidDataException>(() => Idx.LoadMnist(images, labels, "tiny"));

        Assert.Contains("lbl", e.Message, StringComparison.Ordinal);
        Assert.Contains("record 1", e.Message, StringComparison.Ordinal);
        Assert.Contains("label 10", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MnistLocate_dirMissingFiles_throwsListingThem()
    {
        Write(Mnist.TrainImagesFile, []);
        Write(Mnist.TrainLabelsFile + ".gz", []);

        var e = Assert.Throws<FileNotFoundException>(() => Mnist.Locate(_dir));

        Assert.Contains(Mnist.TestImagesFile, e.Message, StringComparison.Ordinal);
        Assert.Contains(Mnist.TestLabelsFile, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Mnist.TrainImagesFile, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Mnist.TrainLabelsFile, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MnistLoadTest_gzippedFilesInDir_loadsThem()
    {
        WriteGz(Mnist.TestImagesFile + ".gz", IdxBytes(0x08, [2, 2, 2], Pixels(8)));
        WriteGz(Mnist.TestLabelsFile + ".gz", IdxBytes(0x08, [2], [5, 6]));

        Dataset data = Mnist.LoadTest(_dir);

        Assert.Equal(("mnist-test", 2, 4), (data.Name, data.Count, data.Features));
        Assert.Equal(new[] { 5, 6 }, data.Labels);
    }

    [Fact]
    public void LoadMnist_zeroImagesOfHugeSize_refusedNamingImagesFile()
    {
        // 0 × 65536 × 65536: no data bytes, but 65536² pixels per image overflow an int (this was an OverflowException).
        string images = Write("huge-images", IdxBytes(0x08, [0, 65536, 65536], []));
        string labels = Write("no-labels", IdxBytes(0x08, [0], []));

        var e = Assert.Throws<InvalidDataException>(() => Idx.LoadMnist(images, labels, "huge"));

        Assert.StartsWith(images, e.Message, StringComparison.Ordinal);
        Assert.Contains("65536 × 65536", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadImages_imageOfMorePixelsThanAnArray_refused()
    {
        string path = Write("huge-images", IdxBytes(0x08, [0, 65536, 65536], []));

        var e = Assert.Throws<InvalidDataException>(() => Idx.ReadImages(path));

        Assert.Contains("65536 × 65536", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LoadMnist_zeroImages_refusedNamingImagesFile()
    {
        string images = Write("empty-images", IdxBytes(0x08, [0, 28, 28], []));
        string labels = Write("empty-labels", IdxBytes(0x08, [0], []));

        var e = Assert.Throws<InvalidDataException>(() => Idx.LoadMnist(images, labels, "empty"));

        Assert.StartsWith(images, e.Message, StringComparison.Ordinal);
        Assert.Contains("no images", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadLabels_gzipWithMegabytesOfTrailingData_stopsAtTheFirstExtraByte()
    {
        // A gzip bomb: the header says 1 label, the stream goes on for 64 MB. Reading stops after the first byte too
        // many, so the message cannot know (and does not claim) how long the rest is.
        byte[] bytes = new byte[8 + 1 + (64 << 20)];
        IdxBytes(0x08, [1], [7]).CopyTo(bytes, 0);
        string path = WriteGz("bomb-labels.gz", bytes);

        var e = Assert.Throws<InvalidDataException>(() => Idx.ReadLabels(path));

        Assert.Contains("too long", e.Message, StringComparison.Ordinal);
        Assert.Contains("more than the 1 byte", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain((64 << 20).ToString(System.Globalization.CultureInfo.InvariantCulture), e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadImages_fromANamedPipe_readsIt()
    {
        byte[] pixels = Pixels(3 * 2 * 4);
        using var pipe = new Backprop.Functional.Tests.Fifo(Path.Combine(_dir, "images-pipe"), IdxBytes(0x08, [3, 2, 4], pixels));

        (int count, int rows, int columns, byte[] read) = Idx.ReadImages(pipe.Path);

        Assert.Equal((3, 2, 4), (count, rows, columns));
        Assert.Equal(pixels, read);
    }

    [Fact]
    public void ReadImages_truncatedNamedPipe_refusedNamingIt()
    {
        byte[] full = IdxBytes(0x08, [10, 28, 28], Pixels(10 * 28 * 28));
        using var pipe = new Backprop.Functional.Tests.Fifo(Path.Combine(_dir, "images-pipe"), full[..(16 + 1000)]);

        var e = Assert.Throws<InvalidDataException>(() => Idx.ReadImages(pipe.Path));

        Assert.StartsWith(pipe.Path, e.Message, StringComparison.Ordinal);
        Assert.Contains("truncated", e.Message, StringComparison.Ordinal);
    }
}
