using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using SkiaSharp;

namespace Backprop.Cli.Tests;

/// <summary>Small data sets written by the tests: no real MNIST, no network.</summary>
internal static class SyntheticData
{
    /// <summary>Three Gaussian blobs in the plane, well apart; columns x1, x2, label.</summary>
    public static void Blobs(string path, int perClass, int seed)
    {
        var rng = new Random(seed);
        double[][] centres = [[-2, -2], [2, -2], [0, 2.5]];
        var sb = new StringBuilder("x1,x2,label\n");
        for (int i = 0; i < perClass; i++)
            for (int k = 0; k < centres.Length; k++)
                sb.Append(CultureInfo.InvariantCulture, $"{centres[k][0] + Gauss(rng) * 0.5:F4},{centres[k][1] + Gauss(rng) * 0.5:F4},{k}\n");
        File.WriteAllText(path, sb.ToString());
    }

    /// <summary>XOR of the signs of two coordinates, points kept away from the axes; columns a, b, y.</summary>
    public static void Xor(string path, int count, int seed)
    {
        var rng = new Random(seed);
        var sb = new StringBuilder("a,b,y\n");
        for (int i = 0; i < count; i++)
        {
            double a = Away(rng), b = Away(rng);
            sb.Append(CultureInfo.InvariantCulture, $"{a:F4},{b:F4},{((a > 0) ^ (b > 0) ? 1 : 0)}\n");
        }

        File.WriteAllText(path, sb.ToString());
    }

    /// <summary>y = 2·x1 − x2 + 0.5 on [−1, 1]²; columns x1, x2, y.</summary>
    public static void Linear(string path, int count, int seed)
    {
        var rng = new Random(seed);
        var sb = new StringBuilder("x1,x2,y\n");
        for (int i = 0; i < count; i++)
        {
            double x1 = rng.NextDouble() * 2 - 1, x2 = rng.NextDouble() * 2 - 1;
            sb.Append(CultureInfo.InvariantCulture, $"{x1:F4},{x2:F4},{2 * x1 - x2 + 0.5:F4}\n");
        }

        File.WriteAllText(path, sb.ToString());
    }

    /// <summary>An MNIST-shaped folder (the four IDX files) whose class k is a bright 6×6 block at a place that
    /// depends on k, plus a little noise: learnable in a few epochs.</summary>
    public static void FakeMnist(string dir, int train, int test, int seed)
    {
        var rng = new Random(seed);
        Write(dir, "train-images-idx3-ubyte", "train-labels-idx1-ubyte", train, rng);
        Write(dir, "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", test, rng);
    }

    /// <summary>The clean 28×28 pattern of class <paramref name="k"/>: 255 in the block, 0 elsewhere.</summary>
    public static byte[] Pattern(int k)
    {
        var image = new byte[28 * 28];
        int top = (k / 5) * 14 + 4, left = (k % 5) * 5 + 1;
        for (int r = top; r < top + 6; r++)
            for (int c = left; c < left + 6 && c < 28; c++)
                image[r * 28 + c] = 255;
        return image;
    }

    /// <summary>A PNG of class <paramref name="k"/>'s pattern, scaled to <paramref name="side"/>×<paramref name="side"/>,
    /// white on black, or black on white when <paramref name="inverted"/>.</summary>
    public static void Png(string path, int k, int side, bool inverted = false)
    {
        byte[] pattern = Pattern(k);
        using var bitmap = new SKBitmap(side, side, SKColorType.Rgba8888, SKAlphaType.Premul);
        for (int r = 0; r < side; r++)
            for (int c = 0; c < side; c++)
            {
                byte v = pattern[(r * 28 / side) * 28 + c * 28 / side];
                if (inverted) v = (byte)(255 - v);
                bitmap.SetPixel(c, r, new SKColor(v, v, v));
            }

        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        File.WriteAllBytes(path, data.ToArray());
    }

    private static void Write(string dir, string imagesName, string labelsName, int count, Random rng)
    {
        var images = new byte[16 + count * 784];
        var labels = new byte[8 + count];
        BinaryPrimitives.WriteInt32BigEndian(images, 0x803);
        BinaryPrimitives.WriteInt32BigEndian(images.AsSpan(4), count);
        BinaryPrimitives.WriteInt32BigEndian(images.AsSpan(8), 28);
        BinaryPrimitives.WriteInt32BigEndian(images.AsSpan(12), 28);
        BinaryPrimitives.WriteInt32BigEndian(labels, 0x801);
        BinaryPrimitives.WriteInt32BigEndian(labels.AsSpan(4), count);
        for (int i = 0; i < count; i++)
        {
            int k = i % 10;
            labels[8 + i] = (byte)k;
            byte[] p = Pattern(k);
            for (int j = 0; j < 784; j++)
                images[16 + i * 784 + j] = (byte)Math.Clamp(p[j] * 0.8 + rng.Next(0, 50), 0, 255);
        }

        File.WriteAllBytes(Path.Combine(dir, imagesName), images);
        File.WriteAllBytes(Path.Combine(dir, labelsName), labels);
    }

    private static double Gauss(Random rng) =>
        Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());

    private static double Away(Random rng)
    {
        double v = 0.2 + rng.NextDouble() * 0.8;
        return rng.Next(2) == 0 ? v : -v;
    }
}
