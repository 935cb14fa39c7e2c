using System.Numerics;
using System.Numerics.Tensors;

namespace Backprop.Functional;

/// <summary>
/// torch-style coupled weight decay: g ← g + λθ on every parameter (biases too), θ read at the point where the gradient
/// was taken (<see cref="StepContext{T}.Point"/>). Followed by an optimizer it is that optimizer's own
/// <c>WeightDecay</c>: <c>Chain(WeightDecay(λ), Adam(η))</c> = <c>Adam(η, WeightDecay: λ)</c> bit for bit.
/// <para>Threads: immutable and shareable.</para>
/// </summary>
/// <param name="Lambda">λ, a finite number ≥ 0.</param>
/// <remarks>The <c>weight_decay</c> of <c>torch.optim.SGD</c>/<c>Adam</c> (and optax's <c>add_decayed_weights</c>
/// before the optimizer). Element-wise. For Adam-type optimizers prefer <see cref="DecoupledWeightDecay"/> (Loshchilov
/// &amp; Hutter 2019).</remarks>
public sealed record WeightDecay(double Lambda) : GradientTransform
{
    /// <summary>λ, a finite number ≥ 0.</summary>
    public double Lambda { get; init => field = HyperParameter.NonNegative(value, nameof(Lambda)); } = HyperParameter.NonNegative(Lambda, nameof(Lambda));

    /// <inheritdoc/>
    public override TransformCapabilities Capabilities => TransformCapabilities.ElementWise;

    /// <summary>g ← g + λθ.</summary>
    /// <inheritdoc/>
    public override OptimizerState Update<T>(
        OptimizerState state, Span<T> g, Span<T> theta, OptimizerBuffers<T> buffers, scoped in StepContext<T> context)
    {
        if (g.Length != theta.Length) Shapes.ThrowLengths("gradient", g.Length, "theta", theta.Length);
        var at = context.PointOr(theta);
        if (Lambda != 0) TensorPrimitives.MultiplyAdd(at, OptimizerGuard.Of<T>(Lambda), g, g);   // θλ + g, unfused: the optimizers' g + λθ
        return state with { Step = state.Step + 1 };
    }
}
