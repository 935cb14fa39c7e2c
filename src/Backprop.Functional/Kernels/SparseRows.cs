using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Backprop.Functional.Kernels;

/// <summary>Products with an operand that is mostly zeros (a row of MNIST pixels is 81 % zeros, a one-hot character all
/// but one): the zeros are skipped, not multiplied. Each element is still the FMA chain the blocked GEMM
/// (<see cref="Gemm.Blocked{T}"/>) computes, in its k blocks, so the bits are the dense product's: a skipped term adds
/// 0·w to a sum, which leaves a finite sum as it was. (Two differences: a skipped 0·∞ would have made the sum NaN, and a
/// sum that is exactly −0, an underflowed product, stays −0 where adding +0 would have made it +0.)</summary>
internal static class SparseRows<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Whether the products here beat the GEMM for an operand with <paramref name="nonZero"/> of its
    /// <paramref name="total"/> values not zero: at most a quarter (seq-MNIST's pixels: 19 %; a one-hot character: 1/V).
    /// A term here is a vector load, FMA and store per lane group (the store port bounds it), a GEMM term an FMA of a
    /// register tile: about four times cheaper.</summary>
    internal static bool Worth(long nonZero, long total) => 4 * nonZero <= total;

    /// <summary>How many of <paramref name="x"/>'s values are not zero (NaN counts).</summary>
    internal static long CountNonZero(ReadOnlySpan<T> x) =>
        Vector512.IsHardwareAccelerated ? CountNonZero<Wide512<T>, Vector512<T>>(x)
        : Vector256.IsHardwareAccelerated ? CountNonZero<Wide256<T>, Vector256<T>>(x)
        : CountNonZero(x, 0, 0);

    private static long CountNonZero<TW, TV>(ReadOnlySpan<T> x)
        where TW : struct, IVectorWidth<TV, T>
        where TV : struct
    {
        long count = 0;
        int i = 0;
        ref T r = ref MemoryMarshal.GetReference(x);
        for (; i + TW.Count <= x.Length; i += TW.Count)
            count += BitOperations.PopCount(TW.NonZeroBits(TW.Load(ref r, (nuint)i)));
        return CountNonZero(x, i, count);
    }

    private static long CountNonZero(ReadOnlySpan<T> x, int from, long count)
    {
        for (int i = from; i < x.Length; i++)
            if (x[i] != T.Zero) count++;
        return count;
    }

    /// <summary>The positions p &lt; <paramref name="count"/> at which any of <paramref name="rows"/> rows (values
    /// contiguous, row stride <paramref name="ld"/>) is not zero, in increasing order, into <paramref name="list"/>
    /// (room for <paramref name="count"/>); returns how many.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int NonZeroColumns(ref T a, nint ld, int rows, int count, ref int list) =>
        Vector512.IsHardwareAccelerated ? NonZeroColumns<Wide512<T>, Vector512<T>>(ref a, ld, rows, count, ref list)
        : Vector256.IsHardwareAccelerated ? NonZeroColumns<Wide256<T>, Vector256<T>>(ref a, ld, rows, count, ref list)
        : NonZeroColumns(ref a, ld, rows, 0, count, ref list, 0);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int NonZeroColumns<TW, TV>(ref T a, nint ld, int rows, int count, ref int list)
        where TW : struct, IVectorWidth<TV, T>
        where TV : struct
    {
        int live = 0, p = 0, w = TW.Count;
        if (count < w) return NonZeroColumns(ref a, ld, rows, 0, count, ref list, 0);
        for (; p + w <= count; p += w)
            live = Emit(NonZeroMask<TW, TV>(ref Unsafe.Add(ref a, p), ld, rows), p, ref list, live);
        // the last whole vector, overlapping the one before: its first lanes are listed already
        if (p < count)
            live = Emit(NonZeroMask<TW, TV>(ref Unsafe.Add(ref a, count - w), ld, rows) >> (p - (count - w)), p, ref list, live);
        return live;
    }

    /// <summary>The positions [p0, count) a value at a time, after <paramref name="live"/> listed ones.</summary>
    private static int NonZeroColumns(ref T a, nint ld, int rows, int p0, int count, ref int list, int live)
    {
        for (int p = p0; p < count; p++)
        {
            bool nonZero = false;
            for (int r = 0; r < rows; r++) nonZero |= Unsafe.Add(ref a, r * ld + p) != T.Zero;
            Unsafe.Add(ref list, live) = p;
            live += nonZero ? 1 : 0;
        }
        return live;
    }

    /// <summary>Bit i set where any of the rows is not zero at lane i.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong NonZeroMask<TW, TV>(ref T a, nint ld, int rows)
        where TW : struct, IVectorWidth<TV, T>
        where TV : struct
    {
        ulong any = 0;
        for (int r = 0; r < rows; r++)
            any |= TW.NonZeroBits(TW.Load(ref Unsafe.Add(ref a, r * ld), 0));
        return any;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Emit(ulong mask, int p, ref int list, int live)
    {
        for (; mask != 0; mask &= mask - 1)
            Unsafe.Add(ref list, live++) = p + BitOperations.TrailingZeroCount(mask);
        return live;
    }

    /// <summary>Rows per pass of <see cref="BlockTimes"/>. Each chunk of a pass's rows of δ is copied into one contiguous
    /// panel (24 KB) as the sums read it, and the lists of x's non-zero values pick rows out of the panel, in L1: read in
    /// place, rows 2 KB apart (LSTM-128) fall in two groups of L1's sets, and only ≈ 24 of them fit (seq-MNIST's step:
    /// ≈ 280 → 212 µs for these sums).</summary>
    private const int Pass = 48;

    /// <summary>Values of <see cref="BlockTimes"/>'s <c>chain</c> buffer: one k block's running sums [I × N] and [N].</summary>
    internal static int ChainLength(int inputs, int n) => checked((inputs + 1) * n);

    /// <summary>One k block of BP4 and BP3 over (step, row) pairs: accT [I × N] ← (add ? accT : 0) + Σₘ xₘᵀ·dₘ over the
    /// <paramref name="k"/> rows of x [k × I] and d [k × N] (stored transposed), skipping x's zeros, and
    /// <paramref name="sums"/> [N] ← (add ? sums : 0) + Σₘ dₘ; each sum an FMA chain from 0 in row order, then one add:
    /// what <see cref="Gemm.Blocked{T}"/>'s micro-kernel computes in one k block of C = Xᵀ·D or C = Dᵀ·[X | 1]. With
    /// <paramref name="withX"/> false only the sums. The chains run in <paramref name="chain"/>
    /// (<see cref="ChainLength"/>) when <paramref name="add"/>, else in place. Per <see cref="Pass"/> rows, x's non-zero
    /// values are listed by column first; then each chunk of eight vectors of N has a column's chain in registers while
    /// that column's list runs.</summary>
    internal static void BlockTimes(ReadOnlySpan<T> x, ReadOnlySpan<T> d, int k, int inputs, int n, Span<T> accT, Span<T> sums, Span<T> chain,
        bool withX, bool add)
    {
        if (d.Length < k * n || sums.Length < n || (add && chain.Length < ChainLength(withX ? inputs : 0, n))
            || (withX && (accT.Length < inputs * n || x.Length < k * inputs)))
            throw new ArgumentException($"a block of {k} rows needs d [{k} × {n}], x [{k} × {inputs}], accT [{inputs} × {n}], sums [{n}] and a chain of {ChainLength(inputs, n)}; have {d.Length}, {x.Length}, {accT.Length}, {sums.Length} and {chain.Length} values");
        var chainT = add ? chain[..(withX ? inputs * n : 0)] : accT;
        var chainSums = add ? chain.Slice(withX ? inputs * n : 0, n) : sums;
        if (Vector512.IsHardwareAccelerated)
            BlockTimes<Wide512<T>, Vector512<T>>(x, d, k, inputs, n, chainT, chainSums, withX);
        else if (Vector256.IsHardwareAccelerated)
            BlockTimes<Wide256<T>, Vector256<T>>(x, d, k, inputs, n, chainT, chainSums, withX);
        else
            Scalar(x, d, k, inputs, n, chainT, chainSums, withX);
        if (!add) return;
        System.Numerics.Tensors.TensorPrimitives.Add(sums[..n], chainSums, sums[..n]);
        if (withX) System.Numerics.Tensors.TensorPrimitives.Add(accT[..(inputs * n)], chainT, accT[..(inputs * n)]);
    }

    /// <summary><see cref="BlockTimes"/> with vectors of <typeparamref name="TW"/>: whole chunks of eight, then the rest.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BlockTimes<TW, TV>(ReadOnlySpan<T> x, ReadOnlySpan<T> d, int k, int inputs, int n, Span<T> chainT, Span<T> chainSums, bool withX)
        where TW : struct, IVectorWidth<TV, T>
        where TV : struct
    {
        int w = TW.Count, chunk = 8 * w;
        int chunks = n / chunk;
        nuint u = (nuint)w;
        ref T xr = ref MemoryMarshal.GetReference(x);
        ref T sr = ref MemoryMarshal.GetReference(chainSums);
        ref T ar = ref MemoryMarshal.GetReference(chainT);
        ref T panel = ref Gemm.Scratch<T>.Column(Pass * chunk);
        // per column j of x: its count, then the rows of this pass where xₘⱼ ≠ 0, ascending; then one row's positions
        ref int counts = ref Gemm.Scratch<int>.Column(inputs * (Pass + 2) + 1);   // whole even for the sums alone: no ref past its end
        ref int rows = ref Unsafe.Add(ref counts, inputs);
        ref int row = ref Unsafe.Add(ref rows, inputs * Pass);
        for (int s0 = 0; s0 < k; s0 += Pass)
        {
            int pass = Math.Min(Pass, k - s0);
            bool fresh = s0 == 0;   // the chains start from 0
            if (withX)
            {
                MemoryMarshal.CreateSpan(ref counts, inputs).Clear();
                for (int m = 0; m < pass; m++)
                {
                    int live = NonZeroColumns(ref Unsafe.Add(ref xr, (nint)(s0 + m) * inputs), inputs, 1, inputs, ref row);
                    for (int q = 0; q < live; q++)
                    {
                        int j = Unsafe.Add(ref row, q);
                        ref int c = ref Unsafe.Add(ref counts, j);
                        Unsafe.Add(ref rows, j * Pass + c++) = m;
                    }
                }
            }
            ref T dp = ref Unsafe.Add(ref MemoryMarshal.GetReference(d), (nint)s0 * n);
            for (int c = 0; c < chunks * chunk; c += chunk)
            {
                // the sums over the pass's rows, copying the chunk of each row into the panel as it goes
                // (no `out` locals: an address-taken vector stays in memory, not in a register)
                ref T dc = ref Unsafe.Add(ref dp, c);
                ref T sc = ref Unsafe.Add(ref sr, c);
                TV s0v = Start<TW, TV>(ref sc, 0, fresh), s1 = Start<TW, TV>(ref sc, 1, fresh), s2 = Start<TW, TV>(ref sc, 2, fresh), s3 = Start<TW, TV>(ref sc, 3, fresh);
                TV s4 = Start<TW, TV>(ref sc, 4, fresh), s5 = Start<TW, TV>(ref sc, 5, fresh), s6 = Start<TW, TV>(ref sc, 6, fresh), s7 = Start<TW, TV>(ref sc, 7, fresh);
                for (int m = 0; m < pass; m++)
                {
                    ref T dm = ref Unsafe.Add(ref dc, (nint)m * n);
                    TV v0 = TW.Load(ref dm, 0), v1 = TW.Load(ref dm, u), v2 = TW.Load(ref dm, 2 * u), v3 = TW.Load(ref dm, 3 * u);
                    TV v4 = TW.Load(ref dm, 4 * u), v5 = TW.Load(ref dm, 5 * u), v6 = TW.Load(ref dm, 6 * u), v7 = TW.Load(ref dm, 7 * u);
                    s0v = TW.Add(s0v, v0); s1 = TW.Add(s1, v1); s2 = TW.Add(s2, v2); s3 = TW.Add(s3, v3);
                    s4 = TW.Add(s4, v4); s5 = TW.Add(s5, v5); s6 = TW.Add(s6, v6); s7 = TW.Add(s7, v7);
                    if (withX) Store<TW, TV>(ref Unsafe.Add(ref panel, m * chunk), v0, v1, v2, v3, v4, v5, v6, v7);
                }
                Store<TW, TV>(ref sc, s0v, s1, s2, s3, s4, s5, s6, s7);
                if (!withX) continue;
                for (int j = 0; j < inputs; j++)
                {
                    int count = Unsafe.Add(ref counts, j);
                    if (count == 0 && !fresh) continue;   // its chain goes on unchanged
                    ref T aj = ref Unsafe.Add(ref ar, (nint)j * n + c);
                    TV a0 = Start<TW, TV>(ref aj, 0, fresh), a1 = Start<TW, TV>(ref aj, 1, fresh), a2 = Start<TW, TV>(ref aj, 2, fresh), a3 = Start<TW, TV>(ref aj, 3, fresh);
                    TV a4 = Start<TW, TV>(ref aj, 4, fresh), a5 = Start<TW, TV>(ref aj, 5, fresh), a6 = Start<TW, TV>(ref aj, 6, fresh), a7 = Start<TW, TV>(ref aj, 7, fresh);
                    ref int list = ref Unsafe.Add(ref rows, j * Pass);
                    ref T xj = ref Unsafe.Add(ref xr, (nint)s0 * inputs + j);
                    for (int q = 0; q < count; q++)
                    {
                        int m = Unsafe.Add(ref list, q);
                        TV v = TW.Broadcast(Unsafe.Add(ref xj, (nint)m * inputs));
                        ref T pm = ref Unsafe.Add(ref panel, m * chunk);
                        a0 = TW.Fma(v, TW.Load(ref pm, 0), a0); a1 = TW.Fma(v, TW.Load(ref pm, u), a1);
                        a2 = TW.Fma(v, TW.Load(ref pm, 2 * u), a2); a3 = TW.Fma(v, TW.Load(ref pm, 3 * u), a3);
                        a4 = TW.Fma(v, TW.Load(ref pm, 4 * u), a4); a5 = TW.Fma(v, TW.Load(ref pm, 5 * u), a5);
                        a6 = TW.Fma(v, TW.Load(ref pm, 6 * u), a6); a7 = TW.Fma(v, TW.Load(ref pm, 7 * u), a7);
                    }
                    Store<TW, TV>(ref aj, a0, a1, a2, a3, a4, a5, a6, a7);
                }
            }
            // the columns past the whole chunks (N not a multiple of eight vectors: 4H for H = 100 is 400), from the same lists
            Tail<TW, TV>(x, d, s0, pass, inputs, n, chunks * chunk, chainT, chainSums, withX, fresh, ref counts);
        }
    }

    /// <summary>One pass's columns [c0, n) of <see cref="BlockTimes"/>: a vector at a time, then a value at a time, each
    /// chain going on from where the pass before left it.</summary>
    private static void Tail<TW, TV>(ReadOnlySpan<T> x, ReadOnlySpan<T> d, int s0, int pass, int inputs, int n, int c0,
        Span<T> chainT, Span<T> chainSums, bool withX, bool fresh, ref int counts)
        where TW : struct, IVectorWidth<TV, T>
        where TV : struct
    {
        ref int rows = ref Unsafe.Add(ref counts, inputs);
        ref T dp = ref Unsafe.Add(ref MemoryMarshal.GetReference(d), (nint)s0 * n);
        ref T xp = ref Unsafe.Add(ref MemoryMarshal.GetReference(x), (nint)s0 * inputs);
        int c = c0;
        for (; c + TW.Count <= n; c += TW.Count)
        {
            ref T sc = ref chainSums[c];
            TV sum = Start<TW, TV>(ref sc, 0, fresh);
            for (int m = 0; m < pass; m++) sum = TW.Add(sum, TW.Load(ref Unsafe.Add(ref dp, (nint)m * n + c), 0));
            TW.Store(sum, ref sc, 0);
            if (!withX) continue;
            for (int j = 0; j < inputs; j++)
            {
                int count = Unsafe.Add(ref counts, j);
                if (count == 0 && !fresh) continue;
                ref T aj = ref chainT[j * n + c];
                TV a = Start<TW, TV>(ref aj, 0, fresh);
                for (int q = 0; q < count; q++)
                {
                    int m = Unsafe.Add(ref rows, j * Pass + q);
                    a = TW.Fma(TW.Broadcast(Unsafe.Add(ref xp, (nint)m * inputs + j)), TW.Load(ref Unsafe.Add(ref dp, (nint)m * n + c), 0), a);
                }
                TW.Store(a, ref aj, 0);
            }
        }
        for (; c < n; c++)
        {
            T sum = fresh ? T.Zero : chainSums[c];
            for (int m = 0; m < pass; m++) sum += Unsafe.Add(ref dp, (nint)m * n + c);
            chainSums[c] = sum;
            if (!withX) continue;
            for (int j = 0; j < inputs; j++)
            {
                int count = Unsafe.Add(ref counts, j);
                if (count == 0 && !fresh) continue;
                T a = fresh ? T.Zero : chainT[j * n + c];
                for (int q = 0; q < count; q++)
                {
                    int m = Unsafe.Add(ref rows, j * Pass + q);
                    a = T.FusedMultiplyAdd(Unsafe.Add(ref xp, (nint)m * inputs + j), Unsafe.Add(ref dp, (nint)m * n + c), a);
                }
                chainT[j * n + c] = a;
            }
        }
    }

    /// <summary>A chain's start: 0 for a fresh one, else its vector <paramref name="i"/> where the last pass left it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Start<TW, TV>(ref T src, int i, bool fresh)
        where TW : struct, IVectorWidth<TV, T>
        where TV : struct =>
        fresh ? default : TW.Load(ref src, (nuint)(i * TW.Count));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store<TW, TV>(ref T dest, TV v0, TV v1, TV v2, TV v3, TV v4, TV v5, TV v6, TV v7)
        where TW : struct, IVectorWidth<TV, T>
        where TV : struct
    {
        nuint u = (nuint)TW.Count;
        TW.Store(v0, ref dest, 0); TW.Store(v1, ref dest, u); TW.Store(v2, ref dest, 2 * u); TW.Store(v3, ref dest, 3 * u);
        TW.Store(v4, ref dest, 4 * u); TW.Store(v5, ref dest, 5 * u); TW.Store(v6, ref dest, 6 * u); TW.Store(v7, ref dest, 7 * u);
    }

    /// <summary><see cref="BlockTimes"/>'s chains without SIMD, a value at a time.</summary>
    private static void Scalar(ReadOnlySpan<T> x, ReadOnlySpan<T> d, int k, int inputs, int n, Span<T> chainT, Span<T> chainSums, bool withX)
    {
        for (int c = 0; c < n; c++)
        {
            T s = T.Zero;
            for (int m = 0; m < k; m++) s += d[m * n + c];
            chainSums[c] = s;
            if (!withX) continue;
            for (int j = 0; j < inputs; j++)
            {
                T a = T.Zero;
                for (int m = 0; m < k; m++)
                    if (x[m * inputs + j] != T.Zero) a = T.FusedMultiplyAdd(x[m * inputs + j], d[m * n + c], a);
                chainT[j * n + c] = a;
            }
        }
    }
}
