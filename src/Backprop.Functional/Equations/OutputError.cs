using System.Numerics;

namespace Backprop.Functional;

/// <summary>The four backpropagation equations (Nielsen ch. 2), one function each, over explicit spans.
/// Rows are samples: every span is row-major [batch × width].
/// <para>Threads: no shared state: calls from several threads at once are safe, as long as no two of them write the
/// same buffers.</para></summary>
public static partial class Equations
{
    /// <summary>BP1, output error: δᴸ = ∇ₐC ⊙ σ′(zᴸ) (for a non-element-wise σ such as softmax, δᴸ = J_σ(zᴸ)ᵀ∇ₐC).</summary>
    /// <param name="costGradient">∇ₐC, [batch × outputs]; may be the same memory as <paramref name="delta"/>.</param>
    /// <param name="z">zᴸ, [batch × outputs].</param>
    /// <param name="a">aᴸ = σ(zᴸ), [batch × outputs].</param>
    /// <param name="delta">δᴸ, written, [batch × outputs].</param>
    /// <param name="outputs">Width of the output layer.</param>
    /// <exception cref="ArgumentException">The spans' lengths differ.</exception>
    public static void OutputError<TAct, T>(ReadOnlySpan<T> costGradient, ReadOnlySpan<T> z, ReadOnlySpan<T> a,
        Span<T> delta, int outputs)
        where TAct : struct, IActivation where T : unmanaged, IFloatingPointIeee754<T>
        => TAct.Backward(z, a, costGradient, delta, outputs);
}
