using System.Numerics;
using System.Numerics.Tensors;
using Backprop.Functional.Kernels;

namespace Backprop.Functional;

/// <summary>Logistic sigmoid: σ(z) = 1/(1+e⁻ᶻ); σ′(z) = σ(z)(1 − σ(z)) ≤ ¼.
/// <para>Threads: stateless (static abstract members only); safe from any thread.</para></summary>
public readonly struct Sigmoid : IElementwiseActivation
{
    /// <inheritdoc/>
    public static ActivationKind Kind => ActivationKind.Sigmoid;

    /// <inheritdoc/>
    public static T Value<T>(T z) where T : unmanaged, IFloatingPointIeee754<T> => T.One / (T.One + T.Exp(-z));

    /// <inheritdoc/>
    public static T Derivative<T>(T z, T a) where T : unmanaged, IFloatingPointIeee754<T> => SigmoidPrime<T>.Invoke(z, a);

    /// <remarks>σ″ = σ(1 − σ)(1 − 2σ).</remarks>
    public static T SecondDerivative<T>(T z, T a) where T : unmanaged, IFloatingPointIeee754<T> => a * (T.One - a) * (T.One - (a + a));

    /// <inheritdoc/>
    public static void Derivative<T>(ReadOnlySpan<T> z, ReadOnlySpan<T> a, Span<T> destination)
        where T : unmanaged, IFloatingPointIeee754<T> => Elementwise.Map<SigmoidPrime<T>, T>(z, a, destination);

    /// <inheritdoc/>
    public static void Apply<T>(ReadOnlySpan<T> z, Span<T> a, int width) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Shapes.RequireSameLength(z, a, nameof(z), nameof(a));
        AlignedMath.Sigmoid(z, a);   // TensorPrimitives through an aligned block: the same bits at any address
    }

    /// <inheritdoc/>
    public static void Backward<T>(ReadOnlySpan<T> z, ReadOnlySpan<T> a, ReadOnlySpan<T> upstream, Span<T> delta, int width)
        where T : unmanaged, IFloatingPointIeee754<T> => Elementwise.MultiplyBy<SigmoidPrime<T>, T>(upstream, z, a, delta);
}

/// <summary>σ′ of <see cref="Sigmoid"/>.</summary>
internal readonly struct SigmoidPrime<T> : IElementOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public static T Invoke(T z, T a) => a * (T.One - a);
    public static Vector<T> Invoke(Vector<T> z, Vector<T> a) => a * (Vector<T>.One - a);
}
