using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using Backprop.Functional.Kernels;

namespace Backprop.Functional;

/// <summary>The R-operator of an <see cref="Rnn"/> (tanh or ReLU), for exact curvature products (<see cref="Curvature"/>):
/// the forward pass's tangent along (v, ẋ) and the backward pass differentiated along it, unrolled over the steps as
/// BPTT is. With zₜ = W_ih xₜ + b_ih + W_hh hₜ₋₁ + b_hh and hₜ = φ(zₜ):
/// <code>
/// forward:  żₜ = V_ih xₜ + W_ih ẋₜ + v_ih + v_hh + V_hh hₜ₋₁ + W_hh ḣₜ₋₁,   ḣₜ = φ′(zₜ) ⊙ żₜ
/// backward: gₜ = ∂C/∂hₜ = ∂C/∂yₜ + W_hhᵀδₜ₊₁,  δₜ = φ′ ⊙ gₜ
///           R{gₜ} = R{∂C/∂yₜ} + W_hhᵀR{δₜ₊₁} + V_hhᵀδₜ₊₁,  R{δₜ} = φ′ ⊙ R{gₜ} + R{φ′} ⊙ gₜ
///           Hv: W_ih Σ R{δₜ}xₜᵀ + δₜẋₜᵀ;  W_hh Σ R{δₜ}hₜ₋₁ᵀ + δₜḣₜ₋₁ᵀ;  b_ih, b_hh Σ R{δₜ};  h₀ Σ_rows R{g₀}
/// </code>
/// with R{φ′} = −2hₜ ⊙ ḣₜ for tanh (φ′ = 1 − h²) and 0 for ReLU (φ″ = 0 off the kink). ḣ₀ is v's h₀ slice for a learned
/// initial state and 0 otherwise (zero, or carried from the previous batch: data, not a function of θ).
/// <para>The primal scratch: the recurrent Backward overwrites the gates (with δ) and the time-major input (with ∂C/∂x),
/// and the Gauss–Newton and Fisher products run that Backward on it; so <see cref="Forward{T}"/> first runs the layer's
/// Forward again over its own scratch (bit for bit the values <see cref="Curvature.Forward{T}"/> wrote), and every
/// product starts from an intact forward pass (the tangent passes give the scratch and Y writable for this).</para>
/// <para>Tangent scratch (the primal layout's offsets): ẋ time-major at XT, ḣ₀…ḣ_T at H; backward, gₜ, R{gₜ}, δₜ, R{δₜ}
/// in the four [rows × H] blocks of the per-step temporary (Tmp).</para>
/// <para>Equal lengths only: with <c>Lengths</c> set both throw <see cref="NotSupportedException"/>. Runs on the calling
/// thread's GEMMs (the row split of the primal passes is not used).</para></summary>
internal static class RnnTangent
{
    internal static void Forward<T>(Rnn layer, scoped in TangentPass<T> p) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int inputs = layer.Inputs, hidden = layer.Hidden, rows = p.Rows, time = p.Time;
        var L = Recurrence<RnnCell<TanhPhi>>.Layout(inputs, hidden, rows, time);
        int step = L.Step;
        var s = p.Scratch;
        var d = p.ScratchDot;
        var v = new Slices<T>(p.V, inputs, hidden, 1);
        var w = new Slices<T>(p.Theta, inputs, hidden, 1);
        bool hasXDot = !p.XDot.IsEmpty;
        Restart(layer, in p, L, layer.InitialState, hasCell: false, in v);

