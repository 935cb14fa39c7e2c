using SkiaSharp;

namespace Backprop.Cli;

/// <summary>Turns an image file into an MNIST-style input: 28×28, grayscale, row-major, values in [0, 1] with
/// 1 = white. MNIST digits are white on black; pass <c>invert</c> for a dark digit on a light background.
/// Decoding and resizing use SkiaSharp (already in the dependency graph through ScottPlot).</summary>
internal static class ImageInput
{
    public const int Side = 28;

    public static float[] Load(string path, bool invert)
    {
        if (!File.Exists(path)) throw new CliException($"{path}: no such image file");
        using var decoded = SKBitmap.Decode(path) ?? throw new CliException($"{path}: not an image SkiaSharp can decode (PNG, JPEG, BMP, GIF, WebP)");
        using var gray = new SKBitmap(new SKImageInfo(Side, Side, SKColorType.Gray8, SKAlphaType.Opaque));
        if (decoded.Width == Side && decoded.Height == Side && decoded.ColorType == SKColorType.Gray8)
        {
            decoded.CopyTo(gray);
        }
        else
        {
            // Draw onto black (transparent pixels count as background), scaled to 28×28 with linear filtering.
            using var rgba = new SKBitmap(new SKImageInfo(Side, Side, SKColorType.Rgba8888, SKAlphaType.Premul));
            using (var canvas = new SKCanvas(rgba))
            {
                canvas.Clear(invert ? SKColors.White : SKColors.Black);
                using var image = SKImage.FromBitmap(decoded);
                canvas.DrawImage(image, new SKRect(0, 0, Side, Side), new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.Linear));
            }

            return ToUnit(rgba, invert);
        }

        return ToUnit(gray, invert);
    }

    private static float[] ToUnit(SKBitmap bitmap, bool invert)
    {
        var x = new float[Side * Side];
        for (int r = 0; r < Side; r++)
        {
            for (int c = 0; c < Side; c++)
            {
                SKColor p = bitmap.GetPixel(c, r);
                float luma = ((0.299f * p.Red) + (0.587f * p.Green) + (0.114f * p.Blue)) / 255f;
                x[(r * Side) + c] = invert ? 1f - luma : luma;
            }
        }

        return x;
    }
}
