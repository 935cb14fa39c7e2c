using System.Numerics;

namespace Backprop.Functional;

/// <summary>
/// Immutable hyper-parameters of a first-order optimizer θ ← θ − η·step(g, moments) over one flat
/// parameter span θ, its gradient g and moment buffers of the same length.
/// <para>Threads: immutable and shareable; the state an update writes (θ, the caller's <see
/// cref="OptimizerBuffers{T}"/>) takes one update at a time.</para>
/// </summary>
/// <param name="LearningRate">The base learning rate η (a schedule may scale it per step).</param>
/// <param name="WeightDecay">
/// L2 penalty λ, applied torch-style by adding λθ to the gradient (g ← g + λθ) inside the update
/// loop; the caller's gradient is never modified. <see cref="AdamW"/> instead decouples it.
/// </param>
/// <remarks>
/// The update is a pure function of (state, θ, g, moments, η) that writes θ and the moments in place
/// and returns the next <see cref="OptimizerState"/>; nothing is allocated per update.
/// </remarks>
public abstract record Optimizer(double LearningRate, double WeightDecay) : GradientTransform
{
    /// <summary>The base learning rate η, a finite number ≥ 0.</summary>
    public double LearningRate { get; init => field = HyperParameter.NonNegative(value, nameof(LearningRate)); } = HyperParameter.NonNegative(LearningRate, nameof(LearningRate));

    /// <summary>The L2 penalty λ, a finite number ≥ 0.</summary>
    public double WeightDecay { get; init => field = HyperParameter.NonNegative(value, nameof(WeightDecay)); } = HyperParameter.NonNegative(WeightDecay, nameof(WeightDecay));

    /// <summary>Number of moment vectors this optimizer keeps per parameter.</summary>
    public abstract override int MomentCount { get; }

    /// <summary>An optimizer writes θ; one that updates each element from that element alone also states
    /// <see cref="TransformCapabilities.ElementWise"/> (every built-in one does), and Sgd, Adam and AdamW
    /// <see cref="TransformCapabilities.FusedOuterProduct"/>.</summary>
    public override TransformCapabilities Capabilities => TransformCapabilities.WritesParameters;

    /// <summary>η: <see cref="LearningRate"/> at every step (a <see cref="Chain"/> applies its schedule).</summary>
    /// <param name="t">Updates already done (unused).</param>
    /// <returns><see cref="LearningRate"/>.</returns>
    public override double LearningRateAt(long t) => LearningRate;

    /// <summary>As a transform: the optimizer's own update with η = <c>context.LearningRate</c>; g is not modified.</summary>
    /// <typeparam name="T">The element type.</typeparam>
    /// <param name="state">The state before this update.</param>
    /// <param name="g">The gradient, [θ].</param>
    /// <param name="theta">θ, updated in place.</param>
    /// <param name="buffers">The moments.</param>
    /// <param name="context">η for this step.</param>
    /// <returns>The state after this update.</returns>
    public sealed override OptimizerState Update<T>(
        OptimizerState state, Span<T> g, Span<T> theta, OptimizerBuffers<T> buffers, scoped in StepContext<T> context) =>
        Update(state, theta, (ReadOnlySpan<T>)g, buffers, context.LearningRate);

    /// <summary>
    /// Applies one update: writes θ and the moments in place and returns
    /// <c>state with { Step = state.Step + 1 }</c>.
    /// </summary>
    /// <typeparam name="T">The element type, <see cref="float"/> or <see cref="double"/>.</typeparam>
    /// <param name="state">The state before this update.</param>
    /// <param name="theta">The parameters θ, updated in place.</param>
    /// <param name="g">The gradient ∇f(θ), same length as θ; not modified.</param>
    /// <param name="buffers">The moment buffers from <see cref="GradientTransform.CreateBuffers{T}(int)"/>.</param>
    /// <param name="learningRate">The learning rate η for this step (pass <see cref="LearningRate"/> without a schedule).</param>
    /// <returns>The state after this update.</returns>
    /// <exception cref="ArgumentException">Lengths of θ, g and the buffers disagree, or too few moments.</exception>
    public abstract OptimizerState Update<T>(
        OptimizerState state, Span<T> theta, ReadOnlySpan<T> g, OptimizerBuffers<T> buffers, double learningRate)
        where T : unmanaged, IFloatingPointIeee754<T>;
}

/// <summary>Argument validation shared by the optimizers; throw paths are kept out of the hot loops.</summary>
internal static class OptimizerGuard
{
    internal static void Check<T>(int thetaLength, int gLength, OptimizerBuffers<T> buffers, int momentCount, double learningRate = 0)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(buffers);
        RequireLearningRate(learningRate);
        if (gLength != thetaLength)
        {
            ThrowLength("gradient", gLength, thetaLength);
        }

        if (buffers.Length != thetaLength && momentCount > 0)
        {
            ThrowLength("optimizer buffers", buffers.Length, thetaLength);
        }

        if (buffers.Count < momentCount)
        {
            ThrowCount(buffers.Count, momentCount);
        }
    }

    /// <summary>η of one step (a schedule's, or a caller's override) must be finite and ≥ 0: a NaN would reach θ
    /// unreported, a negative one climbs the cost. The constructors check their own η; this checks the one a step uses.</summary>
    internal static void RequireLearningRate(double learningRate)
    {
        if (!(learningRate >= 0 && double.IsFinite(learningRate)))
            throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "the step's learning rate η must be a finite number ≥ 0 (from the schedule, or the override given)");
    }

    internal static T Of<T>(double value)
        where T : unmanaged, IFloatingPointIeee754<T> => T.CreateTruncating(value);

    private static void ThrowLength(string what, int length, int thetaLength) =>
        throw new ArgumentException($"{what} has {length} elements but theta has {thetaLength}");

    private static void ThrowCount(int count, int momentCount) =>
        throw new ArgumentException(
            $"optimizer buffers hold {count} moment vectors but this optimizer needs {momentCount}; create them with CreateBuffers");
}
