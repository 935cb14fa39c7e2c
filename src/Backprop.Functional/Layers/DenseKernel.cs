using System.Numerics;
using Backprop.Functional.Kernels;

namespace Backprop.Functional;

/// <summary>The forward kernel of a <see cref="Dense"/> layer, shared by the runtime <see cref="Network{T}"/>
/// and generated networks.
/// <para>Threads: no shared state: calls from several threads at once are safe, as long as no two of them write the
/// same buffers.</para></summary>
public static class DenseKernel
{
    /// <summary>zˡ = Wˡaˡ⁻¹ + bˡ, aˡ = σ(zˡ) for every row: z is seeded with b, the GEMM A·Wᵀ accumulates onto it
    /// (bias fused, no extra pass), then σ runs once over the batch.</summary>
    /// <param name="parameters">This layer's slice of the flat vector: Wˡ [outputs × inputs] then bˡ [outputs].</param>
    /// <param name="x">aˡ⁻¹, [batch × inputs].</param>
    /// <param name="z">zˡ, written, [batch × outputs].</param>
    /// <param name="a">aˡ, written, [batch × outputs].</param>
    /// <param name="inputs">Width of aˡ⁻¹.</param>
    /// <param name="outputs">Width of zˡ.</param>
    /// <param name="threads">Threads the GEMM may use.</param>
    /// <exception cref="ArgumentException">A span does not have the shape given.</exception>
    public static void Forward<TAct, T>(ReadOnlySpan<T> parameters, ReadOnlySpan<T> x, Span<T> z, Span<T> a,
        int inputs, int outputs, int threads = 1)
        where TAct : struct, IActivation where T : unmanaged, IFloatingPointIeee754<T>
    {
        Shapes.RequireLayerParameters(parameters.Length, inputs, outputs);
        Shapes.RequireRows(x.Length, inputs, nameof(x));
        int batch = x.Length / inputs;
        Shapes.RequireLength<T>(z, batch, outputs, nameof(z));
        Shapes.RequireLength<T>(a, batch, outputs, nameof(a));
        var w = parameters[..(outputs * inputs)];
        var b = parameters.Slice(outputs * inputs, outputs);
        for (int r = 0; r < batch; r++) b.CopyTo(z.Slice(r * outputs, outputs));
        Gemm.Multiply(x, false, w, true, z, batch, outputs, inputs, accumulate: true, threads);
        TAct.Apply(z, a, outputs);
    }
}
