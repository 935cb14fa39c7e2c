using System.Numerics;

namespace Backprop.Functional;

/// <summary>The base of every layer kind: <typeparamref name="TSelf"/> is the kind's description record,
/// <typeparamref name="TKernel"/> its operator struct. Each protocol member is one sealed call into the kernel with the
/// description, so a kind from another assembly costs one virtual call per layer per batch and built-in kinds, which the
/// core switches on by type, none.</summary>
/// <example><code>
/// public sealed record Gain(int Width) : Layer&lt;Gain, GainKernel&gt; { … Inputs, Outputs … }
/// public readonly struct GainKernel : ILayerKernel&lt;Gain&gt; { … static kernels … }
/// </code></example>
/// <typeparam name="TSelf">The kind's description record.</typeparam>
/// <typeparam name="TKernel">The kind's kernels.</typeparam>
public abstract record Layer<TSelf, TKernel> : Layer
    where TSelf : Layer<TSelf, TKernel>
    where TKernel : struct, ILayerKernel<TSelf>
{
    /// <inheritdoc/>
    public sealed override string Kind => TKernel.Kind;

    internal sealed override ParameterTensor[] ParameterTensors() => TKernel.Parameters((TSelf)this);

    internal sealed override int ScratchPerSample(int time) => TKernel.ScratchPerSample((TSelf)this, time);

    internal sealed override int ScratchPerLayer() => TKernel.ScratchPerLayer((TSelf)this);

    internal sealed override string FormatArguments() => TKernel.Format((TSelf)this);

    internal sealed override void Forward<T>(scoped in ForwardPass<T> p) => TKernel.Forward((TSelf)this, in p);

    internal sealed override void Backward<T>(scoped in BackwardPass<T> p) => TKernel.Backward((TSelf)this, in p);

    internal sealed override void ForwardTangent<T>(scoped in TangentPass<T> p) => TKernel.ForwardTangent((TSelf)this, in p);

    internal sealed override void BackwardTangent<T>(scoped in TangentBackwardPass<T> p) => TKernel.BackwardTangent((TSelf)this, in p);
}
