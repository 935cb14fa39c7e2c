using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
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
    private bool _backward, _transposed, _sequences, _joined;
    private Exception? _error;

    internal static bool TryForward(Span<T> s, in RecurrentLayout L, ReadOnlySpan<T> whh, bool transposed, ReadOnlySpan<T> bhh,
        ReadOnlySpan<int> lengths, int threads) =>
        TryRun(backward: false, s, L, whh, bhh, default, transposed, sequences: false, lengths, threads);

    internal static bool TryBackward(Span<T> s, in RecurrentLayout L, ReadOnlySpan<T> whh, ReadOnlySpan<T> dy, bool sequences,
        ReadOnlySpan<int> lengths, bool joined, int threads)
    {
        Shared._joined = joined;
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
            Recurrence<TCell>.BackwardSteps(s, _layout, w, new ReadOnlySpan<T>((T*)_dy, _dyLength), _sequences, lengths, _joined, r0, n, 1);
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

/// <summary>The weight and bias gradients of a cell whose two weight gradients share δ (LSTM, RNN):
/// ∂C/∂[W_ih | W_hh] = δᵀ·[xₜ | hₜ₋₁] over every (step, row) and ∂C/∂b = Σ δ, for the gate rows [g0, g1) — on two threads
/// each takes half of the gate rows (rows of ∂C/∂W, columns of δ), so each writes and later updates its own half with no
/// second pass over δ and no serial tail. Every element is the same FMA chain (the blocked GEMM's) and the same row-order
/// sum whatever the range, so the bits do not depend on the threads. Uses the GEMM pool; when it is busy the caller runs
/// alone.</summary>
internal sealed class RecurrentGradients<T> : Gemm.Pool.Job where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Below this many multiply–adds the hand-off costs more than half the work saves.</summary>
    private const long MinimumVolume = 1L << 18;

    private static readonly RecurrentGradients<T> Shared = new();

    private nint _delta, _xh, _both, _dwih, _dwhh, _dbih, _dbhh;
    private int _inputs, _hidden, _gh, _count, _split;
    private Exception? _error;

    /// <summary>All of it: on two threads when <paramref name="threads"/> ≥ 2, the product is large enough and the pool
    /// is free, else here.</summary>
    internal static unsafe void Run(ReadOnlySpan<T> delta, ReadOnlySpan<T> xh, Span<T> both, Span<T> dwih, Span<T> dwhh, Span<T> dbih,
        Span<T> dbhh, int inputs, int hidden, int threads)
    {
        int gh = dbih.Length, wide = inputs + hidden, count = delta.Length / gh, mr = Gemm.MicroKernel<T>.MR;
        int split = gh / 2 / mr * mr;
        if (threads < 2 || split == 0 || (long)gh * wide * count < MinimumVolume || !Gemm.Pool.TryEnter(1))
        {
            Rows(delta, xh, both, dwih, dwhh, dbih, dbhh, inputs, hidden, 0, gh);
            return;
        }
        try
        {
            fixed (T* pd = delta, px = xh, pb = both, pwi = dwih, pwh = dwhh, pbi = dbih, pbh = dbhh)   // pinned until the join
            {
                var job = Shared;
                (job._delta, job._xh, job._both, job._dwih, job._dwhh, job._dbih, job._dbhh) =
                    ((nint)pd, (nint)px, (nint)pb, (nint)pwi, (nint)pwh, (nint)pbi, (nint)pbh);
                (job._inputs, job._hidden, job._gh, job._count, job._split) = (inputs, hidden, gh, count, split);
                job._error = null;
                Gemm.Pool.Start(job, 1);
                try
                {
                    job.Part(0, split);
                }
                finally
                {
                    Gemm.Pool.Join();
                }
                if (job._error is { } error) throw new InvalidOperationException("the second thread of a recurrent layer's gradients failed", error);
            }
        }
        finally
        {
            Gemm.Pool.Exit();
        }
    }

    /// <summary>Gate rows [g0, g1): ∂C/∂[W_ih | W_hh] into <paramref name="both"/> [GH × (I + H)] (then split into the two
    /// parameter tensors) and the bias gradient's columns (b_ih and b_hh share it: both only ever appear summed).</summary>
    internal static void Rows(ReadOnlySpan<T> delta, ReadOnlySpan<T> xh, Span<T> both, Span<T> dwih, Span<T> dwhh, Span<T> dbih, Span<T> dbhh,
        int inputs, int hidden, int g0, int g1)
    {
        int gh = dbih.Length, wide = inputs + hidden, count = delta.Length / gh;
        Gemm.Blocked<T>.Run(ref MemoryMarshal.GetReference(delta), true, ref MemoryMarshal.GetReference(xh), false,
            ref MemoryMarshal.GetReference(both), gh, wide, count, false, g0, g1, 0, wide);   // BP4 over (t, row)
        for (int g = g0; g < g1; g++)
        {
            both.Slice(g * wide, inputs).CopyTo(dwih.Slice(g * inputs, inputs));
            both.Slice(g * wide + inputs, hidden).CopyTo(dwhh.Slice(g * hidden, hidden));
        }
        // BP3: Σ over (t, row) in row order, as Equations.BiasGradient, on these columns
        var sums = dbih[g0..g1];
        delta.Slice(g0, g1 - g0).CopyTo(sums);
        for (int r = gh; r < delta.Length; r += gh)
            TensorPrimitives.Add(sums, delta.Slice(r + g0, g1 - g0), sums);
        sums.CopyTo(dbhh[g0..g1]);
    }

    private unsafe void Part(int g0, int g1)
    {
        int wide = _inputs + _hidden, n = _gh * _count;
        Rows(new ReadOnlySpan<T>((T*)_delta, n), new ReadOnlySpan<T>((T*)_xh, _count * wide), new Span<T>((T*)_both, _gh * wide),
            new Span<T>((T*)_dwih, _gh * _inputs), new Span<T>((T*)_dwhh, _gh * _hidden), new Span<T>((T*)_dbih, _gh),
            new Span<T>((T*)_dbhh, _gh), _inputs, _hidden, g0, g1);
    }

    internal override void Execute(int part)
    {
        try
        {
            Part(_split, _gh);
        }
#pragma warning disable CA1031 // the worker thread must not die: the error is rethrown on the calling thread
        catch (Exception e)
#pragma warning restore CA1031
        {
            _error = e;
        }
    }
}
