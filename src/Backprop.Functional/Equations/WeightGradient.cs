using System.Numerics;
using Backprop.Functional.Kernels;

namespace Backprop.Functional;

public static partial class Equations
{
    /// <summary>BP4: ∂C/∂Wˡ = δˡ(aˡ⁻¹)ᵀ, summed over the batch: one GEMM, (δˡ)ᵀ·Aˡ⁻¹, written straight into the
    /// weight slot of the flat gradient.</summary>
    /// <param name="delta">δˡ, [batch × outputs].</param>
    /// <param name="aPrevious">aˡ⁻¹ (the network input for l = 0), [batch × inputs].</param>
    /// <param name="gradient">∂C/∂Wˡ, written, [outputs × inputs].</param>
    /// <param name="inputs">Width of aˡ⁻¹.</param>
    /// <param name="outputs">Width of δˡ.</param>
    /// <param name="threads">Threads the GEMM may use.</param>
    /// <exception cref="ArgumentException">A span does not have the shape given.</exception>
    public static void WeightGradient<T>(ReadOnlySpan<T> delta, ReadOnlySpan<T> aPrevious, Span<T> gradient,
        int inputs, int outputs, int threads = 1) where T : unmanaged, IFloatingPointIeee754<T> =>
        WeightGradientPlanned(delta, aPrevious, gradient, inputs, outputs, threads, plans: default);

    /// <summary><see cref="WeightGradient{T}(ReadOnlySpan{T}, ReadOnlySpan{T}, Span{T}, int, int, int)"/> through a layer's
    /// kept GEMM plans (<see cref="Workspace{T}.Plans"/>; empty: planned per call).</summary>
    internal static void WeightGradientPlanned<T>(ReadOnlySpan<T> delta, ReadOnlySpan<T> aPrevious, Span<T> gradient,
        int inputs, int outputs, int threads, Span<GemmPlan> plans) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Shapes.RequireRows(delta.Length, outputs, nameof(delta));
        int batch = delta.Length / outputs;
        Shapes.RequireLength(aPrevious, batch, inputs, nameof(aPrevious));
        Shapes.RequireLength<T>(gradient, outputs, inputs, nameof(gradient));
        Gemm.Multiply(plans, Gemm.WeightGradientSlot, delta, true, aPrevious, false, gradient, outputs, inputs, batch, accumulate: false, threads);
    }
}
