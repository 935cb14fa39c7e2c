using System.Numerics;
using System.Numerics.Tensors;

namespace Backprop.Functional;

/// <summary>Which formulation of Nesterov accelerated gradient <see cref="Nesterov"/> uses.</summary>
public enum NesterovForm
{
    /// <summary>torch.optim.SGD(nesterov=True): b ← μb + g, θ ← θ − η(g + μb); g is evaluated at θ.</summary>
    Torch = 0,

    /// <summary>Textbook look-ahead: v ← μv + η∇f(θ − μv), θ ← θ − v; g must be evaluated at θ − μv.</summary>
    LookAhead = 1,
}

/// <summary>
/// Nesterov momentum. Torch form: b ← μb + g, θ ← θ − η(g + μb), with g = ∇f(θ) + λθ.
/// Look-ahead form: v ← μv + η(g + λ(θ − μv)), θ ← θ − v, with g = ∇f(θ − μv) supplied by the caller.
/// <para>Threads: immutable and shareable; the state an update writes (θ, the caller's <see
/// cref="OptimizerBuffers{T}"/>) takes one update at a time.</para>
/// </summary>
/// <param name="LearningRate">The learning rate η.</param>
/// <param name="Mu">Momentum coefficient μ.</param>
/// <param name="Form">Torch (gradient at θ) or LookAhead (gradient at θ − μv).</param>
/// <param name="WeightDecay">L2 penalty λ added to the gradient (at the point where the gradient is evaluated).</param>
/// <remarks>
/// <para><see cref="NesterovForm.Torch"/> is exactly <c>torch.optim.SGD(lr, momentum=μ, dampening=0, weight_decay=λ, nesterov=True)</c>
/// (b = g on the first step, which equals μ·0 + g because the buffer starts at zero).</para>
/// <para><see cref="NesterovForm.LookAhead"/> is the textbook form of Sutskever et al. (2013): the gradient is taken at
/// the look-ahead point θ − μv, so with this form the caller MUST evaluate g at
/// <see cref="LookAheadPoint{T}(ReadOnlySpan{T}, OptimizerBuffers{T}, T, Span{T})"/> rather than at θ.
/// Weight decay is applied at that point too: the L2 term contributes λ(θ − μv).</para>
/// <para>Relation: torch's form is the Sutskever reformulation in the shifted variable θ' = θ − μv with b = v/η.
/// Substituting v_{t+1} = μv_t + η∇f(θ'_t) gives θ'_{t+1} = θ'_t − η(∇f(θ'_t) + μ b_{t+1}) with b_{t+1} = μb_t + ∇f(θ'_t),
/// which is torch's update with the gradient evaluated at its own iterate. Hence, with a constant η and both
/// started from zero velocity, torch's iterates equal the look-ahead points θ_t − μv_t of the textbook form;
/// they differ when η changes between steps. Moment 0 holds b (torch) or v (look-ahead).</para>
/// </remarks>
public sealed record Nesterov(
    double LearningRate = 0.01,
    double Mu = 0.9,
    NesterovForm Form = NesterovForm.Torch,
    double WeightDecay = 0) : Optimizer(LearningRate, WeightDecay)
{
    /// <summary>μ, a finite number ≥ 0.</summary>
    public double Mu { get; init => field = HyperParameter.NonNegative(value, nameof(Mu)); } = HyperParameter.NonNegative(Mu, nameof(Mu));

    /// <summary>Element-wise, writes θ; the look-ahead form also <see cref="TransformCapabilities.LookAhead"/>.</summary>
    public override TransformCapabilities Capabilities => TransformCapabilities.ElementWise | TransformCapabilities.WritesParameters
        | (Form == NesterovForm.LookAhead ? TransformCapabilities.LookAhead : TransformCapabilities.None);

    /// <inheritdoc/>
    public override int MomentCount => 1;

    /// <inheritdoc/>
    public override OptimizerState Update<T>(
        OptimizerState state, Span<T> theta, ReadOnlySpan<T> g, OptimizerBuffers<T> buffers, double learningRate) =>
        Update(this, state, theta, g, buffers, learningRate);

    /// <inheritdoc/>
    public override ReadOnlySpan<T> GradientPoint<T>(ReadOnlySpan<T> theta, OptimizerBuffers<T> buffers, Workspace<T> ws)
    {
        if (Form != NesterovForm.LookAhead) return theta;
        ArgumentNullException.ThrowIfNull(ws);
        var point = ws.ParameterScratch(theta.Length);
        LookAheadPoint(theta, buffers, OptimizerGuard.Of<T>(Mu), point);
        return point;
    }

    /// <summary>One Nesterov step in the configured <see cref="Form"/>; see <see cref="Nesterov"/>.</summary>
    /// <typeparam name="T">The element type.</typeparam>
    /// <param name="h">Hyper-parameters.</param>
    /// <param name="s">State before the update.</param>
    /// <param name="theta">Parameters θ, updated in place.</param>
    /// <param name="g">Gradient: at θ (torch form) or at θ − μv (look-ahead form).</param>
    /// <param name="buf">Moment buffers: moment 0 is the velocity.</param>
    /// <param name="lr">Learning rate η for this step.</param>
    /// <returns><c>s</c> with <c>Step + 1</c>.</returns>
    public static OptimizerState Update<T>(
        Nesterov h, OptimizerState s, Span<T> theta, ReadOnlySpan<T> g, OptimizerBuffers<T> buf, double lr)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(h);
        OptimizerGuard.Check(theta.Length, g.Length, buf, 1, lr);
        Span<T> v = buf.Moment(0);
        T mu = OptimizerGuard.Of<T>(h.Mu);
        T lambda = OptimizerGuard.Of<T>(h.WeightDecay);
        T eta = OptimizerGuard.Of<T>(lr);
        if (h.Form == NesterovForm.Torch)
        {
            int i = 0;
            if (System.Numerics.Vector.IsHardwareAccelerated)
            {
                // The scalar loop's operations in its order, a vector at a time: bit-identical.
                var vMu = new System.Numerics.Vector<T>(mu);
                var vLambda = new System.Numerics.Vector<T>(lambda);
                var vEta = new System.Numerics.Vector<T>(eta);
                ref T tr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(theta);
                ref T gr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(g);
                ref T vr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(v);
                for (; i <= theta.Length - System.Numerics.Vector<T>.Count; i += System.Numerics.Vector<T>.Count)
                {
                    var th = System.Numerics.Vector.LoadUnsafe(ref tr, (nuint)i);
                    var gi = System.Numerics.Vector.LoadUnsafe(ref gr, (nuint)i) + vLambda * th;
                    var bi = vMu * System.Numerics.Vector.LoadUnsafe(ref vr, (nuint)i) + gi;
                    bi.StoreUnsafe(ref vr, (nuint)i);
                    (th - vEta * (gi + vMu * bi)).StoreUnsafe(ref tr, (nuint)i);
                }
            }

            for (; i < theta.Length; i++)
            {
                T gi = g[i] + lambda * theta[i];
                T bi = mu * v[i] + gi;
                v[i] = bi;
                theta[i] -= eta * (gi + mu * bi);
            }
        }
        else
        {
            for (int i = 0; i < theta.Length; i++)
            {
                T vi = v[i];
                T gi = g[i] + lambda * (theta[i] - mu * vi);
                vi = mu * vi + eta * gi;
                v[i] = vi;
                theta[i] -= vi;
            }
        }

        return s with { Step = s.Step + 1 };
    }

    /// <summary>Writes the look-ahead point θ − μv, where the caller evaluates the gradient for <see cref="NesterovForm.LookAhead"/>.</summary>
    /// <typeparam name="T">The element type.</typeparam>
    /// <param name="theta">Current parameters θ.</param>
    /// <param name="buf">The look-ahead optimizer's buffers (moment 0 is v).</param>
    /// <param name="mu">Momentum coefficient μ (the optimizer's <see cref="Mu"/>).</param>
    /// <param name="destination">Receives θ − μv; may be the same memory as <paramref name="theta"/>.</param>
    /// <exception cref="ArgumentException">Lengths disagree.</exception>
    public static void LookAheadPoint<T>(ReadOnlySpan<T> theta, OptimizerBuffers<T> buf, T mu, Span<T> destination)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        OptimizerGuard.Check(theta.Length, theta.Length, buf, 1);
        if (destination.Length != theta.Length)
        {
            throw new ArgumentException(
                $"destination has {destination.Length} elements but theta has {theta.Length}", nameof(destination));
        }

        // θ + (−μ)·v, unfused: bit-identical to θ − μ·v.
        TensorPrimitives.MultiplyAdd(buf.Moment(0), -mu, theta, destination);
    }
}
