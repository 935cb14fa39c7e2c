using System.Numerics;
using System.Numerics.Tensors;

namespace Backprop.Functional;

/// <summary>Binary cross-entropy per output (Nielsen ch. 3): Cₓ = −Σⱼ [yⱼ ln aⱼ + (1 − yⱼ) ln(1 − aⱼ)];
/// ∇ₐCₓ = (a − y) / (a(1 − a)). With a sigmoid output δᴸ = a − y: the σ′ that slows the quadratic cost cancels.
/// Fits sigmoid outputs only: each output is read as an independent probability.
/// <para>Threads: stateless (static abstract members only); safe from any thread.</para></summary>
/// <remarks>Terms whose weight yⱼ or 1 − yⱼ is zero are skipped, and a is kept off 0 and 1 by the smallest
/// normal number inside the logarithms, so a saturated output gives a large finite cost rather than NaN
/// (Nielsen uses <c>nan_to_num</c> for the same purpose).</remarks>
public readonly struct CrossEntropy : ILoss
{
    /// <inheritdoc/>
    public static LossKind Kind => LossKind.CrossEntropy;

    /// <inheritdoc/>
    public static bool Fits(ActivationKind output) => output is ActivationKind.Sigmoid;

    /// <inheritdoc/>
    public static T Cost<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Shapes.RequireSameLength(a, y, nameof(a), nameof(y));
        T tiny = CrossEntropyTiny<T>.Value;
        T sum = T.Zero;
        for (int i = 0; i < a.Length; i++)
        {
            if (y[i] != T.Zero) sum -= y[i] * T.Log(T.Max(a[i], tiny));
            if (y[i] != T.One) sum -= (T.One - y[i]) * T.Log(T.Max(T.One - a[i], tiny));
        }
        return sum;
    }

    /// <inheritdoc/>
    public static void Gradient<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> y, Span<T> destination)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Shapes.RequireSameLength(a, y, destination);
        for (int i = 0; i < a.Length; i++)
            destination[i] = (a[i] - y[i]) / (a[i] * (T.One - a[i]));
    }

    /// <inheritdoc/>
    public static void OutputError<TAct, T>(ReadOnlySpan<T> z, ReadOnlySpan<T> a, ReadOnlySpan<T> y, Span<T> delta, int width)
        where TAct : struct, IActivation where T : unmanaged, IFloatingPointIeee754<T>
    {
        Shapes.RequireSameLength(a, y, nameof(a), nameof(y));
        if (typeof(TAct) == typeof(Sigmoid))
        {
            TensorPrimitives.Subtract(a, y, delta);   // δᴸ = a − y (fused)
            return;
        }
        Gradient(a, y, delta);
        Equations.OutputError<TAct, T>(delta, z, a, delta, width);
    }
}
