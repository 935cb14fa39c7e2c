namespace Backprop.Functional;

/// <summary>What a layer's <see cref="ILayerKernel{TLayer}.BackwardTangent"/> reads and writes, after its Forward and
/// ForwardTangent on the same rows: the backward pass and its directional derivative R{·} along the tangent at once,
/// the second half of Pearlmutter's exact Hessian-vector product.</summary>
/// <typeparam name="T">float or double.</typeparam>
public readonly ref struct TangentBackwardPass<T>
{
    /// <summary>This layer's slice of θ.</summary>
    public ReadOnlySpan<T> Theta { get; init; }

    /// <summary>This layer's slice of the direction v.</summary>
    public ReadOnlySpan<T> V { get; init; }

    /// <summary>The input, [rows × input edge].</summary>
    public ReadOnlySpan<T> X { get; init; }

    /// <summary>ẋ, [rows × input edge]; empty when zero.</summary>
    public ReadOnlySpan<T> XDot { get; init; }

    /// <summary>The output Forward wrote.</summary>
    public ReadOnlySpan<T> Y { get; init; }

    /// <summary>ẏ, as ForwardTangent wrote it.</summary>
    public ReadOnlySpan<T> YDot { get; init; }

    /// <summary>The scratch Forward wrote; the parts a kind's Backward would overwrite may serve as temporary space.</summary>
    public Span<T> Scratch { get; init; }

    /// <summary>The scratch's tangent ForwardTangent wrote; the layer may overwrite it.</summary>
    public Span<T> ScratchDot { get; init; }

    /// <summary>∂C/∂y (δ when <see cref="DYIsDelta"/>); the layer may overwrite it.</summary>
    public Span<T> DY { get; init; }

    /// <summary>R{∂C/∂y} (R{δ} when <see cref="DYIsDelta"/>); the layer may overwrite it.</summary>
    public Span<T> DYDot { get; init; }

    /// <summary>∂C/∂x, written; empty for the first layer.</summary>
    public Span<T> DX { get; init; }

    /// <summary>R{∂C/∂x}, written; empty for the first layer.</summary>
    public Span<T> DXDot { get; init; }

    /// <summary>R{∂C/∂θ} of this layer's slice, written: this slice of Hv.</summary>
    public Span<T> DThetaDot { get; init; }

    /// <summary>The layer's per-layer scratch, as Forward wrote it.</summary>
    public Span<T> LayerScratch { get; init; }

    /// <summary>Samples in the batch.</summary>
    public int Rows { get; init; }

    /// <summary>Time steps of a sequence edge (1 for features).</summary>
    public int Time { get; init; }

    /// <summary>Each sequence's length, [rows], when they differ; empty when every sequence has <see cref="Time"/> steps.</summary>
    public ReadOnlySpan<int> Lengths { get; init; }

    /// <summary>Threads the layer's GEMMs may use.</summary>
    public int Threads { get; init; }

    /// <summary>Set for the last layer: DY and DYDot are already δᴸ and R{δᴸ} (the output activation applied).</summary>
    public bool DYIsDelta { get; init; }
}
