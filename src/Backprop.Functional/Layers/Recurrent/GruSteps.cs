using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Backprop.Functional.Kernels;

namespace Backprop.Functional;

/// <summary>The GRU's time steps (see <see cref="Gru"/> for the equations), as <see cref="LstmSteps"/> runs the LSTM's:
/// the weights are packed once per pass into the GEMM micro-kernel's B̃ layout (forward [W_ih | W_hh] as B̃ of
/// [xₜ | hₜ₋₁]·[W_ih | W_hh]ᵀ [(I + H) × 3H], taken as two products; backward W_hh as B̃ of δʰₜ·W_hh [3H × H]), and each
/// panel of MR rows runs its products and then its cell while the panel's gates are in L1. The cell is one vectorised
/// pass over the units (σ and tanh from one eˣ each, <see cref="IVectorWidth{TV, T}.GateExp"/>), the same arithmetic for
/// a unit whatever the row, the panel or the thread, so the two-thread batch halves give the one-thread bits. The forward
/// steps run at any number of rows (one or two rows of a panel through <see cref="LstmSteps.RowTimesPacked{T}"/>), the
/// backward steps from <see cref="Recurrence{TCell}"/>'s TransposeRows rows; below that <see cref="GruCell.StepBack"/> runs
/// the same row function. Before, each step re-packed W_hh inside a generic GEMM and the cell was ≈ 15 span passes a row.</summary>
internal static class GruSteps
{
    /// <summary>Values the packed weights take: B̃ of [xₜ | hₜ₋₁]·[W_ih | W_hh]ᵀ [(I + H) × 3H] (<see cref="LstmSteps.PackForward"/>)
    /// or of δʰ·W_hh [3H × H], whichever is larger.</summary>
    internal static int PackedLength(int inputs, int hidden) =>
        checked(Math.Max(LstmSteps.RoundUp(3 * hidden, LstmSteps.MaxPanel) * (inputs + hidden), LstmSteps.RoundUp(hidden, LstmSteps.MaxPanel) * 3 * hidden));

