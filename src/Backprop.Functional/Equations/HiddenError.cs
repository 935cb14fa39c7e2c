using System.Numerics;
using Backprop.Functional.Kernels;

namespace Backprop.Functional;

public static partial class Equations
{
    /// <summary>BP2, hidden error: δˡ = ((Wˡ⁺¹)ᵀδˡ⁺¹) ⊙ σ′(zˡ). Row by row, δˡ = δˡ⁺¹·Wˡ⁺¹ (one GEMM), then the
    /// activation's vector-Jacobian product in place.</summary>
    /// <param name="weightNext">Wˡ⁺¹, [outputsNext × width].</param>
    /// <param name="deltaNext">δˡ⁺¹, [batch × outputsNext].</param>
    /// <param name="z">zˡ, [batch × width].</param>
    /// <param name="a">aˡ = σ(zˡ), [batch × width].</param>
    /// <param name="delta">δˡ, written, [batch × width].</param>
    /// <param name="width">Width of layer l.</param>
    /// <param name="outputsNext">Width of layer l + 1.</param>
    /// <param name="threads">Threads the GEMM may use.</param>
    /// <exception cref="ArgumentException">A span does not have the shape given.</exception>
    public static void HiddenError<TAct, T>(ReadOnlySpan<T> weightNext, ReadOnlySpan<T> deltaNext, ReadOnlySpan<T> z,
        ReadOnlySpan<T> a, Span<T> delta, int width, int outputsNext, int threads = 1)
        where TAct : struct, IActivation where T : unmanaged, IFloatingPointIeee754<T>
    {
        Shapes.RequireRows(delta.Length, width, nameof(delta));
        int batch = delta.Length / width;
        Shapes.RequireLength(weightNext, outputsNext, width, nameof(weightNext));
        Shapes.RequireLength(deltaNext, batch, outputsNext, nameof(deltaNext));
        Gemm.Multiply(deltaNext, false, weightNext, false, delta, batch, width, outputsNext, accumulate: false, threads);
        TAct.Backward(z, a, delta, delta, width);
    }
}
