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
public abstract record Optimizer(double LearningRate, double WeightDecay)
{
    /// <summary>The base learning rate η, a finite number ≥ 0.</summary>
    public double LearningRate { get; init => field = HyperParameter.NonNegative(value, nameof(LearningRate)); } = HyperParameter.NonNegative(LearningRate, nameof(LearningRate));

    /// <summary>The L2 penalty λ, a finite number ≥ 0.</summary>
    public double WeightDecay { get; init => field = HyperParameter.NonNegative(value, nameof(WeightDecay)); } = HyperParameter.NonNegative(WeightDecay, nameof(WeightDecay));

    /// <summary>Number of moment vectors this optimizer keeps per parameter.</summary>
    public abstract int MomentCount { get; }

    /// <summary>
    /// Rents and initialises the moment buffers for <paramref name="parameterCount"/> parameters
    /// (zeros, except where the optimizer specifies an initial value).
    /// </summary>
    /// <typeparam name="T">The element type, <see cref="float"/> or <see cref="double"/>.</typeparam>
    /// <param name="parameterCount">Length of θ.</param>
    /// <returns>Buffers holding <see cref="MomentCount"/> moment vectors; the caller disposes them.</returns>
    public OptimizerBuffers<T> CreateBuffers<T>(int parameterCount)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var buffers = new OptimizerBuffers<T>(MomentCount, parameterCount);
        InitializeBuffers(buffers);
        return buffers;
    }

    /// <summary>Writes optimizer-specific initial values into freshly zeroed buffers; the default does nothing.</summary>
    /// <typeparam name="T">The element type.</typeparam>
    /// <param name="buffers">Zero-initialised buffers with <see cref="MomentCount"/> moments.</param>
    protected virtual void InitializeBuffers<T>(OptimizerBuffers<T> buffers)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
    }

    /// <summary>Where this optimizer's gradient must be evaluated: θ itself for every rule except
    /// <see cref="Nesterov"/> in <see cref="NesterovForm.LookAhead"/> form, whose point θ − μv is written to a θ-sized
    /// scratch vector of <paramref name="ws"/> (θ is never moved, so there is no shift to undo). Every training step —
    /// <see cref="Trainer.Step{T}"/> and a generated network's <c>TrainStep</c> — takes its gradient here.
    /// Allocates nothing after the first call on a workspace.</summary>
    /// <typeparam name="T">The element type.</typeparam>
    /// <param name="theta">θ.</param>
    /// <param name="buffers">This optimizer's moments (the velocity, for the look-ahead form).</param>
    /// <param name="ws">The step's workspace, which keeps the scratch vector.</param>
    /// <returns><paramref name="theta"/>, or the look-ahead point.</returns>
    public virtual ReadOnlySpan<T> GradientPoint<T>(ReadOnlySpan<T> theta, OptimizerBuffers<T> buffers, Workspace<T> ws)
        where T : unmanaged, IFloatingPointIeee754<T> => theta;

    /// <summary>
    /// Applies one update: writes θ and the moments in place and returns
    /// <c>state with { Step = state.Step + 1 }</c>.
    /// </summary>
    /// <typeparam name="T">The element type, <see cref="float"/> or <see cref="double"/>.</typeparam>
    /// <param name="state">The state before this update.</param>
    /// <param name="theta">The parameters θ, updated in place.</param>
    /// <param name="g">The gradient ∇f(θ), same length as θ; not modified.</param>
    /// <param name="buffers">The moment buffers from <see cref="CreateBuffers{T}(int)"/>.</param>
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
    internal static void Check<T>(int thetaLength, int gLength, OptimizerBuffers<T> buffers, int momentCount)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(buffers);
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

    internal static T Of<T>(double value)
        where T : unmanaged, IFloatingPointIeee754<T> => T.CreateTruncating(value);

    private static void ThrowLength(string what, int length, int thetaLength) =>
        throw new ArgumentException($"{what} has {length} elements but theta has {thetaLength}");

    private static void ThrowCount(int count, int momentCount) =>
        throw new ArgumentException(
            $"optimizer buffers hold {count} moment vectors but this optimizer needs {momentCount}; create them with CreateBuffers");
}
