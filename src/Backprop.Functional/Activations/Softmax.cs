using System.Numerics;
using System.Numerics.Tensors;

namespace Backprop.Functional;

/// <summary>Softmax over each row: aᵢ = e^(zᵢ − max z) / Σⱼ e^(zⱼ − max z). Not element-wise: its Jacobian is
/// ∂aᵢ/∂zⱼ = aᵢ(𝟙ᵢⱼ − aⱼ), so the backward pass is the exact product δ = a ⊙ (u − (u·a)).
/// <para>Threads: stateless (static abstract members only); safe from any thread.</para></summary>
/// <remarks>Meant as an output activation. With <see cref="SoftmaxCrossEntropy"/> the fused output error
/// δᴸ = a − y is used instead of the product.</remarks>
public readonly struct Softmax : IActivation
{
    /// <inheritdoc/>
    public static ActivationKind Kind => ActivationKind.Softmax;

    /// <inheritdoc/>
    public static void Apply<T>(ReadOnlySpan<T> z, Span<T> a, int width) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Shapes.RequireSameLength(z, a, nameof(z), nameof(a));
        Shapes.RequireRows(z.Length, width, nameof(z));
        for (int r = 0; r < z.Length; r += width)
        {
            var zr = z.Slice(r, width);
            var ar = a.Slice(r, width);
            TensorPrimitives.Subtract(zr, TensorPrimitives.Max(zr), ar);
            // TensorPrimitives directly, not AlignedMath: through AlignedMath's padded blocks the float bits on the 256- and
            // 128-bit paths moved (the pinned TrajectoryGoldenTests), and a softmax row passed ActivationAddressTests as it is
            TensorPrimitives.Exp(ar, ar);
            TensorPrimitives.Divide(ar, TensorPrimitives.Sum<T>(ar), ar);
        }
    }

    /// <inheritdoc/>
    public static void Backward<T>(ReadOnlySpan<T> z, ReadOnlySpan<T> a, ReadOnlySpan<T> upstream, Span<T> delta, int width)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Shapes.RequireSameLength(z, a, delta);
        Shapes.RequireSameLength(upstream, delta, nameof(upstream), nameof(delta));
        Shapes.RequireRows(z.Length, width, nameof(z));
        for (int r = 0; r < a.Length; r += width)
        {
            var ar = a.Slice(r, width);
            var dr = delta.Slice(r, width);
            T ua = TensorPrimitives.Dot(upstream.Slice(r, width), ar);   // read u before δ overwrites it
            TensorPrimitives.Subtract(upstream.Slice(r, width), ua, dr);
            TensorPrimitives.Multiply(dr, ar, dr);
        }
    }
}
