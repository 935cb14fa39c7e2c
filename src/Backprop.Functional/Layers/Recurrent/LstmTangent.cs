using System.Numerics;
using System.Numerics.Tensors;
using Backprop.Functional.Kernels;

namespace Backprop.Functional;

/// <summary>The R-operator of an <see cref="Lstm"/> (see <see cref="RnnTangent"/> for the driver, the scratch and the
/// limits, which are the same). With the gates i, f, g, o (σ, σ, tanh, σ of zₜ = W_ih xₜ + b_ih + W_hh hₜ₋₁ + b_hh),
/// cₜ = f ⊙ cₜ₋₁ + i ⊙ g, kₜ = tanh cₜ, hₜ = o ⊙ kₜ:
/// <code>
/// forward:  żₜ as the Rnn's; i̇ = i(1 − i) ż_i, ḟ, ȯ likewise, ġ = (1 − g²) ż_g
///           ċₜ = ḟ cₜ₋₁ + f ċₜ₋₁ + i̇ g + i ġ,   k̇ = (1 − k²) ċₜ,   ḣₜ = ȯ k + o k̇
/// backward: Gc = ∂C/∂cₜ (from the step after) + gₕ o (1 − k²)
///           δo = gₕ k o(1 − o), δi = Gc g i(1 − i), δg = Gc i (1 − g²), δf = Gc cₜ₋₁ f(1 − f)
///           ∂C/∂cₜ₋₁ = Gc f,   ∂C/∂hₜ₋₁ = W_hhᵀδ
/// </code>
/// and every line differentiated by the product rule (R{σ′} = ṡ(1 − 2s) for a σ gate s, R{1 − g²} = −2gġ,
/// R{1 − k²} = −2k k̇). Tangent scratch: ẋ at XT, the gates' tangents i̇ ḟ ġ ȯ at G, ḣ at H, ċ at C; backward, δ in the
/// tangent's Tmp and R{δ} in the primal's (dead after the forward pass), gₕ, R{gₕ}, Gc, R{Gc} and a temporary in the
/// tangent's DA, DB, DC and D0 blocks.</summary>
internal static class LstmTangent
{
    internal static void Forward<T>(Lstm layer, scoped in TangentPass<T> p) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int inputs = layer.Inputs, hidden = layer.Hidden, rows = p.Rows, time = p.Time, gh = 4 * hidden;
        var L = Recurrence<LstmCell>.Layout(inputs, hidden, rows, time);
        int step = L.Step;
        var s = p.Scratch;
        var d = p.ScratchDot;
        var v = new RnnTangent.Slices<T>(p.V, inputs, hidden, 4);
        var w = new RnnTangent.Slices<T>(p.Theta, inputs, hidden, 4);
        bool hasXDot = !p.XDot.IsEmpty;
        RnnTangent.Restart(layer, in p, L, layer.InitialState, hasCell: true, in v);

        var biasDot = d.Slice(L.Tmp, gh);
        TensorPrimitives.Add(v.Bih, v.Bhh, biasDot);
        for (int t = 0; t < time; t++)
        {
            var gDot = d.Slice(L.G + t * rows * gh, rows * gh);   // żₜ, then the gates' tangents in place
            for (int r = 0; r < rows; r++) biasDot.CopyTo(gDot.Slice(r * gh, gh));
            Gemm.Multiply(s.Slice(L.XT + t * rows * inputs, rows * inputs), false, v.Wih, true, gDot, rows, gh, inputs, accumulate: true);
            if (hasXDot) Gemm.Multiply<T>(d.Slice(L.XT + t * rows * inputs, rows * inputs), false, w.Wih, true, gDot, rows, gh, inputs, accumulate: true);
            Gemm.Multiply(s.Slice(L.H + t * step, step), false, v.Whh, true, gDot, rows, gh, hidden, accumulate: true);
            Gemm.Multiply<T>(d.Slice(L.H + t * step, step), false, w.Whh, true, gDot, rows, gh, hidden, accumulate: true);
            var gates = s.Slice(L.G + t * rows * gh, rows * gh);
            for (int r = 0; r < rows; r++)
                for (int j = 0; j < hidden; j++)
                {
                    int at = r * gh + j, st = r * hidden + j;
                    T i = gates[at], f = gates[at + hidden], g = gates[at + 2 * hidden], o = gates[at + 3 * hidden];
                    T di = i * (T.One - i) * gDot[at], df = f * (T.One - f) * gDot[at + hidden];
                    T dg = (T.One - g * g) * gDot[at + 2 * hidden], dO = o * (T.One - o) * gDot[at + 3 * hidden];
                    gDot[at] = di;
                    gDot[at + hidden] = df;
                    gDot[at + 2 * hidden] = dg;
                    gDot[at + 3 * hidden] = dO;
                    T cPrev = s[L.C + t * step + st], cDotPrev = d[L.C + t * step + st];
                    T cDot = df * cPrev + f * cDotPrev + di * g + i * dg;
                    T k = s[L.Ex + t * step + st];
                    d[L.C + (t + 1) * step + st] = cDot;
                    d[L.H + (t + 1) * step + st] = dO * k + o * (T.One - k * k) * cDot;
                }
        }

