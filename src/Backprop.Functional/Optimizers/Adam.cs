using System.Numerics;

namespace Backprop.Functional;

/// <summary>
/// Adam: m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g²; m̂ = m/(1−β₁ᵗ); v̂ = v/(1−β₂ᵗ); θ ← θ − η m̂/(√v̂ + ε),
/// with g ← g + λθ (L2) and t = Step + 1; AMSGrad uses v̂ = max(v₁…v_t)/(1−β₂ᵗ).
/// </summary>
/// <param name="LearningRate">The learning rate η.</param>
/// <param name="Beta1">Decay β₁ of the first moment.</param>
/// <param name="Beta2">Decay β₂ of the second moment.</param>
/// <param name="Epsilon">ε, added outside the root after bias correction.</param>
/// <param name="Amsgrad">Use the running maximum of v (Reddi et al. 2018) in the denominator.</param>
/// <param name="WeightDecay">L2 penalty λ added to the gradient (use <see cref="AdamW"/> for decoupled decay).</param>
/// <remarks>
/// Exactly <c>torch.optim.Adam(lr, betas=(β₁, β₂), eps, weight_decay, amsgrad)</c>, which is Algorithm 1 of
/// Kingma &amp; Ba (2015) with ε added after bias correction (the paper's ε̂ variant differs slightly). torch's AMSGrad
/// takes the maximum of the uncorrected v and bias-corrects it afterwards, as here. Moments: 0 is m, 1 is v,
/// 2 is max v when <see cref="Amsgrad"/>.
/// </remarks>
public sealed record Adam(
    double LearningRate = 1e-3,
    double Beta1 = 0.9,
    double Beta2 = 0.999,
    double Epsilon = 1e-8,
    bool Amsgrad = false,
    double WeightDecay = 0) : Optimizer(LearningRate, WeightDecay)
{
    /// <inheritdoc/>
    public override int MomentCount => Amsgrad ? 3 : 2;

    /// <inheritdoc/>
    public override OptimizerState Update<T>(
        OptimizerState state, Span<T> theta, ReadOnlySpan<T> g, OptimizerBuffers<T> buffers, double learningRate) =>
        Update(this, state, theta, g, buffers, learningRate);

    /// <summary>One Adam step; see <see cref="Adam"/>.</summary>
    /// <typeparam name="T">The element type.</typeparam>
    /// <param name="h">Hyper-parameters.</param>
    /// <param name="s">State before the update.</param>
    /// <param name="theta">Parameters θ, updated in place.</param>
    /// <param name="g">Gradient, same length as θ.</param>
    /// <param name="buf">Moment buffers: m, v, and max v (AMSGrad).</param>
    /// <param name="lr">Learning rate η for this step.</param>
    /// <returns><c>s</c> with <c>Step + 1</c>.</returns>
    public static OptimizerState Update<T>(
        Adam h, OptimizerState s, Span<T> theta, ReadOnlySpan<T> g, OptimizerBuffers<T> buf, double lr)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(h);
        OptimizerGuard.Check(theta.Length, g.Length, buf, h.MomentCount);
        AdamKernel.Step(s.Step + 1, h.Beta1, h.Beta2, h.Epsilon, h.Amsgrad, h.WeightDecay, theta, g, buf, lr);
        return s with { Step = s.Step + 1 };
    }
}

/// <summary>The Adam/AdamW inner loop, shared so both stay bit-identical in the Adam part.</summary>
internal static class AdamKernel
{
    internal static void Step<T>(
        long t, double beta1, double beta2, double epsilon, bool amsgrad, double l2,
        Span<T> theta, ReadOnlySpan<T> g, OptimizerBuffers<T> buf, double lr)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Span<T> m = buf.Moment(0);
        Span<T> v = buf.Moment(1);
        Span<T> vmax = amsgrad ? buf.Moment(2) : default;
        double td = t;
        T b1 = OptimizerGuard.Of<T>(beta1);
        T oneMinusB1 = OptimizerGuard.Of<T>(1 - beta1);
        T b2 = OptimizerGuard.Of<T>(beta2);
        T oneMinusB2 = OptimizerGuard.Of<T>(1 - beta2);
        T stepSize = OptimizerGuard.Of<T>(lr / (1 - Math.Pow(beta1, td)));
        T invSqrtBc2 = OptimizerGuard.Of<T>(1 / Math.Sqrt(1 - Math.Pow(beta2, td)));
        T eps = OptimizerGuard.Of<T>(epsilon);
        T lambda = OptimizerGuard.Of<T>(l2);
        int i = 0;
        if (!amsgrad && System.Numerics.Vector.IsHardwareAccelerated)
        {
            // The same operations in the same order as the scalar loop below, a vector at a time: bit-identical.
            var vb1 = new System.Numerics.Vector<T>(b1);
            var v1b1 = new System.Numerics.Vector<T>(oneMinusB1);
            var vb2 = new System.Numerics.Vector<T>(b2);
            var v1b2 = new System.Numerics.Vector<T>(oneMinusB2);
            var vstep = new System.Numerics.Vector<T>(stepSize);
            var vbc2 = new System.Numerics.Vector<T>(invSqrtBc2);
            var veps = new System.Numerics.Vector<T>(eps);
            var vlambda = new System.Numerics.Vector<T>(lambda);
            ref T tr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(theta);
            ref T gr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(g);
            ref T mr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(m);
            ref T vr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(v);
            int width = System.Numerics.Vector<T>.Count;
            for (; i <= theta.Length - width; i += width)
            {
                var th = System.Numerics.Vector.LoadUnsafe(ref tr, (nuint)i);
                var gi = System.Numerics.Vector.LoadUnsafe(ref gr, (nuint)i) + vlambda * th;
                var mi = vb1 * System.Numerics.Vector.LoadUnsafe(ref mr, (nuint)i) + v1b1 * gi;
                mi.StoreUnsafe(ref mr, (nuint)i);
                var vi = vb2 * System.Numerics.Vector.LoadUnsafe(ref vr, (nuint)i) + v1b2 * gi * gi;
                vi.StoreUnsafe(ref vr, (nuint)i);
                (th - vstep * mi / (System.Numerics.Vector.SquareRoot(vi) * vbc2 + veps)).StoreUnsafe(ref tr, (nuint)i);
            }
        }

        for (; i < theta.Length; i++)
        {
            T gi = g[i] + lambda * theta[i];
            T mi = b1 * m[i] + oneMinusB1 * gi;
            m[i] = mi;
            T vi = b2 * v[i] + oneMinusB2 * gi * gi;
            v[i] = vi;
            if (amsgrad)
            {
                vi = T.Max(vmax[i], vi);
                vmax[i] = vi;
            }

            theta[i] -= stepSize * mi / (T.Sqrt(vi) * invSqrtBc2 + eps);
        }
    }
}
