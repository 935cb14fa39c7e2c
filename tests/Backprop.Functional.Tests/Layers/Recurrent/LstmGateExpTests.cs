using System.Globalization;
using System.Numerics;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace Backprop.Functional.Tests.Layers.Recurrent;

/// <summary>The float eˣ of the LSTM's fused cells (<c>LstmSteps.ExpForGates</c>) against MathF.Exp: within 2 ulp over
/// the range it is used on, NaN kept, and the clamped ends still give σ and tanh their float limits.</summary>
public class LstmGateExpTests
{
    [Property(MaxTest = 200)]
    public Property Within_two_ulp_of_MathF_Exp() =>
        Prop.ForAll(Gen.Choose(-87_000, 88_000).Select(i => i / 1000f + 0.0001234f).ArrayOf(Vector<float>.Count).ToArbitrary(), xs =>
        {
            var e = LstmSteps.ExpForGates(new Vector<float>(xs));
            for (int i = 0; i < xs.Length; i++)
            {
                float want = MathF.Exp(xs[i]);
                float ulp = MathF.BitIncrement(want) - want;
                if (MathF.Abs(e[i] - want) > 2 * ulp)
                    throw new Xunit.Sdk.XunitException(string.Create(CultureInfo.InvariantCulture, $"e^{xs[i]:R}: {e[i]:R}, MathF.Exp {want:R}"));
            }
        });

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
