using System.Numerics;
using Backprop.Functional.Kernels;

namespace Backprop.Functional;

/// <summary>A recurrent layer's steps on two threads: the rows of a batch never mix inside the recurrence (only in the
/// weight gradients, which are GEMMs over all rows afterwards), so the worker runs the second half of the rows through
/// every step while the caller runs the first half, with one join per pass instead of two hand-offs per step. Each half
/// computes exactly what the one-thread pass computes for its rows (its GEMMs are row ranges of the same products), so
/// the result does not depend on the threads. Uses the process-wide GEMM pool; when the pool is busy the caller runs
/// alone. Allocates nothing (one shared job per element type and cell).</summary>
internal sealed class RecurrentSplit<T, TCell> : Gemm.Pool.Job
    where T : unmanaged, IFloatingPointIeee754<T> where TCell : struct, IRecurrentCell
{
    /// <summary>Each half has at least this many rows.</summary>
    private const int MinimumRows = 8;

    private static readonly RecurrentSplit<T, TCell> Shared = new();

    private RecurrentLayout _layout;
    private nint _scratch, _weights, _bias, _lengths, _dy;
    private int _scratchLength, _weightsLength, _biasLength, _lengthsLength, _dyLength, _half;
    private bool _backward, _transposed, _sequences;
    private Exception? _error;

    internal static bool TryForward(Span<T> s, in RecurrentLayout L, ReadOnlySpan<T> whh, bool transposed, ReadOnlySpan<T> bhh,
        ReadOnlySpan<int> lengths, int threads) =>
        TryRun(backward: false, s, L, whh, bhh, default, transposed, sequences: false, lengths, threads);

    internal static bool TryBackward(Span<T> s, in RecurrentLayout L, ReadOnlySpan<T> whh, ReadOnlySpan<T> dy, bool sequences,
        ReadOnlySpan<int> lengths, int threads)
    {
        bool split = TryRun(backward: true, s, L, whh, default, dy, transposed: false, sequences, lengths, threads);
        if (!split) s.Slice(L.Norms + L.Time, L.Time).Clear();   // one range: no second half's ‖·‖²
        return split;
    }

    /// <summary>Rows [half, rows) on the pool's worker, rows [0, half) here, then one join; false (nothing run) when
    /// there is one thread, too few rows, or the pool is busy.</summary>
    private static unsafe bool TryRun(bool backward, Span<T> s, in RecurrentLayout L, ReadOnlySpan<T> whh, ReadOnlySpan<T> bhh,
        ReadOnlySpan<T> dy, bool transposed, bool sequences, ReadOnlySpan<int> lengths, int threads)
    {
        if (threads < 2 || L.Rows < 2 * MinimumRows || !Gemm.Pool.TryEnter(1)) return false;
        try
        {
            fixed (T* ps = s, pw = whh, pb = bhh, pd = dy)   // pinned until the worker has joined
            fixed (int* pl = lengths)
            {
                var job = Shared;
                job._layout = L;
                job._half = L.Rows / 2;
                job._backward = backward;
                job._transposed = transposed;
                job._sequences = sequences;
                job._scratch = (nint)ps;
                job._scratchLength = s.Length;
                job._weights = (nint)pw;
                job._weightsLength = whh.Length;
                job._bias = (nint)pb;
                job._biasLength = bhh.Length;
                job._lengths = (nint)pl;
                job._lengthsLength = lengths.Length;
                job._dy = (nint)pd;
                job._dyLength = dy.Length;
                job._error = null;
                Gemm.Pool.Start(job, 1);
                try
                {
                    job.Range(0, job._half);
                }
                finally
                {
                    Gemm.Pool.Join();
                }
                if (job._error is { } error) throw new InvalidOperationException("the second thread of a recurrent layer failed", error);
            }
            return true;
        }
        finally
        {
            Gemm.Pool.Exit();
        }
    }

    /// <summary>The steps of rows [r0, r0 + n), forward or backward, over the pinned spans.</summary>
    private unsafe void Range(int r0, int n)
    {
        var s = new Span<T>((T*)_scratch, _scratchLength);
        var w = new ReadOnlySpan<T>((T*)_weights, _weightsLength);
        var lengths = new ReadOnlySpan<int>((int*)_lengths, _lengthsLength);
        if (_backward)
            Recurrence<TCell>.BackwardSteps(s, _layout, w, new ReadOnlySpan<T>((T*)_dy, _dyLength), _sequences, lengths, r0, n, 1);
        else
            Recurrence<TCell>.ForwardSteps(s, _layout, w, _transposed, new ReadOnlySpan<T>((T*)_bias, _biasLength), lengths, r0, n, 1);
    }

    internal override void Execute(int part)
    {
        try
        {
            Range(_half, _layout.Rows - _half);
        }
#pragma warning disable CA1031 // the worker thread must not die: the error is rethrown on the calling thread
        catch (Exception e)
#pragma warning restore CA1031
        {
            _error = e;
        }
    }
}
