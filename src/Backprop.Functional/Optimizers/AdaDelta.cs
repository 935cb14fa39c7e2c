using System.Numerics;

namespace Backprop.Functional;

/// <summary>
/// AdaDelta: v ← ρv + (1−ρ)g²; Δ = √(u + ε) / √(v + ε) · g; u ← ρu + (1−ρ)Δ²; θ ← θ − ηΔ, with g ← g + λθ.
/// <para>Threads: immutable and shareable; the state an update writes (θ, the caller's <see
/// cref="OptimizerBuffers{T}"/>) takes one update at a time.</para>
/// </summary>
/// <param name="LearningRate">The learning rate η that scales Δ (1 in the paper).</param>
/// <param name="Rho">Decay ρ of both running averages.</param>
/// <param name="Epsilon">ε, added inside both roots.</param>
/// <param name="WeightDecay">L2 penalty λ added to the gradient.</param>
/// <remarks>
/// Exactly <c>torch.optim.Adadelta(lr, rho, eps, weight_decay)</c>; Zeiler (2012) is the case η = 1.
/// Moment 0 holds v (the running average of g²), moment 1 holds u (the running average of Δ²).
/// </remarks>
public sealed record AdaDelta(
    double LearningRate = 1.0,
    double Rho = 0.9,
    double Epsilon = 1e-6,
    double WeightDecay = 0) : Optimizer(LearningRate, WeightDecay)
{
    /// <summary>ρ, in [0, 1].</summary>
    public double Rho { get; init => field = HyperParameter.Fraction(value, nameof(Rho)); } = HyperParameter.Fraction(Rho, nameof(Rho));

    /// <summary>ε, a finite number ≥ 0.</summary>
    public double Epsilon { get; init => field = HyperParameter.NonNegative(value, nameof(Epsilon)); } = HyperParameter.NonNegative(Epsilon, nameof(Epsilon));

    /// <inheritdoc/>
    public override TransformCapabilities Capabilities => TransformCapabilities.ElementWise | TransformCapabilities.WritesParameters;

    /// <inheritdoc/>
    public override int MomentCount => 2;

    /// <inheritdoc/>
    public override OptimizerState Update<T>(
        OptimizerState state, Span<T> theta, ReadOnlySpan<T> g, OptimizerBuffers<T> buffers, double learningRate) =>
        Update(this, state, theta, g, buffers, learningRate);

    /// <summary>One AdaDelta step; see <see cref="AdaDelta"/>.</summary>
    /// <typeparam name="T">The element type.</typeparam>
    /// <param name="h">Hyper-parameters.</param>
    /// <param name="s">State before the update.</param>
    /// <param name="theta">Parameters θ, updated in place.</param>
    /// <param name="g">Gradient, same length as θ.</param>
    /// <param name="buf">Moment buffers: 0 is v, 1 is u.</param>
    /// <param name="lr">Learning rate η for this step.</param>
    /// <returns><c>s</c> with <c>Step + 1</c>.</returns>
    public static OptimizerState Update<T>(
        AdaDelta h, OptimizerState s, Span<T> theta, ReadOnlySpan<T> g, OptimizerBuffers<T> buf, double lr)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(h);
        OptimizerGuard.Check(theta.Length, g.Length, buf, 2, lr);
        Span<T> v = buf.Moment(0);
        Span<T> u = buf.Moment(1);
        T rho = OptimizerGuard.Of<T>(h.Rho);
        T oneMinusRho = OptimizerGuard.Of<T>(1 - h.Rho);
        T eps = OptimizerGuard.Of<T>(h.Epsilon);
        T eta = OptimizerGuard.Of<T>(lr);
        T lambda = OptimizerGuard.Of<T>(h.WeightDecay);
        for (int i = 0; i < theta.Length; i++)
        {
            T gi = g[i] + lambda * theta[i];
            T vi = rho * v[i] + oneMinusRho * gi * gi;
            v[i] = vi;
            T delta = T.Sqrt(u[i] + eps) / T.Sqrt(vi + eps) * gi;
            u[i] = rho * u[i] + oneMinusRho * delta * delta;
            theta[i] -= eta * delta;
        }

        return s with { Step = s.Step + 1 };
    }
}
