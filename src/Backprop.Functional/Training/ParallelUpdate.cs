using System.Numerics;
using Backprop.Functional.Kernels;

namespace Backprop.Functional;

/// <summary>An element-wise transform's update on two threads: the calling thread updates θ[0, split), a GEMM pool
/// worker θ[split, n). A transform that states <see cref="TransformCapabilities.ElementWise"/> updates each element from
/// that element alone (and the step's scalars), so the result is bit-identical to one thread. It also keeps memory where
/// it was written: with the GEMMs split the same way, each core updates the gradient rows it just computed, instead of
/// pulling them from the other core's cache (which cost more than the update itself).</summary>
internal sealed class ParallelUpdate<T> : Gemm.Pool.Job where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Work on a range of coordinates that must finish before the update of that range, run by the thread that
    /// then updates it (a micro-sharded step's gradient sum: each core sums the half it updates, in the same pass and
    /// hand-off, and the update reads the summed half from that core's cache). Element-wise: its bits do not depend on
    /// the ranges.</summary>
    internal interface IPrelude
    {
        /// <summary>Runs on g[<paramref name="lo"/>, <paramref name="hi"/>) of the whole gradient <paramref name="g"/>.</summary>
        void Run(Span<T> g, int lo, int hi);

        /// <summary>Whether both cores read all of θ before the next update (micro-shards run at once): the update then
        /// writes θ past the caches (<see cref="AdamKernel.StreamTheta"/>).</summary>
        bool SharedTheta { get; }
    }

    /// <summary>Below this many parameters the update stays on one thread.</summary>
    internal const int MinimumLength = 1 << 16;

    private static readonly ParallelUpdate<T> Shared = new();

    /// <summary>Whether an update without a prelude (the k = 1 GEMM split) gives each thread, layer by layer, the rows of
    /// W its products own (<see cref="RowRanges"/>) instead of the two halves of θ. Seventh pass; the bench switches it.</summary>
    internal static bool ByLayerRows = true;

    // each layout's ranges: [lo, hi) pairs of the calling thread's and the worker's (empty: the halves)
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<ParameterLayout, int[][]> RangesOf = new();
    private int[] _callerRanges = [], _workerRanges = [];
    private int[]? _ranges;

    private GradientTransform? _transform;
    private IPrelude? _prelude;
    private OptimizerState _state;
    private OptimizerBuffers<T>? _high;
    private ParameterLayout? _layout;
    private nint _theta, _g, _point;
    private int _split, _length, _offset;
    private OptimizerBuffers<T>? _buffers;
    private double _learningRate;
    private Exception? _error;

    /// <summary>transform.Update on two threads (the caller checked that it is element-wise), or on one when the pool is
    /// busy or a length does not match (the single-thread update then refuses with its own message).</summary>
    internal static OptimizerState Run(GradientTransform transform, OptimizerState state, Span<T> g, Span<T> theta,
        OptimizerBuffers<T> buffers, scoped in StepContext<T> context) =>
        Run(transform, state, g, theta, buffers, in context, null);

    /// <summary>The same, with <paramref name="prelude"/> run first on each thread's range of g (on all of g when the
    /// update stays on one thread).</summary>
    internal static unsafe OptimizerState Run(GradientTransform transform, OptimizerState state, Span<T> g, Span<T> theta,
        OptimizerBuffers<T> buffers, scoped in StepContext<T> context, IPrelude? prelude)
    {
        if (g.Length != theta.Length || buffers.Length != theta.Length || (!context.Point.IsEmpty && context.Point.Length != theta.Length)
            || !Gemm.Pool.TryEnter(1))
        {
            prelude?.Run(g, 0, g.Length);
            return transform.Update(state, g, theta, buffers, in context);   // validation and its messages stay in one place
        }
        try
        {
            int split = theta.Length / 2 & ~63;   // a multiple of 64 elements: whole cache lines on either side
            var job = Shared;
            bool byRows = prelude is null && ByLayerRows && context.Layout is { } layout && layout.Count == theta.Length
                && job.RowRanges(layout);
            job._ranges = byRows ? job._workerRanges : null;
            job._buffers = byRows ? buffers : null;
            var (low, high) = buffers.Halves(split);
            fixed (T* pt = theta, pg = g, pp = context.Point)   // pinned until the worker has joined
            {
                job._transform = transform;
                job._prelude = prelude;
                job._state = state;
                job._high = high;
                job._layout = context.Layout;
                job._theta = (nint)pt;
                job._g = (nint)pg;
                job._point = (nint)pp;
                job._split = split;
                job._length = theta.Length;
                job._offset = context.Offset;
                job._learningRate = context.LearningRate;
                job._error = null;
                StepProbe.Mark(StepProbe.UpdateStart);
                // shards at once: both cores read all of θ next, so a plain store to θ would invalidate the other core's
                // copy line by line; Adam writes its halves with non-temporal stores instead (the same values)
                bool stream = prelude is { SharedTheta: true } && AdamKernel.StreamInShardedSteps;
                bool large = prelude is null && AdamKernel.StreamLarge > 0 && theta.Length >= AdamKernel.StreamLarge;
                if (large) AdamKernel.StreamMoments = true;
                if (stream || large) AdamKernel.StreamTheta = true;
                Gemm.Pool.Start(job, 1);
                OptimizerState next;
                try
                {
                    var lowContext = new StepContext<T>
                    {
                        LearningRate = context.LearningRate, Layout = context.Layout, Offset = context.Offset,
                        Point = context.Point.IsEmpty ? default : context.Point[..split],
                    };
                    if (byRows)
                    {
                        next = state;
                        var ranges = job._callerRanges;
                        for (int r = 0; r < ranges.Length; r += 2)
                            next = UpdateRange(transform, state, g, theta, buffers, in context, ranges[r], ranges[r + 1]);
                    }
                    else
                    {
                        prelude?.Run(g, 0, split);
                        next = transform.Update(state, g[..split], theta[..split], low, in lowContext);
                    }
                }
                finally
                {
                    StepProbe.Mark(StepProbe.CallerUpdateEnd);
                    Gemm.Pool.Join();
                    if (stream || large) AdamKernel.StreamTheta = AdamKernel.StreamMoments = false;
                    StepProbe.Close();
                    job._transform = null;
                    job._prelude = null;
                    job._high = null;
                    job._layout = null;
                    job._ranges = null;
                    job._buffers = null;
                }
                if (job._error is { } error) throw new InvalidOperationException("the parallel optimizer update failed", error);
                return next;
            }
        }
        finally
        {
            Gemm.Pool.Exit();
        }
    }

    /// <summary>The update of θ[<paramref name="lo"/>, <paramref name="hi"/>) with its moments' view.</summary>
    private static OptimizerState UpdateRange(GradientTransform transform, OptimizerState state, Span<T> g, Span<T> theta,
        OptimizerBuffers<T> buffers, scoped in StepContext<T> context, int lo, int hi)
    {
        var part = new StepContext<T>
        {
            LearningRate = context.LearningRate, Layout = context.Layout, Offset = context.Offset + lo,
            Point = context.Point.IsEmpty ? default : context.Point[lo..hi],
        };
        return transform.Update(state, g[lo..hi], theta[lo..hi], buffers.Range(lo, hi - lo), in part);
    }

    /// <summary>Splits θ by layer rows, as the GEMM split splits each layer's products: for a layer of W [outputs ×
    /// inputs] then b with at least 2¹⁶ weights and 64 units, rows [0, s) of W go to the calling thread and [s, outputs)
    /// to the worker (s = outputs/2 rounded down to 32 units: the packed path's column panels and the tiles' groups of
    /// four both split there); biases and small layers go to the calling thread, which seeds and sums them. So each
    /// core updates the rows of W it reads in the forward product and writes in the weight gradient, where the halves of
    /// θ put a whole layer of a deep network on one core (784-1024-1024-10: all of W¹ and an eighth of W² on the caller).
    /// False (the halves then) when a range would not start on a multiple of 64 elements or one thread would get
    /// under a third of θ.</summary>
    private bool RowRanges(ParameterLayout layout)
    {
        if (RangesOf.TryGetValue(layout, out var known))
        {
            _callerRanges = known[0];
            _workerRanges = known[1];
            return known[0].Length > 0;
        }
        var caller = new List<int>();
        var worker = new List<int>();
        void Add(List<int> to, int lo, int hi)
        {
            if (hi <= lo) return;
            if (to.Count > 0 && to[^1] == lo) to[^1] = hi;
            else { to.Add(lo); to.Add(hi); }
        }
        int at = 0;
        long workerCount = 0;
        bool aligned = true;
        for (int l = 0; l < layout.LayerCount; l++)
        {
            var slots = layout.SlotsOf(l);
            if (slots.Length == 0) continue;
            int end = l + 1 < layout.LayerCount ? layout.LayerOffset(l + 1) : layout.Count;
            int lo = layout.LayerOffset(l);
            if (slots.Length == 2 && slots[0].Name == "weight" && slots[1].Name == "bias" && slots[0].Offset == lo
                && slots[0].Rows >= 64 && (long)slots[0].Rows * slots[0].Columns >= 1 << 16
                && slots[1].Offset == lo + slots[0].Rows * slots[0].Columns)
            {
                int s = slots[0].Rows / 2 / 32 * 32;
                int cut = lo + s * slots[0].Columns;
                aligned &= lo % 64 == 0 && cut % 64 == 0 && slots[1].Offset % 64 == 0 && end % 64 == 0;
                Add(caller, lo, cut);
                Add(worker, cut, slots[1].Offset);
                workerCount += slots[1].Offset - cut;
                Add(caller, slots[1].Offset, end);
            }
            else
                Add(caller, lo, end);
            at = end;
        }
        bool usable = aligned && at == layout.Count && workerCount * 3 >= layout.Count && (layout.Count - workerCount) * 3 >= layout.Count;
        _callerRanges = usable ? [.. caller] : [];
        _workerRanges = usable ? [.. worker] : [];
        RangesOf.AddOrUpdate(layout, [_callerRanges, _workerRanges]);
        return usable;
    }

    internal override unsafe void Execute(int part)
    {
        try
        {
            StepProbe.Mark(StepProbe.WorkerUpdateStart);
            if (_ranges is { } ranges)
            {
                var all = new StepContext<T> { LearningRate = _learningRate, Layout = _layout, Offset = _offset,
                    Point = _point == 0 ? default : new ReadOnlySpan<T>((T*)_point, _length) };
                for (int r = 0; r < ranges.Length; r += 2)
                    UpdateRange(_transform!, _state, new Span<T>((T*)_g, _length), new Span<T>((T*)_theta, _length), _buffers!, in all,
                        ranges[r], ranges[r + 1]);
                StepProbe.Mark(StepProbe.WorkerUpdateEnd);
                return;
            }
            int n = _length - _split;
            _prelude?.Run(new Span<T>((T*)_g, _length), _split, _length);
            var theta = new Span<T>((T*)_theta + _split, n);
            var g = new Span<T>((T*)_g + _split, n);
            var context = new StepContext<T>
            {
                LearningRate = _learningRate, Layout = _layout, Offset = _offset + _split,
                Point = _point == 0 ? default : new ReadOnlySpan<T>((T*)_point + _split, n),
            };
            _transform!.Update(_state, g, theta, _high!, in context);
            StepProbe.Mark(StepProbe.WorkerUpdateEnd);
        }
#pragma warning disable CA1031 // the worker thread must not die: the error is rethrown on the calling thread
        catch (Exception e)
#pragma warning restore CA1031
        {
            _error = e;
        }
    }
}
