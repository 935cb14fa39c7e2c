using System.Numerics;
using System.Numerics.Tensors;

namespace Backprop.Functional;

/// <summary>
/// Gradient clipping by global L2 norm: if ‖g‖₂ &gt; c then g ← g · c / (‖g‖₂ + 10⁻⁶).
/// <para>Threads: immutable and shareable; <see cref="Apply{T}(Span{T}, T)"/> has no shared state: calls from several
/// threads at once are safe, as long as no two of them write the same buffers.</para>
/// </summary>
/// <param name="MaxNorm">The maximum allowed L2 norm c of the whole gradient, a number ≥ 0 (+∞: never clips).</param>
/// <remarks>
/// Same rule as <c>torch.nn.utils.clip_grad_norm_(max_norm=c, norm_type=2)</c> over the single flat gradient
/// (torch multiplies by min(1, c/(‖g‖+10⁻⁶)); here g is left bit-for-bit unchanged whenever ‖g‖₂ ≤ c).
/// A non-finite norm is returned as is and scales g by 0 (∞) or NaN, like torch with <c>error_if_nonfinite=False</c>.
/// As a transform it is a reduction over all of g: never split over threads (<see cref="TransformCapabilities.None"/>).
/// </remarks>
public sealed record ClipByGlobalNorm(double MaxNorm) : GradientTransform
{
    /// <summary>c, a number ≥ 0.</summary>
    public double MaxNorm { get; init => field = Check(value); } = Check(MaxNorm);

    private static double Check(double value) =>
        value >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "MaxNorm must be a number ≥ 0");

    /// <summary>g clipped to norm <see cref="MaxNorm"/>; θ untouched.</summary>
    /// <inheritdoc/>
    public override OptimizerState Update<T>(
        OptimizerState state, Span<T> g, Span<T> theta, OptimizerBuffers<T> buffers, scoped in StepContext<T> context)
    {
        Apply(g, OptimizerGuard.Of<T>(MaxNorm));
        return state with { Step = state.Step + 1 };
    }

    /// <summary>Clips <paramref name="g"/> in place to global norm <paramref name="maxNorm"/>.</summary>
    /// <typeparam name="T">The element type, <see cref="float"/> or <see cref="double"/>.</typeparam>
    /// <param name="g">The gradient, scaled in place when its norm exceeds <paramref name="maxNorm"/>.</param>
    /// <param name="maxNorm">The maximum allowed L2 norm c (≥ 0).</param>
    /// <returns>‖g‖₂ before clipping.</returns>
    public static T Apply<T>(Span<T> g, T maxNorm)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (T.IsNegative(maxNorm) || T.IsNaN(maxNorm))
        {
            throw new ArgumentOutOfRangeException(nameof(maxNorm), maxNorm, "maxNorm must be a non-negative number");
        }

        T norm = TensorPrimitives.Norm<T>(g);
        if (norm > maxNorm)
        {
            T scale = maxNorm / (norm + T.CreateTruncating(1e-6));
            TensorPrimitives.Multiply(g, scale, g);
        }

        return norm;
    }
}
