using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Backprop.Functional.Kernels;

namespace Backprop.Functional;

/// <summary>The Elman RNN's time steps (see <see cref="Rnn"/> for the equations) on the LSTM's kernels, as
/// <see cref="GruSteps"/> runs the GRU's: the weights are packed once per pass into the GEMM micro-kernel's B̃ layout
/// (forward [W_ih | W_hh] as B̃ of [xₜ | hₜ₋₁]·[W_ih | W_hh]ᵀ [(I + H) × H], one product of depth I + H as the LSTM's;
/// backward W_hh as B̃ of δₜ·W_hh [H × H]), and each panel of MR rows runs its product and then its cell
/// hₜ = φ(· + b_ih + b_hh) while the panel's row of pre-activations is in L1. The forward steps run at any number of rows
/// (one or two rows of a panel through <see cref="LstmSteps.RowTimesPacked{T}"/>, x's zeros skipped), so a sequence gets
/// the same bits alone as in a batch; the backward steps from <see cref="Recurrence{TCell}"/>'s TransposeRows rows,
/// below that the generic steps with <see cref="RnnCell{TPhi}.StepBack"/>, the same element-wise arithmetic. Before, x·W_ihᵀ was one GEMM over every
/// step up front and each step's product packed its weights again inside a generic GEMM (W_hhᵀ forward, W_hh backward).</summary>
internal static class RnnSteps
{
    /// <summary>Values the packed weights take: B̃ of [xₜ | hₜ₋₁]·[W_ih | W_hh]ᵀ [(I + H) × H] (<see cref="LstmSteps.PackForward"/>
    /// with one gate block) or of δ·W_hh [H × H], whichever is larger.</summary>
    internal static int PackedLength(int inputs, int hidden) =>
        checked(LstmSteps.RoundUp(hidden, LstmSteps.MaxPanel) * Math.Max(inputs + hidden, hidden));

    /// <summary>The forward steps for rows [r0, r0 + n), x time-major in the scratch: per panel of MR rows, the
    /// pre-activations [xₜ | hₜ₋₁]·[W_ih | W_hh]ᵀ as one product of depth I + H (the depths of x that are 0 in every row of
    /// the panel skipped; with <paramref name="zeroStart"/>, h₀ = 0, the first step stops at depth I), then each row's
    /// cell (<see cref="Cell{T, TPhi}"/>, which adds <paramref name="bias"/> = b_ih + b_hh); padded rows hold their state.
    /// The gates keep hₜ for the backward pass (φ′ from the output).</summary>
    internal static void Forward<T, TPhi>(Span<T> s, in RecurrentLayout L, ReadOnlySpan<T> packedB, ReadOnlySpan<T> bias,
        ReadOnlySpan<int> lengths, int r0, int n, bool zeroStart)
        where T : unmanaged, IFloatingPointIeee754<T> where TPhi : struct, IRnnPhi
    {
        int rows = L.Rows, h = L.Hidden, step = L.Step, inputs = L.Inputs, wide = inputs + h, mr = Gemm.MicroKernel<T>.MR;
        ref T packedA = ref Gemm.Scratch<T>.PackedA(mr * wide);
        ref T packedH = ref Unsafe.Add(ref packedA, (nint)mr * inputs);   // the panel's hₜ₋₁: depth I on
        ref T b = ref MemoryMarshal.GetReference(packedB);
        ref int live = ref Gemm.Scratch<int>.Column(Math.Max(inputs, 1));
        for (int t = 0; t < L.Time; t++)
        {
            var x = s.Slice(L.XT + (t * rows + r0) * inputs, n * inputs);
            var hPrev = s.Slice(L.H + t * step + r0 * h, n * h);
            var hNext = s.Slice(L.H + (t + 1) * step + r0 * h, n * h);
            var gates = s.Slice(L.G + (t * rows + r0) * h, n * h);
            bool skipH = zeroStart && t == 0;
            for (int ir = 0; ir < n; ir += mr)
            {
                int m = Math.Min(mr, n - ir);
                if (LstmSteps.RowsInPlace<T>(m))
                {
                    // a single sequence (or a batch's last one or two): each row's [xₜ | hₜ₋₁] read where it is, no packing
                    for (int r = ir; r < ir + m; r++)
                        LstmSteps.RowTimesPacked(ref x[r * inputs], ref hPrev[r * h], 1, ref b, inputs, skipH ? inputs : wide, wide, ref gates[r * h], h, (t & 1) != 0);
                }
                else
                {
                    Gemm.Packing<T>.PackA(ref MemoryMarshal.GetReference(x), false, n, inputs, ir, m, 0, inputs, ref packedA);
                    if (!skipH) Gemm.Packing<T>.PackA(ref MemoryMarshal.GetReference(hPrev), false, n, h, ir, m, 0, h, ref packedH);
                    int count = SparseRows<T>.NonZeroColumns(ref x[ir * inputs], inputs, m, inputs, ref live);
                    var listed = count < inputs ? MemoryMarshal.CreateReadOnlySpan(ref live, count) : default;
                    LstmSteps.PanelTimesPacked(ref packedA, ref b, skipH ? inputs : wide, wide, ref gates[ir * h], h, m, add: false, live: listed,
                        sparse: count < inputs ? inputs : 0);
                }
                for (int r = ir; r < ir + m; r++)
                {
                    var row = gates.Slice(r * h, h);
                    Cell<T, TPhi>(row, bias);
                    if (!lengths.IsEmpty && t >= lengths[r0 + r]) hPrev.Slice(r * h, h).CopyTo(hNext.Slice(r * h, h));
                    else row.CopyTo(hNext.Slice(r * h, h));
                }
            }
        }
    }

