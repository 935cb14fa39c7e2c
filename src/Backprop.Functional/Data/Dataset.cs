using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace Backprop.Functional;

/// <summary>
/// A supervised data set held in memory: features <see cref="X"/> of shape [<see cref="Count"/> × <see cref="Features"/>]
/// and targets <see cref="Y"/> of shape [<see cref="Count"/> × <see cref="Outputs"/>], both row-major <see cref="float"/>;
/// <see cref="Labels"/> optionally holds the class index of each sample (for accuracy), or is <see langword="null"/> for regression.
/// <para>Threads: safe to read from any number of threads (loaders and training only read it); the arrays are shared,
/// so do not write them while another thread reads.</para>
/// </summary>
/// <remarks>Use <see cref="Create"/> to build one from untrusted data: it checks shapes and refuses NaN/∞ values.
/// The arrays are shared, not copied; treat them as read-only.</remarks>
/// <param name="Name">Human-readable name used in messages (e.g. the file it came from).</param>
/// <param name="Count">Number of samples.</param>
/// <param name="Features">Number of input values per sample.</param>
/// <param name="Outputs">Number of target values per sample.</param>
/// <param name="X">Features, row-major, length <see cref="Count"/> · <see cref="Features"/>.</param>
/// <param name="Y">Targets, row-major, length <see cref="Count"/> · <see cref="Outputs"/>.</param>
/// <param name="Labels">Optional class index per sample, length <see cref="Count"/>.</param>
[SuppressMessage("Performance", "CA1819:Properties should not return arrays", Justification = "Flat row-major buffers are the point of this type.")]
public sealed record Dataset(string Name, int Count, int Features, int Outputs, float[] X, float[] Y, int[]? Labels)
{
    /// <summary>
    /// Creates a data set after checking that the array lengths match the shapes and that every value is finite.
    /// </summary>
    /// <param name="name">Human-readable name used in messages.</param>
    /// <param name="count">Number of samples (≥ 0).</param>
    /// <param name="features">Number of features per sample (≥ 1).</param>
    /// <param name="outputs">Number of targets per sample (≥ 1).</param>
    /// <param name="x">Features, row-major [<paramref name="count"/> × <paramref name="features"/>].</param>
    /// <param name="y">Targets, row-major [<paramref name="count"/> × <paramref name="outputs"/>].</param>
    /// <param name="labels">Optional class index per sample; each must be ≥ 0 and, when <paramref name="outputs"/> &gt; 1, &lt; <paramref name="outputs"/>.</param>
    /// <returns>The validated data set (sharing the given arrays).</returns>
    /// <exception cref="ArgumentException">A size is out of range or an array length does not match its shape.</exception>
    /// <exception cref="InvalidDataException">A feature or target is NaN or infinite, or a label is out of range.</exception>
    public static Dataset Create(string name, int count, int features, int outputs, float[] x, float[] y, int[]? labels = null)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(features);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outputs);

        CheckLength(name, "X", x.Length, count, features, nameof(x));
        CheckLength(name, "Y", y.Length, count, outputs, nameof(y));
        if (labels is not null && labels.Length != count)
        {
            throw new ArgumentException(
                string.Create(CultureInfo.InvariantCulture, $"{name}: Labels has {labels.Length} values but there are {count} samples"),
                nameof(labels));
        }

        CheckFinite(name, x, features, "feature");
        CheckFinite(name, y, outputs, "target");

        if (labels is not null)
        {
            for (int i = 0; i < labels.Length; i++)
            {
                int label = labels[i];
                if (label < 0 || (outputs > 1 && label >= outputs))
                {
                    throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture,
                        $"{name}: sample {i}: label {label} is outside 0..{Math.Max(outputs, 2) - 1}"));
                }
            }
        }

        return new Dataset(name, count, features, outputs, x, y, labels);
    }

    /// <summary>Copies samples [<paramref name="start"/>, <paramref name="start"/> + <paramref name="count"/>) into a new data set.</summary>
    /// <param name="start">Index of the first sample.</param>
    /// <param name="count">Number of samples to copy.</param>
    /// <returns>A new data set named "<c>Name[start..end)</c>" owning its own arrays.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The range does not lie within the data set.</exception>
    public Dataset Slice(int start, int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(start);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(start, Count);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, Count - start);

        float[] x = X.AsSpan(start * Features, count * Features).ToArray();
        float[] y = Y.AsSpan(start * Outputs, count * Outputs).ToArray();
        int[]? labels = Labels?.AsSpan(start, count).ToArray();
        string name = string.Create(CultureInfo.InvariantCulture, $"{Name}[{start}..{start + count})");
        return new Dataset(name, count, Features, Outputs, x, y, labels);
    }

    /// <summary>Encodes class indices as one-hot rows: a row-major [<c>labels.Length</c> × <paramref name="classes"/>] array.</summary>
    /// <param name="labels">Class index per sample, each in 0..<paramref name="classes"/>−1.</param>
    /// <param name="classes">Number of classes (≥ 1).</param>
    /// <returns>The one-hot target array.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A label is outside 0..<paramref name="classes"/>−1, or the targets
    /// would hold more than <see cref="Array.MaxLength"/> values.</exception>
    public static float[] OneHot(ReadOnlySpan<int> labels, int classes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(classes);
        long length = (long)labels.Length * classes;
        if (length > Array.MaxLength)
            throw new ArgumentOutOfRangeException(string.Create(CultureInfo.InvariantCulture,
                $"one-hot targets [{labels.Length} × {classes}] would hold {length} values, more than one array can ({Array.MaxLength})"), innerException: null);
        var y = new float[length];
        for (int i = 0; i < labels.Length; i++)
        {
            int label = labels[i];
            if ((uint)label >= (uint)classes)
            {
                throw new ArgumentOutOfRangeException(nameof(labels), label,
                    string.Create(CultureInfo.InvariantCulture, $"label {label} of sample {i} is outside 0..{classes - 1}"));
            }

            y[(i * classes) + label] = 1f;
        }

        return y;
    }

    private static void CheckLength(string name, string array, int length, int rows, int columns, string paramName)
    {
        long needed = (long)rows * columns;
        if (length != needed)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"{name}: {array} has {length} values but [{rows} × {columns}] needs {needed}"), paramName);
        }
    }

    private static void CheckFinite(string name, float[] values, int width, string what)
    {
        for (int i = 0; i < values.Length; i++)
        {
            if (!float.IsFinite(values[i]))
            {
                throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture,
                    $"{name}: sample {i / width}, {what} {i % width}: value is {values[i]} (must be finite)"));
            }
        }
    }
}
