using System.Numerics;
using System.Numerics.Tensors;
using Backprop.Functional.Kernels;

namespace Backprop.Functional;

/// <summary>The R-operator of a <see cref="Gru"/> (see <see cref="RnnTangent"/> for the driver, the scratch and the
/// limits, which are the same). With aₓ = W_ih xₜ + b_ih and aₕ = W_hh hₜ₋₁ + b_hh (blocks r, z, n), r = σ(aₓr + aₕr),
/// z = σ(aₓz + aₕz), n = tanh(aₓn + r ⊙ aₕn), hₜ = (1 − z) ⊙ n + z ⊙ hₜ₋₁:
/// <code>
/// forward:  ṙ = r(1 − r)(ȧₓr + ȧₕr), ż likewise, ṅ = (1 − n²)(ȧₓn + ṙ aₕn + r ȧₕn),  ḣₜ = ż(hₜ₋₁ − n) + (1 − z)ṅ + zḣₜ₋₁
/// backward: δn = gₕ(1 − z)(1 − n²), δr = δn aₕn r(1 − r), δz = gₕ(hₜ₋₁ − n) z(1 − z)
///           input side δₓ = [δr, δz, δn], hidden side δₕ = [δr, δz, δn r],  ∂C/∂hₜ₋₁ = z gₕ + W_hhᵀδₕ
/// </code>
/// each line differentiated by the product rule. Tangent scratch: ẋ at XT, ṙ ż ṅ at G, ȧₕn at Ex, ḣ at H, ȧₕ of the
/// step in Tmp; backward, δₓ in the tangent's DGh and R{δₓ} in the primal's, δₕ in the tangent's Tmp and R{δₕ} in the
/// primal's (both dead after the forward pass), gₕ and R{gₕ} in the tangent's DA and DB.</summary>
internal static class GruTangent
{
    internal static void Forward<T>(Gru layer, scoped in TangentPass<T> p) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int inputs = layer.Inputs, hidden = layer.Hidden, rows = p.Rows, time = p.Time, gh = 3 * hidden;
        var L = Recurrence<GruCell>.Layout(inputs, hidden, rows, time);
        int step = L.Step;
        var s = p.Scratch;
        var d = p.ScratchDot;
        var v = new RnnTangent.Slices<T>(p.V, inputs, hidden, 3);
        var w = new RnnTangent.Slices<T>(p.Theta, inputs, hidden, 3);
        bool hasXDot = !p.XDot.IsEmpty;
        RnnTangent.Restart(layer, in p, L, layer.InitialState, hasCell: false, in v);

