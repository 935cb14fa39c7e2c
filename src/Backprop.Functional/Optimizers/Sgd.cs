using System.Numerics;
using System.Numerics.Tensors;

namespace Backprop.Functional;

/// <summary>
/// Plain stochastic gradient descent: θ ← θ − η g (with weight decay λ: θ ← θ − η(g + λθ)).
/// <para>Threads: immutable and shareable; the state an update writes (θ, the caller's <see
/// cref="OptimizerBuffers{T}"/>) takes one update at a time.</para>
/// </summary>
/// <param name="LearningRate">The learning rate η.</param>
/// <param name="WeightDecay">L2 penalty λ added to the gradient.</param>
/// <remarks>
/// Equals <c>torch.optim.SGD(lr, momentum=0, weight_decay)</c> and the textbook update.
/// Keeps no moments.
/// </remarks>
public sealed record Sgd(double LearningRate = 0.01, double WeightDecay = 0) : Optimizer(LearningRate, WeightDecay)
{
    /// <inheritdoc/>
    public override int MomentCount => 0;

    /// <summary>Element-wise, fused for one-sample steps, writes θ.</summary>
    public override TransformCapabilities Capabilities =>
        TransformCapabilities.ElementWise | TransformCapabilities.FusedOuterProduct | TransformCapabilities.WritesParameters;

    /// <inheritdoc/>
    protected internal override void PrepareFused(long t, double learningRate, ref FusedScalars<float> scalars) => Prepare(learningRate, ref scalars);

    /// <inheritdoc/>
    protected internal override void PrepareFused(long t, double learningRate, ref FusedScalars<double> scalars) => Prepare(learningRate, ref scalars);

    /// <inheritdoc/>
    protected internal override void UpdateFused(scoped in FusedScalars<float> scalars, scoped in FusedLayer<float> layer) =>
        SgdKernel.Fused(scalars[0], scalars[1], layer);

    /// <inheritdoc/>
    protected internal override void UpdateFused(scoped in FusedScalars<double> scalars, scoped in FusedLayer<double> layer) =>
        SgdKernel.Fused(scalars[0], scalars[1], layer);

    /// <summary>Slot 0: η; slot 1: λ.</summary>
    private void Prepare<T>(double learningRate, ref FusedScalars<T> scalars) where T : unmanaged, IFloatingPointIeee754<T>
    {
        scalars[0] = OptimizerGuard.Of<T>(learningRate);
        scalars[1] = OptimizerGuard.Of<T>(WeightDecay);
    }

    /// <inheritdoc/>
    public override OptimizerState Update<T>(
        OptimizerState state, Span<T> theta, ReadOnlySpan<T> g, OptimizerBuffers<T> buffers, double learningRate) =>
        Update(this, state, theta, g, buffers, learningRate);

    /// <summary>θ ← θ − η(g + λθ); see <see cref="Sgd"/>.</summary>
    /// <typeparam name="T">The element type.</typeparam>
    /// <param name="h">Hyper-parameters.</param>
    /// <param name="s">State before the update.</param>
    /// <param name="theta">Parameters θ, updated in place.</param>
    /// <param name="g">Gradient, same length as θ.</param>
    /// <param name="buf">Moment buffers (none are used).</param>
    /// <param name="lr">Learning rate η for this step.</param>
    /// <returns><c>s</c> with <c>Step + 1</c>.</returns>
    public static OptimizerState Update<T>(
        Sgd h, OptimizerState s, Span<T> theta, ReadOnlySpan<T> g, OptimizerBuffers<T> buf, double lr)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(h);
        OptimizerGuard.Check(theta.Length, g.Length, buf, 0, lr);
        SgdKernel.Stored(OptimizerGuard.Of<T>(lr), OptimizerGuard.Of<T>(h.WeightDecay), theta, g);
        return s with { Step = s.Step + 1 };
    }
}

/// <summary>The SGD loop, generic over where g comes from (see <see cref="OuterProductUpdate"/>).</summary>
internal static class SgdKernel
{
    /// <summary>One dense layer of a one-sample step, g = δaᵀ (weights, row by row) and δ (bias) formed as read.</summary>
    internal static void Fused<T>(T eta, T lambda, scoped in FusedLayer<T> layer)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Span<T> th = layer.Theta;
        ReadOnlySpan<T> delta = layer.Delta, input = layer.Input;
        int inputs = layer.Inputs, outputs = layer.Outputs;
        for (int r = 0; r < outputs; r++)
        {
            Apply(eta, lambda, th.Slice(r * inputs, inputs), new OuterProductRow<T>(delta[r], input));
        }

        Stored(eta, lambda, th.Slice(outputs * inputs, outputs), delta);
    }

    /// <summary>θ ← θ − η(g + λθ) with g in memory.</summary>
    internal static void Stored<T>(T eta, T lambda, Span<T> theta, ReadOnlySpan<T> g)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (lambda == T.Zero)
        {
            // θ + (−η)·g, computed unfused: bit-identical to θ − η·g and to Apply below.
            TensorPrimitives.MultiplyAdd(g, -eta, theta, theta);
        }
        else
        {
            var source = new StoredGradient<T>(g);
            Apply(eta, lambda, theta, source);
        }
    }

    /// <summary>θ ← θ + (−η)·g, or θ ← θ + (−η)(g + λθ) when λ ≠ 0, unfused, a vector at a time and then element by
    /// element (bit-identical to each other and to θ − η·g).</summary>
    internal static void Apply<T, TSource>(T eta, T lambda, Span<T> theta, TSource g)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TSource : IGradientSource<T>, allows ref struct
    {
        int i = 0;
        T minusEta = -eta;
        bool decay = lambda != T.Zero;
        if (Vector.IsHardwareAccelerated)
        {
            var vMinusEta = new Vector<T>(minusEta);
            var vlambda = new Vector<T>(lambda);
            ref T tr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(theta);
            for (; i <= theta.Length - Vector<T>.Count; i += Vector<T>.Count)
            {
                var th = Vector.LoadUnsafe(ref tr, (nuint)i);
                var gi = decay ? g.Vector(i) + vlambda * th : g.Vector(i);
                (gi * vMinusEta + th).StoreUnsafe(ref tr, (nuint)i);
            }
        }

        for (; i < theta.Length; i++)
        {
            T gi = decay ? g.Scalar(i) + lambda * theta[i] : g.Scalar(i);
            theta[i] = gi * minusEta + theta[i];
        }
    }
}
