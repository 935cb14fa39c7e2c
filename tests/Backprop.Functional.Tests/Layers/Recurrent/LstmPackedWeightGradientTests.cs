using Backprop.Functional.Kernels;
using Xunit;

namespace Backprop.Functional.Tests.Layers.Recurrent;

/// <summary>The LSTM's fused backward steps leave δᵀ and [x | h] packed as the GEMM micro-kernel's panels
/// (<c>LstmSteps.PackDelta</c>, <c>PackInputs</c>) and ∂C/∂[W_ih | W_hh] is taken from them
/// (<c>LstmSteps.WeightGradient</c>) without Gemm.Blocked's packing pass: the same k blocks and micro-kernel chains, so
/// the same bits as Gemm.Blocked over the unpacked δ and [x | h] rows, on any range of gate rows.</summary>
public class LstmPackedWeightGradientTests
{
    [Theory]
    [InlineData(28, 128, 64, 28)]   // seq-MNIST's L1 shape: 512 × 156 × 1792
    [InlineData(5, 7, 9, 3)]        // GH = 28 and I + H = 12: edge panels both ways
    [InlineData(3, 33, 16, 30)]     // GH = 132 (not a multiple of MR = 6 or 8), I + H = 36 (not of NR)
    [InlineData(40, 20, 8, 50)]     // k = 400 > KC: several k blocks
    public void Same_bits_as_the_blocked_GEMM(int inputs, int hidden, int rows, int time)
    {
        int gh = 4 * hidden, wide = inputs + hidden, count = time * rows;
        int mr = Gemm.MicroKernel<float>.MR, nr = Gemm.MicroKernel<float>.NR;
        var random = new Random(inputs * 1000 + hidden);
        var delta = new float[count * gh];
        var xh = new float[count * wide];
        for (int q = 0; q < delta.Length; q++) delta[q] = (float)(random.NextDouble() * 2 - 1);
        for (int q = 0; q < xh.Length; q++) xh[q] = (float)(random.NextDouble() * 2 - 1);

        var expected = new float[gh * wide];
        Gemm.Blocked<float>.Run(ref delta[0], true, ref xh[0], false, ref expected[0], gh, wide, count, false, 0, gh, 0, wide);

        var packedDelta = new float[(gh + mr - 1) / mr * mr * count];
        Array.Fill(packedDelta, float.NaN);   // every value read must have been written
        // in panels of at most MR rows, out of order, as the two threads' steps write them
        for (int k0 = count - (count - 1) % 5 - 1; k0 >= 0; k0 -= 5)
            LstmSteps.PackDelta<float>(delta.AsSpan(k0 * gh, Math.Min(5, count - k0) * gh), packedDelta, gh, count, k0);
        var packedInputs = new float[(wide + nr - 1) / nr * nr * count];
        Array.Fill(packedInputs, float.NaN);
        PackRows(xh, packedInputs, wide, count, nr);

        var actual = new float[gh * wide];
        int split = gh / 2 / mr * mr;   // RecurrentGradients' two ranges
        LstmSteps.WeightGradient<float>(packedDelta, packedInputs, actual, gh, wide, count, 0, split);
        LstmSteps.WeightGradient<float>(packedDelta, packedInputs, actual, gh, wide, count, split, gh);
        for (int q = 0; q < expected.Length; q++)
            Assert.Equal(BitConverter.SingleToInt32Bits(expected[q]), BitConverter.SingleToInt32Bits(actual[q]));
    }

    /// <summary>[x | h] rows into B̃ panels the way <c>LstmSteps.PackInputs</c> lays them out (that method reads the
    /// layer's scratch; here the rows are given whole).</summary>
    private static void PackRows(float[] xh, float[] packed, int wide, int count, int nr)
    {
        for (int k = 0; k < count; k++)
            for (int c0 = 0; c0 < wide; c0 += nr)
            {
                var to = packed.AsSpan((c0 / nr * count + k) * nr, nr);
                to.Clear();
                xh.AsSpan(k * wide + c0, Math.Min(nr, wide - c0)).CopyTo(to);
            }
    }
}
