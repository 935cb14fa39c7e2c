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
    private bool _backward, _sequences, _fused, _zeroStart;
    private Exception? _error;

    /// <summary>The GRU's or the RNN's forward steps (<see cref="Recurrence{TCell}.ForwardSteps"/>) on two threads, both
    /// reading <paramref name="packed"/> [W_ih | W_hh], packed once by the caller, and <paramref name="bias"/>.</summary>
    internal static bool TryForward(Span<T> s, in RecurrentLayout L, ReadOnlySpan<T> packed, ReadOnlySpan<T> bias,
        ReadOnlySpan<int> lengths, int threads, bool zeroStart = false) =>
        TryRun(backward: false, s, L, packed, bias, default, sequences: false, lengths, threads, default, default, default, default,
            zeroStart: zeroStart);

    /// <summary>The LSTM's fused forward steps on two threads, each range first putting its own rows of x time-major and
    /// packing its own copy of [W_ih | W_hh] (<paramref name="packed"/>: two <see cref="LstmSteps.PackedLength"/>
    /// regions, the caller's then the worker's), so no line either thread reads during the steps was last written by
    /// the other.</summary>
    internal static bool TryForwardFused(Span<T> s, in RecurrentLayout L, ReadOnlySpan<T> x, ReadOnlySpan<T> wih, ReadOnlySpan<T> whh,
        Span<T> packed, ReadOnlySpan<T> bias, ReadOnlySpan<int> lengths, bool zeroStart, int threads)
    {
        return TryRun(backward: false, s, L, default, bias, default, sequences: false, lengths, threads, x, wih, whh, packed,
            zeroStart: zeroStart);
    }

    /// <summary>The backward steps on two threads; for the fused LSTM (<paramref name="packed"/> not empty) each range
    /// packs its own copy of W_hh first.</summary>
    internal static bool TryBackward(Span<T> s, in RecurrentLayout L, ReadOnlySpan<T> whh, ReadOnlySpan<T> dy, bool sequences,
        ReadOnlySpan<int> lengths, int threads, Span<T> packed)
    {
        bool split = TryRun(backward: true, s, L, packed.IsEmpty ? whh : default, default, dy, sequences, lengths, threads,
            default, default, packed.IsEmpty ? default : whh, packed);
        if (!split) s.Slice(L.Norms + L.Time, L.Time).Clear();   // one range: no second half's ‖·‖²
        return split;
    }

    /// <summary>Rows [half, rows) on the pool's worker, rows [0, half) here, then one join; false (nothing run) when
    /// there is one thread, too few rows, or the pool is busy. The shared job's fields are written only once the pool is
    /// this thread's: a caller refused by a busy pool must not touch the job another thread's workers are reading (a
    /// zero-start flag written before the claim once made a concurrent layer skip W_hh·h₀ with a learned h₀).</summary>
    private static unsafe bool TryRun(bool backward, Span<T> s, in RecurrentLayout L, ReadOnlySpan<T> whh, ReadOnlySpan<T> bhh,
        ReadOnlySpan<T> dy, bool sequences, ReadOnlySpan<int> lengths, int threads,
        ReadOnlySpan<T> x, ReadOnlySpan<T> wihRaw, ReadOnlySpan<T> whhRaw, Span<T> own, bool zeroStart = false)
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
                job._sequences = sequences;
                job._fused = !own.IsEmpty;
                job._zeroStart = zeroStart;
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
    /// the caller's, 1 the worker's (its own packed weights).</summary>
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
            Recurrence<TCell>.ForwardSteps(s, L, w, new ReadOnlySpan<T>((T*)_bias, _biasLength), lengths, r0, n, _zeroStart);
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

