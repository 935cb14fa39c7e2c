using System.Numerics;
using System.Numerics.Tensors;
using Backprop.Functional.Kernels;

namespace Backprop.Functional;

/// <summary>Identity: σ(z) = z; σ′(z) = 1.
/// <para>Threads: stateless (static abstract members only); safe from any thread.</para></summary>
public readonly struct Identity : IElementwiseActivation
{
    /// <inheritdoc/>
    public static ActivationKind Kind => ActivationKind.Identity;

    /// <inheritdoc/>
    public static T Value<T>(T z) where T : unmanaged, IFloatingPointIeee754<T> => z;

    /// <inheritdoc/>
    public static T Derivative<T>(T z, T a) where T : unmanaged, IFloatingPointIeee754<T> => IdentityPrime<T>.Invoke(z, a);

    /// <inheritdoc/>
    public static T SecondDerivative<T>(T z, T a) where T : unmanaged, IFloatingPointIeee754<T> => T.Zero;

    /// <inheritdoc/>
    public static void Derivative<T>(ReadOnlySpan<T> z, ReadOnlySpan<T> a, Span<T> destination)
        where T : unmanaged, IFloatingPointIeee754<T> => Elementwise.Map<IdentityPrime<T>, T>(z, a, destination);

    /// <inheritdoc/>
    public static void Apply<T>(ReadOnlySpan<T> z, Span<T> a, int width) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Shapes.RequireSameLength(z, a, nameof(z), nameof(a));
        z.CopyTo(a);
    }

    /// <inheritdoc/>
    public static void Backward<T>(ReadOnlySpan<T> z, ReadOnlySpan<T> a, ReadOnlySpan<T> upstream, Span<T> delta, int width)
        where T : unmanaged, IFloatingPointIeee754<T> => Elementwise.MultiplyBy<IdentityPrime<T>, T>(upstream, z, a, delta);
}

/// <summary>σ′ of <see cref="Identity"/>.</summary>
internal readonly struct IdentityPrime<T> : IElementOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public static T Invoke(T z, T a) => T.One;
    public static Vector<T> Invoke(Vector<T> z, Vector<T> a) => Vector<T>.One;
}
