using System.Numerics;
using System.Numerics.Tensors;

namespace Backprop.Functional;

/// <summary>
/// AdamW: θ ← θ(1 − ηλ) (decoupled decay, i.e. θ − ηλθ) first, then the <see cref="Adam"/> step with the raw g:
/// m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g²; θ ← θ − η m̂/(√v̂ + ε).
/// <para>Threads: immutable and shareable; the state an update writes (θ, the caller's <see
/// cref="OptimizerBuffers{T}"/>) takes one update at a time.</para>
/// </summary>
/// <param name="LearningRate">The learning rate η.</param>
/// <param name="Beta1">Decay β₁ of the first moment.</param>
/// <param name="Beta2">Decay β₂ of the second moment.</param>
/// <param name="Epsilon">ε, added outside the root after bias correction.</param>
/// <param name="WeightDecay">Decoupled decay λ: θ shrinks by the factor (1 − ηλ) each step; never added to g.</param>
/// <param name="Amsgrad">Use the running maximum of v in the denominator (as torch's <c>amsgrad</c>).</param>
/// <remarks>
/// Exactly <c>torch.optim.AdamW(lr, betas=(β₁, β₂), eps, weight_decay, amsgrad)</c>: the decay is multiplied by the
/// current η, as in torch. Loshchilov &amp; Hutter (2019) write it with a separate schedule multiplier, θ ← θ − η_t(α m̂/(√v̂+ε) + λθ);
/// torch's (and this) λ corresponds to their λ with η_t = η. Moments as in <see cref="Adam"/>.
/// </remarks>
public sealed record AdamW(
    double LearningRate = 1e-3,
    double Beta1 = 0.9,
    double Beta2 = 0.999,
    double Epsilon = 1e-8,
    double WeightDecay = 1e-2,
    bool Amsgrad = false) : Optimizer(LearningRate, WeightDecay)
{
    /// <summary>β₁, in [0, 1).</summary>
    public double Beta1 { get; init => field = HyperParameter.Below1(value, nameof(Beta1)); } = HyperParameter.Below1(Beta1, nameof(Beta1));

    /// <summary>β₂, in [0, 1).</summary>
    public double Beta2 { get; init => field = HyperParameter.Below1(value, nameof(Beta2)); } = HyperParameter.Below1(Beta2, nameof(Beta2));

    /// <summary>ε, a finite number ≥ 0.</summary>
    public double Epsilon { get; init => field = HyperParameter.NonNegative(value, nameof(Epsilon)); } = HyperParameter.NonNegative(Epsilon, nameof(Epsilon));

    /// <inheritdoc/>
    public override int MomentCount => Amsgrad ? 3 : 2;

    /// <summary>Element-wise, fused for one-sample steps, writes θ.</summary>
    public override TransformCapabilities Capabilities =>
        TransformCapabilities.ElementWise | TransformCapabilities.FusedOuterProduct | TransformCapabilities.WritesParameters;

    /// <inheritdoc/>
    protected internal override void PrepareFused(long t, double learningRate, ref FusedScalars<float> scalars) =>
        new AdamKernel.Constants<float>(t, Beta1, Beta2, Epsilon, Amsgrad, 0, learningRate).Store(ref scalars, OptimizerGuard.Of<float>(1 - (learningRate * WeightDecay)));

    /// <inheritdoc/>
    protected internal override void PrepareFused(long t, double learningRate, ref FusedScalars<double> scalars) =>
        new AdamKernel.Constants<double>(t, Beta1, Beta2, Epsilon, Amsgrad, 0, learningRate).Store(ref scalars, OptimizerGuard.Of<double>(1 - (learningRate * WeightDecay)));

    /// <inheritdoc/>
    protected internal override void UpdateFused(scoped in FusedScalars<float> scalars, scoped in FusedLayer<float> layer) =>
        AdamKernel.Fused(scalars, layer);

    /// <inheritdoc/>
    protected internal override void UpdateFused(scoped in FusedScalars<double> scalars, scoped in FusedLayer<double> layer) =>
        AdamKernel.Fused(scalars, layer);

    /// <inheritdoc/>
    public override OptimizerState Update<T>(
        OptimizerState state, Span<T> theta, ReadOnlySpan<T> g, OptimizerBuffers<T> buffers, double learningRate) =>
        Update(this, state, theta, g, buffers, learningRate);

    /// <summary>One AdamW step; see <see cref="AdamW"/>.</summary>
    /// <typeparam name="T">The element type.</typeparam>
    /// <param name="h">Hyper-parameters.</param>
    /// <param name="s">State before the update.</param>
    /// <param name="theta">Parameters θ, updated in place.</param>
    /// <param name="g">Gradient, same length as θ.</param>
    /// <param name="buf">Moment buffers: m, v, and max v (AMSGrad).</param>
    /// <param name="lr">Learning rate η for this step.</param>
    /// <returns><c>s</c> with <c>Step + 1</c>.</returns>
    public static OptimizerState Update<T>(
        AdamW h, OptimizerState s, Span<T> theta, ReadOnlySpan<T> g, OptimizerBuffers<T> buf, double lr)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(h);
        OptimizerGuard.Check(theta.Length, g.Length, buf, h.MomentCount, lr);
        if (h.WeightDecay != 0)
        {
            TensorPrimitives.Multiply(theta, OptimizerGuard.Of<T>(1 - (lr * h.WeightDecay)), theta);
        }

        AdamKernel.Step(s.Step + 1, h.Beta1, h.Beta2, h.Epsilon, h.Amsgrad, 0, theta, g, buf, lr);
        return s with { Step = s.Step + 1 };
    }
}
