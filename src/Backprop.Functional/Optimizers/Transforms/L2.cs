using System.Numerics;
using System.Numerics.Tensors;

namespace Backprop.Functional;

/// <summary>
/// Nielsen's L2 regularisation as a transform: g ← g + (λ/n)·w for every weight w, biases untouched, w read at the
/// point where the gradient was taken (<see cref="StepContext{T}.Point"/>: θ, or a look-ahead point). This is the
/// gradient of C = C₀ + λ/(2n)·Σw².
/// <para>Threads: immutable and shareable.</para>
/// </summary>
/// <param name="PerWeight">λ/n: the penalty λ over the training-set size n, a finite number ≥ 0.</param>
/// <remarks>
/// Nielsen, <i>Neural Networks and Deep Learning</i>, ch. 3 (L2 regularisation). It needs the layout to tell weights from
/// biases (<see cref="StepContext{T}.Layout"/>), so it is not <see cref="TransformCapabilities.ElementWise"/>; torch's
/// coupled decay of every parameter is <see cref="WeightDecay"/>. <c>TrainingOptions.L2</c> = λ means <c>L2(λ / n)</c>.
/// </remarks>
public sealed record L2(double PerWeight) : GradientTransform
{
    /// <summary>λ/n, a finite number ≥ 0.</summary>
    public double PerWeight { get; init => field = HyperParameter.NonNegative(value, nameof(PerWeight)); } = HyperParameter.NonNegative(PerWeight, nameof(PerWeight));

    /// <summary>g += (λ/n)·w on the weights of the range [Offset, Offset + |g|) of θ.</summary>
    /// <inheritdoc/>
    /// <exception cref="ArgumentException">The context has no layout, or the spans do not fit it.</exception>
    public override OptimizerState Update<T>(
        OptimizerState state, Span<T> g, Span<T> theta, OptimizerBuffers<T> buffers, scoped in StepContext<T> context)
    {
        T scale = OptimizerGuard.Of<T>(PerWeight);
        if (scale == T.Zero) return state with { Step = state.Step + 1 };
        var layout = context.Layout ?? throw new ArgumentException("L2 needs the parameter layout in the step context (StepContext.Layout) to tell weights from biases", nameof(context));
        if (g.Length != theta.Length) Shapes.ThrowLengths("gradient", g.Length, "theta", theta.Length);
        ReadOnlySpan<T> w = context.PointOr(theta);
        int start = context.Offset, end = context.Offset + g.Length;
        if (start < 0 || end > layout.Count)
            throw new ArgumentException($"a range of {g.Length} parameters at {start} does not fit the layout's {layout.Count}", nameof(context));
        foreach (var slot in layout.DecayedSlots)
        {
            int from = Math.Max(slot.Offset, start), to = Math.Min(slot.Offset + slot.Length, end);
            if (from >= to) continue;
            var gs = g[(from - start)..(to - start)];
            TensorPrimitives.MultiplyAdd(w[(from - start)..(to - start)], scale, gs, gs);
        }
        return state with { Step = state.Step + 1 };
    }
}