    /// <summary>The backward steps for rows [r0, r0 + n), as <see cref="Recurrence{TCell}"/>.BackwardSteps: per panel of MR
    /// rows δₜ = ∂C/∂hₜ ⊙ φ′ into the gates (<see cref="CellBack{T, TPhi}"/>), then ∂C/∂hₜ₋₁ = δₜ·W_hh for those rows (BP2 in
    /// time); a padded row has δ = 0 and passes ∂C/∂h through.</summary>
    internal static void Backward<T, TPhi>(Span<T> s, in RecurrentLayout L, ReadOnlySpan<T> packedB, ReadOnlySpan<T> dy, bool sequences,
        ReadOnlySpan<int> lengths, int r0, int n)
        where T : unmanaged, IFloatingPointIeee754<T> where TPhi : struct, IRnnPhi
    {
        int rows = L.Rows, h = L.Hidden, time = L.Time, block = n * h, mr = Gemm.MicroKernel<T>.MR;
        ref T packedA = ref Gemm.Scratch<T>.PackedA(mr * h);
        ref T b = ref MemoryMarshal.GetReference(packedB);
        var dh = s.Slice(L.DA + r0 * h, block);
        var dNext = s.Slice(L.DB + r0 * h, block);
        var temp = s.Slice(L.Tmp + r0 * 4 * h, h);   // φ′'s room (the generic steps' per-row temporary, unused here)
        int norms = L.Norms + (r0 == 0 ? 0 : time);
        dNext.Clear();
        for (int t = time - 1; t >= 0; t--)
        {
            Recurrence<RnnCell<TPhi>>.IncomingGradient(dh, dNext, dy, sequences, lengths, r0, n, h, time, t);
            s[norms + t] = TensorPrimitives.SumOfSquares<T>(dh);   // the gradient-flow picture, ‖∂C/∂hₜ‖²
            var gates = s.Slice(L.G + (t * rows + r0) * h, n * h);
            for (int ir = 0; ir < n; ir += mr)
            {
                int m = Math.Min(mr, n - ir);
                for (int r = ir; r < ir + m; r++)
                {
                    if (!lengths.IsEmpty && t >= lengths[r0 + r]) gates.Slice(r * h, h).Clear();
                    else CellBack<T, TPhi>(gates.Slice(r * h, h), dh.Slice(r * h, h), temp);
                }
                LstmSteps.PanelBack(gates, n, h, ir, m, ref packedA, ref b, dNext, dh, add: false, t, lengths, r0);
            }
        }
    }

    /// <summary>One row's cell: <paramref name="gates"/> [H] holds [xₜ | hₜ₋₁]·[W_ih | W_hh]ᵀ on entry and
    /// hₜ = φ(· + b_ih + b_hh) on exit (<paramref name="bias"/> the summed biases). tanh in one vectorised pass, as the GRU's
    /// candidate: tanh v = 1 − 2 / (e²ᵛ + 1) with the cells' eˣ, four vectors' chains side by side; a unit's arithmetic
    /// depends only on its index, so a row gives the same bits alone or in any panel.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Cell<T, TPhi>(Span<T> gates, ReadOnlySpan<T> bias)
        where T : unmanaged, IFloatingPointIeee754<T> where TPhi : struct, IRnnPhi
    {
        if (typeof(TPhi) != typeof(TanhPhi))
        {
            TensorPrimitives.Add(gates, bias, gates);   // lane by lane, the same sum at every width
            TPhi.Apply(gates);
            return;
        }
        int h = gates.Length, j = 0;
        ref T g = ref MemoryMarshal.GetReference(gates);
        ref T b = ref MemoryMarshal.GetReference(bias);
        // float in 512-bit vectors where AVX-512 runs (the runtime's Vector<T> stays 256 bits wide), then the runtime's
        // width: the same operations per unit at every width, so the same bits
        if (typeof(T) == typeof(float) && Vector512.IsHardwareAccelerated)
            j = TanhUnits<Wide512<T>, Vector512<T>, T>(ref g, ref b, h, j);
        if (VectorMath.Supported<T>())
            j = TanhUnits<WideVector<T>, Vector<T>, T>(ref g, ref b, h, j);
        for (; j < h; j++)
            Unsafe.Add(ref g, j) = LstmSteps.Tanh(Unsafe.Add(ref g, j) + Unsafe.Add(ref b, j));
    }

