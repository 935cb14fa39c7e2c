using System.Numerics;
using System.Numerics.Tensors;
using Backprop.Functional.Kernels;

namespace Backprop.Functional;

/// <summary>Softplus: σ(z) = ln(1 + eᶻ), computed as max(z, 0) + ln(1 + e^−|z|) so it never overflows; σ′(z) = 1/(1+e⁻ᶻ).</summary>
public readonly struct Softplus : IElementwiseActivation
{
    /// <inheritdoc/>
    public static ActivationKind Kind => ActivationKind.Softplus;

    /// <inheritdoc/>
    public static T Value<T>(T z) where T : unmanaged, IFloatingPointIeee754<T> => T.Max(z, T.Zero) + T.LogP1(T.Exp(-T.Abs(z)));

    /// <inheritdoc/>
    public static T Derivative<T>(T z, T a) where T : unmanaged, IFloatingPointIeee754<T> => SoftplusPrime<T>.Invoke(z, a);

    /// <inheritdoc/>
    public static void Derivative<T>(ReadOnlySpan<T> z, ReadOnlySpan<T> a, Span<T> destination)
        where T : unmanaged, IFloatingPointIeee754<T> => Elementwise.Map<SoftplusPrime<T>, T>(z, a, destination);

    /// <inheritdoc/>
    public static void Apply<T>(ReadOnlySpan<T> z, Span<T> a, int width) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Shapes.RequireSameLength(z, a, nameof(z), nameof(a));
        for (int i = 0; i < z.Length; i++) a[i] = Value(z[i]);
    }

    /// <inheritdoc/>
    public static void Backward<T>(ReadOnlySpan<T> z, ReadOnlySpan<T> a, ReadOnlySpan<T> upstream, Span<T> delta, int width)
        where T : unmanaged, IFloatingPointIeee754<T> => Elementwise.MultiplyBy<SoftplusPrime<T>, T>(upstream, z, a, delta);
}

/// <summary>σ′ of <see cref="Softplus"/>.</summary>
internal readonly struct SoftplusPrime<T> : IElementOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public static T Invoke(T z, T a) => T.One / (T.One + T.Exp(-z));
    public static Vector<T> Invoke(Vector<T> z, Vector<T> a) => Elementwise.PerLane<SoftplusPrime<T>, T>(z, a);
}
