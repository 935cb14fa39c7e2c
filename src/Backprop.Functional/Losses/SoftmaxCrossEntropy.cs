using System.Numerics;
using System.Numerics.Tensors;

namespace Backprop.Functional;

/// <summary>Categorical cross-entropy: Cₓ = −Σⱼ yⱼ ln aⱼ; ∇ₐCₓ = −y / a. With a softmax output the fused
/// δᴸⱼ = aⱼ·Σᵢyᵢ − yⱼ, which is a − y when the targets sum to 1 (one-hot or a distribution).
/// <para>Threads: stateless (static abstract members only); safe from any thread.</para></summary>
/// <remarks>Terms with yⱼ = 0 are skipped and a is kept off 0 by the smallest normal number inside the
/// logarithm. The fused form is exact for any non-negative targets (label smoothing that does not renormalise,
/// soft or unnormalised targets) and never divides by a.</remarks>
public readonly struct SoftmaxCrossEntropy : ILoss
{
    /// <inheritdoc/>
    public static LossKind Kind => LossKind.SoftmaxCrossEntropy;

    /// <inheritdoc/>
    public static bool Fits(ActivationKind output) => output is ActivationKind.Softmax;

    /// <inheritdoc/>
    public static T Cost<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Shapes.RequireSameLength(a, y, nameof(a), nameof(y));
        T tiny = CrossEntropyTiny<T>.Value;
        T sum = T.Zero;
        for (int i = 0; i < a.Length; i++)
            if (y[i] != T.Zero) sum -= y[i] * T.Log(T.Max(a[i], tiny));
        return sum;
    }

    /// <inheritdoc/>
    public static void Gradient<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> y, Span<T> destination)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Shapes.RequireSameLength(a, y, destination);
        for (int i = 0; i < a.Length; i++)
            destination[i] = -y[i] / a[i];
    }

    /// <inheritdoc/>
    public static void OutputError<TAct, T>(ReadOnlySpan<T> z, ReadOnlySpan<T> a, ReadOnlySpan<T> y, Span<T> delta, int width)
        where TAct : struct, IActivation where T : unmanaged, IFloatingPointIeee754<T>
    {
        Shapes.RequireSameLength(a, y, nameof(a), nameof(y));
        if (typeof(TAct) == typeof(Softmax))
        {
            Shapes.RequireRows(a.Length, width, nameof(a));
            for (int r = 0; r < a.Length; r += width)   // δᴸ = a·Σy − y per row (fused; a − y for one-hot y)
            {
                var yr = y.Slice(r, width);
                var dr = delta.Slice(r, width);
                TensorPrimitives.Multiply(a.Slice(r, width), TensorPrimitives.Sum(yr), dr);
                TensorPrimitives.Subtract(dr, yr, dr);
            }
            return;
        }
        Gradient(a, y, delta);
        Equations.OutputError<TAct, T>(delta, z, a, delta, width);
    }
}

/// <summary>The smallest positive normal number of T, the floor inside the cross-entropy logarithms.</summary>
internal static class CrossEntropyTiny<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public static readonly T Value = typeof(T) == typeof(float) ? T.CreateChecked(1.17549435E-38f)
        : T.CreateChecked(2.2250738585072014E-308);
}
