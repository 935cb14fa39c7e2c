namespace Backprop.Functional;

/// <summary>What a layer's <see cref="ILayerKernel{TLayer}.ForwardTangent"/> reads and writes, after its Forward on the
/// same rows: the directional derivative of the forward pass along (v, ẋ) (Pearlmutter's R-operator), for
/// curvature-vector products (<see cref="Curvature"/>).</summary>
/// <typeparam name="T">float or double.</typeparam>
public readonly ref struct TangentPass<T>
{
    /// <summary>This layer's slice of θ, as Forward read it.</summary>
    public ReadOnlySpan<T> Theta { get; init; }

    /// <summary>This layer's slice of the direction v in θ-space.</summary>
    public ReadOnlySpan<T> V { get; init; }

    /// <summary>The input Forward read, [rows × input edge].</summary>
    public ReadOnlySpan<T> X { get; init; }

    /// <summary>ẋ = R{x}, the input's tangent, [rows × input edge]; empty when it is zero (the network's input).</summary>
    public ReadOnlySpan<T> XDot { get; init; }

    /// <summary>The output Forward wrote, [rows × output edge]. Writable for a kind that re-runs its Forward here (the
    /// recurrent kinds: their Backward overwrites their scratch), which writes the same values again.</summary>
    public Span<T> Y { get; init; }

    /// <summary>The scratch Forward wrote, [rows × ScratchPerSample]; writable as <see cref="Y"/> is.</summary>
    public Span<T> Scratch { get; init; }

    /// <summary>ẏ = R{y}, written, [rows × output edge].</summary>
    public Span<T> YDot { get; init; }

    /// <summary>The scratch's tangent, written, [rows × ScratchPerSample] (dense: ż), for <see cref="ILayerKernel{TLayer}.BackwardTangent"/>.</summary>
    public Span<T> ScratchDot { get; init; }

    /// <summary>The layer's per-layer scratch ([ScratchPerLayer]), as Forward wrote it.</summary>
    public Span<T> LayerScratch { get; init; }

    /// <summary>Samples in the batch.</summary>
    public int Rows { get; init; }

    /// <summary>Time steps of a sequence edge (1 for features).</summary>
    public int Time { get; init; }

    /// <summary>Each sequence's length, [rows], when they differ; empty when every sequence has <see cref="Time"/> steps.</summary>
    public ReadOnlySpan<int> Lengths { get; init; }

    /// <summary>Threads the layer's GEMMs may use.</summary>
    public int Threads { get; init; }
}