        if (layer.ReturnSequences)
        {
            for (int t = 0; t < time; t++)
                for (int r = 0; r < rows; r++)
                    d.Slice(L.H + (t + 1) * step + r * hidden, hidden).CopyTo(p.YDot.Slice((r * time + t) * hidden, hidden));
        }
        else d.Slice(L.H + time * step, step).CopyTo(p.YDot);
    }

    internal static void Backward<T>(Lstm layer, scoped in TangentBackwardPass<T> p) where T : unmanaged, IFloatingPointIeee754<T>
    {
        RnnTangent.RequireEqualLengths(p.Lengths);
        int inputs = layer.Inputs, hidden = layer.Hidden, rows = p.Rows, time = p.Time, gh = 4 * hidden;
        var L = Recurrence<LstmCell>.Layout(inputs, hidden, rows, time);
        int step = L.Step;
        var s = p.Scratch;
        var d = p.ScratchDot;
        var v = new RnnTangent.Slices<T>(p.V, inputs, hidden, 4);
        var w = new RnnTangent.Slices<T>(p.Theta, inputs, hidden, 4);
        bool hasXDot = !p.XDot.IsEmpty, sequences = layer.ReturnSequences;

        var hv = p.DThetaDot;
        hv.Clear();
        var hvWih = hv[..(gh * inputs)];
        var hvWhh = hv.Slice(gh * inputs, gh * hidden);
        var hvBih = hv.Slice(gh * (inputs + hidden), gh);
        var hvBhh = hv.Slice(gh * (inputs + hidden + 1), gh);

        var delta = d.Slice(L.Tmp, rows * gh);
        var rDelta = s.Slice(L.Tmp, rows * gh);
        var gH = d.Slice(L.DA, step);
        var rgH = d.Slice(L.DB, step);
        var gC = d.Slice(L.DC, step);
        var rgC = d.Slice(L.D0, step);
        gH.Clear();
        rgH.Clear();
        gC.Clear();
        rgC.Clear();
        T two = T.One + T.One;
        for (int t = time - 1; t >= 0; t--)
        {
            if (sequences)
            {
                for (int r = 0; r < rows; r++)
                {
                    int at = (r * time + t) * hidden;
                    TensorPrimitives.Add(gH.Slice(r * hidden, hidden), p.DY.Slice(at, hidden), gH.Slice(r * hidden, hidden));
                    TensorPrimitives.Add(rgH.Slice(r * hidden, hidden), p.DYDot.Slice(at, hidden), rgH.Slice(r * hidden, hidden));
                }
            }
            else if (t == time - 1)
            {
                TensorPrimitives.Add(gH, p.DY[..step], gH);
                TensorPrimitives.Add(rgH, p.DYDot[..step], rgH);
            }

            var gates = s.Slice(L.G + t * rows * gh, rows * gh);
            var gDot = d.Slice(L.G + t * rows * gh, rows * gh);
            for (int r = 0; r < rows; r++)
                for (int j = 0; j < hidden; j++)
                {
                    int at = r * gh + j, st = r * hidden + j;
                    T i = gates[at], f = gates[at + hidden], g = gates[at + 2 * hidden], o = gates[at + 3 * hidden];
                    T di = gDot[at], df = gDot[at + hidden], dg = gDot[at + 2 * hidden], dO = gDot[at + 3 * hidden];
                    T k = s[L.Ex + t * step + st], cPrev = s[L.C + t * step + st];
                    T cDot = d[L.C + (t + 1) * step + st], cDotPrev = d[L.C + t * step + st];
                    T kp = T.One - k * k, kDot = kp * cDot, kpDot = -two * k * kDot;
                    T h1 = gH[st], rh1 = rgH[st];
                    T c1 = gC[st] + h1 * o * kp;
                    T rc1 = rgC[st] + rh1 * o * kp + h1 * dO * kp + h1 * o * kpDot;
                    T si = i * (T.One - i), sf = f * (T.One - f), so = o * (T.One - o), sg = T.One - g * g;
                    T rsi = di * (T.One - two * i), rsf = df * (T.One - two * f), rso = dO * (T.One - two * o), rsg = -two * g * dg;
                    delta[at] = c1 * g * si;
                    rDelta[at] = rc1 * g * si + c1 * dg * si + c1 * g * rsi;
                    delta[at + hidden] = c1 * cPrev * sf;
                    rDelta[at + hidden] = rc1 * cPrev * sf + c1 * cDotPrev * sf + c1 * cPrev * rsf;
                    delta[at + 2 * hidden] = c1 * i * sg;
                    rDelta[at + 2 * hidden] = rc1 * i * sg + c1 * di * sg + c1 * i * rsg;
                    delta[at + 3 * hidden] = h1 * k * so;
                    rDelta[at + 3 * hidden] = rh1 * k * so + h1 * kDot * so + h1 * k * rso;
                    gC[st] = c1 * f;
                    rgC[st] = rc1 * f + c1 * df;
                }

            var x = s.Slice(L.XT + t * rows * inputs, rows * inputs);
            var hPrev = s.Slice(L.H + t * step, step);
            var hDotPrev = d.Slice(L.H + t * step, step);
            Gemm.Multiply<T>(rDelta, true, x, false, hvWih, gh, inputs, rows, accumulate: true);
            if (hasXDot) Gemm.Multiply<T>(delta, true, d.Slice(L.XT + t * rows * inputs, rows * inputs), false, hvWih, gh, inputs, rows, accumulate: true);
            Gemm.Multiply<T>(rDelta, true, hPrev, false, hvWhh, gh, hidden, rows, accumulate: true);
            Gemm.Multiply<T>(delta, true, hDotPrev, false, hvWhh, gh, hidden, rows, accumulate: true);
            for (int r = 0; r < rows; r++) TensorPrimitives.Add(hvBih, rDelta.Slice(r * gh, gh), hvBih);

            if (!p.DX.IsEmpty)
                for (int r = 0; r < rows; r++)
                {
                    int at = (r * time + t) * inputs;
                    var dr = delta.Slice(r * gh, gh);
                    Gemm.Multiply<T>(dr, false, w.Wih, false, p.DX.Slice(at, inputs), 1, inputs, gh, accumulate: false);
                    Gemm.Multiply<T>(rDelta.Slice(r * gh, gh), false, w.Wih, false, p.DXDot.Slice(at, inputs), 1, inputs, gh, accumulate: false);
                    Gemm.Multiply<T>(dr, false, v.Wih, false, p.DXDot.Slice(at, inputs), 1, inputs, gh, accumulate: true);
                }

            Gemm.Multiply<T>(delta, false, w.Whh, false, gH, rows, hidden, gh, accumulate: false);
            Gemm.Multiply<T>(rDelta, false, w.Whh, false, rgH, rows, hidden, gh, accumulate: false);
            Gemm.Multiply<T>(delta, false, v.Whh, false, rgH, rows, hidden, gh, accumulate: true);
        }
        hvBih.CopyTo(hvBhh);
        if (layer.InitialState == InitialState.Learned)
        {
            int o = gh * (inputs + hidden + 2);
            var hvH0 = hv.Slice(o, hidden);
            var hvC0 = hv.Slice(o + hidden, hidden);
            for (int r = 0; r < rows; r++)
            {
                TensorPrimitives.Add(hvH0, rgH.Slice(r * hidden, hidden), hvH0);
                TensorPrimitives.Add(hvC0, rgC.Slice(r * hidden, hidden), hvC0);
            }
        }
    }
}