    private static int TanhUnits<TW, TV, T>(ref T g, ref T b, int h, int j)
        where TW : struct, IVectorWidth<TV, T>
        where TV : struct
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int w = TW.Count;
        var one = TW.Broadcast(T.One);
        var two = TW.Broadcast(T.One + T.One);
        for (; j + 4 * w <= h; j += 4 * w)
        {
            nuint u0 = (nuint)j, u1 = u0 + (nuint)w, u2 = u1 + (nuint)w, u3 = u2 + (nuint)w;
            TV e0 = TW.Multiply(two, TW.Add(TW.Load(ref g, u0), TW.Load(ref b, u0)));
            TV e1 = TW.Multiply(two, TW.Add(TW.Load(ref g, u1), TW.Load(ref b, u1)));
            TV e2 = TW.Multiply(two, TW.Add(TW.Load(ref g, u2), TW.Load(ref b, u2)));
            TV e3 = TW.Multiply(two, TW.Add(TW.Load(ref g, u3), TW.Load(ref b, u3)));
            TW.GateExp4(ref e0, ref e1, ref e2, ref e3);
            TW.Store(TW.Subtract(one, TW.Divide(two, TW.Add(e0, one))), ref g, u0);
            TW.Store(TW.Subtract(one, TW.Divide(two, TW.Add(e1, one))), ref g, u1);
            TW.Store(TW.Subtract(one, TW.Divide(two, TW.Add(e2, one))), ref g, u2);
            TW.Store(TW.Subtract(one, TW.Divide(two, TW.Add(e3, one))), ref g, u3);
        }
        for (; j + w <= h; j += w)
        {
            nuint u = (nuint)j;
            TV e = TW.GateExp(TW.Multiply(two, TW.Add(TW.Load(ref g, u), TW.Load(ref b, u))));
            TW.Store(TW.Subtract(one, TW.Divide(two, TW.Add(e, one))), ref g, u);
        }
        return j;
    }

    /// <summary>One row's vector–Jacobian product: <paramref name="gates"/> [H] holds hₜ on entry and δₜ = ∂C/∂hₜ ⊙ φ′(hₜ) on
    /// exit (φ′ from the output: 1 − hₜ² for tanh, in one pass, the same operations as <see cref="TanhPhi.Back{T}"/>;
    /// [hₜ &gt; 0] for ReLU, through <see cref="ReluPhi.Back{T}"/>, which overwrites <paramref name="dh"/> with δₜ too).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void CellBack<T, TPhi>(Span<T> gates, Span<T> dh, Span<T> temp)
        where T : unmanaged, IFloatingPointIeee754<T> where TPhi : struct, IRnnPhi
    {
        if (typeof(TPhi) != typeof(TanhPhi))
        {
            TPhi.Back<T>(gates, dh, temp[..dh.Length]);
            dh.CopyTo(gates);
            return;
        }
        int h = gates.Length, j = 0;
        ref T g = ref MemoryMarshal.GetReference(gates);
        ref T d = ref MemoryMarshal.GetReference(dh);
        if (typeof(T) == typeof(float) && Vector512.IsHardwareAccelerated)
            j = TanhBackUnits<Wide512<T>, Vector512<T>, T>(ref g, ref d, h, j);
        if (VectorMath.Supported<T>())
            j = TanhBackUnits<WideVector<T>, Vector<T>, T>(ref g, ref d, h, j);
        for (; j < h; j++)
        {
            T y = Unsafe.Add(ref g, j);
            Unsafe.Add(ref g, j) = Unsafe.Add(ref d, j) * (T.One - y * y);
        }
    }

    private static int TanhBackUnits<TW, TV, T>(ref T g, ref T d, int h, int j)
        where TW : struct, IVectorWidth<TV, T>
        where TV : struct
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int w = TW.Count;
        var one = TW.Broadcast(T.One);
        for (; j + w <= h; j += w)
        {
            nuint u = (nuint)j;
            TV y = TW.Load(ref g, u);
            TW.Store(TW.Multiply(TW.Load(ref d, u), TW.Subtract(one, TW.Multiply(y, y))), ref g, u);
        }
        return j;
    }
}
