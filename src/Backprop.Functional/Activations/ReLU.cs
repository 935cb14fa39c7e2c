using System.Numerics;
using System.Numerics.Tensors;
using Backprop.Functional.Kernels;

namespace Backprop.Functional;

/// <summary>Rectified linear unit: σ(z) = max(z, 0); σ′(z) = 1 for z &gt; 0, else 0 (the subgradient at 0 is taken as 0, as PyTorch does).
/// <para>Threads: stateless (static abstract members only); safe from any thread.</para></summary>
public readonly struct ReLU : IElementwiseActivation
{
    /// <inheritdoc/>
    public static ActivationKind Kind => ActivationKind.ReLU;

    /// <inheritdoc/>
    public static T Value<T>(T z) where T : unmanaged, IFloatingPointIeee754<T> => z > T.Zero ? z : T.Zero;

    /// <inheritdoc/>
    public static T Derivative<T>(T z, T a) where T : unmanaged, IFloatingPointIeee754<T> => ReLUPrime<T>.Invoke(z, a);

    /// <remarks>0: the kink at z = 0 has no second derivative; 0 is its value everywhere else.</remarks>
    public static T SecondDerivative<T>(T z, T a) where T : unmanaged, IFloatingPointIeee754<T> => T.Zero;

    /// <inheritdoc/>
    public static void Derivative<T>(ReadOnlySpan<T> z, ReadOnlySpan<T> a, Span<T> destination)
        where T : unmanaged, IFloatingPointIeee754<T> => Elementwise.Map<ReLUPrime<T>, T>(z, a, destination);

    /// <inheritdoc/>
    public static void Apply<T>(ReadOnlySpan<T> z, Span<T> a, int width) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Shapes.RequireSameLength(z, a, nameof(z), nameof(a));
        TensorPrimitives.Max(z, T.Zero, a);
    }

    /// <inheritdoc/>
    public static void Backward<T>(ReadOnlySpan<T> z, ReadOnlySpan<T> a, ReadOnlySpan<T> upstream, Span<T> delta, int width)
        where T : unmanaged, IFloatingPointIeee754<T> => Elementwise.MultiplyBy<ReLUPrime<T>, T>(upstream, z, a, delta);
}

/// <summary>σ′ of <see cref="ReLU"/>.</summary>
internal readonly struct ReLUPrime<T> : IElementOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public static T Invoke(T z, T a) => z > T.Zero ? T.One : T.Zero;
    public static Vector<T> Invoke(Vector<T> z, Vector<T> a) => Vector.ConditionalSelect(Vector.GreaterThan(z, Vector<T>.Zero), Vector<T>.One, Vector<T>.Zero);
}
