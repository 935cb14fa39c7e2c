using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Backprop.Functional.Kernels;

namespace Backprop.Functional;

/// <summary>The LSTM's time steps (forward at any rows; backward from <see cref="Recurrence{TCell}"/>'s TransposeRows), fused:
/// W_hh is packed once per pass into the GEMM micro-kernel's B̃ layout (the per-step product no longer re-packs 4H·H
/// values 28 times), and each panel of MR rows runs its product and then its cell while its 4H gates are still in L1.
/// The cell is one vectorised pass over the units (σ and tanh from one eˣ each), the same arithmetic for a unit
/// whatever the row, the panel or the thread, so the two-thread batch halves give the one-thread bits. One or two rows
/// (a single sequence) run each row against the packed panels instead of a mostly empty MR-row panel, with the same FMA
/// chain per element: a sequence's forward bits are the same alone as in any batch.</summary>
internal static class LstmSteps
{
    /// <summary>Panel widths are at most 32 (float with 512-bit vectors): room for either packing of W_hh.</summary>
    internal const int MaxPanel = 32;

    /// <summary>Values of the per-layer scratch the packed weights take: [W_ih | W_hh]ᵀ as B̃ of [xₜ | hₜ₋₁]·[W_ih | W_hh]ᵀ
    /// [(I + H) × 4H], or W_hh as B̃ of δ·W_hh [4H × H], whichever is larger.</summary>
    internal static int PackedLength(int inputs, int hidden) =>
        checked(Math.Max(RoundUp(4 * hidden, MaxPanel) * (inputs + hidden), RoundUp(hidden, MaxPanel) * 4 * hidden));

