using System.Numerics;
using CommunityToolkit.HighPerformance.Buffers;

namespace Backprop.Functional;

/// <summary>Scratch memory for one network at one batch size: zˡ and aˡ of the forward pass (what backprop
/// reuses) and δˡ of the backward pass, for every layer. Rented once, cleared, returned on <see cref="Dispose"/>;
/// a step takes spans from it and allocates nothing.
/// <para>Threads: one thread at a time. Give each thread its own workspace; several threads may then run <see
/// cref="Network{T}.Forward"/> on one network at once.</para></summary>
/// <remarks>A workspace holds up to <see cref="Batch"/> rows; a smaller last batch uses the first rows.</remarks>
public sealed class Workspace<T> : IDisposable where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly MemoryOwner<T> _buffer;
    private readonly int[] _offsets;   // per layer: start of z; a and δ follow, each batch × width long
    private readonly int[] _widths;

    /// <summary>A workspace for <paramref name="layers"/> holding up to <paramref name="batch"/> rows.</summary>
    /// <exception cref="ArgumentException">The layers do not chain.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> is not positive, or the workspace would
    /// hold more than <see cref="MaxElements"/> elements (the message names the batch, the widths and the limit).</exception>
    public Workspace(IReadOnlyList<Layer> layers, int batch)
    {
        ArgumentNullException.ThrowIfNull(layers);
        Shapes.RequireChained(layers);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batch);
        long widths = 0;
        foreach (var layer in layers) widths += layer.Outputs;
        Int128 elements = (Int128)3 * batch * widths;
        if (elements > MaxElements)
            throw new ArgumentOutOfRangeException(
                $"a workspace for a batch of {batch} rows needs 3 × {batch} × {widths} (the layers' output widths) = {elements} elements, more than the limit of {MaxElements} (Workspace.MaxElements, one .NET array); use a smaller batch",
                innerException: null);
        Batch = batch;
        InputWidth = layers[0].Inputs;
        _offsets = new int[layers.Count];
        _widths = new int[layers.Count];
        int offset = 0;
        for (int l = 0; l < layers.Count; l++)
        {
            _offsets[l] = offset;
            _widths[l] = layers[l].Outputs;
            offset += 3 * batch * layers[l].Outputs;
        }
        _buffer = MemoryOwner<T>.Allocate(offset, AllocationMode.Clear);
    }

    /// <summary>Largest number of elements a workspace may hold (3 · batch · the sum of the layer widths): the most
    /// that one .NET array can hold, <see cref="Array.MaxLength"/>.</summary>
    public static int MaxElements => Array.MaxLength;

    /// <summary>Largest number of rows (samples) a step may use.</summary>
    public int Batch { get; }

    /// <summary>Width of the network's input.</summary>
    public int InputWidth { get; }

    /// <summary>Number of layers.</summary>
    public int LayerCount => _widths.Length;

    /// <summary>Threads a step may use for its large GEMMs (1: the calling thread only).</summary>
    /// <remarks>The extra threads are not the workspace's: they come from the process-wide GEMM worker pool (see
    /// <see cref="Kernels.Gemm"/>), created on first use and kept for the process's life; disposing the workspace does
    /// not stop them. The pool serves one caller at a time; a step whose product finds it busy runs that product on
    /// the calling thread alone, with the same bits, so several workspaces with <c>Threads = 2</c> used at once are
    /// safe and deterministic but share the second core. At most <see cref="Environment.ProcessorCount"/> threads
    /// work on one product.</remarks>
    public int Threads { get; init; } = 1;

    /// <summary>Width of layer <paramref name="layer"/>'s output.</summary>
    public int Width(int layer) => _widths[layer];

    /// <summary>zˡ for the first <paramref name="rows"/> rows, [rows × width].</summary>
    public Span<T> Z(int layer, int rows) => _buffer.Span.Slice(_offsets[layer], Rows(rows) * _widths[layer]);

    /// <summary>aˡ for the first <paramref name="rows"/> rows, [rows × width].</summary>
    public Span<T> A(int layer, int rows) =>
        _buffer.Span.Slice(_offsets[layer] + Batch * _widths[layer], Rows(rows) * _widths[layer]);

    /// <summary>δˡ for the first <paramref name="rows"/> rows, [rows × width].</summary>
    public Span<T> Delta(int layer, int rows) =>
        _buffer.Span.Slice(_offsets[layer] + 2 * Batch * _widths[layer], Rows(rows) * _widths[layer]);

    /// <summary>Rows in an input of <paramref name="inputLength"/> elements, checked against the capacity.</summary>
    /// <exception cref="ArgumentException">The input is not whole rows of the input width, or has more rows than <see cref="Batch"/>.</exception>
    public int RowsOf(int inputLength)
    {
        Shapes.RequireRows(inputLength, InputWidth, "input");
        if (inputLength == 0)
            throw new ArgumentException($"the input is empty: a batch needs at least one row of [{InputWidth}]");
        return Rows(inputLength / InputWidth);
    }

    private int Rows(int rows)
    {
        if ((uint)rows > (uint)Batch)
            throw new ArgumentException($"a batch of {rows} rows does not fit this workspace of [{Batch} × ...] rows; create one with a larger batch");
        return rows;
    }

    /// <summary>A θ-sized scratch vector, rented on first use and kept: <see cref="Trainer.Step{T}"/> writes the
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
