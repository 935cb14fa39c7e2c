using System.Numerics;
using System.Numerics.Tensors;

namespace Backprop.Functional;

/// <summary>
/// Decoupled weight decay: θ ← θ·(1 − ηλ), η the step's learning rate, g untouched. Followed by Adam it is AdamW:
/// <c>Chain(DecoupledWeightDecay(λ), Adam(η))</c> = <c>AdamW(η, WeightDecay: λ)</c> bit for bit.
/// <para>Threads: immutable and shareable.</para>
/// </summary>
/// <param name="Lambda">λ, a finite number ≥ 0.</param>
/// <remarks>Loshchilov &amp; Hutter (2019), with torch's convention that the decay is multiplied by the current η
/// (<c>torch.optim.AdamW</c>; optax's <c>add_decayed_weights</c> then <c>scale_by_learning_rate</c>). Element-wise; writes θ.</remarks>
public sealed record DecoupledWeightDecay(double Lambda) : GradientTransform
{
    /// <summary>λ, a finite number ≥ 0.</summary>
    public double Lambda { get; init => field = HyperParameter.NonNegative(value, nameof(Lambda)); } = HyperParameter.NonNegative(Lambda, nameof(Lambda));

    /// <inheritdoc/>
    public override TransformCapabilities Capabilities => TransformCapabilities.ElementWise | TransformCapabilities.WritesParameters;

    /// <summary>θ ← θ·(1 − ηλ).</summary>
    /// <inheritdoc/>
    public override OptimizerState Update<T>(
        OptimizerState state, Span<T> g, Span<T> theta, OptimizerBuffers<T> buffers, scoped in StepContext<T> context)
    {
        if (Lambda != 0) TensorPrimitives.Multiply(theta, OptimizerGuard.Of<T>(1 - (context.LearningRate * Lambda)), theta);
        return state with { Step = state.Step + 1 };
    }
}