    /// <summary>[W_ih | W_hh] [G·H × (I + H)] into B̃ of [xₜ | hₜ₋₁]·[W_ih | W_hh]ᵀ: k = I + H, n = G·H, one k block. Each
    /// NR-wide panel is [(I + H) × NR], depth-major, so its first I rows of depth are W_ih's and the rest W_hh's: packed
    /// panel by panel from the two tensors, with no joined copy in between (the same values as packing the joined matrix).
    /// G = 4 gate blocks for the LSTM, 3 for the GRU (<see cref="GruSteps"/>, which takes the two depths as two products),
    /// 1 for the RNN (<see cref="RnnSteps"/>).</summary>
    internal static void PackForward<T>(ReadOnlySpan<T> wih, ReadOnlySpan<T> whh, Span<T> packed, int inputs, int hidden, int gates = 4)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int gh = gates * hidden, wide = inputs + hidden, nr = Gemm.MicroKernel<T>.NR;
        for (int j = 0; j < gh; j += nr)
        {
            int cols = Math.Min(nr, gh - j);
            Gemm.Packing<T>.PackB(ref MemoryMarshal.GetReference(wih), true, gh, inputs, j, cols, 0, inputs, ref packed[j * wide]);
            Gemm.Packing<T>.PackB(ref MemoryMarshal.GetReference(whh), true, gh, hidden, j, cols, 0, hidden, ref packed[j * wide + inputs * nr]);
        }
    }

    /// <summary>W_hh [G·H × H] into B̃ of δₜ·W_hh: k = G·H, n = H, one k block (G = 4 gate blocks for the LSTM, 3 for
    /// the GRU's <see cref="GruSteps"/>, 1 for the RNN's <see cref="RnnSteps"/>).</summary>
    internal static void PackBackward<T>(ReadOnlySpan<T> whh, Span<T> packed, int hidden, int gates = 4) where T : unmanaged, IFloatingPointIeee754<T> =>
        Gemm.Packing<T>.PackB(ref MemoryMarshal.GetReference(whh), false, hidden, gates * hidden, 0, hidden, 0, gates * hidden,
            ref MemoryMarshal.GetReference(packed));

    /// <summary>The forward steps for rows [r0, r0 + n): per panel of MR rows, the gates' pre-activations
    /// [xₜ | hₜ₋₁]·[W_ih | W_hh]ᵀ as one product of depth I + H (x time-major in the scratch), then the cell, which adds
    /// <paramref name="bias"/> (b_ih + b_hh); padded rows hold their state. With <paramref name="zeroStart"/> (h₀ = 0, the
    /// zero initial state) the first step's product stops at depth I: its last H terms would add 0·W_hh to each sum, and
    /// each sum is one FMA chain from +0 in depth order, so stopping early gives the same bits (for finite W_hh).</summary>
    internal static void Forward<T>(Span<T> s, in RecurrentLayout L, ReadOnlySpan<T> packedB, ReadOnlySpan<T> bias, ReadOnlySpan<int> lengths, int r0, int n,
        bool zeroStart = false)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int rows = L.Rows, h = L.Hidden, gh = L.GH, step = L.Step, inputs = L.Inputs, wide = inputs + h, mr = Gemm.MicroKernel<T>.MR;
        ref T packedA = ref Gemm.Scratch<T>.PackedA(mr * wide);
        ref T packedH = ref Unsafe.Add(ref packedA, (nint)mr * inputs);   // the panel's hₜ₋₁ part: depth I onwards
        ref T b = ref MemoryMarshal.GetReference(packedB);
        ref int live = ref Gemm.Scratch<int>.Column(Math.Max(inputs, 1));
        for (int t = 0; t < L.Time; t++)
        {
            var x = s.Slice(L.XT + (t * rows + r0) * inputs, n * inputs);
            var hPrev = s.Slice(L.H + t * step + r0 * h, n * h);
            var cPrev = s.Slice(L.C + t * step + r0 * h, n * h);
            var hNext = s.Slice(L.H + (t + 1) * step + r0 * h, n * h);
            var cNext = s.Slice(L.C + (t + 1) * step + r0 * h, n * h);
            var tanhC = s.Slice(L.Ex + t * step + r0 * h, n * h);
            var gates = s.Slice(L.G + (t * rows + r0) * gh, n * gh);
            for (int ir = 0; ir < n; ir += mr)
            {
                int m = Math.Min(mr, n - ir);
                bool skipH = zeroStart && t == 0;
                if (RowsInPlace<T>(m))
                {
                    // a single sequence (or a batch's last one or two): each row's [xₜ | hₜ₋₁] read where it is, no packing
                    for (int r = ir; r < ir + m; r++)
                    {
                        RowTimesPacked(ref x[r * inputs], ref hPrev[r * h], 1, ref b, inputs, skipH ? inputs : wide, wide, ref gates[r * gh], gh, (t & 1) != 0);
                        Cell(gates.Slice(r * gh, gh), bias, cPrev.Slice(r * h, h), cNext.Slice(r * h, h), tanhC.Slice(r * h, h), hNext.Slice(r * h, h));
                        if (!lengths.IsEmpty && t >= lengths[r0 + r])
                        {
                            hPrev.Slice(r * h, h).CopyTo(hNext.Slice(r * h, h));
                            cPrev.Slice(r * h, h).CopyTo(cNext.Slice(r * h, h));
                        }
                    }
                    continue;
                }
                Gemm.Packing<T>.PackA(ref MemoryMarshal.GetReference(x), false, n, inputs, ir, m, 0, inputs, ref packedA);
                if (!skipH) Gemm.Packing<T>.PackA(ref MemoryMarshal.GetReference(hPrev), false, n, h, ir, m, 0, h, ref packedH);
                // the depths of x that are 0 in every row of the panel are skipped (seq-MNIST: about half of them for a panel
                // of eight images' pixel rows; a one-hot character: all but eight at most), the same chains
                int count = SparseRows<T>.NonZeroColumns(ref x[ir * inputs], inputs, m, inputs, ref live);
                var listed = count < inputs ? MemoryMarshal.CreateReadOnlySpan(ref live, count) : default;
                PanelTimesPacked(ref packedA, ref b, skipH ? inputs : wide, wide, ref gates[ir * gh], gh, m, add: false, live: listed,
                    sparse: count < inputs ? inputs : 0);
                for (int r = ir; r < ir + m; r++)
                {
                    Cell(gates.Slice(r * gh, gh), bias, cPrev.Slice(r * h, h), cNext.Slice(r * h, h), tanhC.Slice(r * h, h), hNext.Slice(r * h, h));
                    if (!lengths.IsEmpty && t >= lengths[r0 + r])
                    {
                        hPrev.Slice(r * h, h).CopyTo(hNext.Slice(r * h, h));
                        cPrev.Slice(r * h, h).CopyTo(cNext.Slice(r * h, h));
                    }
                }
            }
        }
    }

    /// <summary>The backward steps for rows [r0, r0 + n), as <see cref="Recurrence{TCell}"/>.BackwardSteps: per panel
    /// of MR rows the cell's vector–Jacobian product, then ∂C/∂hₜ₋₁ = δₜ·W_hh for those rows; a padded row has δ = 0
    /// and passes ∂C/∂h and ∂C/∂c through.</summary>
    internal static void Backward<T>(Span<T> s, in RecurrentLayout L, ReadOnlySpan<T> packedB, ReadOnlySpan<T> dy, bool sequences,
        ReadOnlySpan<int> lengths, int r0, int n) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int rows = L.Rows, h = L.Hidden, gh = L.GH, step = L.Step, time = L.Time, block = n * h, mr = Gemm.MicroKernel<T>.MR;
        ref T packedA = ref Gemm.Scratch<T>.PackedA(mr * gh);
        ref T b = ref MemoryMarshal.GetReference(packedB);
        var dh = s.Slice(L.DA + r0 * h, block);
        var dNext = s.Slice(L.DB + r0 * h, block);
        var dc = s.Slice(L.DC + r0 * h, block);
        int norms = L.Norms + (r0 == 0 ? 0 : time);
        dNext.Clear();
        dc.Clear();
        for (int t = time - 1; t >= 0; t--)
        {
            Recurrence<LstmCell>.IncomingGradient(dh, dNext, dy, sequences, lengths, r0, n, h, time, t);
            s[norms + t] = TensorPrimitives.SumOfSquares<T>(dh);   // the gradient-flow picture, ‖∂C/∂hₜ‖²
            var gates = s.Slice(L.G + (t * rows + r0) * gh, n * gh);
            var cPrev = s.Slice(L.C + t * step + r0 * h, block);
            var tanhC = s.Slice(L.Ex + t * step + r0 * h, block);
            for (int ir = 0; ir < n; ir += mr)
            {
                int m = Math.Min(mr, n - ir);
                for (int r = ir; r < ir + m; r++)
                {
                    if (!lengths.IsEmpty && t >= lengths[r0 + r]) gates.Slice(r * gh, gh).Clear();
                    else CellBack(gates.Slice(r * gh, gh), tanhC.Slice(r * h, h), cPrev.Slice(r * h, h), dh.Slice(r * h, h), dc.Slice(r * h, h));
                }
                PanelBack(gates, n, gh, ir, m, ref packedA, ref b, dNext, dh, add: false, t, lengths, r0);
            }
        }
    }

    /// <summary>BP2 in time for one panel's rows [ir, ir + m) of n: their δ (<paramref name="deltas"/>, depth
    /// <paramref name="depth"/> a row) packed into Ã, times W_hh packed (B̃ of δ·W_hh), into or onto (<paramref name="add"/>)
    /// ∂C/∂hₜ₋₁ (<paramref name="dNext"/>, H a row); a padded row (t ≥ its length) passes ∂C/∂hₜ (<paramref name="dh"/>)
    /// through unchanged. The LSTM's, the GRU's (δʰ, onto its direct term) and the RNN's backward steps.</summary>
    internal static void PanelBack<T>(ReadOnlySpan<T> deltas, int n, int depth, int ir, int m, ref T packedA, ref T b, Span<T> dNext,
        ReadOnlySpan<T> dh, bool add, int t, ReadOnlySpan<int> lengths, int r0) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int h = dh.Length / n;
        Gemm.Packing<T>.PackA(ref MemoryMarshal.GetReference(deltas), false, n, depth, ir, m, 0, depth, ref packedA);
        PanelTimesPacked(ref packedA, ref b, depth, depth, ref dNext[ir * h], h, m, add, reverse: (t & 1) != 0);
        if (!lengths.IsEmpty)
            for (int r = ir; r < ir + m; r++)
                if (t >= lengths[r0 + r]) dh.Slice(r * h, h).CopyTo(dNext.Slice(r * h, h));
    }

    /// <summary>C[0..rows, 0..width) (row stride = width) ← (add ? C : 0) + Ã·B̃ over depth kc, Ã one packed MR-row
    /// panel, B̃ ⌈width/NR⌉ packed panels of depth <paramref name="depth"/> ≥ kc (the first kc of each): the blocked
    /// GEMM's inner loops, each element the same FMA chain. Depths below <paramref name="sparse"/> run only where listed in
    /// <paramref name="live"/> (<see cref="Gemm.MicroKernel{T}.RunLive"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void PanelTimesPacked<T>(ref T a, ref T b, int kc, int depth, ref T c, int width, int rows, bool add,
        bool reverse = false, ReadOnlySpan<int> live = default, int sparse = 0)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int mr = Gemm.MicroKernel<T>.MR, nr = Gemm.MicroKernel<T>.NR;
        if (RowsInPlace<T>(rows))
        {
            // one or two rows of the panel (a batch's last rows): each row against the panels instead of MR rows of
            // which most are padding
            for (int i = 0; i < rows; i++)
            {
                ref T ai = ref Unsafe.Add(ref a, i);
                RowTimesPacked(ref ai, ref ai, mr, ref b, 0, kc, depth, ref Unsafe.Add(ref c, (nint)i * width), width, reverse, add);
            }
            return;
        }
        for (int jr = 0; jr < width; jr += nr)
        {
            int cols = Math.Min(nr, width - jr);
            ref T bp = ref Unsafe.Add(ref b, (nint)jr * depth);
            ref T ct = ref Unsafe.Add(ref c, jr);
            if (rows == mr && cols == nr)
            {
                Gemm.MicroKernel<T>.RunLive(ref a, ref bp, live, sparse, kc, ref ct, width, add);
                continue;
            }
            ref T tile = ref Gemm.Scratch<T>.Tile(mr * nr);
            Gemm.MicroKernel<T>.RunLive(ref a, ref bp, live, sparse, kc, ref tile, nr, add: false);
            for (int i = 0; i < rows; i++)
            {
                ref T ti = ref Unsafe.Add(ref tile, (nint)i * nr);
                ref T ci = ref Unsafe.Add(ref ct, (nint)i * width);
                for (int j = 0; j < cols; j++)
                    Unsafe.Add(ref ci, j) = add ? Unsafe.Add(ref ci, j) + Unsafe.Add(ref ti, j) : Unsafe.Add(ref ti, j);
            }
        }
    }

    /// <summary>Whether <paramref name="rows"/> rows run one at a time against the packed panels (<see cref="RowTimesPacked{T}"/>):
    /// one or two (a single sequence, a batch's last rows), where a panel of MR rows would be mostly padding.</summary>
    internal static bool RowsInPlace<T>(int rows) where T : unmanaged, IFloatingPointIeee754<T> =>
        4 * rows <= Gemm.MicroKernel<T>.MR && (Vector512.IsHardwareAccelerated || Vector256.IsHardwareAccelerated);

    /// <summary>One row against the packed panels, its zero values among the first <paramref name="sparse"/> of the depth
    /// skipped (an MNIST row of pixels is mostly 0, a one-hot character all but one): the list of the others, then
    /// <see cref="RowTimesPacked{T, TW, TV}"/> at the widest vectors that run here.</summary>
    internal static void RowTimesPacked<T>(ref T a, ref T ah, nint stride, ref T b, int sparse, int kc, int depth, ref T c, int width,
        bool reverse, bool add = false)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        sparse = Math.Min(sparse, kc);
        ref int list = ref Gemm.Scratch<int>.Column(Math.Max(sparse, 1));
        int count = 0;
        for (int p = 0; p < sparse; p++)
            if (Unsafe.Add(ref a, p * stride) != T.Zero)
                Unsafe.Add(ref list, count++) = p;
        var live = MemoryMarshal.CreateReadOnlySpan(ref list, count);
        if (Vector512.IsHardwareAccelerated)
            RowTimesPacked<T, Wide512<T>, Vector512<T>>(ref a, ref ah, stride, ref b, live, sparse, kc, depth, ref c, width, add, reverse);
        else
            RowTimesPacked<T, Wide256<T>, Vector256<T>>(ref a, ref ah, stride, ref b, live, sparse, kc, depth, ref c, width, add, reverse);
    }

    /// <summary>c[0..width) ← (add ? c : 0) + Σ_{p &lt; kc} aₚ·B̃[p, ·] for one row, aₚ = a[p·stride] for p below
    /// <paramref name="sparse"/> (only the <paramref name="live"/> p, the non-zero ones) and ah[(p − sparse)·stride] from
    /// there (a row of a packed Ã panel, stride MR, or [xₜ | hₜ₋₁] read in place, stride 1), against B̃'s panels (NR = two
    /// vectors wide, depth <paramref name="depth"/>), several panels at a time (below), then the last ones one by one. Each element is the
    /// micro-kernel's chain (from 0, p in order, then one add onto c), so the bits are those of the row in a full panel,
    /// in either order of the panels. <paramref name="reverse"/> takes them last to first: called on alternate steps, a
    /// step starts on the panels the one before ended on, still in L1 (B̃ is streamed from L2, ~100 GB/s here: one
    /// sequence's LSTM-128 step 3.0 → 2.3 µs in a C model of this loop).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowTimesPacked<T, TW, TV>(ref T a, ref T ah, nint stride, ref T b, ReadOnlySpan<int> live, int sparse, int kc, int depth,
        ref T c, int width, bool add, bool reverse)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TW : struct, IVectorWidth<TV, T>
        where TV : struct
    {
        // 512-bit vectors (32 registers): eight panels at a time, sixteen accumulators, which keeps twice the loads from L2
        // in flight (a C model of the loop: 112 → 160 GB/s); 256-bit ones (16 registers): four
        int nr = 2 * TW.Count, group = TW.Count * Unsafe.SizeOf<T>() == 64 ? 8 : 4, groups = width / (group * nr), tail = groups * group * nr;
        // four whole panels left after the groups of eight (the GRU's 3H = 384: one group and four) run as a group of four,
        // eight chains at once, not one panel's two chains at a time, which wait on the FMA's latency
        int four = group == 8 && width - tail >= 4 * nr ? 4 * nr : 0, single = tail + four;
        if (!reverse)
        {
            for (int g = 0; g < groups; g++)
                RowTimesPanels<T, TW, TV>(group, ref a, ref ah, stride, ref b, live, sparse, kc, depth, ref c, g * group * nr, add);
            if (four > 0) RowTimesFourPanels<T, TW, TV>(ref a, ref ah, stride, ref b, live, sparse, kc, depth, ref c, tail, add);
            for (int jr = single; jr < width; jr += nr)
                RowTimesPanel<T, TW, TV>(ref a, ref ah, stride, ref b, live, sparse, kc, depth, ref c, width, jr, add);
        }
        else
        {
            for (int jr = single + (width - single + nr - 1) / nr * nr - nr; jr >= single; jr -= nr)   // none when width = single
                RowTimesPanel<T, TW, TV>(ref a, ref ah, stride, ref b, live, sparse, kc, depth, ref c, width, jr, add);
            if (four > 0) RowTimesFourPanels<T, TW, TV>(ref a, ref ah, stride, ref b, live, sparse, kc, depth, ref c, tail, add);
            for (int g = groups - 1; g >= 0; g--)
                RowTimesPanels<T, TW, TV>(group, ref a, ref ah, stride, ref b, live, sparse, kc, depth, ref c, g * group * nr, add);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void RowTimesPanels<T, TW, TV>(int group, ref T a, ref T ah, nint stride, ref T b, ReadOnlySpan<int> live, int sparse, int kc, int depth,
        ref T c, int jr, bool add)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TW : struct, IVectorWidth<TV, T>
        where TV : struct
    {
        if (group == 8)
            RowTimesEightPanels<T, TW, TV>(ref a, ref ah, stride, ref b, live, sparse, kc, depth, ref c, jr, add);
        else
            RowTimesFourPanels<T, TW, TV>(ref a, ref ah, stride, ref b, live, sparse, kc, depth, ref c, jr, add);
    }

    /// <summary><see cref="RowTimesPacked{T}"/> over the eight panels from column <paramref name="jr"/> (512-bit vectors).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowTimesEightPanels<T, TW, TV>(ref T a, ref T ah, nint stride, ref T b, ReadOnlySpan<int> live, int sparse, int kc, int depth,
        ref T c, int jr, bool add)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TW : struct, IVectorWidth<TV, T>
        where TV : struct
    {
        nuint w = (nuint)TW.Count;
        int nr = 2 * TW.Count;
        nint panel = (nint)nr * depth;
        ref T b0 = ref Unsafe.Add(ref b, (nint)jr * depth);
        ref T b1 = ref Unsafe.Add(ref b0, panel);
        ref T b2 = ref Unsafe.Add(ref b1, panel);
        ref T b3 = ref Unsafe.Add(ref b2, panel);
        ref T b4 = ref Unsafe.Add(ref b3, panel);
        ref T b5 = ref Unsafe.Add(ref b4, panel);
        ref T b6 = ref Unsafe.Add(ref b5, panel);
        ref T b7 = ref Unsafe.Add(ref b6, panel);
        TV c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default;
        TV c40 = default, c41 = default, c50 = default, c51 = default, c60 = default, c61 = default, c70 = default, c71 = default;
        for (int q = 0; q <= live.Length; q++)
        {
            // the listed non-zero values of the sparse part, then every p from `sparse` on (one loop body for both)
            int p = q < live.Length ? live[q] : sparse;
            int end = q < live.Length ? p + 1 : kc;
            ref T ap = ref q < live.Length ? ref Unsafe.Add(ref a, p * stride) : ref ah;
            for (nuint o = (nuint)(p * nr); p < end; p++, o += (nuint)nr)
            {
                TV x = TW.Broadcast(ap);
                c00 = TW.Fma(x, TW.Load(ref b0, o), c00); c01 = TW.Fma(x, TW.Load(ref b0, o + w), c01);
                c10 = TW.Fma(x, TW.Load(ref b1, o), c10); c11 = TW.Fma(x, TW.Load(ref b1, o + w), c11);
                c20 = TW.Fma(x, TW.Load(ref b2, o), c20); c21 = TW.Fma(x, TW.Load(ref b2, o + w), c21);
                c30 = TW.Fma(x, TW.Load(ref b3, o), c30); c31 = TW.Fma(x, TW.Load(ref b3, o + w), c31);
                c40 = TW.Fma(x, TW.Load(ref b4, o), c40); c41 = TW.Fma(x, TW.Load(ref b4, o + w), c41);
                c50 = TW.Fma(x, TW.Load(ref b5, o), c50); c51 = TW.Fma(x, TW.Load(ref b5, o + w), c51);
                c60 = TW.Fma(x, TW.Load(ref b6, o), c60); c61 = TW.Fma(x, TW.Load(ref b6, o + w), c61);
                c70 = TW.Fma(x, TW.Load(ref b7, o), c70); c71 = TW.Fma(x, TW.Load(ref b7, o + w), c71);
                ap = ref Unsafe.Add(ref ap, stride);
            }
        }
        ref T cj = ref Unsafe.Add(ref c, jr);
        RowStore<T, TW, TV>(ref cj, 0, c00, add); RowStore<T, TW, TV>(ref cj, w, c01, add);
        RowStore<T, TW, TV>(ref cj, 2 * w, c10, add); RowStore<T, TW, TV>(ref cj, 3 * w, c11, add);
        RowStore<T, TW, TV>(ref cj, 4 * w, c20, add); RowStore<T, TW, TV>(ref cj, 5 * w, c21, add);
        RowStore<T, TW, TV>(ref cj, 6 * w, c30, add); RowStore<T, TW, TV>(ref cj, 7 * w, c31, add);
        RowStore<T, TW, TV>(ref cj, 8 * w, c40, add); RowStore<T, TW, TV>(ref cj, 9 * w, c41, add);
        RowStore<T, TW, TV>(ref cj, 10 * w, c50, add); RowStore<T, TW, TV>(ref cj, 11 * w, c51, add);
        RowStore<T, TW, TV>(ref cj, 12 * w, c60, add); RowStore<T, TW, TV>(ref cj, 13 * w, c61, add);
        RowStore<T, TW, TV>(ref cj, 14 * w, c70, add); RowStore<T, TW, TV>(ref cj, 15 * w, c71, add);
    }

    /// <summary><see cref="RowTimesPacked{T}"/> over the four panels from column <paramref name="jr"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowTimesFourPanels<T, TW, TV>(ref T a, ref T ah, nint stride, ref T b, ReadOnlySpan<int> live, int sparse, int kc, int depth,
        ref T c, int jr, bool add)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TW : struct, IVectorWidth<TV, T>
        where TV : struct
    {
        nuint w = (nuint)TW.Count;
        int nr = 2 * TW.Count;
        nint panel = (nint)nr * depth;
        ref T b0 = ref Unsafe.Add(ref b, (nint)jr * depth);
        ref T b1 = ref Unsafe.Add(ref b0, panel);
        ref T b2 = ref Unsafe.Add(ref b1, panel);
        ref T b3 = ref Unsafe.Add(ref b2, panel);
        TV c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default;
        for (int q = 0; q < live.Length; q++)
        {
            int p = live[q];
            TV x = TW.Broadcast(Unsafe.Add(ref a, p * stride));
            nuint o = (nuint)(p * nr);
            c00 = TW.Fma(x, TW.Load(ref b0, o), c00); c01 = TW.Fma(x, TW.Load(ref b0, o + w), c01);
            c10 = TW.Fma(x, TW.Load(ref b1, o), c10); c11 = TW.Fma(x, TW.Load(ref b1, o + w), c11);
            c20 = TW.Fma(x, TW.Load(ref b2, o), c20); c21 = TW.Fma(x, TW.Load(ref b2, o + w), c21);
            c30 = TW.Fma(x, TW.Load(ref b3, o), c30); c31 = TW.Fma(x, TW.Load(ref b3, o + w), c31);
        }
        ref T ap = ref ah;
        nuint op = (nuint)(sparse * nr);
        for (int p = sparse; p < kc; p++)
        {
            TV x = TW.Broadcast(ap);
            c00 = TW.Fma(x, TW.Load(ref b0, op), c00); c01 = TW.Fma(x, TW.Load(ref b0, op + w), c01);
            c10 = TW.Fma(x, TW.Load(ref b1, op), c10); c11 = TW.Fma(x, TW.Load(ref b1, op + w), c11);
            c20 = TW.Fma(x, TW.Load(ref b2, op), c20); c21 = TW.Fma(x, TW.Load(ref b2, op + w), c21);
            c30 = TW.Fma(x, TW.Load(ref b3, op), c30); c31 = TW.Fma(x, TW.Load(ref b3, op + w), c31);
            ap = ref Unsafe.Add(ref ap, stride);
            op += (nuint)nr;
        }
        ref T cj = ref Unsafe.Add(ref c, jr);
        RowStore<T, TW, TV>(ref cj, 0, c00, add); RowStore<T, TW, TV>(ref cj, w, c01, add);
        RowStore<T, TW, TV>(ref cj, 2 * w, c10, add); RowStore<T, TW, TV>(ref cj, 3 * w, c11, add);
        RowStore<T, TW, TV>(ref cj, 4 * w, c20, add); RowStore<T, TW, TV>(ref cj, 5 * w, c21, add);
        RowStore<T, TW, TV>(ref cj, 6 * w, c30, add); RowStore<T, TW, TV>(ref cj, 7 * w, c31, add);
    }

    /// <summary><see cref="RowTimesPacked{T}"/> over the one panel at column <paramref name="jr"/>, which may be C's last,
    /// narrower than NR (its padded columns are computed and dropped).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowTimesPanel<T, TW, TV>(ref T a, ref T ah, nint stride, ref T b, ReadOnlySpan<int> live, int sparse, int kc, int depth,
        ref T c, int width, int jr, bool add)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TW : struct, IVectorWidth<TV, T>
        where TV : struct
    {
        nuint w = (nuint)TW.Count;
        int nr = 2 * TW.Count;
        ref T bp = ref Unsafe.Add(ref b, (nint)jr * depth);
        TV c0 = default, c1 = default;
        for (int q = 0; q < live.Length; q++)
        {
            int p = live[q];
            TV x = TW.Broadcast(Unsafe.Add(ref a, p * stride));
            nuint o = (nuint)(p * nr);
            c0 = TW.Fma(x, TW.Load(ref bp, o), c0);
            c1 = TW.Fma(x, TW.Load(ref bp, o + w), c1);
        }
        ref T ap = ref ah;
        nuint op = (nuint)(sparse * nr);
        for (int p = sparse; p < kc; p++)
        {
            TV x = TW.Broadcast(ap);
            c0 = TW.Fma(x, TW.Load(ref bp, op), c0);
            c1 = TW.Fma(x, TW.Load(ref bp, op + w), c1);
            ap = ref Unsafe.Add(ref ap, stride);
            op += (nuint)nr;
        }
        ref T cj = ref Unsafe.Add(ref c, jr);
        int cols = Math.Min(nr, width - jr);
        if (cols == nr)
        {
            RowStore<T, TW, TV>(ref cj, 0, c0, add);
            RowStore<T, TW, TV>(ref cj, w, c1, add);
            return;
        }
        ref T tile = ref Gemm.Scratch<T>.Tile(nr);   // the padded panel's columns, of which cols are C's
        TW.Store(c0, ref tile, 0);
        TW.Store(c1, ref tile, w);
        for (int j = 0; j < cols; j++)
            Unsafe.Add(ref cj, j) = add ? Unsafe.Add(ref cj, j) + Unsafe.Add(ref tile, j) : Unsafe.Add(ref tile, j);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void RowStore<T, TW, TV>(ref T c, nuint index, TV v, bool add)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TW : struct, IVectorWidth<TV, T>
        where TV : struct
    {
        if (add) v = TW.Add(TW.Load(ref c, index), v);
        TW.Store(v, ref c, index);
    }

    /// <summary>One row's cell: the 4H pre-activations in <paramref name="gates"/> (plus <paramref name="bias"/> [4H]
    /// unless it is empty) become i, f, g, o; cₜ = f ⊙ cₜ₋₁ + i ⊙ g, tanh cₜ and hₜ = o ⊙ tanh cₜ.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Cell<T>(Span<T> gates, ReadOnlySpan<T> bias, ReadOnlySpan<T> cPrev, Span<T> cNext, Span<T> tanhC, Span<T> hNext)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int h = cPrev.Length, j = 0;
        ref T gi = ref MemoryMarshal.GetReference(gates);
        ref T gf = ref Unsafe.Add(ref gi, h);
        ref T gg = ref Unsafe.Add(ref gi, 2 * h);
        ref T go = ref Unsafe.Add(ref gi, 3 * h);
        ref T cp = ref MemoryMarshal.GetReference(cPrev);
        ref T cn = ref MemoryMarshal.GetReference(cNext);
        ref T tc = ref MemoryMarshal.GetReference(tanhC);
        ref T hn = ref MemoryMarshal.GetReference(hNext);
        // the pre-activations plus b as each is read (the product and the biases, then the gates, one row in L1)
        bool biased = !bias.IsEmpty;
        ref T bi = ref MemoryMarshal.GetReference(bias);
        // float in 512-bit vectors where AVX-512 runs (the runtime's Vector<T> stays 256 bits wide), then the runtime's
        // width: the same operations per unit at every width, so the same bits
        if (typeof(T) == typeof(float) && Vector512.IsHardwareAccelerated)
            j = CellUnits<Wide512<T>, Vector512<T>, T>(ref gi, ref bi, biased, h, ref cp, ref cn, ref tc, ref hn, j);
        if (VectorMath.Supported<T>())
            j = CellUnits<WideVector<T>, Vector<T>, T>(ref gi, ref bi, biased, h, ref cp, ref cn, ref tc, ref hn, j);
        for (; j < h; j++)
        {
            T pi = Unsafe.Add(ref gi, j), pf = Unsafe.Add(ref gf, j), pg = Unsafe.Add(ref gg, j), po = Unsafe.Add(ref go, j);
            if (biased)
            {
                pi += Unsafe.Add(ref bi, j);
                pf += Unsafe.Add(ref bi, h + j);
                pg += Unsafe.Add(ref bi, 2 * h + j);
                po += Unsafe.Add(ref bi, 3 * h + j);
            }
            T i = Sigmoid(pi), f = Sigmoid(pf);
            T g = Tanh(pg), o = Sigmoid(po);
            Unsafe.Add(ref gi, j) = i;
            Unsafe.Add(ref gf, j) = f;
            Unsafe.Add(ref gg, j) = g;
            Unsafe.Add(ref go, j) = o;
            T c = T.FusedMultiplyAdd(f, Unsafe.Add(ref cp, j), i * g);
            T t = Tanh(c);
            Unsafe.Add(ref cn, j) = c;
            Unsafe.Add(ref tc, j) = t;
            Unsafe.Add(ref hn, j) = o * t;
        }
    }

    /// <summary>One row's vector–Jacobian product: from ∂C/∂hₜ and ∂C/∂cₜ (<paramref name="dc"/>, turned into
    /// ∂C/∂cₜ₋₁ = ∂C/∂cₜ ⊙ f) writes δ at the four pre-activations over the gate activations in <paramref name="gates"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void CellBack<T>(Span<T> gates, ReadOnlySpan<T> tanhC, ReadOnlySpan<T> cPrev, ReadOnlySpan<T> dh, Span<T> dc)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int h = cPrev.Length, j = 0;
        ref T gi = ref MemoryMarshal.GetReference(gates);
        ref T gf = ref Unsafe.Add(ref gi, h);
        ref T gg = ref Unsafe.Add(ref gi, 2 * h);
        ref T go = ref Unsafe.Add(ref gi, 3 * h);
        ref T tcr = ref MemoryMarshal.GetReference(tanhC);
        ref T cp = ref MemoryMarshal.GetReference(cPrev);
        ref T dhr = ref MemoryMarshal.GetReference(dh);
        ref T dcr = ref MemoryMarshal.GetReference(dc);
        if (typeof(T) == typeof(float) && Vector512.IsHardwareAccelerated)
            j = CellBackUnits<Wide512<T>, Vector512<T>, T>(ref gi, h, ref tcr, ref cp, ref dhr, ref dcr, j);
        if (VectorMath.Supported<T>())
            j = CellBackUnits<WideVector<T>, Vector<T>, T>(ref gi, h, ref tcr, ref cp, ref dhr, ref dcr, j);
        for (; j < h; j++)
        {
            T i = Unsafe.Add(ref gi, j), f = Unsafe.Add(ref gf, j), g = Unsafe.Add(ref gg, j), o = Unsafe.Add(ref go, j);
            T t = Unsafe.Add(ref tcr, j), d = Unsafe.Add(ref dhr, j);
            T c = T.FusedMultiplyAdd(T.One - t * t, o * d, Unsafe.Add(ref dcr, j));
            Unsafe.Add(ref go, j) = o * (T.One - o) * (d * t);
            Unsafe.Add(ref gi, j) = i * (T.One - i) * (c * g);
            Unsafe.Add(ref gg, j) = (T.One - g * g) * (c * i);
            Unsafe.Add(ref gf, j) = f * (T.One - f) * (c * Unsafe.Add(ref cp, j));
            Unsafe.Add(ref dcr, j) = c * f;
        }
    }

    /// <summary><see cref="Cell{T}"/>'s vector loop over units [j, …) in whole vectors of width <typeparamref name="TW"/>
    /// (<see cref="Wide512{T}"/> for float where AVX-512 runs, else <see cref="WideVector{T}"/>), adding the biases at
    /// <paramref name="bi"/> [4H] to the pre-activations when <paramref name="biased"/>; returns the units done.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static int CellUnits<TW, TV, T>(ref T gi, ref T bi, bool biased, int h, ref T cp, ref T cn, ref T tc, ref T hn, int j)
        where TW : struct, IVectorWidth<TV, T>
        where TV : struct
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ref T gf = ref Unsafe.Add(ref gi, h);
        ref T gg = ref Unsafe.Add(ref gi, 2 * h);
        ref T go = ref Unsafe.Add(ref gi, 3 * h);
        var one = TW.Broadcast(T.One);
        var two = TW.Broadcast(T.One + T.One);
        int start = j;
        // Two passes over the row. First the four gates, their four eˣ chains side by side (GateExp4) so the core
        // overlaps them, and cₜ; then tanh cₜ and hₜ, whose iterations are independent and short. The same operations
        // per unit as σ and tanh one gate at a time, so the same bits; one chain after another measured ≈ 100 cycles a
        // vector of units, latency- not throughput-bound.
        for (; j + TW.Count <= h; j += TW.Count)
        {
            nuint u = (nuint)j;
            TV pi = TW.Load(ref gi, u), pf = TW.Load(ref gf, u), pg = TW.Load(ref gg, u), po = TW.Load(ref go, u);
            if (biased)
            {
                pi = TW.Add(pi, TW.Load(ref bi, u));
                pf = TW.Add(pf, TW.Load(ref bi, u + (nuint)h));
                pg = TW.Add(pg, TW.Load(ref bi, u + (nuint)(2 * h)));
                po = TW.Add(po, TW.Load(ref bi, u + (nuint)(3 * h)));
            }
            TV ei = TW.Negate(pi), ef = TW.Negate(pf), eg = TW.Multiply(two, pg), eo = TW.Negate(po);
            TW.GateExp4(ref ei, ref ef, ref eg, ref eo);
            var i = TW.Divide(one, TW.Add(one, ei));                     // σ = 1 / (1 + e⁻ˣ)
            var f = TW.Divide(one, TW.Add(one, ef));
            var g = TW.Subtract(one, TW.Divide(two, TW.Add(eg, one)));   // tanh = 1 − 2 / (e²ˣ + 1)
            var o = TW.Divide(one, TW.Add(one, eo));
            TW.Store(i, ref gi, u);
            TW.Store(f, ref gf, u);
            TW.Store(g, ref gg, u);
            TW.Store(o, ref go, u);
            TW.Store(TW.Fma(f, TW.Load(ref cp, u), TW.Multiply(i, g)), ref cn, u);
        }
        int k = start;
        for (; k + 4 * TW.Count <= j; k += 4 * TW.Count)
        {
            nuint u0 = (nuint)k, u1 = u0 + (nuint)TW.Count, u2 = u1 + (nuint)TW.Count, u3 = u2 + (nuint)TW.Count;
            TV c0 = TW.Load(ref cn, u0), c1 = TW.Load(ref cn, u1), c2 = TW.Load(ref cn, u2), c3 = TW.Load(ref cn, u3);
            TV e0 = TW.Multiply(two, c0), e1 = TW.Multiply(two, c1), e2 = TW.Multiply(two, c2), e3 = TW.Multiply(two, c3);
            TW.GateExp4(ref e0, ref e1, ref e2, ref e3);
            var t0 = TW.Subtract(one, TW.Divide(two, TW.Add(e0, one)));
            var t1 = TW.Subtract(one, TW.Divide(two, TW.Add(e1, one)));
            var t2 = TW.Subtract(one, TW.Divide(two, TW.Add(e2, one)));
            var t3 = TW.Subtract(one, TW.Divide(two, TW.Add(e3, one)));
            TW.Store(t0, ref tc, u0);
            TW.Store(t1, ref tc, u1);
            TW.Store(t2, ref tc, u2);
            TW.Store(t3, ref tc, u3);
            TW.Store(TW.Multiply(TW.Load(ref go, u0), t0), ref hn, u0);
            TW.Store(TW.Multiply(TW.Load(ref go, u1), t1), ref hn, u1);
            TW.Store(TW.Multiply(TW.Load(ref go, u2), t2), ref hn, u2);
            TW.Store(TW.Multiply(TW.Load(ref go, u3), t3), ref hn, u3);
        }
        for (; k < j; k += TW.Count)
        {
            nuint u = (nuint)k;
            var t = Tanh<TW, TV, T>(TW.Load(ref cn, u));
            TW.Store(t, ref tc, u);
            TW.Store(TW.Multiply(TW.Load(ref go, u), t), ref hn, u);
        }
        return j;
    }

    /// <summary><see cref="CellBack{T}"/>'s vector loop over units [j, …) in whole vectors of width
    /// <typeparamref name="TW"/>; returns the units done.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static int CellBackUnits<TW, TV, T>(ref T gi, int h, ref T tcr, ref T cp, ref T dhr, ref T dcr, int j)
        where TW : struct, IVectorWidth<TV, T>
        where TV : struct
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ref T gf = ref Unsafe.Add(ref gi, h);
        ref T gg = ref Unsafe.Add(ref gi, 2 * h);
        ref T go = ref Unsafe.Add(ref gi, 3 * h);
        var one = TW.Broadcast(T.One);
        for (; j + TW.Count <= h; j += TW.Count)
        {
            nuint u = (nuint)j;
            var i = TW.Load(ref gi, u);
            var f = TW.Load(ref gf, u);
            var g = TW.Load(ref gg, u);
            var o = TW.Load(ref go, u);
            var t = TW.Load(ref tcr, u);
            var d = TW.Load(ref dhr, u);
            // ∂C/∂cₜ += ∂C/∂hₜ ⊙ o ⊙ (1 − tanh²cₜ)
            var c = TW.Fma(TW.Subtract(one, TW.Multiply(t, t)), TW.Multiply(o, d), TW.Load(ref dcr, u));
            TW.Store(TW.Multiply(TW.Multiply(o, TW.Subtract(one, o)), TW.Multiply(d, t)), ref go, u);                   // δo
            TW.Store(TW.Multiply(TW.Multiply(i, TW.Subtract(one, i)), TW.Multiply(c, g)), ref gi, u);                   // δi
            TW.Store(TW.Multiply(TW.Subtract(one, TW.Multiply(g, g)), TW.Multiply(c, i)), ref gg, u);                   // δg
            TW.Store(TW.Multiply(TW.Multiply(f, TW.Subtract(one, f)), TW.Multiply(c, TW.Load(ref cp, u))), ref gf, u);  // δf
            TW.Store(TW.Multiply(c, f), ref dcr, u);                                                                    // ∂C/∂cₜ₋₁
        }
        return j;
    }

    /// <summary>tanh x = 1 − 2 / (e²ˣ + 1): ±1 at the ends (e²ˣ = ∞ or 0), one eˣ.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Tanh<TW, TV, T>(TV x)
        where TW : struct, IVectorWidth<TV, T>
        where TV : struct
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var one = TW.Broadcast(T.One);
        var two = TW.Broadcast(T.One + T.One);
        return TW.Subtract(one, TW.Divide(two, TW.Add(TW.GateExp(TW.Multiply(two, x)), one)));
    }

    /// <summary>The float eˣ of the cells (<see cref="VectorMath.ExpClamped{TW, TV}"/>) in the runtime's
    /// <see cref="Vector{T}"/>.</summary>
    internal static Vector<float> ExpForGates(Vector<float> x) => VectorMath.ExpClamped<WideVector<float>, Vector<float>>(x);

    /// <summary>The same in 512-bit vectors: the same steps lane by lane.</summary>
    internal static Vector512<float> ExpForGates(Vector512<float> x) => VectorMath.ExpClamped<Wide512<float>, Vector512<float>>(x);

    internal static T Sigmoid<T>(T x) where T : unmanaged, IFloatingPointIeee754<T> => T.One / (T.One + T.Exp(-x));

    internal static T Tanh<T>(T x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T two = T.One + T.One;
        return T.One - two / (T.Exp(two * x) + T.One);
    }

    internal static int RoundUp(int x, int multiple) => (x + multiple - 1) / multiple * multiple;
}
