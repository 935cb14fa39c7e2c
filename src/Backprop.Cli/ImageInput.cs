using SkiaSharp;

namespace Backprop.Cli;

/// <summary>Turns an image file into an MNIST-style input: 28×28, grayscale, row-major, values in [0, 1] with
/// 1 = white. MNIST digits are white on black; pass <c>invert</c> for a dark digit on a light background.
/// Decoding and resizing use SkiaSharp (already in the dependency graph through ScottPlot).</summary>
internal static class ImageInput
{
    public const int Side = 28;

    /// <summary>The largest image decoded: 4096 × 4096 pixels (64 MB as RGBA). The size is read from the file's header
    /// before anything is decoded, so a small file that declares a huge image costs nothing.</summary>
    public const long MaxPixels = 4096L * 4096;

    public static float[] Load(string path, bool invert)
    {
        if (!File.Exists(path)) throw new CliException($"{path}: no such image file");
        using var decoded = Decode(path);
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

    /// <summary>Reads the header, bounds the pixel count, then decodes the whole image or refuses it: a truncated or
    /// corrupt file is an error, not a picture whose missing rows are left blank.</summary>
    private static SKBitmap Decode(string path)
    {
        using var codec = SKCodec.Create(path, out SKCodecResult opened)
            ?? throw new CliException(opened == SKCodecResult.IncompleteInput
                ? $"{path}: truncated: the file ends inside the image header"
                : $"{path}: not an image SkiaSharp can decode (PNG, JPEG, BMP, GIF, WebP)");
        SKImageInfo info = codec.Info;
        long pixels = (long)info.Width * info.Height;
        if (pixels == 0) throw new CliException($"{path}: the image header says {info.Width} × {info.Height}: no pixels");
        if (pixels > MaxPixels)
            throw new CliException(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"{path}: the image is {info.Width} × {info.Height} = {pixels} pixels, more than the {MaxPixels} (4096 × 4096) that predict decodes; scale it down first (the network sees {Side} × {Side})"));

        // As SKBitmap.Decode would: the codec's own colour type, with premultiplied rather than unpremultiplied alpha.
        if (info.AlphaType == SKAlphaType.Unpremul) info = info.WithAlphaType(SKAlphaType.Premul);
        var bitmap = new SKBitmap(info);
        SKCodecResult result = codec.GetPixels(info, bitmap.GetPixels());
        if (result == SKCodecResult.Success) return bitmap;
        bitmap.Dispose();
        throw new CliException(result switch
        {
            SKCodecResult.IncompleteInput => $"{path}: truncated: the image data ends before its last row",
            SKCodecResult.ErrorInInput => $"{path}: corrupt image data",
            _ => $"{path}: SkiaSharp cannot decode this image ({result})",
        });
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