    /// <summary>The forward steps for rows [r0, r0 + n), x time-major in the scratch: per panel of MR rows, W_ih xₜ into the
    /// gates (a product of depth I over the panel's packed x, skipping the depths that are 0 in all of its rows, as seq-MNIST's
    /// border pixels and a one-hot character's other letters are) and W_hh hₜ₋₁ into the per-step temporary (depth H; none at
    /// the first step when <paramref name="zeroStart"/>: h₀ = 0), then the cell, which adds b_ih and b_hh
    /// (<paramref name="biases"/> [b_ih | b_hh], as θ holds them); padded rows hold their state. Two products, not the LSTM's
    /// one of depth I + H: n's input and hidden parts meet only inside r ⊙ (W_hn hₜ₋₁ + b_hn).</summary>
    internal static void Forward<T>(Span<T> s, in RecurrentLayout L, ReadOnlySpan<T> packedB, ReadOnlySpan<T> biases, ReadOnlySpan<int> lengths,
        int r0, int n, bool zeroStart) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int rows = L.Rows, h = L.Hidden, gh = L.GH, step = L.Step, inputs = L.Inputs, wide = inputs + h, mr = Gemm.MicroKernel<T>.MR;
        nint nr = Gemm.MicroKernel<T>.NR;
        ref T packedA = ref Gemm.Scratch<T>.PackedA(mr * wide);
        ref T packedH = ref Unsafe.Add(ref packedA, (nint)mr * inputs);   // the panel's hₜ₋₁
        ref T b = ref MemoryMarshal.GetReference(packedB);
        ref T bh = ref Unsafe.Add(ref b, inputs * nr);   // each panel's W_hh part, from depth I on
        ref int live = ref Gemm.Scratch<int>.Column(Math.Max(inputs, 1));
        var bih = biases[..gh];
        var bhh = biases.Slice(gh, gh);
        var hproj = s.Slice(L.Tmp + r0 * gh, n * gh);
        for (int t = 0; t < L.Time; t++)
        {
            var x = s.Slice(L.XT + (t * rows + r0) * inputs, n * inputs);
            var hPrev = s.Slice(L.H + t * step + r0 * h, n * h);
            var hNext = s.Slice(L.H + (t + 1) * step + r0 * h, n * h);
            var gates = s.Slice(L.G + (t * rows + r0) * gh, n * gh);
            var hn = s.Slice(L.Ex + t * step + r0 * h, n * h);
            for (int ir = 0; ir < n; ir += mr)
            {
                int m = Math.Min(mr, n - ir);
                if (LstmSteps.RowsInPlace<T>(m))
                {
                    // a single sequence (or a batch's last one or two): each row's xₜ and hₜ₋₁ read where they are, no
                    // packing, x's zeros skipped; each element the same chain as in a full panel
                    for (int r = ir; r < ir + m; r++)
                    {
                        LstmSteps.RowTimesPacked(ref x[r * inputs], ref x[r * inputs], 1, ref b, inputs, inputs, wide, ref gates[r * gh], gh, (t & 1) != 0);
                        if (zeroStart && t == 0) hproj.Slice(r * gh, gh).Clear();
                        else LstmSteps.RowTimesPacked(ref hPrev[r * h], ref hPrev[r * h], 1, ref bh, 0, h, wide, ref hproj[r * gh], gh, (t & 1) != 0);
                        Cell(gates.Slice(r * gh, gh), bih, hproj.Slice(r * gh, gh), bhh, hPrev.Slice(r * h, h), hn.Slice(r * h, h), hNext.Slice(r * h, h));
                        if (!lengths.IsEmpty && t >= lengths[r0 + r]) hPrev.Slice(r * h, h).CopyTo(hNext.Slice(r * h, h));
                    }
                    continue;
                }
                if (inputs > 0)
                {
                    Gemm.Packing<T>.PackA(ref MemoryMarshal.GetReference(x), false, n, inputs, ir, m, 0, inputs, ref packedA);
                    int count = SparseRows<T>.NonZeroColumns(ref x[ir * inputs], inputs, m, inputs, ref live);
                    var listed = count < inputs ? MemoryMarshal.CreateReadOnlySpan(ref live, count) : default;
                    LstmSteps.PanelTimesPacked(ref packedA, ref b, inputs, wide, ref gates[ir * gh], gh, m, add: false, live: listed,
                        sparse: count < inputs ? inputs : 0);
                }
                else gates.Slice(ir * gh, m * gh).Clear();
                if (zeroStart && t == 0) hproj.Slice(ir * gh, m * gh).Clear();   // W_hh·0: each chain's +0
                else
                {
                    Gemm.Packing<T>.PackA(ref MemoryMarshal.GetReference(hPrev), false, n, h, ir, m, 0, h, ref packedH);
                    LstmSteps.PanelTimesPacked(ref packedH, ref bh, h, wide, ref hproj[ir * gh], gh, m, add: false, reverse: (t & 1) != 0);
                }
                for (int r = ir; r < ir + m; r++)
                {
                    Cell(gates.Slice(r * gh, gh), bih, hproj.Slice(r * gh, gh), bhh, hPrev.Slice(r * h, h), hn.Slice(r * h, h), hNext.Slice(r * h, h));
                    if (!lengths.IsEmpty && t >= lengths[r0 + r]) hPrev.Slice(r * h, h).CopyTo(hNext.Slice(r * h, h));
                }
            }
        }
    }

    /// <summary>The backward steps for rows [r0, r0 + n), as <see cref="Recurrence{TCell}"/>.BackwardSteps: per panel of MR
    /// rows the cell's vector–Jacobian product (δ at the input side into the gates, δʰ into DGh, the direct term z ⊙ ∂C/∂hₜ
    /// into ∂C/∂hₜ₋₁), then ∂C/∂hₜ₋₁ += δʰₜ·W_hh for those rows; a padded row has δ = 0 and passes ∂C/∂h through.</summary>
    internal static void Backward<T>(Span<T> s, in RecurrentLayout L, ReadOnlySpan<T> packedB, ReadOnlySpan<T> dy, bool sequences,
        ReadOnlySpan<int> lengths, int r0, int n) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int rows = L.Rows, h = L.Hidden, gh = L.GH, step = L.Step, time = L.Time, block = n * h, mr = Gemm.MicroKernel<T>.MR;
        ref T packedA = ref Gemm.Scratch<T>.PackedA(mr * gh);
        ref T b = ref MemoryMarshal.GetReference(packedB);
        var dh = s.Slice(L.DA + r0 * h, block);
        var dNext = s.Slice(L.DB + r0 * h, block);
        int norms = L.Norms + (r0 == 0 ? 0 : time);
        dNext.Clear();
        for (int t = time - 1; t >= 0; t--)
        {
            Recurrence<GruCell>.IncomingGradient(dh, dNext, dy, sequences, lengths, r0, n, h, time, t);
            s[norms + t] = TensorPrimitives.SumOfSquares<T>(dh);   // the gradient-flow picture, ‖∂C/∂hₜ‖²
            var gates = s.Slice(L.G + (t * rows + r0) * gh, n * gh);
            var dgh = s.Slice(L.DGh + (t * rows + r0) * gh, n * gh);
            var hPrev = s.Slice(L.H + t * step + r0 * h, block);
            var hn = s.Slice(L.Ex + t * step + r0 * h, block);
            for (int ir = 0; ir < n; ir += mr)
            {
                int m = Math.Min(mr, n - ir);
                for (int r = ir; r < ir + m; r++)
                {
                    if (!lengths.IsEmpty && t >= lengths[r0 + r])
                    {
                        gates.Slice(r * gh, gh).Clear();
                        dgh.Slice(r * gh, gh).Clear();
                    }
                    else CellBack(gates.Slice(r * gh, gh), dgh.Slice(r * gh, gh), hn.Slice(r * h, h), hPrev.Slice(r * h, h), dh.Slice(r * h, h), dNext.Slice(r * h, h));
                }
                LstmSteps.PanelBack(dgh, n, gh, ir, m, ref packedA, ref b, dNext, dh, add: true, t, lengths, r0);
            }
        }
    }

    /// <summary>One row's cell. On entry <paramref name="gates"/> [3H] holds W_ih xₜ (plus b_ih when <paramref name="bih"/>
    /// is empty; else b_ih is added here first) and <paramref name="hproj"/> [3H] holds W_hh hₜ₋₁ (without b_hh, which is
    /// added here); on exit the gates hold r, z, n, <paramref name="hn"/> W_hn hₜ₋₁ + b_hn, and <paramref name="hNext"/>
    /// hₜ = n + z ⊙ (hₜ₋₁ − n) = (1 − z) ⊙ n + z ⊙ hₜ₋₁.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Cell<T>(Span<T> gates, ReadOnlySpan<T> bih, ReadOnlySpan<T> hproj, ReadOnlySpan<T> bhh, ReadOnlySpan<T> hPrev, Span<T> hn, Span<T> hNext)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!bih.IsEmpty) TensorPrimitives.Add(gates, bih, gates);   // lane by lane, the same sum at every width
        int h = hPrev.Length, j = 0;
        var row = new CellRow<T>(gates, hproj, bhh, hPrev, hn, hNext);
        // float in 512-bit vectors where AVX-512 runs (the runtime's Vector<T> stays 256 bits wide), then the runtime's
        // width: the same operations per unit at every width, so the same bits
        if (typeof(T) == typeof(float) && Vector512.IsHardwareAccelerated)
            j = CellUnits<Wide512<T>, Vector512<T>, T>(in row, h, j);
        if (VectorMath.Supported<T>())
            j = CellUnits<WideVector<T>, Vector<T>, T>(in row, h, j);
        for (; j < h; j++)
        {
            T pr = row.G(j) + (row.P(j) + row.B(j));
            T pz = row.G(h + j) + (row.P(h + j) + row.B(h + j));
            T hv = row.P(2 * h + j) + row.B(2 * h + j);
            T r = LstmSteps.Sigmoid(pr), z = LstmSteps.Sigmoid(pz);
            T nv = LstmSteps.Tanh(T.FusedMultiplyAdd(r, hv, row.G(2 * h + j)));
            row.G(j) = r;
            row.G(h + j) = z;
            row.G(2 * h + j) = nv;
            row.Hn(j) = hv;
            row.Next(j) = T.FusedMultiplyAdd(z, row.Prev(j) - nv, nv);
        }
    }

    /// <summary>One row's vector–Jacobian product. From ∂C/∂hₜ (<paramref name="dh"/>) and the forward pass's r, z, n
    /// (<paramref name="gates"/>) and W_hn hₜ₋₁ + b_hn (<paramref name="hn"/>): the gates become δ at the input side
    /// [δr, δz, δn], <paramref name="dgh"/> δʰ = [δr, δz, δn ⊙ r], and <paramref name="dPrev"/> the direct term z ⊙ ∂C/∂hₜ:
    /// <code>
    /// ∂C/∂z = ∂C/∂hₜ ⊙ (hₜ₋₁ − n),  ∂C/∂n = ∂C/∂hₜ ⊙ (1 − z),  δn = ∂C/∂n ⊙ (1 − n²)
    /// δz = z(1 − z) ⊙ ∂C/∂z,  δr = r(1 − r) ⊙ δn ⊙ (W_hn hₜ₋₁ + b_hn)
    /// </code></summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void CellBack<T>(Span<T> gates, Span<T> dgh, ReadOnlySpan<T> hn, ReadOnlySpan<T> hPrev, ReadOnlySpan<T> dh, Span<T> dPrev)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int h = hPrev.Length, j = 0;
        var row = new BackRow<T>(gates, dgh, hn, hPrev, dh, dPrev);
        if (typeof(T) == typeof(float) && Vector512.IsHardwareAccelerated)
            j = CellBackUnits<Wide512<T>, Vector512<T>, T>(in row, h, j);
        if (VectorMath.Supported<T>())
            j = CellBackUnits<WideVector<T>, Vector<T>, T>(in row, h, j);
        for (; j < h; j++)
        {
            T r = row.G(j), z = row.G(h + j), nv = row.G(2 * h + j), d = row.D(j);
            T dz = (row.Prev(j) - nv) * d;
            T dn = (T.One - z) * d;
            T c = (T.One - nv * nv) * dn;
            T dr = c * row.Hn(j);
            T gr = r * (T.One - r) * dr, gz = z * (T.One - z) * dz;
            row.G(j) = gr;
            row.G(h + j) = gz;
            row.G(2 * h + j) = c;
            row.H(j) = gr;
            row.H(h + j) = gz;
            row.H(2 * h + j) = c * r;
            row.Direct(j) = d * z;
        }
    }

    /// <summary><see cref="Cell{T}"/>'s vector loops over units [j, …) in whole vectors of width <typeparamref name="TW"/>;
    /// returns the units done. Two passes over the row, as the LSTM's cell: first r and z (the eˣ of two vectors of units'
    /// r and z side by side, <see cref="IVectorWidth{TV, T}.GateExp4"/>, so the core overlaps four chains) and n's
    /// pre-activation, then tanh of four vectors of n side by side and hₜ.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int CellUnits<TW, TV, T>(in CellRow<T> row, int h, int j)
        where TW : struct, IVectorWidth<TV, T>
        where TV : struct
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int w = TW.Count, start = j;
        var one = TW.Broadcast(T.One);
        var two = TW.Broadcast(T.One + T.One);
        for (; j + 2 * w <= h; j += 2 * w)
        {
            nuint u0 = (nuint)j, u1 = u0 + (nuint)w;
            TV r0 = Pre<TW, TV, T>(in row, u0), z0 = Pre<TW, TV, T>(in row, u0 + (nuint)h);
            TV r1 = Pre<TW, TV, T>(in row, u1), z1 = Pre<TW, TV, T>(in row, u1 + (nuint)h);
            TW.GateExp4(ref r0, ref z0, ref r1, ref z1);
            Gates<TW, TV, T>(in row, h, u0, TW.Divide(one, TW.Add(one, r0)), TW.Divide(one, TW.Add(one, z0)));   // σ = 1 / (1 + e⁻ˣ)
            Gates<TW, TV, T>(in row, h, u1, TW.Divide(one, TW.Add(one, r1)), TW.Divide(one, TW.Add(one, z1)));
        }
        for (; j + w <= h; j += w)
        {
            nuint u = (nuint)j;
            TV r = TW.GateExp(Pre<TW, TV, T>(in row, u)), z = TW.GateExp(Pre<TW, TV, T>(in row, u + (nuint)h));
            Gates<TW, TV, T>(in row, h, u, TW.Divide(one, TW.Add(one, r)), TW.Divide(one, TW.Add(one, z)));
        }
        ref T gn = ref Unsafe.Add(ref row.G(0), 2 * h);
        ref T gz = ref Unsafe.Add(ref row.G(0), h);
        int k = start;
        for (; k + 4 * w <= j; k += 4 * w)
        {
            nuint u0 = (nuint)k, u1 = u0 + (nuint)w, u2 = u1 + (nuint)w, u3 = u2 + (nuint)w;
            TV e0 = TW.Multiply(two, TW.Load(ref gn, u0)), e1 = TW.Multiply(two, TW.Load(ref gn, u1));
            TV e2 = TW.Multiply(two, TW.Load(ref gn, u2)), e3 = TW.Multiply(two, TW.Load(ref gn, u3));
            TW.GateExp4(ref e0, ref e1, ref e2, ref e3);
            Candidate<TW, TV, T>(in row, ref gn, ref gz, u0, TW.Subtract(one, TW.Divide(two, TW.Add(e0, one))));   // tanh = 1 − 2 / (e²ˣ + 1)
            Candidate<TW, TV, T>(in row, ref gn, ref gz, u1, TW.Subtract(one, TW.Divide(two, TW.Add(e1, one))));
            Candidate<TW, TV, T>(in row, ref gn, ref gz, u2, TW.Subtract(one, TW.Divide(two, TW.Add(e2, one))));
            Candidate<TW, TV, T>(in row, ref gn, ref gz, u3, TW.Subtract(one, TW.Divide(two, TW.Add(e3, one))));
        }
        for (; k < j; k += w)
        {
            nuint u = (nuint)k;
            TV e = TW.GateExp(TW.Multiply(two, TW.Load(ref gn, u)));
            Candidate<TW, TV, T>(in row, ref gn, ref gz, u, TW.Subtract(one, TW.Divide(two, TW.Add(e, one))));
        }
        return j;
    }

    /// <summary>−(W_i· xₜ + b_i· + (W_h· hₜ₋₁ + b_h·)) at unit offset u of the r or z block: the argument of σ's e⁻ˣ.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Pre<TW, TV, T>(in CellRow<T> row, nuint u)
        where TW : struct, IVectorWidth<TV, T>
        where TV : struct
        where T : unmanaged, IFloatingPointIeee754<T> =>
        TW.Negate(TW.Add(TW.Load(ref row.G(0), u), TW.Add(TW.Load(ref row.P(0), u), TW.Load(ref row.B(0), u))));

    /// <summary>Stores r and z at units u, W_hn hₜ₋₁ + b_hn, and n's pre-activation r ⊙ (W_hn hₜ₋₁ + b_hn) + W_in xₜ + b_in
    /// over n's gate block (the second pass takes its tanh).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Gates<TW, TV, T>(in CellRow<T> row, int h, nuint u, TV r, TV z)
        where TW : struct, IVectorWidth<TV, T>
        where TV : struct
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        nuint n = u + (nuint)(2 * h);
        TV hv = TW.Add(TW.Load(ref row.P(0), n), TW.Load(ref row.B(0), n));
        TW.Store(r, ref row.G(0), u);
        TW.Store(z, ref row.G(0), u + (nuint)h);
        TW.Store(hv, ref row.Hn(0), u);
        TW.Store(TW.Fma(r, hv, TW.Load(ref row.G(0), n)), ref row.G(0), n);
    }

    /// <summary>Stores n at units u and hₜ = n + z ⊙ (hₜ₋₁ − n).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Candidate<TW, TV, T>(in CellRow<T> row, ref T gn, ref T gz, nuint u, TV nv)
        where TW : struct, IVectorWidth<TV, T>
        where TV : struct
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        TW.Store(nv, ref gn, u);
        TW.Store(TW.Fma(TW.Load(ref gz, u), TW.Subtract(TW.Load(ref row.Prev(0), u), nv), nv), ref row.Next(0), u);
    }

    /// <summary><see cref="CellBack{T}"/>'s vector loop over units [j, …) in whole vectors of width <typeparamref name="TW"/>;
    /// returns the units done.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int CellBackUnits<TW, TV, T>(in BackRow<T> row, int h, int j)
        where TW : struct, IVectorWidth<TV, T>
        where TV : struct
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var one = TW.Broadcast(T.One);
        ref T g = ref row.G(0);
        ref T dg = ref row.H(0);
        nuint zb = (nuint)h, nb = (nuint)(2 * h);
        for (; j + TW.Count <= h; j += TW.Count)
        {
            nuint u = (nuint)j;
            TV r = TW.Load(ref g, u), z = TW.Load(ref g, u + zb), nv = TW.Load(ref g, u + nb), d = TW.Load(ref row.D(0), u);
            TV dz = TW.Multiply(TW.Subtract(TW.Load(ref row.Prev(0), u), nv), d);      // ∂C/∂z
            TV dn = TW.Multiply(TW.Subtract(one, z), d);                                // ∂C/∂n
            TV c = TW.Multiply(TW.Subtract(one, TW.Multiply(nv, nv)), dn);              // δn
            TV dr = TW.Multiply(c, TW.Load(ref row.Hn(0), u));                          // ∂C/∂r
            TV gr = TW.Multiply(TW.Multiply(r, TW.Subtract(one, r)), dr);               // δr
            TV gz = TW.Multiply(TW.Multiply(z, TW.Subtract(one, z)), dz);               // δz
            TW.Store(gr, ref g, u);
            TW.Store(gz, ref g, u + zb);
            TW.Store(c, ref g, u + nb);
            TW.Store(gr, ref dg, u);
            TW.Store(gz, ref dg, u + zb);
            TW.Store(TW.Multiply(c, r), ref dg, u + nb);                                // δn ⊙ r, the hidden side
            TW.Store(TW.Multiply(d, z), ref row.Direct(0), u);                          // z ⊙ ∂C/∂hₜ
        }
        return j;
    }

    /// <summary>The spans of one row's forward cell, as refs (a ref struct passed by reference to the width's loop).</summary>
    private readonly ref struct CellRow<T>(Span<T> gates, ReadOnlySpan<T> hproj, ReadOnlySpan<T> bhh, ReadOnlySpan<T> hPrev, Span<T> hn, Span<T> hNext)
    {
        private readonly Span<T> _gates = gates, _hn = hn, _next = hNext;
        private readonly ReadOnlySpan<T> _hproj = hproj, _bhh = bhh, _prev = hPrev;

        public ref T G(int i) => ref Unsafe.Add(ref MemoryMarshal.GetReference(_gates), i);
        public ref T P(int i) => ref Unsafe.Add(ref MemoryMarshal.GetReference(_hproj), i);
        public ref T B(int i) => ref Unsafe.Add(ref MemoryMarshal.GetReference(_bhh), i);
        public ref T Prev(int i) => ref Unsafe.Add(ref MemoryMarshal.GetReference(_prev), i);
        public ref T Hn(int i) => ref Unsafe.Add(ref MemoryMarshal.GetReference(_hn), i);
        public ref T Next(int i) => ref Unsafe.Add(ref MemoryMarshal.GetReference(_next), i);
    }

    /// <summary>The spans of one row's backward cell, as refs.</summary>
    private readonly ref struct BackRow<T>(Span<T> gates, Span<T> dgh, ReadOnlySpan<T> hn, ReadOnlySpan<T> hPrev, ReadOnlySpan<T> dh, Span<T> dPrev)
    {
        private readonly Span<T> _gates = gates, _dgh = dgh, _direct = dPrev;
        private readonly ReadOnlySpan<T> _hn = hn, _prev = hPrev, _dh = dh;

        public ref T G(int i) => ref Unsafe.Add(ref MemoryMarshal.GetReference(_gates), i);
        public ref T H(int i) => ref Unsafe.Add(ref MemoryMarshal.GetReference(_dgh), i);
        public ref T Hn(int i) => ref Unsafe.Add(ref MemoryMarshal.GetReference(_hn), i);
        public ref T Prev(int i) => ref Unsafe.Add(ref MemoryMarshal.GetReference(_prev), i);
        public ref T D(int i) => ref Unsafe.Add(ref MemoryMarshal.GetReference(_dh), i);
        public ref T Direct(int i) => ref Unsafe.Add(ref MemoryMarshal.GetReference(_direct), i);
    }
}
