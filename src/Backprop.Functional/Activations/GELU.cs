using System.Numerics;
using System.Numerics.Tensors;
using Backprop.Functional.Kernels;

namespace Backprop.Functional;

/// <summary>GELU, tanh form (Hendrycks &amp; Gimpel 2016): σ(z) = ½z(1 + tanh(√(2/π)(z + 0.044715z³))); σ′(z) = ½(1 + t) + ½z(1 − t²)√(2/π)(1 + 3·0.044715z²), t the tanh above.</summary>
public readonly struct GELU : IElementwiseActivation
{
    /// <inheritdoc/>
    public static ActivationKind Kind => ActivationKind.GELU;

    /// <inheritdoc/>
    public static T Value<T>(T z) where T : unmanaged, IFloatingPointIeee754<T> => GELUPrime<T>.Half * z * (T.One + GELUPrime<T>.Inner(z));

    /// <inheritdoc/>
    public static T Derivative<T>(T z, T a) where T : unmanaged, IFloatingPointIeee754<T> => GELUPrime<T>.Invoke(z, a);

    /// <inheritdoc/>
    public static void Derivative<T>(ReadOnlySpan<T> z, ReadOnlySpan<T> a, Span<T> destination)
        where T : unmanaged, IFloatingPointIeee754<T> => Elementwise.Map<GELUPrime<T>, T>(z, a, destination);

    /// <inheritdoc/>
    public static void Apply<T>(ReadOnlySpan<T> z, Span<T> a, int width) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Shapes.RequireSameLength(z, a, nameof(z), nameof(a));
        for (int i = 0; i < z.Length; i++) a[i] = Value(z[i]);
    }

    /// <inheritdoc/>
    public static void Backward<T>(ReadOnlySpan<T> z, ReadOnlySpan<T> a, ReadOnlySpan<T> upstream, Span<T> delta, int width)
        where T : unmanaged, IFloatingPointIeee754<T> => Elementwise.MultiplyBy<GELUPrime<T>, T>(upstream, z, a, delta);
}

/// <summary>σ′ of <see cref="GELU"/>.</summary>
internal readonly struct GELUPrime<T> : IElementOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    internal static readonly T Half = T.CreateChecked(0.5);
    private static readonly T C = T.CreateChecked(0.7978845608028654);   // √(2/π)
    private static readonly T K = T.CreateChecked(0.044715);
    private static readonly T K3 = T.CreateChecked(3 * 0.044715);

    /// <summary>t = tanh(√(2/π)(z + 0.044715z³)).</summary>
    internal static T Inner(T z) => T.Tanh(C * (z + K * z * z * z));

    public static T Invoke(T z, T a)
    {
        T t = Inner(z);
        return Half * (T.One + t) + Half * z * (T.One - t * t) * C * (T.One + K3 * z * z);
    }
    public static Vector<T> Invoke(Vector<T> z, Vector<T> a) => Elementwise.PerLane<GELUPrime<T>, T>(z, a);
}
