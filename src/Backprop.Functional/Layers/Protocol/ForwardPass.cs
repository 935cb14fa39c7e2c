namespace Backprop.Functional;

/// <summary>What a layer's <see cref="ILayerKernel{TLayer}.Forward"/> reads and writes for one batch: views into θ
/// and the <see cref="Workspace{T}"/>, built once per layer per batch.</summary>
/// <typeparam name="T">float or double.</typeparam>
public readonly ref struct ForwardPass<T>
{
    /// <summary>This layer's slice of θ: its tensors in declaration order.</summary>
    public ReadOnlySpan<T> Theta { get; init; }

    /// <summary>The input, [rows × input edge].</summary>
    public ReadOnlySpan<T> X { get; init; }

    /// <summary>The output, written, [rows × output edge].</summary>
    public Span<T> Y { get; init; }

    /// <summary>The layer's scratch, [rows × ScratchPerSample]: what Forward keeps for Backward (Dense: zˡ).</summary>
    public Span<T> Scratch { get; init; }

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

    /// <summary>One flag (<see cref="Workspace{T}.Kept"/>), when the workspace keeps weights
    /// (<see cref="Workspace{T}.KeepWeights"/>; a <see cref="Predictor{T}"/>'s, whose θ is its own snapshot): true once
    /// the layer has put a form of its weights made for this θ in <see cref="LayerScratch"/> (the LSTM's packed
    /// [W_ih | W_hh]), so later calls reuse it; a layer that writes that scratch otherwise sets it false. Empty: θ may
    /// change between calls, and nothing made from it is kept. A layer kind of its own may ignore it.</summary>
    public Span<bool> WeightsKept { get; init; }
}
