using System.Numerics;
using CommunityToolkit.HighPerformance.Buffers;

namespace Backprop.Functional;

/// <summary>Scratch memory for one network at one batch size: per layer its scratch (what its Forward keeps for its
/// Backward: zˡ for a dense layer), its output aˡ and ∂C/∂aˡ (δˡ for a dense layer, once its Backward ran). Rented
/// once, cleared, returned on <see cref="Dispose"/>; a step takes spans from it and allocates nothing.
/// <para>Threads: one thread at a time. Give each thread its own workspace; several threads may then run <see
/// cref="Network{T}.Forward"/> on one network at once.</para></summary>
/// <remarks>A workspace holds up to <see cref="Batch"/> rows; a smaller last batch uses the first rows. Layer l's
/// buffers are [batch × scratch | batch × output | batch × output]; for dense layers that is today's z, a, δ.</remarks>
public sealed class Workspace<T> : IDisposable where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly MemoryOwner<T> _buffer;
    private readonly int[] _scratchOffsets, _aOffsets, _deltaOffsets;   // per layer, where its three buffers start
    private readonly int[] _scratch, _widths;                            // per layer, per sample: scratch values, output values
    private readonly int[] _layerOffsets, _layerScratch;                 // per layer: its per-layer scratch (whatever the rows)
    private readonly int _inputPerSample;

    /// <summary>A workspace for <paramref name="layers"/> holding up to <paramref name="batch"/> rows of sequences of
    /// <paramref name="time"/> steps (1 when no edge is a sequence).</summary>
    /// <exception cref="ArgumentException">The layers do not chain.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> or <paramref name="time"/> is not
    /// positive, or the workspace would hold more than <see cref="MaxElements"/> elements (the message names the batch,
    /// the widths and the limit).</exception>
    public Workspace(IReadOnlyList<Layer> layers, int batch, int time = 1)
    {
        ArgumentNullException.ThrowIfNull(layers);
        Shapes.RequireChained(layers);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batch);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(time);
        int n = layers.Count;
        var scratch = new long[n];
        var widths = new long[n];
        var perLayer = new long[n];
        long perLayerTotal = 0;
        long outputWidths = 0;
        Int128 perSample = 0;
        bool dense = true;
        for (int l = 0; l < n; l++)
        {
            var layer = layers[l];
            scratch[l] = layer.ScratchPerSample(time);
            perLayer[l] = layer.ScratchPerLayer();
            perLayerTotal += perLayer[l];
            widths[l] = layer.Output.IsSequence ? (long)time * layer.Output.Width : layer.Output.Width;
            outputWidths += widths[l];
            perSample += scratch[l] + 2 * (Int128)widths[l];
            dense &= layer is Dense;
        }
        Int128 elements = batch * perSample + perLayerTotal;
        if (elements > MaxElements)
            throw new ArgumentOutOfRangeException(dense
                ? $"a workspace for a batch of {batch} rows needs 3 × {batch} × {outputWidths} (the layers' output widths) = {elements} elements, more than the limit of {MaxElements} (Workspace.MaxElements, one .NET array); use a smaller batch"
                : $"a workspace for a batch of {batch} rows needs {batch} × {perSample} (each layer's scratch and twice its output per sample) = {elements} elements, more than the limit of {MaxElements} (Workspace.MaxElements, one .NET array); use a smaller batch",
                innerException: null);
        Batch = batch;
        Time = time;
        Layers = layers;
        InputWidth = layers[0].Inputs;
        _inputPerSample = layers[0].Input.IsSequence ? time * InputWidth : InputWidth;
        _scratchOffsets = new int[n];
        _aOffsets = new int[n];
        _deltaOffsets = new int[n];
        _scratch = new int[n];
        _widths = new int[n];
        _layerOffsets = new int[n];
        _layerScratch = new int[n];
        int offset = 0;
        for (int l = 0; l < n; l++)
        {
            _scratch[l] = (int)scratch[l];
            _widths[l] = (int)widths[l];
            _scratchOffsets[l] = offset;
            offset += batch * _scratch[l];
            _aOffsets[l] = offset;
            offset += batch * _widths[l];
            _deltaOffsets[l] = offset;
            offset += batch * _widths[l];
        }
        for (int l = 0; l < n; l++)
        {
            _layerOffsets[l] = offset;
            _layerScratch[l] = (int)perLayer[l];
            offset += _layerScratch[l];
        }
        _buffer = MemoryOwner<T>.Allocate(offset, AllocationMode.Clear);
        _lengths = layers[0].Input.IsSequence ? new int[batch] : [];
        _plans = new Kernels.GemmPlan[n * Kernels.Gemm.SlotsPerLayer];
    }

    /// <summary>Each layer's kept GEMM plans (a dense layer's x·Wᵀ, δᵀ·a and δ·W), made on the first step and reused
    /// while the rows and threads stay: a step runs none of the GEMM's per-call decision (<see cref="Kernels.GemmPlan"/>).</summary>
    private readonly Kernels.GemmPlan[] _plans;

    /// <summary>Per layer, whether its per-layer scratch holds weights made for the current θ (<see cref="KeepWeights"/>);
    /// null: nothing is kept.</summary>
    private bool[]? _kept;

    /// <summary>From now on the layers may keep forms of their weights made from θ in their per-layer scratch and reuse
    /// them on later forward passes through this workspace: the LSTM packs [W_ih | W_hh] for its steps once instead of on
    /// every call, which is most of a one-step call's time (step-by-step generation with the state carried). Only for
    /// forward passes over one θ that does not change in between, as <see cref="Predictor{T}"/> does with its own copy;
    /// after θ changes, call <see cref="ForgetWeights"/> before the next pass (a pass would otherwise use the old weights).
    /// Results are the same bits either way.</summary>
    public void KeepWeights() => _kept ??= new bool[_widths.Length];

    /// <summary>θ has changed: every form of the weights kept since <see cref="KeepWeights"/> is made again on the next
    /// forward pass.</summary>
    public void ForgetWeights() => _kept?.AsSpan().Clear();

    /// <summary>Layer <paramref name="layer"/>'s kept-weights flag (<see cref="ForwardPass{T}.WeightsKept"/>), or empty
    /// when the workspace keeps nothing (<see cref="KeepWeights"/> not called).</summary>
    /// <param name="layer">The layer's index, 0 to <see cref="LayerCount"/> − 1.</param>
    /// <exception cref="ArgumentOutOfRangeException">No layer has that index.</exception>
    public Span<bool> Kept(int layer) =>
        (uint)layer >= (uint)_widths.Length
            ? throw new ArgumentOutOfRangeException(nameof(layer), layer, $"this workspace has layers 0 to {_widths.Length - 1}, not {layer}")
            : _kept is null ? default : _kept.AsSpan(layer, 1);

    /// <summary>Layer <paramref name="layer"/>'s plan slots (<see cref="Kernels.Gemm.SlotsPerLayer"/> of them).</summary>
    internal Span<Kernels.GemmPlan> Plans(int layer) => _plans.AsSpan(layer * Kernels.Gemm.SlotsPerLayer, Kernels.Gemm.SlotsPerLayer);

    /// <summary>Largest number of elements a workspace may hold (batch · the sum over layers of scratch plus twice the
    /// output, per sample; 3 · batch · the sum of the widths for dense layers): the most that one .NET array can hold,
    /// <see cref="Array.MaxLength"/>.</summary>
    public static int MaxElements => Array.MaxLength;

    /// <summary>Largest number of rows (samples) a step may use.</summary>
    public int Batch { get; }

    /// <summary>Time steps of the sequence edges (1 when there are none).</summary>
    public int Time { get; }

    /// <summary>Width of the network's input.</summary>
    public int InputWidth { get; }

    /// <summary>Number of layers.</summary>
    public int LayerCount => _widths.Length;

    /// <summary>The layers the workspace was made for.</summary>
    internal IReadOnlyList<Layer> Layers { get; }

    /// <summary>Refuses a workspace made for other layers than <paramref name="spec"/>'s (the same list, or layers equal
    /// one by one): its per-layer scratch would be read at another layer's offsets. Allocates only to say what differs.</summary>
    /// <exception cref="ArgumentException">The layers differ (the message names the first that does, on both sides).</exception>
    internal void RequireMadeFor(NetworkSpec spec)
    {
        var mine = Layers;
        var theirs = spec.Layers;
        if (ReferenceEquals(mine, theirs)) return;
        if (mine.Count != theirs.Count)
            throw new ArgumentException($"the workspace was made for another network ({mine.Count} layers, input [{InputWidth}]) than {spec}");
        for (int l = 0; l < mine.Count; l++)
            if (!mine[l].Equals(theirs[l]))
                throw new ArgumentException($"the workspace was made for another network: its layer {l} is {mine[l].Kind} {mine[l]}, {spec}'s is {theirs[l].Kind} {theirs[l]}");
    }

    /// <summary>Threads a step may use for its large GEMMs (1: the calling thread only).</summary>
    /// <remarks>The extra threads are not the workspace's: they come from the process-wide GEMM worker pool (see
    /// <see cref="Kernels.Gemm"/>), created on first use and kept for the process's life; disposing the workspace does
    /// not stop them. The pool serves one caller at a time; a step whose product finds it busy runs that product on
    /// the calling thread alone, with the same bits, so several workspaces with <c>Threads = 2</c> used at once are
    /// safe and deterministic but share the second core. At most <see cref="Environment.ProcessorCount"/> threads
    /// work on one product.</remarks>
    public int Threads { get; init; } = 1;

    /// <summary>Values per sample of layer <paramref name="layer"/>'s output (its width, times the time steps for a sequence).</summary>
    public int Width(int layer) => _widths[layer];

    /// <summary>zˡ for the first <paramref name="rows"/> rows, [rows × width]: layer <paramref name="layer"/>'s scratch,
    /// which for a dense layer is zˡ (see <see cref="Scratch"/>).</summary>
    public Span<T> Z(int layer, int rows) => _buffer.Span.Slice(_scratchOffsets[layer], Rows(rows) * _scratch[layer]);

    /// <summary>Layer <paramref name="layer"/>'s scratch for the first <paramref name="rows"/> rows, [rows × its
    /// ScratchPerSample]: what its Forward keeps for its Backward.</summary>
    public Span<T> Scratch(int layer, int rows) => Z(layer, rows);

    /// <summary>Layer <paramref name="layer"/>'s per-layer scratch (<see cref="ILayerKernel{TLayer}.ScratchPerLayer"/>
    /// values, whatever the rows): what its Forward keeps once per batch, e.g. a transposed weight.</summary>
    public Span<T> LayerScratch(int layer) => _buffer.Span.Slice(_layerOffsets[layer], _layerScratch[layer]);

    /// <summary>aˡ for the first <paramref name="rows"/> rows, [rows × width].</summary>
    public Span<T> A(int layer, int rows) => _buffer.Span.Slice(_aOffsets[layer], Rows(rows) * _widths[layer]);

    /// <summary>δˡ for the first <paramref name="rows"/> rows, [rows × width]: ∂C/∂aˡ handed to the layer's Backward,
    /// which for a dense layer turns it into δˡ = ∂C/∂zˡ in place.</summary>
    public Span<T> Delta(int layer, int rows) => _buffer.Span.Slice(_deltaOffsets[layer], Rows(rows) * _widths[layer]);

    /// <summary>Rows in an input of <paramref name="inputLength"/> elements, checked against the capacity.</summary>
    /// <exception cref="ArgumentException">The input is not whole rows of the input width, or has more rows than <see cref="Batch"/>.</exception>
    public int RowsOf(int inputLength)
    {
        Shapes.RequireRows(inputLength, _inputPerSample, "input");
        if (inputLength == 0)
            throw new ArgumentException($"the input is empty: a batch needs at least one row of [{_inputPerSample}]");
        return Rows(inputLength / _inputPerSample);
    }

    private int Rows(int rows)
    {
        if ((uint)rows > (uint)Batch)
            throw new ArgumentException($"a batch of {rows} rows does not fit this workspace of [{Batch} × ...] rows; create one with a larger batch");
        return rows;
    }

    /// <summary>Sets the length of each sequence of the next batches (row i's steps ≥ lengths[i] are padding, which never
    /// changes a result: recurrent layers hold their state over them, a per-step loss leaves them out). Kept until set
    /// again or <see cref="ClearLengths"/>; a batch may not have more rows than lengths were set for.</summary>
    /// <exception cref="InvalidOperationException">The network does not read sequences.</exception>
    /// <exception cref="ArgumentException">More lengths than <see cref="Batch"/>, or a length outside 1 … <see cref="Time"/>
    /// (the message names the row).</exception>
    public void SetLengths(ReadOnlySpan<int> lengths)
    {
        if (_lengths.Length == 0)
            throw new InvalidOperationException("per-sequence lengths apply to a network whose first layer reads sequences [batch × time × n]; this one reads features");
        if (lengths.Length > Batch)
            throw new ArgumentException($"{lengths.Length} lengths for a workspace of {Batch} rows", nameof(lengths));
        for (int i = 0; i < lengths.Length; i++)
            if ((uint)(lengths[i] - 1) >= (uint)Time)
                throw new ArgumentException($"sequence {i} has length {lengths[i]}, outside 1 … {Time} (the workspace's time steps)", nameof(lengths));
        lengths.CopyTo(_lengths);
        _lengthCount = lengths.Length;
    }

    /// <summary>Every sequence full length (<see cref="Time"/> steps) again, as after creation.</summary>
    public void ClearLengths() => _lengthCount = 0;

    /// <summary>The lengths set for the first <paramref name="rows"/> rows, or empty when every sequence is full length.</summary>
    /// <exception cref="ArgumentException">Lengths were set for fewer rows.</exception>
    public ReadOnlySpan<int> Lengths(int rows)
    {
        if (_lengthCount == 0) return default;
        if (rows > _lengthCount)
            throw new ArgumentException($"a batch of {rows} rows, but lengths were set for {_lengthCount}: set one per row (SetLengths) or clear them");
        return _lengths.AsSpan(0, rows);
    }

    /// <summary>The first time step whose per-step loss counts (0: all). Truncated BPTT with k₂ &gt; k₁ runs k₂ steps
    /// and lets only the losses of the last k₁ reach the gradient (see <see cref="Bptt"/>).</summary>
    public int LossFrom
    {
        get => _lossFrom;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(value, Time);
            _lossFrom = value;
        }
    }

    private readonly int[] _lengths;
    private int _lengthCount, _lossFrom;

    /// <summary>A θ-sized scratch vector, rented on first use and kept: every training step (<see cref="TrainingStep"/>) writes the
    /// Nesterov look-ahead point θ − μv here and evaluates the gradient at it, leaving θ untouched.</summary>
    internal Span<T> ParameterScratch(int length)
    {
        if (_parameterScratch is null || _parameterScratch.Length != length)
        {
            _parameterScratch?.Dispose();
            _parameterScratch = MemoryOwner<T>.Allocate(length, AllocationMode.Clear);
        }
        return _parameterScratch.Span;
    }

    private MemoryOwner<T>? _parameterScratch;

    /// <summary>Returns the buffers to the pool.</summary>
    public void Dispose()
    {
        _buffer.Dispose();
        _parameterScratch?.Dispose();

    }
}
