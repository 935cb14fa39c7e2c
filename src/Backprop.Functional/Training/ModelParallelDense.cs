using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.ExceptionServices;
using Backprop.Functional.Kernels;

namespace Backprop.Functional;

/// <summary>
/// Model parallelism on one machine: a wide <see cref="Dense"/> layer whose Wˡ [outputs × inputs] and bˡ are cut by output
/// rows into P blocks (block p holds rows [oₚ, oₚ₊₁), boundaries at multiples of four), each block computed by one worker
/// from its own rows only. Forward: worker p computes zₚ = x·Wₚᵀ + bₚ [batch × (oₚ₊₁ − oₚ)] and writes it into its
/// columns of z (the concatenation, an all-gather across machines); σ then runs over the whole z. Backward: δ = ∂C/∂a ⊙
/// σ′(z) over the whole batch, then worker p takes ∂C/∂Wₚ = δₚᵀx (its row block of ∂C/∂W), ∂C/∂bₚ = Σ δₚ and its share
/// of the input gradient, (∂C/∂x)ₚ = δₚ·Wₚ [batch × inputs]; the shares are summed in block order,
/// ∂C/∂x = ((s₀ + s₁) + s₂) + … (the reduction across machines).
/// </summary>
/// <remarks>
/// <para><b>Bits.</b> P, the block count, is the one knob that changes them: which thread runs which block (taken from a
/// shared counter) changes nothing. With P = 1 every output is the unsplit layer's (<see cref="DenseKernel"/>, the
/// <see cref="Equations"/>) bit for bit. With P &gt; 1: ∂C/∂b is always the unsplit bits (the same sum over rows per
/// element); zₚ and ∂C/∂Wₚ are sums over the same index (inputs, resp. batch rows) as the unsplit products and equal them
/// bit for bit whenever the block's GEMM takes the same kernel as the whole layer's (the GEMM picks its kernel from the
/// shape; a block is narrower), as on 784→4096 at batch 64 (tested); ∂C/∂x sums over the outputs in another order, P
/// partial products and then P − 1 additions. Every one of these is a sum of the exact products in some order, so each
/// differs from the unsplit value by at most 2γₙ·Σ|terms| (γₙ = nu/(1 − nu), u the unit round-off, n the length of the
/// sum: inputs + 1 for z, batch for ∂C/∂W, outputs for ∂C/∂x), which a property test holds over random shapes in float
/// and double; a = σ(z) follows z.</para>
/// <para><b>Threads: the rule, extended.</b> The threads go to exactly one level: micro-shards
/// (<see cref="TrainingOptions.MicroShards"/>), or row blocks here, or the GEMMs inside a product. Here min(threads,
/// blocks, cores) workers take blocks from a shared counter, every block's products on the thread that runs it
/// (<c>threads: 1</c>), and never split further. A call made while the GEMM pool is held (from a micro-shard running on a
/// pool worker, or by another trainer) runs its blocks in turn on the calling thread: the same bits, and no more threads
/// than the outer level already has. Unlike micro-shards, blocks run at once whatever θ's size, since each block reads only
/// its own rows of W (the point of model parallelism) instead of every shard streaming all of it.</para>
/// <para><b>Buffers.</b> Made at construction for batches of up to <see cref="Batch"/> rows: per block zₚ or δₚ
/// [batch × block width] and, for blocks after the first, a share of ∂C/∂x [batch × inputs] (block 0 writes the caller's);
/// a call allocates nothing (tested on all threads). Not for use by two threads at once.</para>
/// </remarks>
/// <typeparam name="T">float or double.</typeparam>
public sealed class ModelParallelDense<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Most workers a call uses, whatever it is given: the cores (tests raise it).</summary>
    internal static int ProcessorLimit = Environment.ProcessorCount;

    /// <summary>Calls whose blocks ran on more than one thread (for tests).</summary>
    internal static long ParallelRuns;

    /// <summary>Forward and backward blocks taken by a pool worker rather than the caller (for the allocation test: a
    /// thread's GEMM scratch is sized on its first block of each kind, and blocks go to whichever thread comes first,
    /// so steady state begins once the worker has run both kinds).</summary>
    internal static long WorkerForwardBlocks, WorkerBackwardBlocks;

    private readonly int[] _starts;
    private readonly T[][] _blockOut;    // zₚ in the forward pass, δₚ in the backward pass
    private readonly T[][] _shares;      // (∂C/∂x)ₚ for p ≥ 1
    private readonly Job _job;

    /// <summary>A layer split into <paramref name="blocks"/> row blocks (fewer when the layer has fewer than 4·blocks
    /// outputs: every block holds at least four rows but the last), run by up to <paramref name="threads"/> workers, for
    /// batches of up to <paramref name="batch"/> rows.</summary>
    /// <exception cref="ArgumentOutOfRangeException">blocks, batch or threads is less than 1.</exception>
    public ModelParallelDense(Dense layer, int blocks, int batch, int threads)
    {
        ArgumentNullException.ThrowIfNull(layer);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(blocks);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batch);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(threads);
        if (layer.PerStep) throw new ArgumentException("a per-step Dense layer reads sequences; split feature layers only", nameof(layer));
        Layer = layer;
        Batch = batch;
        int units = (layer.Outputs + 3) / 4;
        Blocks = Math.Min(blocks, units);
        _starts = new int[Blocks + 1];
        for (int p = 0; p <= Blocks; p++) _starts[p] = Math.Min(layer.Outputs, 4 * (int)((long)units * p / Blocks));
        Threads = Math.Max(1, Math.Min(Math.Min(threads, Blocks), ProcessorLimit));
        _blockOut = new T[Blocks][];
        _shares = new T[Blocks][];
        for (int p = 0; p < Blocks; p++)
        {
            _blockOut[p] = new T[checked(batch * (_starts[p + 1] - _starts[p]))];
            _shares[p] = p == 0 ? [] : new T[checked(batch * layer.Inputs)];
        }
        _job = new Job(this);
    }

    /// <summary>The layer.</summary>
    public Dense Layer { get; }

    /// <summary>P, the row blocks (what changes the bits of ∂C/∂x).</summary>
    public int Blocks { get; }

    /// <summary>Workers that run blocks at once: min(threads, blocks, cores).</summary>
    public int Threads { get; }

    /// <summary>Most rows per call.</summary>
    public int Batch { get; }

    /// <summary>oₚ, the first output row of block <paramref name="block"/> (<see cref="Blocks"/> gives the outputs).</summary>
    public int BlockStart(int block) => _starts[block];

    /// <summary>z = x·Wᵀ + b by row blocks, then a = σ(z) (see the class summary).</summary>
    /// <param name="parameters">The layer's slice of θ: W [outputs × inputs] then b [outputs].</param>
    /// <param name="x">aˡ⁻¹, [rows × inputs], rows ≤ <see cref="Batch"/>.</param>
    /// <param name="z">zˡ, written, [rows × outputs].</param>
    /// <param name="a">aˡ, written, [rows × outputs].</param>
    /// <exception cref="ArgumentException">A span does not have the layer's shape.</exception>
    public void Forward(ReadOnlySpan<T> parameters, ReadOnlySpan<T> x, Span<T> z, Span<T> a)
    {
        int rows = Rows(parameters, x);
        Shapes.RequireLength<T>(z, rows, Layer.Outputs, nameof(z));
        Shapes.RequireLength<T>(a, rows, Layer.Outputs, nameof(a));
        _job.Run(forward: true, parameters, x, z, default, default, rows);
        var step = new Activate { Z = z, A = a, Outputs = Layer.Outputs };
        ActivationDispatch.Run(Layer.Activation, ref step);
    }

    /// <summary>δ = ∂C/∂a ⊙ σ′(z) in place of <paramref name="dy"/>, then ∂C/∂W and ∂C/∂b into
    /// <paramref name="dParameters"/> and ∂C/∂x into <paramref name="dx"/>, by row blocks (see the class summary).</summary>
    /// <param name="parameters">W then b, as in <see cref="Forward"/>.</param>
    /// <param name="x">aˡ⁻¹ of the forward pass, [rows × inputs].</param>
    /// <param name="z">zˡ of the forward pass, [rows × outputs].</param>
    /// <param name="a">aˡ of the forward pass, [rows × outputs].</param>
    /// <param name="dy">∂C/∂aˡ on entry, δˡ on return, [rows × outputs].</param>
    /// <param name="dx">∂C/∂aˡ⁻¹, written, [rows × inputs]; empty: not wanted (the first layer).</param>
    /// <param name="dParameters">∂C/∂W then ∂C/∂b, written, in the layout of <paramref name="parameters"/>.</param>
    /// <exception cref="ArgumentException">A span does not have the layer's shape.</exception>
    public void Backward(ReadOnlySpan<T> parameters, ReadOnlySpan<T> x, ReadOnlySpan<T> z, ReadOnlySpan<T> a, Span<T> dy,
        Span<T> dx, Span<T> dParameters)
    {
        int rows = Rows(parameters, x);
        int outputs = Layer.Outputs;
        Shapes.RequireLength(z, rows, outputs, nameof(z));
        Shapes.RequireLength(a, rows, outputs, nameof(a));
        Shapes.RequireLength<T>(dy, rows, outputs, nameof(dy));
        if (!dx.IsEmpty) Shapes.RequireLength<T>(dx, rows, Layer.Inputs, nameof(dx));
        Shapes.RequireLayerParameters(dParameters.Length, Layer.Inputs, outputs);
        var error = new Error { Z = z, A = a, Delta = dy, Outputs = outputs };
        ActivationDispatch.Run(Layer.Activation, ref error);
        _job.Run(forward: false, parameters, x, dy, dx, dParameters, rows);
        if (dx.IsEmpty) return;
        int n = rows * Layer.Inputs;
        for (int p = 1; p < Blocks; p++)   // the fixed order: ((s₀ + s₁) + s₂) + …
            TensorPrimitives.Add(dx, _shares[p].AsSpan(0, n), dx);
    }

    private int Rows(ReadOnlySpan<T> parameters, ReadOnlySpan<T> x)
    {
        Shapes.RequireLayerParameters(parameters.Length, Layer.Inputs, Layer.Outputs);
        Shapes.RequireRows(x.Length, Layer.Inputs, nameof(x));
        int rows = x.Length / Layer.Inputs;
        if (rows > Batch)
            throw new ArgumentException($"x holds {rows} rows; this {nameof(ModelParallelDense<T>)} was made for batches of up to {Batch}", nameof(x));
        return rows;
    }

    private ref struct Activate : IActivationAction
    {
        public Span<T> Z, A;
        public int Outputs;

        public readonly void Invoke<TAct>() where TAct : struct, IActivation => TAct.Apply<T>(Z, A, Outputs);
    }

    private ref struct Error : IActivationAction
    {
        public ReadOnlySpan<T> Z, A;
        public Span<T> Delta;
        public int Outputs;

        public readonly void Invoke<TAct>() where TAct : struct, IActivation =>
            Equations.OutputError<TAct, T>(Delta, Z, A, Delta, Outputs);
    }

    /// <summary>The blocks of one pass on the pool: part w (the caller is part 0) takes block numbers from a shared
    /// counter; the caller keeps the operands pinned until every worker has joined.</summary>
    private sealed class Job(ModelParallelDense<T> owner) : Gemm.Pool.Job
    {
        private nint _w, _x, _out, _dx, _dw;
        private int _rows, _next;
        private bool _forward, _wantDx;
        private ExceptionDispatchInfo? _error;

        /// <summary>Forward: <paramref name="outOrDelta"/> is z, written. Backward: it is δ, read.</summary>
        internal unsafe void Run(bool forward, ReadOnlySpan<T> parameters, ReadOnlySpan<T> x, ReadOnlySpan<T> outOrDelta,
            ReadOnlySpan<T> dx, ReadOnlySpan<T> dParameters, int rows)
        {
            int workers = owner.Threads;
            bool pooled = workers > 1 && !Gemm.Pool.HeldByCurrentThread && Gemm.Pool.TryEnter(workers - 1);
            if (!pooled) workers = 1;   // the pool is held (an outer level has the threads): the blocks in turn, same bits
            try
            {
                fixed (T* pw = parameters, px = x, po = outOrDelta, pdx = dx, pdw = dParameters)
                {
                    _w = (nint)pw;
                    _x = (nint)px;
                    _out = (nint)po;
                    _dx = (nint)pdx;
                    _dw = (nint)pdw;
                    _wantDx = !dx.IsEmpty;
                    _rows = rows;
                    _forward = forward;
                    _next = 0;
                    _error = null;
                    if (workers > 1)
                    {
                        Gemm.Pool.Start(this, workers - 1);
                        Interlocked.Increment(ref ParallelRuns);
                    }
                    try
                    {
                        Execute(0);
                    }
                    finally
                    {
                        if (workers > 1) Gemm.Pool.Join();
                        _w = _x = _out = _dx = _dw = 0;
                    }
                    _error?.Throw();
                }
            }
            finally
            {
                if (pooled) Gemm.Pool.Exit();
            }
        }

        internal override void Execute(int part)
        {
            try
            {
                int p;
                while ((p = Interlocked.Increment(ref _next) - 1) < owner.Blocks)
                {
                    if (_forward) ForwardBlock(p);
                    else BackwardBlock(p);
                    if (part != 0) Interlocked.Increment(ref _forward ? ref WorkerForwardBlocks : ref WorkerBackwardBlocks);
                }
            }
#pragma warning disable CA1031 // a worker thread must not die: the error is rethrown on the calling thread as it was
            catch (Exception e)
#pragma warning restore CA1031
            {
                Interlocked.CompareExchange(ref _error, ExceptionDispatchInfo.Capture(e), null);
                Volatile.Write(ref _next, int.MaxValue / 2);   // the others stop taking blocks
            }
        }

        /// <summary>zₚ = bₚ seeded, + x·Wₚᵀ (as <see cref="DenseKernel.Forward{TAct, T}"/> seeds z), then into z's columns.</summary>
        private unsafe void ForwardBlock(int p)
        {
            int inputs = owner.Layer.Inputs, outputs = owner.Layer.Outputs, rows = _rows;
            int o0 = owner._starts[p], width = owner._starts[p + 1] - o0;
            var w = new ReadOnlySpan<T>((T*)_w + (nint)o0 * inputs, width * inputs);
            var b = new ReadOnlySpan<T>((T*)_w + (nint)outputs * inputs + o0, width);
            var x = new ReadOnlySpan<T>((void*)_x, rows * inputs);
            var zp = owner._blockOut[p].AsSpan(0, rows * width);
            for (int r = 0; r < rows; r++) b.CopyTo(zp.Slice(r * width, width));
            Gemm.Multiply(x, false, w, true, zp, rows, width, inputs, accumulate: true, threads: 1);
            var z = new Span<T>((void*)_out, rows * outputs);
            for (int r = 0; r < rows; r++) zp.Slice(r * width, width).CopyTo(z.Slice(r * outputs + o0, width));
        }

        /// <summary>δₚ gathered from δ's columns; ∂C/∂Wₚ = δₚᵀx, ∂C/∂bₚ = Σᵣ δₚ (BP4, BP3 as <see cref="Equations"/>
        /// computes them), and the share δₚ·Wₚ of ∂C/∂x (into dx itself for block 0).</summary>
        private unsafe void BackwardBlock(int p)
        {
            int inputs = owner.Layer.Inputs, outputs = owner.Layer.Outputs, rows = _rows;
            int o0 = owner._starts[p], width = owner._starts[p + 1] - o0;
            var delta = new ReadOnlySpan<T>((void*)_out, rows * outputs);
            var dp = owner._blockOut[p].AsSpan(0, rows * width);
            for (int r = 0; r < rows; r++) delta.Slice(r * outputs + o0, width).CopyTo(dp.Slice(r * width, width));
            var x = new ReadOnlySpan<T>((void*)_x, rows * inputs);
            var dw = new Span<T>((T*)_dw + (nint)o0 * inputs, width * inputs);
            var db = new Span<T>((T*)_dw + (nint)outputs * inputs + o0, width);
            Equations.WeightGradient<T>(dp, x, dw, inputs, width, threads: 1);
            Equations.BiasGradient<T>(dp, db);
            if (!_wantDx) return;
            var w = new ReadOnlySpan<T>((T*)_w + (nint)o0 * inputs, width * inputs);
            var share = p == 0 ? new Span<T>((void*)_dx, rows * inputs) : owner._shares[p].AsSpan(0, rows * inputs);
            Equations.InputGradient<T>(w, dp, share, inputs, width, threads: 1);
        }
    }
}
