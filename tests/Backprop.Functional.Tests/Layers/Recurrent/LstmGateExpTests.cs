using System.Globalization;
using System.Numerics;
using Xunit;

namespace Backprop.Functional.Tests.Layers.Recurrent;

/// <summary>The float eˣ of the LSTM's fused cells (<c>LstmSteps.ExpForGates</c>) against MathF.Exp: within 2 ulp over
/// the range it is used on, [−87, 88] (it clamps x to that), NaN kept, and the clamped ends still give σ and tanh their
/// float limits.</summary>
public class LstmGateExpTests
{
    /// <summary>Every point of a 10⁻³ grid over the clamp range [−87, 88], and of the same grid moved by 0.0001234 (off
    /// the round numbers), 350,001 points in all: the domain is small enough to check whole, in a few milliseconds. The
    /// random property this replaces drew 1,600 points a run (200 cases of 8 lanes) from i/1000 + 0.0001234 with i up to
    /// 88,000, so one run in about 110 met 88.0001234, past the clamp, and failed a correct eˣ.</summary>
    [Fact]
    public void Within_two_ulp_of_MathF_Exp_over_the_clamp_range()
    {
        var points = new List<float>();
        for (int i = -87_000; i <= 88_000; i++)
        {
            points.Add(i / 1000f);
            if (i < 88_000) points.Add(i / 1000f + 0.0001234f);
        }
        Assert.Equal(88f, points.Max());
        var xs = new float[Vector<float>.Count];
        var failures = new List<string>();
        for (int start = 0; start < points.Count; start += xs.Length)
        {
            for (int k = 0; k < xs.Length; k++) xs[k] = points[Math.Min(start + k, points.Count - 1)];
            var e = LstmSteps.ExpForGates(new Vector<float>(xs));
            for (int k = 0; k < xs.Length; k++)
            {
                float want = MathF.Exp(xs[k]);
                float ulp = MathF.BitIncrement(want) - want;
                if (MathF.Abs(e[k] - want) > 2 * ulp && failures.Count < 5)
                    failures.Add(string.Create(CultureInfo.InvariantCulture, $"e^{xs[k]:R}: {e[k]:R}, MathF.Exp {want:R}"));
            }
        }
        Assert.True(failures.Count == 0, string.Join("; ", failures));
    }

    /// <summary>The 512-bit eˣ of the cells where AVX-512 runs is the 256-bit one lane by lane, bit for bit (the same steps),
    /// so which width a unit's lane falls in never changes a result.</summary>
    [Fact]
    public void The_512_bit_exp_is_the_256_bit_one_bit_for_bit()
    {
        var xs = new float[16];
        int compared = 0;
        for (int i = -90_000; i <= 90_000; i += 16)
        {
            for (int k = 0; k < 16; k++) xs[k] = (i + k) / 1000f + 0.0001234f;
            var wide = LstmSteps.ExpForGates(System.Runtime.Intrinsics.Vector512.Create(xs));
            for (int start = 0; start < 16; start += Vector<float>.Count)
            {
                var narrow = LstmSteps.ExpForGates(new Vector<float>(xs, start));
                for (int k = 0; k < Vector<float>.Count; k++, compared++)
                    Assert.Equal(BitConverter.SingleToInt32Bits(narrow[k]), BitConverter.SingleToInt32Bits(wide[start + k]));
            }
        }
        Assert.True(compared > 100_000);
    }

    /// <summary>Above the clamp eˣ is e⁸⁸ by design (σ is 1 and tanh 1 in float long before): the point the random
    /// property once drew past the range, 88.0001234 (88 + the grid's offset), is 1,000 ulp from MathF.Exp, as intended.</summary>
    [Fact]
    public void Above_the_clamp_is_e_to_the_88_and_sigma_is_one()
    {
        var above = LstmSteps.ExpForGates(new Vector<float>(88.0001234f));
        var at88 = LstmSteps.ExpForGates(new Vector<float>(88f));
        Assert.Equal(at88, above);
        for (int i = 0; i < Vector<float>.Count; i++) Assert.Equal(1f, 1f / (1f + 1f / above[i]));
    }

    [Fact]
    public void Ends_and_NaN()
    {
        float[] xs = [float.NaN, float.PositiveInfinity, float.NegativeInfinity, 200f, -200f, 0f, -0f, 1f];
        var v = new float[Vector<float>.Count];
        for (int start = 0; start < xs.Length; start += v.Length)
        {
            Array.Clear(v);
            xs.AsSpan(start, Math.Min(v.Length, xs.Length - start)).CopyTo(v);
            var e = LstmSteps.ExpForGates(new Vector<float>(v));
            for (int i = 0; i < v.Length; i++)
            {
                float x = v[i], y = e[i];
                if (float.IsNaN(x)) Assert.True(float.IsNaN(y));
                else if (x >= 88) Assert.Equal(1f, 1f / (1f + 1f / y));                    // σ(x) = 1
                else if (x <= -87) Assert.Equal(0f, 1f / (1f + 1f / y), 1e-37f);          // σ(x) = 0 to float
                else Assert.Equal(MathF.Exp(x), y, MathF.Exp(x) * 2.5e-7f);
            }
        }
    }
}
