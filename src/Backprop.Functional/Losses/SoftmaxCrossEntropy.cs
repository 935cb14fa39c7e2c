using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Backprop.Functional.Kernels;

namespace Backprop.Functional;

/// <summary>Categorical cross-entropy: Cₓ = −Σⱼ yⱼ ln aⱼ; ∇ₐCₓ = −y / a. With a softmax output the fused
/// δᴸⱼ = aⱼ·Σᵢyᵢ − yⱼ, which is a − y when the targets sum to 1 (one-hot or a distribution).
/// <para>Threads: stateless (static abstract members only); safe from any thread.</para></summary>
/// <remarks>With a softmax output the cost is computed from the logits z, as PyTorch's <c>cross_entropy</c> does:
/// ln aⱼ = zⱼ − LSE(z), so Cₓ = −Σⱼ yⱼ(zⱼ − LSE(z)) with LSE(z) = ln Σᵢ e^zᵢ = m + ln(1 + s), m = max z and
/// s = Σ e^(zᵢ − m) over all but one maximum (each term read off the forward pass's softmax as aᵢ/a_max, so a must be
/// softmax(z), as the network passes it). It is evaluated as Σⱼ yⱼ(m − zⱼ) + ln(1 + s)·Σⱼ yⱼ: every term is
/// non-negative for non-negative targets, and ln(1 + s) has the log1p correction, so a confident, right answer
/// costs its true 10⁻¹³ rather than a rounding residue, and logits ±400 cost 800 (not the 708 of a clamped ln a).
/// Terms with yⱼ = 0 are skipped. The fused δᴸ is exact for any non-negative targets (label smoothing that does not
/// renormalise, soft or unnormalised targets) and never divides by a.</remarks>
public readonly struct SoftmaxCrossEntropy : ILoss
{
    /// <inheritdoc/>
    public static LossKind Kind => LossKind.SoftmaxCrossEntropy;

    /// <inheritdoc/>
    public static bool Fits(ActivationKind output) => output is ActivationKind.Softmax;

    /// <inheritdoc/>
    /// <remarks>From z (log-sum-exp per row) when <typeparamref name="TAct"/> is <see cref="Softmax"/>; otherwise
    /// <see cref="CostFromOutputs{T}"/> of a.</remarks>
    public static T Cost<TAct, T>(ReadOnlySpan<T> z, ReadOnlySpan<T> a, ReadOnlySpan<T> y, int width)
        where TAct : struct, IActivation where T : unmanaged, IFloatingPointIeee754<T>
    {
        Shapes.RequireSameLength(a, y, nameof(a), nameof(y));
        Shapes.RequireRows(a.Length, width, nameof(a));
        if (typeof(TAct) != typeof(Softmax)) return CostFromOutputs(a, y);
        Shapes.RequireSameLength(z, y, nameof(z), nameof(y));
        double total = 0;   // each row in T, the rows in double
        for (int r = 0; r < z.Length; r += width)
            total += double.CreateTruncating(SoftmaxRow(z.Slice(r, width), a.Slice(r, width), y.Slice(r, width)));
        return T.CreateTruncating(total);
    }

    /// <summary>The textbook form from the outputs a: −Σⱼ yⱼ ln aⱼ, summed in double; terms with yⱼ = 0 are skipped
    /// (0 · ln 0 = 0, its limit). Nothing is clamped: aⱼ = 0 with yⱼ &gt; 0 gives +∞, the exact cost of that a. A
    /// softmax output underflows to 0 once its logit trails the largest by about 745 (double) or 104 (float), which
    /// is why a network's cost comes from z (<see cref="Cost{TAct, T}"/>).</summary>
    /// <exception cref="ArgumentException">The lengths differ.</exception>
    public static T CostFromOutputs<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Shapes.RequireSameLength(a, y, nameof(a), nameof(y));
        double sum = 0;
        for (int i = 0; i < a.Length; i++)
            if (y[i] != T.Zero) sum -= double.CreateTruncating(y[i]) * Math.Log(double.CreateTruncating(a[i]));
        return T.CreateTruncating(sum);
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
    /// <remarks>∂²Cₓ/∂aⱼ² = yⱼ/aⱼ² (the outputs read as they are, not through a softmax).</remarks>
    public static void SecondDerivative<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> y, Span<T> destination)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Shapes.RequireSameLength(a, y, destination);
        for (int i = 0; i < a.Length; i++)
            destination[i] = y[i] / (a[i] * a[i]);
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

    /// <summary>Σⱼ yⱼ(m − zⱼ) + ln(1 + s)·Σⱼ yⱼ for one row (see the remarks), in T, one pass after max z. The terms of
    /// s are read off the softmax the forward pass computed: aⱼ = e^(zⱼ − m)/S and a = 1/S at a maximum, so
    /// e^(zⱼ − m) = aⱼ/a_max to a few ulps, and no exponential is taken again.</summary>
    private static T SoftmaxRow<T>(ReadOnlySpan<T> z, ReadOnlySpan<T> a, ReadOnlySpan<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ref T zr = ref MemoryMarshal.GetReference(z);
        ref T ar = ref MemoryMarshal.GetReference(a);
        ref T yr = ref MemoryMarshal.GetReference(y);
        int n = z.Length, i = 0;
        T m = Max(ref zr, n);
        // below: Σ aⱼ over zⱼ < m; atMax: Σ aⱼ over zⱼ = m; maxima: how many zⱼ = m
        T below = T.Zero, atMax = T.Zero, maxima = T.Zero, sumY = T.Zero, weighted = T.Zero;
        if (Vector.IsHardwareAccelerated && Vector<T>.IsSupported && n >= Vector<T>.Count)
        {
            var mv = new Vector<T>(m);
            Vector<T> belowv = Vector<T>.Zero, atMaxv = Vector<T>.Zero, maximav = Vector<T>.Zero, sumYv = Vector<T>.Zero, weightedv = Vector<T>.Zero;
            for (; i <= n - Vector<T>.Count; i += Vector<T>.Count)
            {
                var d = mv - Vector.LoadUnsafe(ref zr, (nuint)i);   // m − zⱼ ≥ 0, exactly 0 only at a maximum
                var av = Vector.LoadUnsafe(ref ar, (nuint)i);
                var yv = Vector.LoadUnsafe(ref yr, (nuint)i);
                var isMax = Vector.Equals(d, Vector<T>.Zero);
                belowv += Vector.ConditionalSelect(isMax, Vector<T>.Zero, av);
                atMaxv += Vector.ConditionalSelect(isMax, av, Vector<T>.Zero);
                maximav += Vector.ConditionalSelect(isMax, Vector<T>.One, Vector<T>.Zero);
                sumYv += yv;
                weightedv += Vector.ConditionalSelect(Vector.Equals(yv, Vector<T>.Zero), Vector<T>.Zero, yv * d);
            }
            below = Vector.Sum(belowv);
            atMax = Vector.Sum(atMaxv);
            maxima = Vector.Sum(maximav);
            sumY = Vector.Sum(sumYv);
            weighted = Vector.Sum(weightedv);
        }
        for (; i < n; i++)
        {
            T d = m - Unsafe.Add(ref zr, i), ai = Unsafe.Add(ref ar, i), yi = Unsafe.Add(ref yr, i);
            if (d == T.Zero) { atMax += ai; maxima += T.One; }
            else below += ai;
            sumY += yi;
            if (yi != T.Zero) weighted += yi * d;
        }
        // s = Σ over zⱼ < m of e^(zⱼ − m), plus 1 for each further maximum (NaN when m is: then no zⱼ equals it)
        T s = below / (atMax / maxima) + (maxima - T.One);
        return weighted + LogOnePlusExp.Log1p(s) * sumY;
    }

    /// <summary>max z over n elements; NaN if any is NaN (T.Max and Vector.Max propagate it).</summary>
    private static T Max<T>(ref T zr, int n) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T m = zr;
        int i = 1;
        if (Vector.IsHardwareAccelerated && Vector<T>.IsSupported && n >= Vector<T>.Count)
        {
            var mv = Vector.LoadUnsafe(ref zr);
            for (i = Vector<T>.Count; i <= n - Vector<T>.Count; i += Vector<T>.Count)
                mv = Vector.Max(mv, Vector.LoadUnsafe(ref zr, (nuint)i));
            mv = Vector.Max(mv, Vector.LoadUnsafe(ref zr, (nuint)(n - Vector<T>.Count)));   // the tail, overlapping
            m = mv[0];
            for (int k = 1; k < Vector<T>.Count; k++) m = T.Max(m, mv[k]);
            return m;
        }
        for (; i < n; i++) m = T.Max(m, Unsafe.Add(ref zr, i));
        return m;
    }
}
