using System.Numerics;
using System.Numerics.Tensors;
using Backprop.Functional.Kernels;

namespace Backprop.Functional;

/// <summary>Softplus: σ(z) = ln(1 + eᶻ), computed as max(z, 0) + ln(1 + e^−|z|) with the log1p correction, so it never
/// overflows and keeps full relative precision where it is tiny (σ(−35) = 6.3·10⁻¹⁶); σ′(z) = 1/(1+e⁻ᶻ).
/// <para>Threads: stateless (static abstract members only); safe from any thread.</para></summary>
/// <remarks>The span forms are vectorised (System.Numerics.Vector's exp and log, TensorPrimitives' sigmoid) and agree
/// with the scalar forms to a few ulps. σ′ needs no special form: 1/(1 + e⁻ᶻ) has no cancellation, and where e⁻ᶻ
/// overflows the exact σ′ is below the smallest normal number.</remarks>
public readonly struct Softplus : IElementwiseActivation
{
    /// <summary>Elements per chunk of the stack scratch the backward pass uses when δ and u share memory.</summary>
    private const int Chunk = 256;

    /// <inheritdoc/>
    public static ActivationKind Kind => ActivationKind.Softplus;

    /// <inheritdoc/>
    public static T Value<T>(T z) where T : unmanaged, IFloatingPointIeee754<T> => T.Max(z, T.Zero) + LogOnePlusExp.Of(z);

    /// <inheritdoc/>
    public static T Derivative<T>(T z, T a) where T : unmanaged, IFloatingPointIeee754<T> => T.One / (T.One + T.Exp(-z));

    private static T SoftplusSecond<T>(T z) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T s = T.One / (T.One + T.Exp(-z));
        return s * (T.One - s);
    }

    /// <remarks>σ″ = s(1 − s) with s = 1/(1 + e⁻ᶻ), the logistic function.</remarks>
    public static T SecondDerivative<T>(T z, T a) where T : unmanaged, IFloatingPointIeee754<T> => SoftplusSecond(z);

    /// <inheritdoc/>
    public static void Derivative<T>(ReadOnlySpan<T> z, ReadOnlySpan<T> a, Span<T> destination)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Shapes.RequireSameLength(z, a, destination);
        AlignedMath.Sigmoid(z, destination);   // σ′(z) = 1/(1 + e⁻ᶻ)
    }

    /// <inheritdoc/>
    public static void Apply<T>(ReadOnlySpan<T> z, Span<T> a, int width) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Shapes.RequireSameLength(z, a, nameof(z), nameof(a));
        if (!VectorMath.Supported<T>())
        {
            for (int i = 0; i < z.Length; i++) a[i] = Value(z[i]);
            return;
        }
        Elementwise.Map<SoftplusValue<T>, T>(z, z, a);   // one pass, element by element: z and a may be the same memory
    }

    /// <inheritdoc/>
    public static void Backward<T>(ReadOnlySpan<T> z, ReadOnlySpan<T> a, ReadOnlySpan<T> upstream, Span<T> delta, int width)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Shapes.RequireSameLength(z, a, delta);
        Shapes.RequireSameLength(upstream, delta, nameof(upstream), nameof(delta));
        Span<T> prime = stackalloc T[Chunk];
        for (int i = 0; i < z.Length; i += Chunk)
        {
            int n = Math.Min(Chunk, z.Length - i);
            AlignedMath.Sigmoid(z.Slice(i, n), prime[..n]);
            TensorPrimitives.Multiply(upstream.Slice(i, n), prime[..n], delta.Slice(i, n));
        }
    }
}

/// <summary>max(z, 0) + ln(1 + e^−|z|), the vectorised softplus (the second operand is not read).</summary>
internal readonly struct SoftplusValue<T> : IElementOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public static T Invoke(T z, T unused) => T.Max(z, T.Zero) + LogOnePlusExp.Of(z);
    public static Vector<T> Invoke(Vector<T> z, Vector<T> unused) => Vector.Max(z, Vector<T>.Zero) + LogOnePlusExp.Of(z);
}
