using System.Numerics;

namespace Backprop.Functional;

/// <summary>Description of one layer: its kind, its edges and the tensors it owns. Layers hold no numbers; their
/// parameters are a slice of the network's flat vector (see <see cref="ParameterLayout"/>). A kind derives from
/// <see cref="Layer{TSelf, TKernel}"/>, which routes every member below to the kind's
/// <see cref="ILayerKernel{TLayer}"/>.
/// <para>Threads: immutable, so one instance can be shared by any number of threads.</para></summary>
public abstract record Layer
{
    private protected Layer() { }

    /// <summary>Width of the layer's input (n of <see cref="Input"/>).</summary>
    public abstract int Inputs { get; }

    /// <summary>Width of the layer's output (n of <see cref="Output"/>).</summary>
    public abstract int Outputs { get; }

    /// <summary>The input edge: features [batch × <see cref="Inputs"/>] unless the kind reads sequences.</summary>
    public virtual EdgeShape Input => new(Inputs);

    /// <summary>The output edge: features [batch × <see cref="Outputs"/>] unless the kind writes sequences.</summary>
    public virtual EdgeShape Output => new(Outputs);

    /// <summary>The activation the output passes through last, which the loss may fuse with (Dense: its σ; other
    /// kinds: Identity). A kind that declares one other than Identity keeps its pre-activation z, [rows × Outputs],
    /// as its whole scratch, as Dense does.</summary>
    public virtual ActivationKind OutputActivation => ActivationKind.Identity;

    /// <summary>The kind's name (<see cref="ILayerKernel{TLayer}.Kind"/>), e.g. <c>Dense</c>.</summary>
    public abstract string Kind { get; }

    /// <summary>Prints the widths (<c>Inputs = 4, Outputs = 3</c>); a kind's record adds its own members after them.</summary>
    protected virtual bool PrintMembers(System.Text.StringBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Append("Inputs = ").Append(Inputs).Append(", Outputs = ").Append(Outputs);
        return true;
    }

    internal abstract ParameterTensor[] ParameterTensors();

    internal abstract int ScratchPerSample(int time);

    internal abstract int ScratchPerLayer();

    internal abstract string FormatArguments();

    internal abstract void Forward<T>(scoped in ForwardPass<T> p) where T : unmanaged, IFloatingPointIeee754<T>;

    internal abstract void Backward<T>(scoped in BackwardPass<T> p) where T : unmanaged, IFloatingPointIeee754<T>;

    internal abstract void ForwardTangent<T>(scoped in TangentPass<T> p) where T : unmanaged, IFloatingPointIeee754<T>;

    internal abstract void BackwardTangent<T>(scoped in TangentBackwardPass<T> p) where T : unmanaged, IFloatingPointIeee754<T>;
}