/// <summary>The weight and bias gradients of a recurrent cell: ∂C/∂W_hh = Σ δᵀ·hₜ₋₁
/// (a GEMM over the states where the forward pass left them), ∂C/∂W_ih = Σ δᵀ·xₜ and ∂C/∂b = Σ δ
/// (<see cref="SparseRows{T}"/> when x is mostly zeros, as seq-MNIST's pixels and one-hot characters are; else a GEMM and
/// the sums), as two partial sums over the first and the second half of the (step, row) rows (the steps [0, T/2) and
/// [T/2, T)), then added. On two threads each thread sums one half of the steps, so neither reads a line the other writes
/// next; on one the same two halves run in turn. Every element is the same FMA chain (the blocked GEMM's over each half,
/// then one add) whatever the threads and whichever form sums x, so the bits depend on neither. Uses the GEMM pool; when
/// it is busy the caller runs alone. The LSTM's and the RNN's two weight gradients share δ; the GRU's hidden side has its
/// own δʰ (its n block multiplied by r), which ∂C/∂W_hh and ∂C/∂b_hh = Σ δʰ take instead (<c>deltaH</c>).</summary>
internal sealed class RecurrentGradients<T> : Gemm.Pool.Job where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Below this many multiply–adds the hand-off costs more than half the work saves.</summary>
    private const long MinimumVolume = 1L << 18;

    private static readonly RecurrentGradients<T> Shared = new();

    private nint _delta, _deltaH, _x, _h, _both;
    private int _gh, _inputs, _hidden, _count, _split;
    private bool _separate;
    private Exception? _error;

    /// <summary>Values one half's partial sums take: ∂C/∂W_hh [GH × H], ∂C/∂W_ihᵀ [I × GH] and ∂C/∂b [GH], then a k block's
    /// running sums of the last two (<see cref="SparseRows{T}.ChainLength"/>), then, for a cell with its own hidden-side δʰ
    /// (<paramref name="separate"/>, the GRU), ∂C/∂b_hh [GH].</summary>
    internal static int HalfLength(int gh, int inputs, int hidden, bool separate = false) =>
        checked(gh * (hidden + 2 * (inputs + 1) + (separate ? 1 : 0)));

    /// <summary>All of it: on two threads when <paramref name="threads"/> ≥ 2, the product is large enough and the pool
    /// is free, else here. δ [count × GH], x [count × I] and hₜ₋₁ [count × H] are row-aligned (step-major);
    /// <paramref name="both"/> has room for two <see cref="HalfLength"/>s; the first <paramref name="split"/> rows are the
    /// first half (0 or all of them: one sum, no add). The first <paramref name="zeroRows"/> rows of h are 0 (h₀ of a zero
    /// initial state): the product skips them where that keeps the bits (inside the GEMM's first k block, whose chains start
    /// from 0). <paramref name="deltaH"/> [count × GH], when not empty, is the hidden side's δʰ (the GRU's): ∂C/∂W_hh and
    /// ∂C/∂b_hh are summed from it, and <paramref name="both"/> has room for two separate <see cref="HalfLength"/>s.</summary>
    internal static unsafe void Run(ReadOnlySpan<T> delta, ReadOnlySpan<T> x, ReadOnlySpan<T> h, Span<T> both, Span<T> dwih, Span<T> dwhh,
        Span<T> dbih, Span<T> dbhh, int inputs, int hidden, int split, int threads, int zeroRows = 0, ReadOnlySpan<T> deltaH = default)
    {
        int gh = dbih.Length, count = delta.Length / gh;
        bool separate = !deltaH.IsEmpty;
        int half = HalfLength(gh, inputs, hidden, separate);
        var first = both[..half];
        var second = both.Slice(half, half);
        if (split <= 0 || split >= count)
        {
            Half(delta, x, h, first, gh, inputs, hidden, 0, count, zeroRows, deltaH);
            Combine(first, default, dwih, dwhh, dbih, dbhh, inputs, hidden, separate);
            return;
        }
        // The halves' products differ (h₀'s zero rows skipped in the first, x dense in one half and sparse in the other),
        // and this thread runs the second half too whenever the pool is busy: its scratch is sized for both halves here, so
        // a step that first meets that case in steady state does not grow it (an allocation once seen on a loaded machine).
        int longest = Math.Max(split, count - split);
        Gemm.Blocked<T>.Reserve(gh, hidden, longest);   // BP4, hₜ₋₁
        Gemm.Blocked<T>.Reserve(inputs, gh, longest);   // BP4, xₜ
        if (threads < 2 || (long)gh * (inputs + hidden + 1) * count < MinimumVolume || !Gemm.Pool.TryEnter(1))
        {
            Half(delta, x, h, first, gh, inputs, hidden, 0, split, zeroRows, deltaH);
            Half(delta, x, h, second, gh, inputs, hidden, split, count, 0, deltaH);
        }
        else
        {
            try
            {
                fixed (T* pd = delta, pdh = deltaH, px = x, ph = h, pb = both)   // pinned until the join
                {
                    var job = Shared;
                    (job._delta, job._deltaH, job._x, job._h, job._both) = ((nint)pd, (nint)pdh, (nint)px, (nint)ph, (nint)pb);
                    (job._gh, job._inputs, job._hidden, job._count, job._split, job._separate) = (gh, inputs, hidden, count, split, separate);
                    job._error = null;
                    Gemm.Pool.Start(job, 1);
                    try
                    {
                        Half(delta, x, h, first, gh, inputs, hidden, 0, split, zeroRows, deltaH);
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
        Combine(first, second, dwih, dwhh, dbih, dbhh, inputs, hidden, separate);
    }

    /// <summary>Rows [k0, k1): Σ δʰᵀ·hₜ₋₁ [GH × H], Σ xₜᵀ·δ [I × GH] and Σ δ [GH] (and Σ δʰ [GH]) into <paramref name="sum"/>'s
    /// regions, k block by k block (the blocked GEMM's own blocks, so the same bits as one call): each block of δ is still
    /// in L2 from the GEMM's packing when the sums over x and δ read it. δʰ is δ unless <paramref name="deltaH"/> is given.</summary>
    internal static void Half(ReadOnlySpan<T> delta, ReadOnlySpan<T> x, ReadOnlySpan<T> h, Span<T> sum, int gh, int inputs, int hidden, int k0, int k1,
        int zeroRows = 0, ReadOnlySpan<T> deltaH = default)
    {
        int k = k1 - k0;
        bool separate = !deltaH.IsEmpty;
        var sumH = sum[..(gh * hidden)];
        var sumX = sum.Slice(gh * hidden, inputs * gh);
        var sums = sum.Slice(gh * hidden + inputs * gh, gh);
        var chain = sum.Slice(gh * (hidden + inputs + 1), SparseRows<T>.ChainLength(inputs, gh));
        var sumsH = separate ? sum.Slice(gh * (hidden + 2 * (inputs + 1)), gh) : default;
        if (k == 0)
        {
            sum[..HalfLength(gh, inputs, hidden, separate)].Clear();
            return;
        }
        var d = delta.Slice(k0 * gh, k * gh);
        var dh = separate ? deltaH.Slice(k0 * gh, k * gh) : d;
        var xs = x.Slice(k0 * inputs, k * inputs);
        var hs = h.Slice(k0 * hidden, k * hidden);
        bool sparse = SparseRows<T>.Worth(SparseRows<T>.CountNonZero(xs), (long)k * inputs);
        int depth = Gemm.Blocked<T>.BlockDepth(k);
        for (int pc = 0; pc < k; pc += depth)
        {
            int kb = Math.Min(depth, k - pc);
            // rows of h that are 0 at the start of the first block add fma(δ, 0, ·) = +0 to chains that start from +0: skipped
            int z = pc == 0 ? Math.Min(zeroRows, kb) : 0;
            if (z == kb) sumH.Clear();
            else
                Gemm.Blocked<T>.Run(ref Unsafe.Add(ref MemoryMarshal.GetReference(dh), (nint)(pc + z) * gh), true,
                    ref Unsafe.Add(ref MemoryMarshal.GetReference(hs), (nint)(pc + z) * hidden), false,
                    ref MemoryMarshal.GetReference(sumH), gh, hidden, kb - z, pc > 0, 0, gh, 0, hidden);                        // BP4, hₜ₋₁
            SparseRows<T>.BlockTimes(xs[(pc * inputs)..], d[(pc * gh)..], kb, inputs, gh, sumX, sums, chain, withX: sparse, add: pc > 0);   // BP3 (and BP4, xₜ)
            if (separate)
                SparseRows<T>.BlockTimes(xs[(pc * inputs)..], dh[(pc * gh)..], kb, inputs, gh, sumX, sumsH, chain, withX: false, add: pc > 0);   // BP3, b_hh
        }
        if (!sparse)
            Gemm.Blocked<T>.Run(ref MemoryMarshal.GetReference(xs), true, ref MemoryMarshal.GetReference(d), false,
                ref MemoryMarshal.GetReference(sumX), inputs, gh, k, false, 0, inputs, 0, gh);                                   // BP4, xₜ
    }

    /// <summary>∂C/∂W_ih (from the transposed sums), ∂C/∂W_hh, ∂C/∂b = <paramref name="first"/>'s (+ <paramref name="second"/>'s);
    /// ∂C/∂b_ih = ∂C/∂b_hh where both biases only ever appear summed, else (<paramref name="separate"/>) ∂C/∂b_hh from its own sums.</summary>
    private static void Combine(ReadOnlySpan<T> first, ReadOnlySpan<T> second, Span<T> dwih, Span<T> dwhh, Span<T> dbih, Span<T> dbhh,
        int inputs, int hidden, bool separate)
    {
        int gh = dbih.Length, ox = gh * hidden, ob = ox + inputs * gh, obh = gh * (hidden + 2 * (inputs + 1));
        if (second.IsEmpty)
        {
            first[..ox].CopyTo(dwhh);
            for (int j = 0; j < inputs; j++)
                for (int g = 0; g < gh; g++) dwih[g * inputs + j] = first[ox + j * gh + g];
            first.Slice(ob, gh).CopyTo(dbih);
        }
        else
        {
            TensorPrimitives.Add(first[..ox], second[..ox], dwhh);
            for (int j = 0; j < inputs; j++)
                for (int g = 0; g < gh; g++) dwih[g * inputs + j] = first[ox + j * gh + g] + second[ox + j * gh + g];
            TensorPrimitives.Add(first.Slice(ob, gh), second.Slice(ob, gh), dbih);
        }
        if (!separate) dbih.CopyTo(dbhh);
        else if (second.IsEmpty) first.Slice(obh, gh).CopyTo(dbhh);
        else TensorPrimitives.Add(first.Slice(obh, gh), second.Slice(obh, gh), dbhh);
    }

    internal override void Execute(int part)
    {
        try
        {
            unsafe
            {
                int half = HalfLength(_gh, _inputs, _hidden, _separate);
                Half(new ReadOnlySpan<T>((T*)_delta, _gh * _count), new ReadOnlySpan<T>((T*)_x, _inputs * _count),
                    new ReadOnlySpan<T>((T*)_h, _hidden * _count), new Span<T>((T*)_both + half, half),
                    _gh, _inputs, _hidden, _split, _count, 0, _separate ? new ReadOnlySpan<T>((T*)_deltaH, _gh * _count) : default);
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
