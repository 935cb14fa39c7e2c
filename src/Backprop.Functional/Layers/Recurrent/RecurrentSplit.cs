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

    internal static unsafe bool TryForward(Span<T> s, in RecurrentLayout L, ReadOnlySpan<T> whh, bool transposed, ReadOnlySpan<T> bhh,
        ReadOnlySpan<int> lengths, int threads)
    {
        if (threads < 2 || L.Rows < 2 * MinimumRows || !Gemm.Pool.TryEnter(1)) return false;
        try
        {
            int half = L.Rows / 2;
            fixed (T* ps = s, pw = whh, pb = bhh, pd = default(ReadOnlySpan<T>))
            fixed (int* pl = lengths)
            {
                var job = Prepare(L, half, backward: false, ps, s.Length, pw, whh.Length, pb, bhh.Length, pl, lengths.Length, pd, 0);
                job._transposed = transposed;
                Gemm.Pool.Start(job, 1);
                try
                {
                    Recurrence<TCell>.ForwardSteps(s, L, whh, transposed, bhh, lengths, 0, half, 1);
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

    internal static unsafe bool TryBackward(Span<T> s, in RecurrentLayout L, ReadOnlySpan<T> whh, ReadOnlySpan<T> dy, bool sequences,
        ReadOnlySpan<int> lengths, int threads)
    {
        if (threads < 2 || L.Rows < 2 * MinimumRows || !Gemm.Pool.TryEnter(1))
        {
            s.Slice(L.Norms + L.Time, L.Time).Clear();   // one range: no second half's ‖·‖²
            return false;
        }
        try
        {
            int half = L.Rows / 2;
            fixed (T* ps = s, pw = whh, pd = dy)
            fixed (int* pl = lengths)
            {
                var job = Prepare(L, half, backward: true, ps, s.Length, pw, whh.Length, null, 0, pl, lengths.Length, pd, dy.Length);
                job._sequences = sequences;
                Gemm.Pool.Start(job, 1);
                try
                {
                    Recurrence<TCell>.BackwardSteps(s, L, whh, dy, sequences, lengths, 0, half, 1);
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

    private static unsafe RecurrentSplit<T, TCell> Prepare(in RecurrentLayout L, int half, bool backward, T* s, int sLength,
        T* w, int wLength, T* b, int bLength, int* l, int lLength, T* dy, int dyLength)
    {
        var job = Shared;
        job._layout = L;
        job._half = half;
        job._backward = backward;
        job._scratch = (nint)s;
        job._scratchLength = sLength;
        job._weights = (nint)w;
        job._weightsLength = wLength;
        job._bias = (nint)b;
        job._biasLength = bLength;
        job._lengths = (nint)l;
        job._lengthsLength = lLength;
        job._dy = (nint)dy;
        job._dyLength = dyLength;
        job._error = null;
        return job;
    }

    internal override unsafe void Execute(int part)
    {
        try
        {
            var s = new Span<T>((T*)_scratch, _scratchLength);
            var w = new ReadOnlySpan<T>((T*)_weights, _weightsLength);
            var lengths = _lengthsLength == 0 ? default : new ReadOnlySpan<int>((int*)_lengths, _lengthsLength);
            int n = _layout.Rows - _half;
            if (_backward)
                Recurrence<TCell>.BackwardSteps(s, _layout, w, new ReadOnlySpan<T>((T*)_dy, _dyLength), _sequences, lengths, _half, n, 1);
            else
                Recurrence<TCell>.ForwardSteps(s, _layout, w, _transposed, _biasLength == 0 ? default : new ReadOnlySpan<T>((T*)_bias, _biasLength), lengths, _half, n, 1);
        }
#pragma warning disable CA1031 // the worker thread must not die: the error is rethrown on the calling thread
        catch (Exception e)
#pragma warning restore CA1031
        {
            _error = e;
        }
    }
}
