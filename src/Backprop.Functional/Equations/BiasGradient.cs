using System.Numerics;
using System.Numerics.Tensors;

namespace Backprop.Functional;

public static partial class Equations
{
    /// <summary>BP3: ∂C/∂bˡ = δˡ, summed over the rows of the batch (δ already carries the 1/m of the mean cost).</summary>
    /// <param name="delta">δˡ, [batch × outputs].</param>
    /// <param name="gradient">∂C/∂bˡ, written, [outputs].</param>
    /// <exception cref="ArgumentException"><paramref name="delta"/> is not a whole number of rows of the gradient's width.</exception>
    public static void BiasGradient<T>(ReadOnlySpan<T> delta, Span<T> gradient) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int width = gradient.Length;
        Shapes.RequireRows(delta.Length, width, nameof(delta));
        delta[..width].CopyTo(gradient);
        for (int r = width; r < delta.Length; r += width)
            TensorPrimitives.Add(gradient, delta.Slice(r, width), gradient);
    }
}
