using System.Numerics;
using System.Numerics.Tensors;
using Backprop.Functional.Kernels;

namespace Backprop.Functional;

/// <summary>Hyperbolic tangent: σ(z) = tanh z; σ′(z) = 1 − tanh² z ≤ 1.
/// <para>Threads: stateless (static abstract members only); safe from any thread.</para></summary>
public readonly struct Tanh : IElementwiseActivation
{
    /// <inheritdoc/>
    public static ActivationKind Kind => ActivationKind.Tanh;

    /// <inheritdoc/>
    public static T Value<T>(T z) where T : unmanaged, IFloatingPointIeee754<T> => T.Tanh(z);

    /// <inheritdoc/>
    public static T Derivative<T>(T z, T a) where T : unmanaged, IFloatingPointIeee754<T> => TanhPrime<T>.Invoke(z, a);

    /// <remarks>σ″ = −2 tanh z (1 − tanh² z).</remarks>
    public static T SecondDerivative<T>(T z, T a) where T : unmanaged, IFloatingPointIeee754<T> => -(a + a) * (T.One - a * a);

    /// <inheritdoc/>
    public static void Derivative<T>(ReadOnlySpan<T> z, ReadOnlySpan<T> a, Span<T> destination)
        where T : unmanaged, IFloatingPointIeee754<T> => Elementwise.Map<TanhPrime<T>, T>(z, a, destination);

    /// <inheritdoc/>
    public static void Apply<T>(ReadOnlySpan<T> z, Span<T> a, int width) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Shapes.RequireSameLength(z, a, nameof(z), nameof(a));
        AlignedMath.Tanh(z, a);   // TensorPrimitives through an aligned block: the same bits at any address
    }

    /// <inheritdoc/>
    public static void Backward<T>(ReadOnlySpan<T> z, ReadOnlySpan<T> a, ReadOnlySpan<T> upstream, Span<T> delta, int width)
        where T : unmanaged, IFloatingPointIeee754<T> => Elementwise.MultiplyBy<TanhPrime<T>, T>(upstream, z, a, delta);
}

/// <summary>σ′ of <see cref="Tanh"/>.</summary>
internal readonly struct TanhPrime<T> : IElementOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public static T Invoke(T z, T a) => T.One - a * a;
    public static Vector<T> Invoke(Vector<T> z, Vector<T> a) => Vector<T>.One - a * a;
}
