using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
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
    private nint _scratch, _weights, _bias, _lengths, _dy, _x, _wih, _whh, _own;
    private int _scratchLength, _weightsLength, _biasLength, _lengthsLength, _dyLength, _xLength, _wihLength, _whhLength, _ownLength, _half;
    private bool _backward, _transposed, _sequences, _joined, _fused, _zeroStart;
    private Exception? _error;

    internal static bool TryForward(Span<T> s, in RecurrentLayout L, ReadOnlySpan<T> whh, bool transposed, ReadOnlySpan<T> bhh,
        ReadOnlySpan<int> lengths, int threads) =>
        TryRun(backward: false, s, L, whh, bhh, default, transposed, sequences: false, lengths, threads, default, default, default, default);

    /// <summary>The LSTM's fused forward steps on two threads, each range first putting its own rows of x time-major and
    /// packing its own copy of [W_ih | W_hh] (<paramref name="packed"/>: two <see cref="LstmSteps.PackedLength"/>
    /// regions, the caller's then the worker's), so no line either thread reads during the steps was last written by
    /// the other.</summary>
    internal static bool TryForwardFused(Span<T> s, in RecurrentLayout L, ReadOnlySpan<T> x, ReadOnlySpan<T> wih, ReadOnlySpan<T> whh,
        Span<T> packed, ReadOnlySpan<T> bias, ReadOnlySpan<int> lengths, bool zeroStart, int threads)
    {
        return TryRun(backward: false, s, L, default, bias, default, transposed: true, sequences: false, lengths, threads, x, wih, whh, packed,
            zeroStart: zeroStart);
    }

    /// <summary>The backward steps on two threads; for the fused LSTM (<paramref name="packed"/> not empty) each range
    /// packs its own copy of W_hh first. When <paramref name="joined"/>, each range also builds the [xₜ | hₜ₋₁] rows of
    /// one half of the steps (<see cref="Recurrence{TCell}.JoinedInputs"/>), the half its thread sums in the weight
    /// gradient afterwards.</summary>
    internal static bool TryBackward(Span<T> s, in RecurrentLayout L, ReadOnlySpan<T> whh, ReadOnlySpan<T> dy, bool sequences,
        ReadOnlySpan<int> lengths, bool joined, int threads, Span<T> packed)
    {
        bool split = TryRun(backward: true, s, L, packed.IsEmpty ? whh : default, default, dy, transposed: false, sequences, lengths, threads,
            default, default, packed.IsEmpty ? default : whh, packed, joined: joined);
        if (!split) s.Slice(L.Norms + L.Time, L.Time).Clear();   // one range: no second half's ‖·‖²
        return split;
    }

    /// <summary>Rows [half, rows) on the pool's worker, rows [0, half) here, then one join; false (nothing run) when
    /// there is one thread, too few rows, or the pool is busy. The shared job's fields are written only once the pool is
    /// this thread's: a caller refused by a busy pool must not touch the job another thread's workers are reading (a
    /// zero-start flag written before the claim once made a concurrent layer skip W_hh·h₀ with a learned h₀).</summary>
    private static unsafe bool TryRun(bool backward, Span<T> s, in RecurrentLayout L, ReadOnlySpan<T> whh, ReadOnlySpan<T> bhh,
        ReadOnlySpan<T> dy, bool transposed, bool sequences, ReadOnlySpan<int> lengths, int threads,
        ReadOnlySpan<T> x, ReadOnlySpan<T> wihRaw, ReadOnlySpan<T> whhRaw, Span<T> own, bool zeroStart = false, bool joined = false)
    {
        if (threads < 2 || L.Rows < 2 * MinimumRows || !Gemm.Pool.TryEnter(1)) return false;
        try
        {
            fixed (T* ps = s, pw = whh, pb = bhh, pd = dy, px = x, pwi = wihRaw, pwh = whhRaw, po = own)   // pinned until the worker has joined
            fixed (int* pl = lengths)
            {
                var job = Shared;
                job._layout = L;
                job._half = L.Rows / 2;
                job._backward = backward;
                job._transposed = transposed;
                job._sequences = sequences;
                job._fused = !own.IsEmpty;
                job._zeroStart = zeroStart;
                job._joined = joined;
                (job._scratch, job._scratchLength) = ((nint)ps, s.Length);
                (job._weights, job._weightsLength) = ((nint)pw, whh.Length);
                (job._bias, job._biasLength) = ((nint)pb, bhh.Length);
                (job._lengths, job._lengthsLength) = ((nint)pl, lengths.Length);
                (job._dy, job._dyLength) = ((nint)pd, dy.Length);
                (job._x, job._xLength) = ((nint)px, x.Length);
                (job._wih, job._wihLength) = ((nint)pwi, wihRaw.Length);
                (job._whh, job._whhLength) = ((nint)pwh, whhRaw.Length);
                (job._own, job._ownLength) = ((nint)po, own.Length);
                job._error = null;
                Gemm.Pool.Start(job, 1);
                try
                {
                    job.Range(0, job._half, 0);
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

    /// <summary>The steps of rows [r0, r0 + n), forward or backward, over the pinned spans; <paramref name="part"/> 0 is
    /// the caller's, 1 the worker's (its own packed weights, its half of the steps' [xₜ | hₜ₋₁] rows).</summary>
    private unsafe void Range(int r0, int n, int part)
    {
        var s = new Span<T>((T*)_scratch, _scratchLength);
        var lengths = new ReadOnlySpan<int>((int*)_lengths, _lengthsLength);
        var L = _layout;
        int packedLength = _ownLength / 2;
        var own = new Span<T>((T*)_own, _ownLength).Slice(part * packedLength, packedLength);
        if (_backward)
        {
            var w = new ReadOnlySpan<T>((T*)_weights, _weightsLength);
            if (_fused)
            {
                LstmSteps.PackBackward(new ReadOnlySpan<T>((T*)_whh, _whhLength), own, L.Hidden);
                w = own;
            }
            if (_joined)
            {
                int tHalf = L.Time / 2;
                if (part == 0) Recurrence<TCell>.JoinedInputs(s, L, 0, tHalf);
                else Recurrence<TCell>.JoinedInputs(s, L, tHalf, L.Time);
            }
            Recurrence<TCell>.BackwardSteps(s, L, w, new ReadOnlySpan<T>((T*)_dy, _dyLength), _sequences, lengths, r0, n, 1);
        }
        else if (_fused)
        {
            Recurrence<TCell>.ToTimeMajor(new ReadOnlySpan<T>((T*)_x, _xLength), s.Slice(L.XT, L.Time * L.Rows * L.Inputs), L.Rows, L.Time, L.Inputs, r0, n);
            LstmSteps.PackForward(new ReadOnlySpan<T>((T*)_wih, _wihLength), new ReadOnlySpan<T>((T*)_whh, _whhLength), own, L.Inputs, L.Hidden);
            LstmSteps.Forward(s, L, own, new ReadOnlySpan<T>((T*)_bias, _biasLength), lengths, r0, n, _zeroStart);
        }
        else
        {
            var w = new ReadOnlySpan<T>((T*)_weights, _weightsLength);
            Recurrence<TCell>.ForwardSteps(s, L, w, _transposed, new ReadOnlySpan<T>((T*)_bias, _biasLength), lengths, r0, n, 1);
        }
    }

    internal override void Execute(int part)
    {
        try
        {
            Range(_half, _layout.Rows - _half, 1);
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
/// ∂C/∂[W_ih | W_hh | b] = δᵀ·[xₜ | hₜ₋₁ | 1] (the column of ones gives ∂C/∂b = Σ δ inside the product), as two partial
/// sums over the first and the second half of the (step, row) rows (the steps [0, T/2) and [T/2, T)), then added. On two
/// threads each thread sums one half of the steps over the rows it built (<see cref="RecurrentSplit{T, TCell}.TryBackward"/>),
/// so neither packs the other's operand again (a split by gate rows packs all of [x | h] on both) and neither reads a line
/// the other writes next; on one the same two halves run in turn. Every element is the same FMA chain (the blocked GEMM's
/// over each half, then one add) whatever the threads, so the bits do not depend on them. Uses the GEMM pool; when it is
/// busy the caller runs alone.</summary>
internal sealed class RecurrentGradients<T> : Gemm.Pool.Job where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Below this many multiply–adds the hand-off costs more than half the work saves.</summary>
    private const long MinimumVolume = 1L << 18;

    private static readonly RecurrentGradients<T> Shared = new();

    private nint _delta, _xh, _both;
    private int _wide, _gh, _count, _split;
    private Exception? _error;

    /// <summary>All of it: on two threads when <paramref name="threads"/> ≥ 2, the product is large enough and the pool
    /// is free, else here. <paramref name="xh"/> holds the [xₜ | hₜ₋₁ | 1] rows, <paramref name="both"/> room for two
    /// [GH × RecurrentLayout.Joined] partial sums; the first <paramref name="split"/> rows of δ and [x | h | 1] are the first half
    /// (0 or all of them: one sum, no add).</summary>
    internal static unsafe void Run(ReadOnlySpan<T> delta, ReadOnlySpan<T> xh, Span<T> both, Span<T> dwih, Span<T> dwhh, Span<T> dbih,
        Span<T> dbhh, int inputs, int hidden, int split, int threads)
    {
        int gh = dbih.Length, wide = RecurrentLayout.Joined(inputs, hidden), count = delta.Length / gh;
        var first = both[..(gh * wide)];
        var second = both.Slice(gh * wide, gh * wide);
        if (split <= 0 || split >= count)
        {
            Half(delta, xh, first, gh, wide, 0, count);
            Combine(first, default, dwih, dwhh, dbih, dbhh, inputs, hidden);
            return;
        }
        if (threads < 2 || (long)gh * wide * count < MinimumVolume || !Gemm.Pool.TryEnter(1))
        {
            Half(delta, xh, first, gh, wide, 0, split);
            Half(delta, xh, second, gh, wide, split, count);
        }
        else
        {
            try
            {
                fixed (T* pd = delta, px = xh, pb = both)   // pinned until the join
                {
                    var job = Shared;
                    (job._delta, job._xh, job._both) = ((nint)pd, (nint)px, (nint)pb);
                    (job._wide, job._gh, job._count, job._split) = (wide, gh, count, split);
                    job._error = null;
                    Gemm.Pool.Start(job, 1);
                    try
                    {
                        Half(delta, xh, first, gh, wide, 0, split);
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
        Combine(first, second, dwih, dwhh, dbih, dbhh, inputs, hidden);
    }

    /// <summary>Rows [k0, k1) of δ [· × GH] and [x | h | 1] [· × wide]: Σ δᵀ·[x | h | 1] into <paramref name="sum"/>
    /// [GH × wide].</summary>
    internal static void Half(ReadOnlySpan<T> delta, ReadOnlySpan<T> xh, Span<T> sum, int gh, int wide, int k0, int k1) =>
        Gemm.Blocked<T>.Run(ref Unsafe.Add(ref MemoryMarshal.GetReference(delta), (nint)k0 * gh), true,
            ref Unsafe.Add(ref MemoryMarshal.GetReference(xh), (nint)k0 * wide), false,
            ref MemoryMarshal.GetReference(sum), gh, wide, k1 - k0, false, 0, gh, 0, wide);   // BP4 and BP3 over (t, row)

    /// <summary>∂C/∂W_ih, ∂C/∂W_hh, ∂C/∂b = the rows of <paramref name="first"/> (+ <paramref name="second"/>) split at
    /// columns I and I + H; ∂C/∂b_ih = ∂C/∂b_hh: both biases only ever appear summed.</summary>
    private static void Combine(ReadOnlySpan<T> first, ReadOnlySpan<T> second, Span<T> dwih, Span<T> dwhh, Span<T> dbih, Span<T> dbhh,
        int inputs, int hidden)
    {
        int gh = dbih.Length, wide = RecurrentLayout.Joined(inputs, hidden), one = inputs + hidden;
        for (int g = 0; g < gh; g++)
        {
            var a = first.Slice(g * wide, wide);
            if (second.IsEmpty)
            {
                a[..inputs].CopyTo(dwih.Slice(g * inputs, inputs));
                a.Slice(inputs, hidden).CopyTo(dwhh.Slice(g * hidden, hidden));
                dbih[g] = a[one];
            }
            else
            {
                var b = second.Slice(g * wide, wide);
                TensorPrimitives.Add(a[..inputs], b[..inputs], dwih.Slice(g * inputs, inputs));
                TensorPrimitives.Add(a.Slice(inputs, hidden), b.Slice(inputs, hidden), dwhh.Slice(g * hidden, hidden));
                dbih[g] = a[one] + b[one];
            }
        }
        dbih.CopyTo(dbhh);
    }

    internal override void Execute(int part)
    {
        try
        {
            unsafe
            {
                Half(new ReadOnlySpan<T>((T*)_delta, _gh * _count), new ReadOnlySpan<T>((T*)_xh, _count * _wide),
                    new Span<T>((T*)_both + _gh * _wide, _gh * _wide), _gh, _wide, _split, _count);
            }
        }
#pragma warning disable CA1031 // the worker thread must not die: the error is rethrown on the calling thread
        catch (Exception e)
#pragma warning restore CA1031
        {
            _error = e;
        }
    }
}
