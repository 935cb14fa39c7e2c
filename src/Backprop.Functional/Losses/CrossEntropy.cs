using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Backprop.Functional.Kernels;

namespace Backprop.Functional;

/// <summary>Binary cross-entropy per output (Nielsen ch. 3): Cₓ = −Σⱼ [yⱼ ln aⱼ + (1 − yⱼ) ln(1 − aⱼ)];
/// ∇ₐCₓ = (a − y) / (a(1 − a)). With a sigmoid output δᴸ = a − y: the σ′ that slows the quadratic cost cancels.
/// Fits sigmoid outputs only: each output is read as an independent probability.
/// <para>Threads: stateless (static abstract members only); safe from any thread.</para></summary>
/// <remarks>With a sigmoid output the cost is computed from the logits z, as PyTorch's
/// <c>binary_cross_entropy_with_logits</c> does: Cₓ = Σⱼ max(zⱼ, 0) − zⱼyⱼ + ln(1 + e^−|zⱼ|), evaluated as
/// max(zⱼ, 0)(1 − yⱼ) + max(−zⱼ, 0)yⱼ + ln(1 + e^−|zⱼ|) (no cancellation for yⱼ near 1) with the log1p correction,
/// so it is exact however far the output saturates (y = 0: z = 40 costs 40, z = 800 costs 800, in float too).
/// <see cref="CostFromOutputs{T}"/> is the textbook form from a, for other uses.</remarks>
public readonly struct CrossEntropy : ILoss
{
    /// <summary>Elements summed in T (vector lanes) before the partial sum joins the double total.</summary>
    private const int Block = 256;

    /// <inheritdoc/>
    public static LossKind Kind => LossKind.CrossEntropy;

    /// <inheritdoc/>
    public static bool Fits(ActivationKind output) => output is ActivationKind.Sigmoid;

    /// <inheritdoc/>
    /// <remarks>From z when <typeparamref name="TAct"/> is <see cref="Sigmoid"/>; otherwise
    /// <see cref="CostFromOutputs{T}"/> of a.</remarks>
    public static T Cost<TAct, T>(ReadOnlySpan<T> z, ReadOnlySpan<T> a, ReadOnlySpan<T> y, int width)
        where TAct : struct, IActivation where T : unmanaged, IFloatingPointIeee754<T>
    {
        Shapes.RequireSameLength(a, y, nameof(a), nameof(y));
        Shapes.RequireRows(a.Length, width, nameof(a));
        if (typeof(TAct) != typeof(Sigmoid)) return CostFromOutputs(a, y);
        Shapes.RequireSameLength(z, y, nameof(z), nameof(y));
        double total = 0;   // element-wise: blocks of the flat span, each summed in T, the blocks in double
        for (int r = 0; r < z.Length; r += Block)
        {
            int n = Math.Min(Block, z.Length - r);
            total += double.CreateTruncating(LogisticSum(z.Slice(r, n), y.Slice(r, n)));
        }
        return T.CreateTruncating(total);
    }

    /// <summary>The textbook form from the outputs a: −Σ [yⱼ ln aⱼ + (1 − yⱼ) ln(1 − aⱼ)], summed in double. A term
    /// whose weight yⱼ or 1 − yⱼ is zero is skipped (0 · ln 0 = 0, its limit). Nothing is clamped: a = 0 with y &gt; 0,
    /// or a = 1 with y &lt; 1, gives +∞, which is the exact cost of that a. A sigmoid output rounds to 0 or 1 long before
    /// its logit is large (z ≈ 37 in double, 17 in float), and ln a loses digits well before that, which is why a
    /// network's cost comes from z (<see cref="Cost{TAct, T}"/>).</summary>
    /// <exception cref="ArgumentException">The lengths differ.</exception>
    public static T CostFromOutputs<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Shapes.RequireSameLength(a, y, nameof(a), nameof(y));
        double sum = 0;
        for (int i = 0; i < a.Length; i++)
        {
            double ai = double.CreateTruncating(a[i]), yi = double.CreateTruncating(y[i]);
            if (yi != 0) sum -= yi * Math.Log(ai);
            if (yi != 1) sum -= (1 - yi) * Math.Log(1 - ai);
        }
        return T.CreateTruncating(sum);
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
    /// <remarks>∂²Cₓ/∂aⱼ² = yⱼ/aⱼ² + (1 − yⱼ)/(1 − aⱼ)².</remarks>
    public static void SecondDerivative<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> y, Span<T> destination)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Shapes.RequireSameLength(a, y, destination);
        for (int i = 0; i < a.Length; i++)
        {
            T ai = a[i], bi = T.One - a[i];
            destination[i] = y[i] / (ai * ai) + (T.One - y[i]) / (bi * bi);
        }
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

    /// <summary>Σⱼ max(zⱼ, 0)(1 − yⱼ) + max(−zⱼ, 0)yⱼ + ln(1 + e^−|zⱼ|), in T.</summary>
    private static T LogisticSum<T>(ReadOnlySpan<T> z, ReadOnlySpan<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ref T zr = ref MemoryMarshal.GetReference(z);
        ref T yr = ref MemoryMarshal.GetReference(y);
        int n = z.Length, i = 0;
        T sum = T.Zero;
        if (VectorMath.Supported<T>() && n >= Vector<T>.Count)
        {
            var acc = Vector<T>.Zero;
            for (; i <= n - Vector<T>.Count; i += Vector<T>.Count)
            {
                var zv = Vector.LoadUnsafe(ref zr, (nuint)i);
                var yv = Vector.LoadUnsafe(ref yr, (nuint)i);
                acc += Vector.Max(zv, Vector<T>.Zero) * (Vector<T>.One - yv) + Vector.Max(-zv, Vector<T>.Zero) * yv
                    + LogOnePlusExp.Of(zv);
            }
            sum = Vector.Sum(acc);
        }
        for (; i < n; i++)
        {
            T zi = Unsafe.Add(ref zr, i), yi = Unsafe.Add(ref yr, i);
            sum += T.Max(zi, T.Zero) * (T.One - yi) + T.Max(-zi, T.Zero) * yi + LogOnePlusExp.Of(zi);
        }
        return sum;
    }
}
