namespace Backprop.Functional;

/// <summary>What a layer's <see cref="ILayerKernel{TLayer}.ForwardTangent"/> reads and writes: the forward pass and its
/// directional derivative along (v, ẋ) at once (Pearlmutter's R-operator), for curvature-vector products.</summary>
/// <typeparam name="T">float or double.</typeparam>
public readonly ref struct TangentPass<T>
{
    /// <summary>This layer's slice of θ.</summary>
    public ReadOnlySpan<T> Theta { get; init; }

    /// <summary>This layer's slice of the direction v in θ-space.</summary>
    public ReadOnlySpan<T> V { get; init; }

    /// <summary>The input, [rows × input edge].</summary>
    public ReadOnlySpan<T> X { get; init; }

    /// <summary>ẋ = R{x}, the input's tangent, [rows × input edge].</summary>
    public ReadOnlySpan<T> XDot { get; init; }

    /// <summary>The layer's scratch, [rows × ScratchPerSample].</summary>
    public Span<T> Scratch { get; init; }

    /// <summary>The output, written, [rows × output edge].</summary>
    public Span<T> Y { get; init; }

    /// <summary>ẏ = R{y}, written, [rows × output edge].</summary>
    public Span<T> YDot { get; init; }

    /// <summary>The layer's per-layer scratch ([ScratchPerLayer], whatever the rows): written by Forward, read by Backward.</summary>
    public Span<T> LayerScratch { get; init; }

    /// <summary>Samples in the batch.</summary>
    public int Rows { get; init; }

    /// <summary>Time steps of a sequence edge (1 for features).</summary>
    public int Time { get; init; }

    /// <summary>Threads the layer's GEMMs may use.</summary>
    public int Threads { get; init; }
}
