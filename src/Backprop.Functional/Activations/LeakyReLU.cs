using System.Numerics;
using System.Numerics.Tensors;
using Backprop.Functional.Kernels;

namespace Backprop.Functional;

/// <summary>Leaky ReLU with slope α = 0.01 (PyTorch's default): σ(z) = z for z &gt; 0, αz otherwise; σ′(z) = 1 or α.
/// <para>Threads: stateless (static abstract members only); safe from any thread.</para></summary>
public readonly struct LeakyReLU : IElementwiseActivation
{
    /// <inheritdoc/>
    public static ActivationKind Kind => ActivationKind.LeakyReLU;

    /// <inheritdoc/>
    public static T Value<T>(T z) where T : unmanaged, IFloatingPointIeee754<T> => z > T.Zero ? z : LeakyReLUValue<T>.Slope * z;

    /// <inheritdoc/>
    public static T Derivative<T>(T z, T a) where T : unmanaged, IFloatingPointIeee754<T> => LeakyReLUPrime<T>.Invoke(z, a);

    /// <remarks>0: the kink at z = 0 has no second derivative; 0 is its value everywhere else.</remarks>
    public static T SecondDerivative<T>(T z, T a) where T : unmanaged, IFloatingPointIeee754<T> => T.Zero;

    /// <inheritdoc/>
    public static void Derivative<T>(ReadOnlySpan<T> z, ReadOnlySpan<T> a, Span<T> destination)
        where T : unmanaged, IFloatingPointIeee754<T> => Elementwise.Map<LeakyReLUPrime<T>, T>(z, a, destination);

    /// <inheritdoc/>
    public static void Apply<T>(ReadOnlySpan<T> z, Span<T> a, int width) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Shapes.RequireSameLength(z, a, nameof(z), nameof(a));
        Elementwise.Map<LeakyReLUValue<T>, T>(z, z, a);
    }

    /// <inheritdoc/>
    public static void Backward<T>(ReadOnlySpan<T> z, ReadOnlySpan<T> a, ReadOnlySpan<T> upstream, Span<T> delta, int width)
        where T : unmanaged, IFloatingPointIeee754<T> => Elementwise.MultiplyBy<LeakyReLUPrime<T>, T>(upstream, z, a, delta);
}

/// <summary>σ′ of <see cref="LeakyReLU"/>.</summary>
internal readonly struct LeakyReLUPrime<T> : IElementOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public static T Invoke(T z, T a) => z > T.Zero ? T.One : LeakyReLUValue<T>.Slope;
    public static Vector<T> Invoke(Vector<T> z, Vector<T> a) => Vector.ConditionalSelect(Vector.GreaterThan(z, Vector<T>.Zero), Vector<T>.One, new Vector<T>(LeakyReLUValue<T>.Slope));
}

/// <summary>σ of <see cref="LeakyReLU"/> as an element operator (reads z twice; the second input is unused).</summary>
internal readonly struct LeakyReLUValue<T> : IElementOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>α = 0.01.</summary>
    internal static readonly T Slope = T.CreateChecked(0.01);
    public static T Invoke(T z, T a) => z > T.Zero ? z : Slope * z;
    public static Vector<T> Invoke(Vector<T> z, Vector<T> a) =>
        Vector.ConditionalSelect(Vector.GreaterThan(z, Vector<T>.Zero), z, z * new Vector<T>(Slope));
}
