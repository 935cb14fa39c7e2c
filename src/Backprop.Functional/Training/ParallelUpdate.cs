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

    private GradientTransform? _transform;
    private IPrelude? _prelude;
    private OptimizerState _state;
    private OptimizerBuffers<T>? _high;
    private ParameterLayout? _layout;
    private nint _theta, _g, _point;
    private int _split, _length, _offset;
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
        OptimizerBuffers<T> buffers, scoped in StepContext<T> context, IPrelude? prelude) =>
        Run(transform, state, g, theta, buffers, in context, prelude, theta.Length);

    /// <summary>The same, with the streamed-store decision (<see cref="AdamKernel.StreamLarge"/>) taken on
    /// <paramref name="wholeLength"/>: θ's whole length when these spans are one layer's range of it.</summary>
    internal static unsafe OptimizerState Run(GradientTransform transform, OptimizerState state, Span<T> g, Span<T> theta,
        OptimizerBuffers<T> buffers, scoped in StepContext<T> context, IPrelude? prelude, int wholeLength)
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

            var (low, high) = buffers.Halves(split);
            fixed (T* pt = theta, pg = g, pp = context.Point)   // pinned until the worker has joined
            {
                var job = Shared;
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
                // copy line by line; and a θ too large for the caches: a plain store first reads the line from memory.
                // Adam then writes its halves with non-temporal stores (the same values)
                bool stream = prelude is { SharedTheta: true } && AdamKernel.StreamInShardedSteps;
                bool large = prelude is null && AdamKernel.StreamLarge > 0 && wholeLength >= AdamKernel.StreamLarge;
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
                    prelude?.Run(g, 0, split);
                    next = transform.Update(state, g[..split], theta[..split], low, in lowContext);
                }
                finally
                {
                    StepProbe.Mark(StepProbe.CallerUpdateEnd);
                    Gemm.Pool.Join();
                    if (stream || large) AdamKernel.StreamTheta = false;
                    StepProbe.Close();
                    job._transform = null;
                    job._prelude = null;
                    job._high = null;
                    job._layout = null;
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

    internal override unsafe void Execute(int part)
    {
        try
        {
            StepProbe.Mark(StepProbe.WorkerUpdateStart);
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