        var ahDot = d.Slice(L.Tmp, rows * gh);
        for (int t = 0; t < time; t++)
        {
            var gDot = d.Slice(L.G + t * rows * gh, rows * gh);   // ȧₓ, then ṙ ż ṅ in place
            var hPrev = s.Slice(L.H + t * step, step);
            var hDotPrev = d.Slice(L.H + t * step, step);
            for (int r = 0; r < rows; r++)
            {
                v.Bih.CopyTo(gDot.Slice(r * gh, gh));
                v.Bhh.CopyTo(ahDot.Slice(r * gh, gh));
            }
            Gemm.Multiply(s.Slice(L.XT + t * rows * inputs, rows * inputs), false, v.Wih, true, gDot, rows, gh, inputs, accumulate: true);
            if (hasXDot) Gemm.Multiply<T>(d.Slice(L.XT + t * rows * inputs, rows * inputs), false, w.Wih, true, gDot, rows, gh, inputs, accumulate: true);
            Gemm.Multiply(hPrev, false, v.Whh, true, ahDot, rows, gh, hidden, accumulate: true);
            Gemm.Multiply<T>(hDotPrev, false, w.Whh, true, ahDot, rows, gh, hidden, accumulate: true);
            var gates = s.Slice(L.G + t * rows * gh, rows * gh);
            for (int r = 0; r < rows; r++)
                for (int j = 0; j < hidden; j++)
                {
                    int at = r * gh + j, st = r * hidden + j;
                    T rr = gates[at], z = gates[at + hidden], n = gates[at + 2 * hidden], hn = s[L.Ex + t * step + st];
                    T rDot = rr * (T.One - rr) * (gDot[at] + ahDot[at]);
                    T zDot = z * (T.One - z) * (gDot[at + hidden] + ahDot[at + hidden]);
                    T hnDot = ahDot[at + 2 * hidden];
                    T nDot = (T.One - n * n) * (gDot[at + 2 * hidden] + rDot * hn + rr * hnDot);
                    gDot[at] = rDot;
                    gDot[at + hidden] = zDot;
                    gDot[at + 2 * hidden] = nDot;
                    d[L.Ex + t * step + st] = hnDot;
                    d[L.H + (t + 1) * step + st] = zDot * (hPrev[st] - n) + (T.One - z) * nDot + z * hDotPrev[st];
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

    internal static void Backward<T>(Gru layer, scoped in TangentBackwardPass<T> p) where T : unmanaged, IFloatingPointIeee754<T>
    {
        RnnTangent.RequireEqualLengths(p.Lengths);
        int inputs = layer.Inputs, hidden = layer.Hidden, rows = p.Rows, time = p.Time, gh = 3 * hidden;
        var L = Recurrence<GruCell>.Layout(inputs, hidden, rows, time);
        int step = L.Step;
        var s = p.Scratch;
        var primal = s;
        var d = p.ScratchDot;
        var v = new RnnTangent.Slices<T>(p.V, inputs, hidden, 3);
        var w = new RnnTangent.Slices<T>(p.Theta, inputs, hidden, 3);
        bool hasXDot = !p.XDot.IsEmpty, sequences = layer.ReturnSequences;

        var hv = p.DThetaDot;
        hv.Clear();
        var hvWih = hv[..(gh * inputs)];
        var hvWhh = hv.Slice(gh * inputs, gh * hidden);
        var hvBih = hv.Slice(gh * (inputs + hidden), gh);
        var hvBhh = hv.Slice(gh * (inputs + hidden + 1), gh);

        var dx = d.Slice(L.DGh, rows * gh);
        var rdx = primal.Slice(L.DGh, rows * gh);
        var dh = d.Slice(L.Tmp, rows * gh);
        var rdh = primal.Slice(L.Tmp, rows * gh);
        var gH = d.Slice(L.DA, step);
        var rgH = d.Slice(L.DB, step);
        gH.Clear();
        rgH.Clear();
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
            var hPrev = s.Slice(L.H + t * step, step);
            var hDotPrev = d.Slice(L.H + t * step, step);
            for (int r = 0; r < rows; r++)
                for (int j = 0; j < hidden; j++)
                {
                    int at = r * gh + j, st = r * hidden + j;
                    T rr = gates[at], z = gates[at + hidden], n = gates[at + 2 * hidden], hn = s[L.Ex + t * step + st];
                    T rDot = gDot[at], zDot = gDot[at + hidden], nDot = gDot[at + 2 * hidden], hnDot = d[L.Ex + t * step + st];
                    T g = gH[st], rg = rgH[st];
                    T dz = g * (hPrev[st] - n), rdz = rg * (hPrev[st] - n) + g * (hDotPrev[st] - nDot);
                    T dn = g * (T.One - z), rdn = rg * (T.One - z) - g * zDot;
                    T np = T.One - n * n;
                    T deltaN = dn * np, rDeltaN = rdn * np - dn * two * n * nDot;
                    T dr = deltaN * hn, rdr = rDeltaN * hn + deltaN * hnDot;
                    T sr = rr * (T.One - rr), sz = z * (T.One - z);
                    T deltaR = dr * sr, rDeltaR = rdr * sr + dr * rDot * (T.One - two * rr);
                    T deltaZ = dz * sz, rDeltaZ = rdz * sz + dz * zDot * (T.One - two * z);
                    dx[at] = dh[at] = deltaR;
                    rdx[at] = rdh[at] = rDeltaR;
                    dx[at + hidden] = dh[at + hidden] = deltaZ;
                    rdx[at + hidden] = rdh[at + hidden] = rDeltaZ;
                    dx[at + 2 * hidden] = deltaN;
                    rdx[at + 2 * hidden] = rDeltaN;
                    dh[at + 2 * hidden] = deltaN * rr;
                    rdh[at + 2 * hidden] = rDeltaN * rr + deltaN * rDot;
                    gH[st] = g * z;                          // the direct term; W_hhᵀδₕ is added below
                    rgH[st] = rg * z + g * zDot;
                }

            var x = s.Slice(L.XT + t * rows * inputs, rows * inputs);
            Gemm.Multiply<T>(rdx, true, x, false, hvWih, gh, inputs, rows, accumulate: true);
            if (hasXDot) Gemm.Multiply<T>(dx, true, d.Slice(L.XT + t * rows * inputs, rows * inputs), false, hvWih, gh, inputs, rows, accumulate: true);
            Gemm.Multiply<T>(rdh, true, hPrev, false, hvWhh, gh, hidden, rows, accumulate: true);
            Gemm.Multiply<T>(dh, true, hDotPrev, false, hvWhh, gh, hidden, rows, accumulate: true);
            for (int r = 0; r < rows; r++)
            {
                TensorPrimitives.Add(hvBih, rdx.Slice(r * gh, gh), hvBih);
                TensorPrimitives.Add(hvBhh, rdh.Slice(r * gh, gh), hvBhh);
            }

            if (!p.DX.IsEmpty)
                for (int r = 0; r < rows; r++)
                {
                    int at = (r * time + t) * inputs;
                    var dr = dx.Slice(r * gh, gh);
                    Gemm.Multiply<T>(dr, false, w.Wih, false, p.DX.Slice(at, inputs), 1, inputs, gh, accumulate: false);
                    Gemm.Multiply<T>(rdx.Slice(r * gh, gh), false, w.Wih, false, p.DXDot.Slice(at, inputs), 1, inputs, gh, accumulate: false);
                    Gemm.Multiply<T>(dr, false, v.Wih, false, p.DXDot.Slice(at, inputs), 1, inputs, gh, accumulate: true);
                }

            Gemm.Multiply<T>(dh, false, w.Whh, false, gH, rows, hidden, gh, accumulate: true);
            Gemm.Multiply<T>(rdh, false, w.Whh, false, rgH, rows, hidden, gh, accumulate: true);
            Gemm.Multiply<T>(dh, false, v.Whh, false, rgH, rows, hidden, gh, accumulate: true);
        }
        if (layer.InitialState == InitialState.Learned)
        {
            var hvH0 = hv.Slice(gh * (inputs + hidden + 2), hidden);
            for (int r = 0; r < rows; r++) TensorPrimitives.Add(hvH0, rgH.Slice(r * hidden, hidden), hvH0);
        }
    }
}
