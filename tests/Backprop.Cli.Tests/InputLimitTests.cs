using System.Buffers.Binary;
using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using SkiaSharp;
using Backprop.Functional.Tests;
using Xunit;

namespace Backprop.Cli.Tests;

/// <summary>Hostile sizes and broken inputs end in one line on stderr and exit 1 or 2, never a crash, a runaway
/// allocation, or a silently wrong result.</summary>
public class InputLimitTests
{
    private static void AssertFails(Cli.Result r, int exitCode, params string[] expected)
    {
        Assert.True(r.ExitCode == exitCode, r.ToString());
        Assert.StartsWith("backprop: ", r.Error, StringComparison.Ordinal);
        foreach (string text in expected) Assert.Contains(text, r.Error, StringComparison.Ordinal);
        Assert.Single(r.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.DoesNotContain("   at ", r.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Layers_with_more_parameters_than_the_limit_are_a_usage_error()
    {
        using var dir = new TempDir();
        var r = Cli.Run("train", "--layers", "784-3000000-10", "--data", dir.Path, "--out", dir["m.safetensors"]);
        AssertFails(r, 2, "--layers 784-3000000-10", "2385000010", "250000000");
    }

    [Fact]
    public void A_batch_larger_than_the_training_set_trains_on_the_whole_set()
    {
        using var dir = new TempDir();
        SyntheticData.FakeMnist(dir.Path, 60, 20, seed: 1);
        var r = Cli.Run("train", "--data", dir.Path, "--batch", "100000000", "--epochs", "1", "--out", dir["m.safetensors"]);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.True(File.Exists(dir["m.safetensors"]));
    }

    [Theory]
    [InlineData("2147483647")]
    [InlineData("1000000000")]
    public void Csv_with_a_huge_class_index_names_file_and_line(string label)
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["huge.csv"], $"x1,x2,label\n1,2,0\n3,4,{label}\n");
        AssertFails(Cli.Run("train", "--csv", dir["huge.csv"], "--label-column", "label", "--out", dir["m.safetensors"]), 1,
            dir["huge.csv"], "line 3", "65536");
        Assert.False(File.Exists(dir["m.safetensors"]));
    }

    [Fact]
    public void Csv_eval_of_a_model_with_more_outputs_than_csv_classes_names_the_csv()
    {
        using var dir = new TempDir();
        SyntheticData.Blobs(dir["b.csv"], 10, seed: 1);
        var spec = Backprop.Functional.NetworkSpec.Mlp([2, 70_000], Backprop.Functional.ActivationKind.ReLU,
            Backprop.Functional.ActivationKind.Softmax, Backprop.Functional.LossKind.SoftmaxCrossEntropy);
        using (var network = Backprop.Functional.Network<float>.Create(spec, 1))
            Backprop.Functional.ModelFile.Save(dir["wide.safetensors"], network);
        AssertFails(Cli.Run("eval", "--model", dir["wide.safetensors"], "--csv", dir["b.csv"], "--label-column", "label"), 1,
            dir["b.csv"], "70000 outputs", "65536");
    }

    [Fact]
    public void Empty_idx_test_set_is_refused_by_eval_naming_the_file()
    {
        using var dir = new TempDir();
        string model = TrainFakeMnist(dir);
        string empty = Path.Combine(dir.Path, "empty");
        Directory.CreateDirectory(empty);
        SyntheticData.FakeMnist(empty, 0, 0, seed: 2);
        AssertFails(Cli.Run("eval", "--model", model, "--data", empty), 1, Path.Combine(empty, "t10k-images-idx3-ubyte"), "no images");
    }

    [Fact]
    public void Empty_idx_training_set_is_refused_by_train_without_writing_a_model()
    {
        using var dir = new TempDir();
        SyntheticData.FakeMnist(dir.Path, 0, 10, seed: 2);
        AssertFails(Cli.Run("train", "--data", dir.Path, "--epochs", "1", "--out", dir["m.safetensors"]), 1,
            dir["train-images-idx3-ubyte"], "no images");
        Assert.False(File.Exists(dir["m.safetensors"]));
    }

    [Fact]
    public void Image_of_too_many_pixels_is_refused_before_decoding()
    {
        using var dir = new TempDir();
        string model = TrainFakeMnist(dir);
        File.WriteAllBytes(dir["huge.png"], GrayPngHeader(20000, 20000));
        AssertFails(Cli.Run("predict", "--model", model, "--image", dir["huge.png"]), 1, dir["huge.png"], "20000 × 20000", "pixels");
    }

    [Fact]
    public void Truncated_image_is_refused()
    {
        using var dir = new TempDir();
        string model = TrainFakeMnist(dir);
        byte[] png = NoisyPng(280);
        File.WriteAllBytes(dir["half.png"], png[..(png.Length / 2)]);
        AssertFails(Cli.Run("predict", "--model", model, "--image", dir["half.png"]), 1, dir["half.png"], "truncated");
    }

    [Fact]
    public void Model_read_from_a_pipe_predicts_as_from_the_file()
    {
        using var dir = new TempDir();
        string model = TrainFakeMnist(dir);
        SyntheticData.Png(dir["3.png"], 3, 28);
        var fromFile = Cli.Run("predict", "--model", model, "--image", dir["3.png"]);
        Assert.True(fromFile.ExitCode == 0, fromFile.ToString());

        using var pipe = new Fifo(dir["pipe"], File.ReadAllBytes(model));
        var fromPipe = Cli.Run("predict", "--model", pipe.Path, "--image", dir["3.png"]);
        Assert.True(fromPipe.ExitCode == 0, fromPipe.ToString());
        Assert.Equal(fromFile.Out, fromPipe.Out);
    }

    [Fact]
    public void Truncated_model_from_a_pipe_is_refused_naming_the_pipe()
    {
        using var dir = new TempDir();
        string model = TrainFakeMnist(dir);
        SyntheticData.Png(dir["3.png"], 3, 28);
        byte[] bytes = File.ReadAllBytes(model);
        using var pipe = new Fifo(dir["pipe"], bytes[..(bytes.Length / 2)]);
        AssertFails(Cli.Run("predict", "--model", pipe.Path, "--image", dir["3.png"]), 1, pipe.Path);
    }

    private static string TrainFakeMnist(TempDir dir)
    {
        string data = Path.Combine(dir.Path, "mnist");
        Directory.CreateDirectory(data);
        SyntheticData.FakeMnist(data, 50, 10, seed: 1);
        string model = dir["m.safetensors"];
        var r = Cli.Run("train", "--data", data, "--layers", "784-8-10", "--epochs", "1", "--out", model);
        Assert.True(r.ExitCode == 0, r.ToString());
        return model;
    }

    /// <summary>A PNG that declares a width × height 8-bit grayscale image but holds only its first row: 20000 × 20000
    /// is 400 MB decoded from a file of a few hundred bytes.</summary>
    private static byte[] GrayPngHeader(int width, int height)
    {
        var png = new MemoryStream();
        png.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = 8;     // bit depth
        ihdr[9] = 0;     // grayscale
        Chunk(png, "IHDR", ihdr);
        var rows = new MemoryStream();
        using (var z = new ZLibStream(rows, CompressionLevel.Optimal, leaveOpen: true))
            z.Write(new byte[1 + width]);
        Chunk(png, "IDAT", rows.ToArray());
        Chunk(png, "IEND", []);
        return png.ToArray();
    }

    private static void Chunk(Stream png, string type, byte[] data)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(word, data.Length);
        png.Write(word);
        byte[] typed = [.. Encoding.ASCII.GetBytes(type), .. data];
        png.Write(typed);
        BinaryPrimitives.WriteUInt32BigEndian(word, Crc32(typed));
        png.Write(word);
    }

    private static uint Crc32(ReadOnlySpan<byte> bytes)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in bytes)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320 : crc >> 1;
        }
        return ~crc;
    }

    private static byte[] NoisyPng(int side)
    {
        var rng = new Random(5);
        using var bitmap = new SKBitmap(side, side, SKColorType.Rgba8888, SKAlphaType.Premul);
        for (int r = 0; r < side; r++)
            for (int c = 0; c < side; c++)
            {
                byte v = (byte)rng.Next(256);
                bitmap.SetPixel(c, r, new SKColor(v, v, v));
            }
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }
}
