using System.Numerics;

namespace Backprop.Functional;

/// <summary>
/// RMSProp: v ← αv + (1−α)g²; centered: ḡ ← αḡ + (1−α)g, ṽ = v − ḡ² (else ṽ = v);
/// μ &gt; 0: b ← μb + g/(√ṽ + ε), θ ← θ − ηb; else θ ← θ − η g/(√ṽ + ε); with g ← g + λθ.
/// <para>Threads: immutable and shareable; the state an update writes (θ, the caller's <see
/// cref="OptimizerBuffers{T}"/>) takes one update at a time.</para>
/// </summary>
/// <param name="LearningRate">The learning rate η.</param>
/// <param name="Alpha">Smoothing constant α of the running averages.</param>
/// <param name="Epsilon">ε, added to the root outside it.</param>
/// <param name="Mu">Momentum μ applied to the normalised step (0 disables it).</param>
/// <param name="Centered">Normalise by the estimated variance v − ḡ² instead of the raw second moment.</param>
/// <param name="WeightDecay">L2 penalty λ added to the gradient.</param>
/// <remarks>
/// Exactly <c>torch.optim.RMSprop(lr, alpha, eps, weight_decay, momentum, centered)</c>; the textbook form
/// (Hinton's lecture 6e) is Mu = 0, Centered = false; the centered variant with momentum is Graves (2013).
/// Moments: 0 is v; then ḡ if <see cref="Centered"/>; then b if <see cref="Mu"/> ≠ 0.
/// </remarks>
public sealed record RmsProp(
    double LearningRate = 0.01,
    double Alpha = 0.99,
    double Epsilon = 1e-8,
    double Mu = 0,
    bool Centered = false,
    double WeightDecay = 0) : Optimizer(LearningRate, WeightDecay)
{
    /// <summary>α, in [0, 1].</summary>
    public double Alpha { get; init => field = HyperParameter.Fraction(value, nameof(Alpha)); } = HyperParameter.Fraction(Alpha, nameof(Alpha));

    /// <summary>ε, a finite number ≥ 0.</summary>
    public double Epsilon { get; init => field = HyperParameter.NonNegative(value, nameof(Epsilon)); } = HyperParameter.NonNegative(Epsilon, nameof(Epsilon));

    /// <summary>μ, a finite number ≥ 0.</summary>
    public double Mu { get; init => field = HyperParameter.NonNegative(value, nameof(Mu)); } = HyperParameter.NonNegative(Mu, nameof(Mu));

    /// <inheritdoc/>
    public override TransformCapabilities Capabilities => TransformCapabilities.ElementWise | TransformCapabilities.WritesParameters;

    /// <inheritdoc/>
    public override int MomentCount => 1 + (Centered ? 1 : 0) + (Mu != 0 ? 1 : 0);

    /// <inheritdoc/>
    public override OptimizerState Update<T>(
        OptimizerState state, Span<T> theta, ReadOnlySpan<T> g, OptimizerBuffers<T> buffers, double learningRate) =>
        Update(this, state, theta, g, buffers, learningRate);

    /// <summary>One RMSProp step; see <see cref="RmsProp"/>.</summary>
    /// <typeparam name="T">The element type.</typeparam>
    /// <param name="h">Hyper-parameters.</param>
    /// <param name="s">State before the update.</param>
    /// <param name="theta">Parameters θ, updated in place.</param>
    /// <param name="g">Gradient, same length as θ.</param>
    /// <param name="buf">Moment buffers: v, then ḡ (centered), then b (momentum).</param>
    /// <param name="lr">Learning rate η for this step.</param>
    /// <returns><c>s</c> with <c>Step + 1</c>.</returns>
    public static OptimizerState Update<T>(
        RmsProp h, OptimizerState s, Span<T> theta, ReadOnlySpan<T> g, OptimizerBuffers<T> buf, double lr)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(h);
        OptimizerGuard.Check(theta.Length, g.Length, buf, h.MomentCount, lr);
        Span<T> v = buf.Moment(0);
        Span<T> gbar = h.Centered ? buf.Moment(1) : default;
        bool momentum = h.Mu != 0;
        Span<T> b = momentum ? buf.Moment(h.Centered ? 2 : 1) : default;
        bool centered = h.Centered;
        T alpha = OptimizerGuard.Of<T>(h.Alpha);
        T oneMinusAlpha = OptimizerGuard.Of<T>(1 - h.Alpha);
        T eps = OptimizerGuard.Of<T>(h.Epsilon);
        T eta = OptimizerGuard.Of<T>(lr);
        T mu = OptimizerGuard.Of<T>(h.Mu);
        T lambda = OptimizerGuard.Of<T>(h.WeightDecay);
        int i = 0;
        if (!centered && !momentum && System.Numerics.Vector.IsHardwareAccelerated)
        {
            // The plain form, a vector at a time with the scalar loop's operations in its order: bit-identical.
            var vAlpha = new System.Numerics.Vector<T>(alpha);
            var vOneMinusAlpha = new System.Numerics.Vector<T>(oneMinusAlpha);
            var vEps = new System.Numerics.Vector<T>(eps);
            var vEta = new System.Numerics.Vector<T>(eta);
            var vLambda = new System.Numerics.Vector<T>(lambda);
            ref T tr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(theta);
            ref T gr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(g);
            ref T vr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(v);
            for (; i <= theta.Length - System.Numerics.Vector<T>.Count; i += System.Numerics.Vector<T>.Count)
            {
                var th = System.Numerics.Vector.LoadUnsafe(ref tr, (nuint)i);
                var gi = System.Numerics.Vector.LoadUnsafe(ref gr, (nuint)i) + vLambda * th;
                var vi = vAlpha * System.Numerics.Vector.LoadUnsafe(ref vr, (nuint)i) + vOneMinusAlpha * gi * gi;
                vi.StoreUnsafe(ref vr, (nuint)i);
                (th - vEta * (gi / (System.Numerics.Vector.SquareRoot(vi) + vEps))).StoreUnsafe(ref tr, (nuint)i);
            }
        }

        for (; i < theta.Length; i++)
        {
            T gi = g[i] + lambda * theta[i];
            T vi = alpha * v[i] + oneMinusAlpha * gi * gi;
            v[i] = vi;
            if (centered)
            {
                T gb = alpha * gbar[i] + oneMinusAlpha * gi;
                gbar[i] = gb;
                vi -= gb * gb;
            }

            T normalised = gi / (T.Sqrt(vi) + eps);
            if (momentum)
            {
                T bi = mu * b[i] + normalised;
                b[i] = bi;
                theta[i] -= eta * bi;
            }
            else
            {
                theta[i] -= eta * normalised;
            }
        }

        return s with { Step = s.Step + 1 };
    }
}
