using System.Numerics;
using System.Runtime.Intrinsics;
using Backprop.Functional.Kernels;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace Backprop.Functional.Tests.Layers.Recurrent;

/// <summary>The LSTM cell's vector loops are one body over the vector width (<c>LstmSteps.CellUnits</c> and
/// <c>CellBackUnits</c>); run at 512 bits, 256 bits and the runtime's <see cref="Vector{T}"/> on the same row they give
/// the same bits, forward and backward, so which width a unit falls in never changes a result.</summary>
public class LstmCellWidthTests
{
    private const int Hidden = 128;

    private sealed record Row(float[] Gates, float[] Bias, float[] CPrev, float[] CNext, float[] TanhC, float[] HNext, float[] Dh, float[] Dc);

    private static Row Draw(int seed)
    {
        var random = new Random(seed);
        float Next(float scale) => (float)((random.NextDouble() * 2 - 1) * scale);
        var gates = new float[4 * Hidden];
        for (int k = 0; k < gates.Length; k++) gates[k] = Next(6);
        gates[3] = float.NaN;     // NaN kept through eˣ
        gates[Hidden + 5] = 95f;  // past the clamp
        gates[2 * Hidden + 7] = -95f;
        var bias = new float[4 * Hidden];
        for (int k = 0; k < bias.Length; k++) bias[k] = Next(1);
        var cPrev = new float[Hidden];
        var dh = new float[Hidden];
        var dc = new float[Hidden];
        for (int k = 0; k < Hidden; k++) (cPrev[k], dh[k], dc[k]) = (Next(3), Next(1), Next(1));
        return new Row(gates, bias, cPrev, new float[Hidden], new float[Hidden], new float[Hidden], dh, dc);
    }

    /// <summary>The row after the forward cell and then the backward one, with the loops at width TW (the scalar tail,
    /// if any, in scalar code as <c>LstmSteps.Cell</c> has it).</summary>
    private static Row Run<TW, TV>(int seed, bool biased) where TW : struct, IVectorWidth<TV, float> where TV : struct
    {
        var r = Draw(seed);
        int j = LstmSteps.CellUnits<TW, TV, float>(ref r.Gates[0], ref r.Bias[0], biased, Hidden, ref r.CPrev[0], ref r.CNext[0], ref r.TanhC[0], ref r.HNext[0], 0);
        Assert.Equal(Hidden, j);   // 128 units are whole vectors at every width
        j = LstmSteps.CellBackUnits<TW, TV, float>(ref r.Gates[0], Hidden, ref r.TanhC[0], ref r.CPrev[0], ref r.Dh[0], ref r.Dc[0], 0);
        Assert.Equal(Hidden, j);
        return r;
    }

    private static void SameBits(Row expected, Row actual)
    {
        foreach (var (e, a) in new[] { (expected.Gates, actual.Gates), (expected.CNext, actual.CNext), (expected.TanhC, actual.TanhC),
                     (expected.HNext, actual.HNext), (expected.Dc, actual.Dc) })
            for (int k = 0; k < e.Length; k++)
                Assert.Equal(BitConverter.SingleToInt32Bits(e[k]), BitConverter.SingleToInt32Bits(a[k]));
    }

    [SkippableFact]
    public void Every_width_gives_the_same_bits_forward_and_backward()
    {
        Skip.IfNot(Vector.IsHardwareAccelerated, "no vector unit: the cells run scalar only");
        for (int seed = 0; seed < 20; seed++)
        {
            bool biased = seed % 2 == 0;
            var portable = Run<WideVector<float>, Vector<float>>(seed, biased);
            Assert.True(float.IsNaN(portable.Gates[3]));
            if (Vector256.IsHardwareAccelerated) SameBits(portable, Run<Wide256<float>, Vector256<float>>(seed, biased));
            if (Vector512.IsHardwareAccelerated) SameBits(portable, Run<Wide512<float>, Vector512<float>>(seed, biased));
        }
    }

    /// <summary>The forward cell's vector loop (the four gates' eˣ chains interleaved, then tanh cₜ in a second pass over
    /// the row) gives, unit by unit, the bits of σ and tanh taken one gate at a time as the scalar formulas say
    /// (σ = 1 / (1 + e⁻ˣ), tanh = 1 − 2 / (e²ˣ + 1), cₜ = f·cₜ₋₁ + i·g as one FMA, hₜ = o·tanh cₜ, eˣ the cells' own), at
    /// every width: reordering the work never changes a value.</summary>
    [Property(MaxTest = 40)]
    public Property Forward_cell_equals_one_gate_at_a_time() =>
        Prop.ForAll(Gen.Choose(0, 100_000).ToArbitrary(), seed =>
        {
            if (!Vector.IsHardwareAccelerated) return true;
            bool biased = seed % 2 == 0;
            var expected = Draw(seed);
            float E(float x) => LstmSteps.ExpForGates(new Vector<float>(x))[0];
            for (int u = 0; u < Hidden; u++)
            {
                float B(int gate) => biased ? expected.Bias[gate * Hidden + u] : 0f;
                float pi = expected.Gates[u], pf = expected.Gates[Hidden + u], pg = expected.Gates[2 * Hidden + u], po = expected.Gates[3 * Hidden + u];
                if (biased) (pi, pf, pg, po) = (pi + B(0), pf + B(1), pg + B(2), po + B(3));
                float i = 1f / (1f + E(-pi)), f = 1f / (1f + E(-pf)), g = 1f - 2f / (E(2f * pg) + 1f), o = 1f / (1f + E(-po));
                float c = MathF.FusedMultiplyAdd(f, expected.CPrev[u], i * g);
                float t = 1f - 2f / (E(2f * c) + 1f);
                (expected.Gates[u], expected.Gates[Hidden + u], expected.Gates[2 * Hidden + u], expected.Gates[3 * Hidden + u]) = (i, f, g, o);
                (expected.CNext[u], expected.TanhC[u], expected.HNext[u]) = (c, t, o * t);
            }
            bool Same<TW, TV>() where TW : struct, IVectorWidth<TV, float> where TV : struct
            {
                var r = Draw(seed);
                LstmSteps.CellUnits<TW, TV, float>(ref r.Gates[0], ref r.Bias[0], biased, Hidden, ref r.CPrev[0], ref r.CNext[0], ref r.TanhC[0], ref r.HNext[0], 0);
                return new[] { (expected.Gates, r.Gates), (expected.CNext, r.CNext), (expected.TanhC, r.TanhC), (expected.HNext, r.HNext) }
                    .All(p => p.Item1.Select(BitConverter.SingleToInt32Bits).SequenceEqual(p.Item2.Select(BitConverter.SingleToInt32Bits)));
            }
            return Same<WideVector<float>, Vector<float>>()
                && (!Vector256.IsHardwareAccelerated || Same<Wide256<float>, Vector256<float>>())
                && (!Vector512.IsHardwareAccelerated || Same<Wide512<float>, Vector512<float>>());
        });
}
