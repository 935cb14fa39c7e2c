using System.Numerics;
using Backprop.Functional.Kernels;

namespace Backprop.Functional;

/// <summary>An element-wise optimizer update on two threads: the calling thread updates θ[0, split), a GEMM pool
/// worker θ[split, n). Every built-in optimizer updates each element from that element alone (and the shared step
/// count), so the result is bit-identical to one thread. It also keeps memory where it was written: with the GEMMs
/// split the same way, each core updates the gradient rows it just computed, instead of pulling them from the
/// other core's cache (which cost more than the update itself).</summary>
internal sealed class ParallelUpdate<T> : Gemm.Pool.Job where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Below this many parameters the update stays on one thread.</summary>
    internal const int MinimumLength = 1 << 16;

    private static readonly ParallelUpdate<T> Shared = new();

    private Optimizer? _optimizer;
    private OptimizerState _state;
    private OptimizerBuffers<T>? _high;
    private nint _theta, _g;
    private int _split, _length;
    private double _learningRate;
    private Exception? _error;

    /// <summary>Whether <paramref name="optimizer"/> updates every element independently (the built-in ones do).</summary>
    internal static bool Splits(Optimizer optimizer) =>
        optimizer is Sgd or Momentum or Nesterov or Adagrad or RmsProp or Adam or AdamW or AdaDelta;

    /// <summary>optimizer.Update on two threads, or on one when the pool is busy.</summary>
    internal static unsafe OptimizerState Run(Optimizer optimizer, OptimizerState state, Span<T> theta, ReadOnlySpan<T> g,
        OptimizerBuffers<T> buffers, double learningRate)
    {
        if (g.Length != theta.Length || buffers.Length != theta.Length || !Gemm.Pool.TryEnter(1))
            return optimizer.Update(state, theta, g, buffers, learningRate);   // validation and its messages stay in one place
        try
        {
            int split = theta.Length / 2 & ~63;   // a multiple of 64 elements: whole cache lines on either side
            var (low, high) = buffers.Halves(split);
            fixed (T* pt = theta, pg = g)   // pinned until the worker has joined
            {
                var job = Shared;
                job._optimizer = optimizer;
                job._state = state;
                job._high = high;
                job._theta = (nint)pt;
                job._g = (nint)pg;
                job._split = split;
                job._length = theta.Length;
                job._learningRate = learningRate;
                job._error = null;
                Gemm.Pool.Start(job, 1);
                OptimizerState next;
                try
                {
                    next = optimizer.Update(state, theta[..split], g[..split], low, learningRate);
                }
                finally
                {
                    Gemm.Pool.Join();
                    job._optimizer = null;
                    job._high = null;
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
            var theta = new Span<T>((T*)_theta + _split, _length - _split);
            var g = new ReadOnlySpan<T>((T*)_g + _split, _length - _split);
            _optimizer!.Update(_state, theta, g, _high!, _learningRate);
        }
#pragma warning disable CA1031 // the worker thread must not die: the error is rethrown on the calling thread
        catch (Exception e)
#pragma warning restore CA1031
        {
            _error = e;
        }
    }
}
