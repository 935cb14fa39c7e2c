using System.Numerics;
using System.Numerics.Tensors;
using Backprop.Functional.Kernels;

namespace Backprop.Functional;

/// <summary>GELU, tanh form (Hendrycks &amp; Gimpel 2016): σ(z) = ½z(1 + tanh(√(2/π)(z + 0.044715z³))); σ′(z) = ½(1 + t) + ½z(1 − t²)√(2/π)(1 + 3·0.044715z²), t the tanh above.
/// <para>Threads: stateless (static abstract members only); safe from any thread.</para></summary>
/// <remarks>The span forms are vectorised: t comes from <see cref="TensorPrimitives.Tanh{T}(ReadOnlySpan{T}, Span{T})"/>,
/// the polynomials from the library's element driver. They agree with the scalar forms to a few ulps of the
/// result's scale (the vectorised tanh is not bit-identical to <c>T.Tanh</c>).</remarks>
public readonly struct GELU : IElementwiseActivation
{
    /// <summary>Elements per chunk of the stack scratch the backward pass uses when δ and u share memory.</summary>
    private const int Chunk = 256;

    /// <inheritdoc/>
    public static ActivationKind Kind => ActivationKind.GELU;

    /// <inheritdoc/>
    public static T Value<T>(T z) where T : unmanaged, IFloatingPointIeee754<T> => GELUPrime<T>.Half * z * (T.One + GELUPrime<T>.Inner(z));

    /// <inheritdoc/>
    public static T Derivative<T>(T z, T a) where T : unmanaged, IFloatingPointIeee754<T> => GELUPrime<T>.Invoke(z, GELUPrime<T>.Inner(z));

    /// <remarks>With u = √(2/π)(z + kz³) and t = tanh u: σ″ = (1 − t²)(u′ + ½z(u″ − 2t u′²)), u′ = √(2/π)(1 + 3kz²),
    /// u″ = 6√(2/π)kz; 0 where 1 − t² is 0 (|z| past about 10), where u′² would otherwise overflow.</remarks>
    public static T SecondDerivative<T>(T z, T a) where T : unmanaged, IFloatingPointIeee754<T> => GELUPrime<T>.Second(z, GELUPrime<T>.Inner(z));

    /// <inheritdoc/>
    public static void Derivative<T>(ReadOnlySpan<T> z, ReadOnlySpan<T> a, Span<T> destination)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Shapes.RequireSameLength(z, a, destination);
        if (z.Overlaps(destination))
        {
            for (int i = 0; i < z.Length; i++) destination[i] = Derivative(z[i], a[i]);
            return;
        }
        Inner(z, destination);                                             // t
        Elementwise.Map<GELUPrime<T>, T>(z, destination, destination);      // σ′ from (z, t)
    }

    /// <inheritdoc/>
    public static void Apply<T>(ReadOnlySpan<T> z, Span<T> a, int width) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Shapes.RequireSameLength(z, a, nameof(z), nameof(a));
        if (z.Overlaps(a))
        {
            for (int i = 0; i < z.Length; i++) a[i] = Value(z[i]);
            return;
        }
        Inner(z, a);                                          // t
        TensorPrimitives.Add(a, T.One, a);                    // 1 + t
        TensorPrimitives.Multiply(a, GELUPrime<T>.Half, a);   // ½(1 + t), halved first: z(1 + t) overflows past max/2
        TensorPrimitives.Multiply(a, z, a);                   // ½z(1 + t)
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
            Derivative(z.Slice(i, n), a.Slice(i, n), prime[..n]);
            TensorPrimitives.Multiply(upstream.Slice(i, n), prime[..n], delta.Slice(i, n));
        }
    }

    /// <summary>destination = tanh(√(2/π)(z + 0.044715z³)), vectorised; destination must not overlap z.</summary>
    private static void Inner<T>(ReadOnlySpan<T> z, Span<T> destination) where T : unmanaged, IFloatingPointIeee754<T>
    {
        TensorPrimitives.Multiply(z, z, destination);                                      // z²
        TensorPrimitives.Multiply(destination, GELUPrime<T>.K, destination);              // kz²
        TensorPrimitives.Add(destination, T.One, destination);                            // 1 + kz²
        TensorPrimitives.Multiply(destination, z, destination);                           // z + kz³
        TensorPrimitives.Multiply(destination, GELUPrime<T>.C, destination);              // √(2/π)(z + kz³)
        AlignedMath.Tanh<T>(destination, destination);   // not TensorPrimitives directly: its bits depend on the address
    }
}

/// <summary>σ′ of <see cref="GELU"/> as a function of z and t = tanh(√(2/π)(z + 0.044715z³)) (not of a).</summary>
internal readonly struct GELUPrime<T> : IElementOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    internal static readonly T Half = T.CreateChecked(0.5);
    internal static readonly T C = T.CreateChecked(0.7978845608028654);   // √(2/π)
    internal static readonly T K = T.CreateChecked(0.044715);
    private static readonly T K3 = T.CreateChecked(3 * 0.044715);

    /// <summary>t = tanh(√(2/π)(z + 0.044715z³)).</summary>
    internal static T Inner(T z) => T.Tanh(C * (z + K * z * z * z));

    /// <summary>Past |z| = 10 the inner tanh is ±1 exactly in float and double (its argument exceeds 43), so
    /// 1 − t² = 0; z is clamped there in the second term, whose 1 + 3kz² would overflow to ∞ (0·∞ = NaN) past
    /// |z| ≈ 10¹⁹ in float and 10¹⁵⁴ in double.</summary>
    private static readonly T Limit = T.CreateChecked(10);

    /// <summary>σ″ = (1 − t²)(u′ + ½z(u″ − 2t u′²)) with u′ = √(2/π)(1 + 3kz²), u″ = 6√(2/π)kz; 0 once 1 − t² is.</summary>
    public static T Second(T z, T t)
    {
        T s = T.One - t * t;
        if (s == T.Zero) return T.Zero;
        T u1 = C * (T.One + K3 * z * z), u2 = C * K3 * (z + z);
        return s * (u1 + Half * z * (u2 - (t + t) * u1 * u1));
    }

    /// <summary>σ′ = ½(1 + t) + ½z(1 − t²)√(2/π)(1 + 3kz²), with z clamped to ±10 in the second term.</summary>
    public static T Invoke(T z, T t)
    {
        T zc = T.Clamp(z, -Limit, Limit);
        return Half * (T.One + t) + Half * zc * (T.One - t * t) * C * (T.One + K3 * zc * zc);
    }

    public static Vector<T> Invoke(Vector<T> z, Vector<T> t)
    {
        var half = new Vector<T>(Half);
        var one = Vector<T>.One;
        var limit = new Vector<T>(Limit);
        var zc = Vector.Min(Vector.Max(z, -limit), limit);
        return half * (one + t) + half * zc * (one - t * t) * new Vector<T>(C) * (one + new Vector<T>(K3) * zc * zc);
    }
}
