using System.Numerics;
using System.Numerics.Tensors;

namespace Backprop.Functional;

/// <summary>Quadratic cost: Cₓ = ½‖y − a‖²; ∇ₐCₓ = a − y.
/// <para>Threads: stateless (static abstract members only); safe from any thread.</para></summary>
public readonly struct Quadratic : ILoss
{
    /// <inheritdoc/>
    public static LossKind Kind => LossKind.Quadratic;

    /// <inheritdoc/>
    public static bool Fits(ActivationKind output) => true;

    /// <inheritdoc/>
    public static T Cost<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Shapes.RequireSameLength(a, y, nameof(a), nameof(y));
        T sum = T.Zero;
        for (int i = 0; i < a.Length; i++)
        {
            T d = a[i] - y[i];
            sum += d * d;
        }
        return sum / (T.One + T.One);
    }

    /// <inheritdoc/>
    public static void Gradient<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> y, Span<T> destination)
        where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Subtract(a, y, destination);

    /// <inheritdoc/>
    public static void OutputError<TAct, T>(ReadOnlySpan<T> z, ReadOnlySpan<T> a, ReadOnlySpan<T> y, Span<T> delta, int width)
        where TAct : struct, IActivation where T : unmanaged, IFloatingPointIeee754<T>
    {
        Shapes.RequireSameLength(a, y, nameof(a), nameof(y));
        Gradient(a, y, delta);
        Equations.OutputError<TAct, T>(delta, z, a, delta, width);
    }
}