        var biasDot = d.Slice(L.Tmp, hidden);
        TensorPrimitives.Add(v.Bih, v.Bhh, biasDot);
        for (int t = 0; t < time; t++)
        {
            var x = s.Slice(L.XT + t * rows * inputs, rows * inputs);
            var h = s.Slice(L.H + (t + 1) * step, step);
            var hPrev = s.Slice(L.H + t * step, step);
            var hDotPrev = d.Slice(L.H + t * step, step);
            var hDot = d.Slice(L.H + (t + 1) * step, step);   // żₜ, then ḣₜ in place
            for (int r = 0; r < rows; r++) biasDot.CopyTo(hDot.Slice(r * hidden, hidden));
            Gemm.Multiply(x, false, v.Wih, true, hDot, rows, hidden, inputs, accumulate: true);
            if (hasXDot) Gemm.Multiply<T>(d.Slice(L.XT + t * rows * inputs, rows * inputs), false, w.Wih, true, hDot, rows, hidden, inputs, accumulate: true);
            Gemm.Multiply(hPrev, false, v.Whh, true, hDot, rows, hidden, hidden, accumulate: true);
            Gemm.Multiply<T>(hDotPrev, false, w.Whh, true, hDot, rows, hidden, hidden, accumulate: true);
            TimesDerivative(layer.Activation, h, hDot);
        }

