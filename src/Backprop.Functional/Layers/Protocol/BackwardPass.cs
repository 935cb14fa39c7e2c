namespace Backprop.Functional;

/// <summary>What a layer's <see cref="ILayerKernel{TLayer}.Backward"/> reads and writes for one batch, after its
/// Forward on the same rows: the vector–Jacobian product from ∂C/∂y to ∂C/∂x and ∂C/∂θ.</summary>
/// <typeparam name="T">float or double.</typeparam>
public readonly ref struct BackwardPass<T>
{
    /// <summary>This layer's slice of θ, as Forward read it.</summary>
    public ReadOnlySpan<T> Theta { get; init; }

    /// <summary>The input Forward read, [rows × input edge].</summary>
    public ReadOnlySpan<T> X { get; init; }

    /// <summary>The output Forward wrote, [rows × output edge].</summary>
    public ReadOnlySpan<T> Y { get; init; }

    /// <summary>The scratch Forward wrote, [rows × ScratchPerSample]; Backward may overwrite it.</summary>
    public Span<T> Scratch { get; init; }

    /// <summary>∂C/∂y, [rows × output edge] (already δ = ∂C/∂z when <see cref="DYIsDelta"/>). Backward may overwrite
    /// it (Dense turns ∂C/∂a into δ in place).</summary>
    public Span<T> DY { get; init; }

    /// <summary>∂C/∂x, written, [rows × input edge]; empty when nobody needs it (the first layer).</summary>
    public Span<T> DX { get; init; }

    /// <summary>∂C/∂θ of this layer's slice, written (not added to) with the whole batch's gradient; empty when only
    /// the δ's are wanted (the fused online update forms ∂C/∂θ itself).</summary>
    public Span<T> DTheta { get; init; }

    /// <summary>The layer's per-layer scratch ([ScratchPerLayer], whatever the rows): written by Forward, read by Backward.</summary>
    public Span<T> LayerScratch { get; init; }

    /// <summary>Samples in the batch.</summary>
    public int Rows { get; init; }

    /// <summary>Time steps of a sequence edge (1 for features).</summary>
    public int Time { get; init; }

    /// <summary>Each sequence's length, [rows], when they differ; empty when every sequence has <see cref="Time"/> steps.
    /// Steps at or beyond a row's length are padding: they must not change y, ∂C/∂x or ∂C/∂θ.</summary>
    public ReadOnlySpan<int> Lengths { get; init; }

    /// <summary>The layer's kept GEMM plans (<see cref="Workspace{T}.Plans"/>), reused while the shapes stay; empty: each
    /// product is planned per call. Set by the network's passes; a layer kind of its own can ignore it.</summary>
    internal Span<Kernels.GemmPlan> Plans { get; init; }

    /// <summary>Threads the layer's GEMMs may use.</summary>
    public int Threads { get; init; }

    /// <summary>Set for the last layer: the loss already fused its <see cref="Layer.OutputActivation"/> into
    /// <see cref="DY"/> (δᴸ by BP1 or the fused a − y), so the activation's Jacobian is not applied again.</summary>
    public bool DYIsDelta { get; init; }
}
