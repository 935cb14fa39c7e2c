using System.Numerics;

namespace Backprop.Functional;

/// <summary>Which of the two common heavy-ball momentum formulations <see cref="Momentum"/> uses.</summary>
public enum MomentumForm
{
    /// <summary>torch.optim.SGD: b ← μb + (1−dampening)g (b = g on the first step), θ ← θ − ηb.</summary>
    Torch = 0,

    /// <summary>Textbook (Sutskever et al. 2013, Nielsen): v ← μv + ηg, θ ← θ − v.</summary>
    Classic = 1,
}

/// <summary>
/// Heavy-ball momentum. Torch form: b ← μb + (1−d)(g + λθ) (b = g + λθ on the first step), θ ← θ − ηb.
/// Classic form: v ← μv + (1−d)η(g + λθ) (v = η(g + λθ) on the first step), θ ← θ − v.
/// <para>Threads: immutable and shareable; the state an update writes (θ, the caller's <see
/// cref="OptimizerBuffers{T}"/>) takes one update at a time.</para>
/// </summary>
/// <param name="LearningRate">The learning rate η.</param>
/// <param name="Mu">Momentum coefficient μ.</param>
/// <param name="Dampening">Dampening d: the fraction of the new gradient that is dropped (torch's <c>dampening</c>).</param>
/// <param name="Form">Torch (velocity measured in gradient units) or Classic (velocity measured in parameter units).</param>
/// <param name="WeightDecay">L2 penalty λ added to the gradient.</param>
/// <remarks>
/// <para><see cref="MomentumForm.Torch"/> is exactly <c>torch.optim.SGD(lr, momentum=μ, dampening=d, weight_decay=λ, nesterov=False)</c>.</para>
/// <para><see cref="MomentumForm.Classic"/> is the textbook form (Polyak's heavy ball as written by Sutskever et al. and
/// Nielsen) where the learning rate sits inside the velocity. With a constant η the two produce the same iterates
/// (v = ηb); when η changes (a schedule) they differ: torch applies the new η to the whole accumulated velocity,
/// the textbook form only to the new gradient. The first-step rule and dampening are mirrored into the classic form so
/// that this equivalence holds for every d.</para>
/// <para>Moment 0 holds b (torch) or v (classic).</para>
/// </remarks>
public sealed record Momentum(
    double LearningRate = 0.01,
    double Mu = 0.9,
    double Dampening = 0,
    MomentumForm Form = MomentumForm.Torch,
    double WeightDecay = 0) : Optimizer(LearningRate, WeightDecay)
{
    /// <summary>μ, a finite number ≥ 0.</summary>
    public double Mu { get; init => field = HyperParameter.NonNegative(value, nameof(Mu)); } = HyperParameter.NonNegative(Mu, nameof(Mu));

    /// <summary>Dampening, in [0, 1].</summary>
    public double Dampening { get; init => field = HyperParameter.Fraction(value, nameof(Dampening)); } = HyperParameter.Fraction(Dampening, nameof(Dampening));

    /// <inheritdoc/>
    public override TransformCapabilities Capabilities => TransformCapabilities.ElementWise | TransformCapabilities.WritesParameters;

    /// <inheritdoc/>
    public override int MomentCount => 1;

    /// <inheritdoc/>
    public override OptimizerState Update<T>(
        OptimizerState state, Span<T> theta, ReadOnlySpan<T> g, OptimizerBuffers<T> buffers, double learningRate) =>
        Update(this, state, theta, g, buffers, learningRate);

    /// <summary>One heavy-ball step in the configured <see cref="Form"/>; see <see cref="Momentum"/>.</summary>
    /// <typeparam name="T">The element type.</typeparam>
    /// <param name="h">Hyper-parameters.</param>
    /// <param name="s">State before the update (<c>Step == 0</c> selects the first-step rule).</param>
    /// <param name="theta">Parameters θ, updated in place.</param>
    /// <param name="g">Gradient, same length as θ.</param>
    /// <param name="buf">Moment buffers: moment 0 is the velocity.</param>
    /// <param name="lr">Learning rate η for this step.</param>
    /// <returns><c>s</c> with <c>Step + 1</c>.</returns>
    public static OptimizerState Update<T>(
        Momentum h, OptimizerState s, Span<T> theta, ReadOnlySpan<T> g, OptimizerBuffers<T> buf, double lr)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(h);
        OptimizerGuard.Check(theta.Length, g.Length, buf, 1, lr);
        Span<T> v = buf.Moment(0);
        T mu = OptimizerGuard.Of<T>(h.Mu);
        T lambda = OptimizerGuard.Of<T>(h.WeightDecay);
        bool first = s.Step == 0;
        if (h.Form == MomentumForm.Torch)
        {
            T eta = OptimizerGuard.Of<T>(lr);
            T keep = OptimizerGuard.Of<T>(1 - h.Dampening);
            if (first)
            {
                for (int i = 0; i < theta.Length; i++)
                {
                    T gi = g[i] + lambda * theta[i];
                    v[i] = gi;
                    theta[i] -= eta * gi;
                }
            }
            else
            {
                int i = 0;
                if (System.Numerics.Vector.IsHardwareAccelerated)
                {
                    // The scalar loop's operations in the same order, a vector at a time: bit-identical results.
                    var vLambda = new System.Numerics.Vector<T>(lambda);
                    var vMu = new System.Numerics.Vector<T>(mu);
                    var vKeep = new System.Numerics.Vector<T>(keep);
                    var vEta = new System.Numerics.Vector<T>(eta);
                    ref T tr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(theta);
                    ref T gr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(g);
                    ref T vr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(v);
                    for (; i <= theta.Length - System.Numerics.Vector<T>.Count; i += System.Numerics.Vector<T>.Count)
                    {
                        var th = System.Numerics.Vector.LoadUnsafe(ref tr, (nuint)i);
                        var gi = System.Numerics.Vector.LoadUnsafe(ref gr, (nuint)i) + vLambda * th;
                        var bi = vMu * System.Numerics.Vector.LoadUnsafe(ref vr, (nuint)i) + vKeep * gi;
                        bi.StoreUnsafe(ref vr, (nuint)i);
                        (th - vEta * bi).StoreUnsafe(ref tr, (nuint)i);
                    }
                }

                for (; i < theta.Length; i++)
                {
                    T gi = g[i] + lambda * theta[i];
                    T bi = mu * v[i] + keep * gi;
                    v[i] = bi;
                    theta[i] -= eta * bi;
                }
            }
        }
        else
        {
            T eta = OptimizerGuard.Of<T>(first ? lr : (1 - h.Dampening) * lr);
            for (int i = 0; i < theta.Length; i++)
            {
                T gi = g[i] + lambda * theta[i];
                T vi = first ? eta * gi : mu * v[i] + eta * gi;
                v[i] = vi;
                theta[i] -= vi;
            }
        }

        return s with { Step = s.Step + 1 };
    }
}
