using System.Diagnostics.CodeAnalysis;
using System.Numerics;

namespace Backprop.Functional;

/// <summary>Shape checks and the throw helpers behind them. Messages name both shapes; the formatting
/// stays off the happy path.</summary>
internal static class Shapes
{
    public static void RequireSameLength<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, string xName, string yName)
    {
        if (x.Length != y.Length) ThrowLengths(xName, x.Length, yName, y.Length);
    }

    public static void RequireSameLength<T>(ReadOnlySpan<T> z, ReadOnlySpan<T> a, ReadOnlySpan<T> destination)
    {
        if (z.Length != a.Length) ThrowLengths("z", z.Length, "a", a.Length);
        if (z.Length != destination.Length) ThrowLengths("z", z.Length, "destination", destination.Length);
    }

    public static void RequireLength<T>(ReadOnlySpan<T> x, int rows, int columns, string name)
    {
        if (x.Length != rows * columns) ThrowShape(name, x.Length, rows, columns);
    }

    public static void RequireLayerParameters(int length, int inputs, int outputs)
    {
        if (length != outputs * inputs + outputs)
            throw new ArgumentException(
                $"layer parameters have {length} elements but W [{outputs} × {inputs}] and b [{outputs}] need {outputs * inputs + outputs}");
    }

    public static void RequireRows(int length, int width, string name)
    {
        if (width <= 0 || length % width != 0) ThrowRows(name, length, width);
    }

    public static void RequireChained(IReadOnlyList<Layer> layers)
    {
        if (layers.Count == 0) throw new ArgumentException("a network needs at least one layer", nameof(layers));
        for (int l = 0; l < layers.Count; l++)
            if (layers[l] is null) throw new ArgumentException($"layer {l} is null", nameof(layers));
        for (int l = 1; l < layers.Count; l++)
            if (layers[l].Input != layers[l - 1].Output)
                throw new ArgumentException(
                    $"layers do not chain: layer {l} ({layers[l].Kind}) takes {layers[l].Input} but layer {l - 1} ({layers[l - 1].Kind}) gives {layers[l - 1].Output}",
                    nameof(layers));
    }

    /// <summary>Throws if <paramref name="x"/> holds NaN or ±∞, naming the row and column of the first one.
    /// One vectorised pass (a sum of magnitudes is finite iff every element is, barring overflow, which is
    /// then checked element by element).</summary>
    public static void RequireFinite<T>(ReadOnlySpan<T> x, int width, string what) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (T.IsFinite(System.Numerics.Tensors.TensorPrimitives.SumOfMagnitudes(x))) return;
        for (int i = 0; i < x.Length; i++)
            if (!T.IsFinite(x[i])) ThrowNotFinite(what, i / width, i % width, x[i]);
    }

    [DoesNotReturn]
    public static void ThrowLengths(string xName, int x, string yName, int y) =>
        throw new ArgumentException($"{xName} has {x} elements but {yName} has {y}; they must match");

    [DoesNotReturn]
    public static void ThrowShape(string name, int length, int rows, int columns) =>
        throw new ArgumentException($"{name} has {length} elements but its shape must be [{rows} × {columns}] = {rows * columns}");

    [DoesNotReturn]
    public static void ThrowRows(string name, int length, int width) =>
        throw new ArgumentException($"{name} has {length} elements, which is not a whole number of rows of width {width} ([rows × {width}])");

    [DoesNotReturn]
    public static void ThrowNotFinite<T>(string what, int row, int column, T value) =>
        throw new ArgumentException($"{what} contains {value} at sample {row}, feature {column}: NaN and infinity are not trained on");

    [DoesNotReturn]
    public static void ThrowUnknown<TEnum>(TEnum value) where TEnum : struct, Enum =>
        throw new ArgumentOutOfRangeException(nameof(value), value, $"unknown {typeof(TEnum).Name}");
}
