using System.Numerics;

namespace Backprop.Functional;

/// <summary>
/// Adagrad: η̃ = η / (1 + (t−1)·lr_decay); G ← G + g²; θ ← θ − η̃ g / (√G + ε), with g ← g + λθ and t = Step + 1.
/// <para>Threads: immutable and shareable; the state an update writes (θ, the caller's <see
/// cref="OptimizerBuffers{T}"/>) takes one update at a time.</para>
/// </summary>
/// <param name="LearningRate">The learning rate η.</param>
/// <param name="LrDecay">Learning-rate decay: the rate used at update t is η / (1 + (t−1)·LrDecay).</param>
/// <param name="InitialAccumulatorValue">The initial value of every element of the accumulator G.</param>
/// <param name="Epsilon">ε, added to √G outside the root.</param>
/// <param name="WeightDecay">L2 penalty λ added to the gradient.</param>
/// <remarks>
/// Exactly <c>torch.optim.Adagrad(lr, lr_decay, weight_decay, initial_accumulator_value, eps)</c>; the textbook
/// update of Duchi, Hazan &amp; Singer (2011) is the case LrDecay = 0, InitialAccumulatorValue = 0 (with ε
/// outside the root, as torch). Moment 0 holds G.
/// </remarks>
public sealed record Adagrad(
    double LearningRate = 0.01,
    double LrDecay = 0,
    double InitialAccumulatorValue = 0,
    double Epsilon = 1e-10,
    double WeightDecay = 0) : Optimizer(LearningRate, WeightDecay)
{
    /// <summary>Learning-rate decay, a finite number ≥ 0.</summary>
    public double LrDecay { get; init => field = HyperParameter.NonNegative(value, nameof(LrDecay)); } = HyperParameter.NonNegative(LrDecay, nameof(LrDecay));

    /// <summary>Initial accumulator, a finite number ≥ 0.</summary>
    public double InitialAccumulatorValue { get; init => field = HyperParameter.NonNegative(value, nameof(InitialAccumulatorValue)); } = HyperParameter.NonNegative(InitialAccumulatorValue, nameof(InitialAccumulatorValue));

    /// <summary>ε, a finite number ≥ 0.</summary>
    public double Epsilon { get; init => field = HyperParameter.NonNegative(value, nameof(Epsilon)); } = HyperParameter.NonNegative(Epsilon, nameof(Epsilon));

    /// <inheritdoc/>
    public override TransformCapabilities Capabilities => TransformCapabilities.ElementWise | TransformCapabilities.WritesParameters;

    /// <inheritdoc/>
    public override int MomentCount => 1;

    /// <inheritdoc/>
    protected internal override void InitializeBuffers<T>(OptimizerBuffers<T> buffers)
    {
        ArgumentNullException.ThrowIfNull(buffers);
        buffers.Moment(0).Fill(OptimizerGuard.Of<T>(InitialAccumulatorValue));
    }

    /// <inheritdoc/>
    public override OptimizerState Update<T>(
        OptimizerState state, Span<T> theta, ReadOnlySpan<T> g, OptimizerBuffers<T> buffers, double learningRate) =>
        Update(this, state, theta, g, buffers, learningRate);

    /// <summary>One Adagrad step; see <see cref="Adagrad"/>.</summary>
    /// <typeparam name="T">The element type.</typeparam>
    /// <param name="h">Hyper-parameters.</param>
    /// <param name="s">State before the update.</param>
    /// <param name="theta">Parameters θ, updated in place.</param>
    /// <param name="g">Gradient, same length as θ.</param>
    /// <param name="buf">Moment buffers: moment 0 is G.</param>
    /// <param name="lr">Learning rate η for this step (before the LrDecay factor).</param>
    /// <returns><c>s</c> with <c>Step + 1</c>.</returns>
    public static OptimizerState Update<T>(
        Adagrad h, OptimizerState s, Span<T> theta, ReadOnlySpan<T> g, OptimizerBuffers<T> buf, double lr)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(h);
        OptimizerGuard.Check(theta.Length, g.Length, buf, 1, lr);
        Span<T> sum = buf.Moment(0);
        T clr = OptimizerGuard.Of<T>(lr / (1 + (s.Step * h.LrDecay)));
        T eps = OptimizerGuard.Of<T>(h.Epsilon);
        T lambda = OptimizerGuard.Of<T>(h.WeightDecay);
        for (int i = 0; i < theta.Length; i++)
        {
            T gi = g[i] + lambda * theta[i];
            T gsum = sum[i] + gi * gi;
            sum[i] = gsum;
            theta[i] -= clr * gi / (T.Sqrt(gsum) + eps);
        }

        return s with { Step = s.Step + 1 };
    }
}