        if (layer.ReturnSequences)
        {
            for (int t = 0; t < time; t++)
                for (int r = 0; r < rows; r++)
                    d.Slice(L.H + (t + 1) * step + r * hidden, hidden).CopyTo(p.YDot.Slice((r * time + t) * hidden, hidden));
        }
        else d.Slice(L.H + time * step, step).CopyTo(p.YDot);
    }

    internal static void Backward<T>(Rnn layer, scoped in TangentBackwardPass<T> p) where T : unmanaged, IFloatingPointIeee754<T>
    {
        RequireEqualLengths(p.Lengths);
        int inputs = layer.Inputs, hidden = layer.Hidden, rows = p.Rows, time = p.Time;
        var L = Recurrence<RnnCell<TanhPhi>>.Layout(inputs, hidden, rows, time);
        int step = L.Step;
        var s = p.Scratch;
        var d = p.ScratchDot;
        var v = new Slices<T>(p.V, inputs, hidden, 1);
        var w = new Slices<T>(p.Theta, inputs, hidden, 1);
        bool hasXDot = !p.XDot.IsEmpty, sequences = layer.ReturnSequences;

        var hv = p.DThetaDot;
        hv.Clear();
        var hvWih = hv[..(hidden * inputs)];
        var hvWhh = hv.Slice(hidden * inputs, hidden * hidden);
        var hvBih = hv.Slice(hidden * (inputs + hidden), hidden);
        var hvBhh = hv.Slice(hidden * (inputs + hidden + 1), hidden);

        var g = d.Slice(L.Tmp, step);
        var rg = d.Slice(L.Tmp + step, step);
        var delta = d.Slice(L.Tmp + 2 * step, step);
        var rDelta = d.Slice(L.Tmp + 3 * step, step);
        g.Clear();
        rg.Clear();
        for (int t = time - 1; t >= 0; t--)
        {
            // gₜ and R{gₜ}: from the step after, plus the loss's own if it sees hₜ.
            if (sequences)
            {
                for (int r = 0; r < rows; r++)
                {
                    int at = (r * time + t) * hidden;
                    TensorPrimitives.Add(g.Slice(r * hidden, hidden), p.DY.Slice(at, hidden), g.Slice(r * hidden, hidden));
                    TensorPrimitives.Add(rg.Slice(r * hidden, hidden), p.DYDot.Slice(at, hidden), rg.Slice(r * hidden, hidden));
                }
            }
            else if (t == time - 1)
            {
                TensorPrimitives.Add(g, p.DY[..step], g);
                TensorPrimitives.Add(rg, p.DYDot[..step], rg);
            }

            var h = s.Slice(L.H + (t + 1) * step, step);
            var hDot = d.Slice(L.H + (t + 1) * step, step);
            var hPrev = s.Slice(L.H + t * step, step);
            var hDotPrev = d.Slice(L.H + t * step, step);
            var x = s.Slice(L.XT + t * rows * inputs, rows * inputs);
            ErrorAndTangent(layer.Activation, h, hDot, g, rg, delta, rDelta);

            // BP4 and BP3 differentiated, summed over the steps.
            Gemm.Multiply<T>(rDelta, true, x, false, hvWih, hidden, inputs, rows, accumulate: true);
            if (hasXDot) Gemm.Multiply<T>(delta, true, d.Slice(L.XT + t * rows * inputs, rows * inputs), false, hvWih, hidden, inputs, rows, accumulate: true);
            Gemm.Multiply<T>(rDelta, true, hPrev, false, hvWhh, hidden, hidden, rows, accumulate: true);
            Gemm.Multiply<T>(delta, true, hDotPrev, false, hvWhh, hidden, hidden, rows, accumulate: true);
            for (int r = 0; r < rows; r++) TensorPrimitives.Add(hvBih, rDelta.Slice(r * hidden, hidden), hvBih);

            // ∂C/∂xₜ = W_ihᵀδₜ and R{∂C/∂xₜ} = W_ihᵀR{δₜ} + V_ihᵀδₜ, row by row into the batch-first edge.
            if (!p.DX.IsEmpty)
                for (int r = 0; r < rows; r++)
                {
                    int at = (r * time + t) * inputs;
                    var dr = delta.Slice(r * hidden, hidden);
                    Gemm.Multiply<T>(dr, false, w.Wih, false, p.DX.Slice(at, inputs), 1, inputs, hidden, accumulate: false);
                    Gemm.Multiply<T>(rDelta.Slice(r * hidden, hidden), false, w.Wih, false, p.DXDot.Slice(at, inputs), 1, inputs, hidden, accumulate: false);
                    Gemm.Multiply<T>(dr, false, v.Wih, false, p.DXDot.Slice(at, inputs), 1, inputs, hidden, accumulate: true);
                }

            // The recursion in time: gₜ₋₁ = W_hhᵀδₜ, R{gₜ₋₁} = W_hhᵀR{δₜ} + V_hhᵀδₜ.
            Gemm.Multiply<T>(delta, false, w.Whh, false, g, rows, hidden, hidden, accumulate: false);
            Gemm.Multiply<T>(rDelta, false, w.Whh, false, rg, rows, hidden, hidden, accumulate: false);
            Gemm.Multiply<T>(delta, false, v.Whh, false, rg, rows, hidden, hidden, accumulate: true);
        }
        hvBih.CopyTo(hvBhh);
        if (layer.InitialState == InitialState.Learned)
        {
            var hvH0 = hv.Slice(hidden * (inputs + hidden + 2), hidden);
            for (int r = 0; r < rows; r++) TensorPrimitives.Add(hvH0, rg.Slice(r * hidden, hidden), hvH0);
        }
    }

    /// <summary>u ← φ′ ⊙ u with φ′ from the output h (tanh: 1 − h²; ReLU: h &gt; 0, φ′(0) = 0 as PyTorch's).</summary>
    private static void TimesDerivative<T>(ActivationKind phi, ReadOnlySpan<T> h, Span<T> u) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (phi == ActivationKind.ReLU)
        {
            for (int i = 0; i < u.Length; i++)
                if (!(h[i] > T.Zero)) u[i] = T.Zero;
        }
        else
            for (int i = 0; i < u.Length; i++) u[i] *= T.One - h[i] * h[i];
    }

    /// <summary>δ = φ′ ⊙ g and R{δ} = φ′ ⊙ R{g} + R{φ′} ⊙ g (tanh: R{φ′} = −2h ⊙ ḣ; ReLU: 0).</summary>
    private static void ErrorAndTangent<T>(ActivationKind phi, ReadOnlySpan<T> h, ReadOnlySpan<T> hDot, ReadOnlySpan<T> g,
        ReadOnlySpan<T> rg, Span<T> delta, Span<T> rDelta) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (phi == ActivationKind.ReLU)
        {
            for (int i = 0; i < g.Length; i++)
            {
                bool on = h[i] > T.Zero;
                delta[i] = on ? g[i] : T.Zero;
                rDelta[i] = on ? rg[i] : T.Zero;
            }
        }
        else
        {
            T two = T.One + T.One;
            for (int i = 0; i < g.Length; i++)
            {
                T d1 = T.One - h[i] * h[i];
                delta[i] = d1 * g[i];
                rDelta[i] = d1 * rg[i] - two * h[i] * hDot[i] * g[i];
            }
        }
    }

    /// <summary>The start every cell's tangent pass shares: the layer's Forward again over its own scratch (a previous
    /// product's Backward may have overwritten it; the same values bit for bit), ẋ time-major at XT when there is one, and
    /// the initial states' tangents at H (and C): v's h₀ (c₀) slice on every row for a learned state, 0 otherwise.</summary>
    internal static void Restart<T>(Layer layer, scoped in TangentPass<T> p, in RecurrentLayout L, InitialState initial, bool hasCell,
        scoped in Slices<T> v) where T : unmanaged, IFloatingPointIeee754<T>
    {
        RequireEqualLengths(p.Lengths);
        int rows = p.Rows, time = p.Time, hidden = L.Hidden, step = L.Step;
        var again = new ForwardPass<T>
        {
            Theta = p.Theta, X = p.X, Y = p.Y, Scratch = p.Scratch, LayerScratch = p.LayerScratch,
            Rows = rows, Time = time, Lengths = p.Lengths, Threads = p.Threads,
        };
        layer.Forward(in again);   // one virtual call per batch
        var d = p.ScratchDot;
        if (!p.XDot.IsEmpty) ToTimeMajor(p.XDot, d.Slice(L.XT, time * rows * L.Inputs), rows, time, L.Inputs);
        var hDot0 = d.Slice(L.H, step);
        var cDot0 = hasCell ? d.Slice(L.C, step) : default;
        if (initial != InitialState.Learned)
        {
            hDot0.Clear();
            cDot0.Clear();
            return;
        }
        for (int r = 0; r < rows; r++)
        {
            v.H0.CopyTo(hDot0.Slice(r * hidden, hidden));
            if (hasCell) v.C0.CopyTo(cDot0.Slice(r * hidden, hidden));
        }
    }

    internal static void RequireEqualLengths(ReadOnlySpan<int> lengths)
    {
        if (!lengths.IsEmpty)
            throw new NotSupportedException("curvature products through a recurrent layer take sequences of equal length; this batch has per-sequence lengths");
    }

    /// <summary>[rows × time × n] → [time × rows × n].</summary>
    internal static void ToTimeMajor<T>(ReadOnlySpan<T> x, Span<T> xt, int rows, int time, int n)
    {
        for (int r = 0; r < rows; r++)
            for (int t = 0; t < time; t++)
                x.Slice((r * time + t) * n, n).CopyTo(xt.Slice((t * rows + r) * n, n));
    }

    /// <summary>A recurrent layer's tensors within its θ (or v) slice: weight_ih [GH × I], weight_hh [GH × H], bias_ih,
    /// bias_hh [GH], then h₀ (and c₀) [H] when learned (empty otherwise).</summary>
    internal readonly ref struct Slices<T>
    {
        public Slices(ReadOnlySpan<T> theta, int inputs, int hidden, int gates)
        {
            int gh = gates * hidden, o = gh * inputs;
            Wih = theta[..o];
            Whh = theta.Slice(o, gh * hidden); o += gh * hidden;
            Bih = theta.Slice(o, gh); o += gh;
            Bhh = theta.Slice(o, gh); o += gh;
            H0 = theta.Length >= o + hidden ? theta.Slice(o, hidden) : default; o += hidden;
            C0 = theta.Length >= o + hidden ? theta.Slice(o, hidden) : default;
        }

        public ReadOnlySpan<T> Wih { get; }
        public ReadOnlySpan<T> Whh { get; }
        public ReadOnlySpan<T> Bih { get; }
        public ReadOnlySpan<T> Bhh { get; }
        public ReadOnlySpan<T> H0 { get; }
        public ReadOnlySpan<T> C0 { get; }
    }
}
