using System.Numerics;
using System.Runtime.Intrinsics;
using Backprop.Functional.Kernels;
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
}
