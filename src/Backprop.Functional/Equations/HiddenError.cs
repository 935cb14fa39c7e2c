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
        InputGradient(weightNext, deltaNext, delta, width, outputsNext, threads);
        TAct.Backward(z, a, delta, delta, width);
    }

    /// <summary>BP2's product, the dense layer's vector–Jacobian product with respect to its input:
    /// ∂C/∂aˡ⁻¹ = (Wˡ)ᵀδˡ, row by row δˡ·Wˡ (one GEMM). <see cref="HiddenError{TAct, T}"/> is this followed by σ′.</summary>
    /// <param name="weight">Wˡ, [outputs × inputs].</param>
    /// <param name="delta">δˡ, [batch × outputs].</param>
    /// <param name="gradient">∂C/∂aˡ⁻¹, written, [batch × inputs].</param>
    /// <param name="inputs">Width of aˡ⁻¹.</param>
    /// <param name="outputs">Width of δˡ.</param>
    /// <param name="threads">Threads the GEMM may use.</param>
    /// <exception cref="ArgumentException">A span does not have the shape given.</exception>
    public static void InputGradient<T>(ReadOnlySpan<T> weight, ReadOnlySpan<T> delta, Span<T> gradient,
        int inputs, int outputs, int threads = 1) where T : unmanaged, IFloatingPointIeee754<T> =>
        InputGradientPlanned(weight, delta, gradient, inputs, outputs, threads, plans: default);

    /// <summary><see cref="InputGradient{T}(ReadOnlySpan{T}, ReadOnlySpan{T}, Span{T}, int, int, int)"/> through a layer's
    /// kept GEMM plans (<see cref="Workspace{T}.Plans"/>; empty: planned per call).</summary>
    internal static void InputGradientPlanned<T>(ReadOnlySpan<T> weight, ReadOnlySpan<T> delta, Span<T> gradient,
        int inputs, int outputs, int threads, Span<GemmPlan> plans) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Shapes.RequireRows(gradient.Length, inputs, nameof(gradient));
        int batch = gradient.Length / inputs;
        Shapes.RequireLength(weight, outputs, inputs, nameof(weight));
        Shapes.RequireLength(delta, batch, outputs, nameof(delta));
        Gemm.Multiply(plans, Gemm.InputGradientSlot, delta, false, weight, false, gradient, batch, inputs, outputs, accumulate: false, threads);
    }
}
