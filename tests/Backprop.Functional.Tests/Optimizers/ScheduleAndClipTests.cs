using Xunit;
using FsCheck;
using FsCheck.Fluent;
using System.Numerics.Tensors;

namespace Backprop.Functional.Tests.Optimizers;

public sealed class LearningRateScheduleTests
{
    [Theory]
    [InlineData(0, 2.0)]
    [InlineData(7, 2.0)]
    public void ConstantRate_AnyStep_ReturnsBaseRate(long t, double expected) =>
        Assert.Equal(expected, new ConstantRate().Rate(2.0, t));

    [Theory]
    [InlineData(0, 1.0)]
    [InlineData(2, 1.0)]
    [InlineData(3, 0.5)]
    [InlineData(5, 0.5)]
    [InlineData(6, 0.25)]
    [InlineData(9, 0.125)]
    public void StepDecay_StepSizeThree_HalvesEveryThreeSteps(long t, double expected) =>
        Assert.Equal(expected, new StepDecay(3, 0.5).Rate(1.0, t), 1e-15);

    [Theory]
    [InlineData(0, 0.1)]
    [InlineData(1, 0.09)]
    [InlineData(2, 0.081)]
    [InlineData(3, 0.0729)]
    public void ExponentialDecay_GammaPointNine_MultipliesEachStep(long t, double expected) =>
        Assert.Equal(expected, new ExponentialDecay(0.9).Rate(0.1, t), 1e-15);

    [Theory]
    [InlineData(0, 1.0)]
    [InlineData(5, 0.55)]            // 0.1 + 0.45·(1 + cos(π/2))
    [InlineData(10, 0.1)]            // η_min at T_max
    [InlineData(15, 0.55)]           // the closed form continues past T_max
    public void CosineAnnealing_TMaxTen_FollowsTheClosedForm(long t, double expected) =>
        Assert.Equal(expected, new CosineAnnealing(10, 0.1).Rate(1.0, t), 1e-15);

    [Fact]
    public void CosineAnnealing_QuarterPeriod_MatchesHandValue() =>
        Assert.Equal(0.5 * (1 + Math.Sqrt(0.5)), new CosineAnnealing(8).Rate(1.0, 2), 1e-15);

    [Theory]
    [InlineData(0, 0.25)]            // η/S
    [InlineData(1, 0.4375)]          // 1/4 + 3/4·1/4
    [InlineData(3, 0.8125)]          // 1/4 + 3/4·3/4
    [InlineData(4, 1.0)]             // hand-over: Then.Rate(η, 0)
    [InlineData(5, 1.0)]
    [InlineData(6, 0.1)]             // Then.Rate(η, 2) = η·0.1
    public void Warmup_FourStepsThenStepDecay_RisesLinearlyThenHandsOver(long t, double expected) =>
        Assert.Equal(expected, new Warmup(4, new StepDecay(2, 0.1)).Rate(1.0, t), 1e-15);

    [Fact]
    public void StepDecay_ZeroStepSize_Throws() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new StepDecay(0).Rate(1.0, 1));
}

public sealed class ClipByGlobalNormTests
{
    private static Arbitrary<(double[] G, double MaxNorm)> Inputs()
    {
        Gen<double[]> vector =
            from n in Gen.Choose(0, 40)
            from scale in Gen.Choose(-3, 3)
            from xs in Gen.ArrayOf(Gen.Choose(-1000, 1000).Select(k => k * Math.Pow(10, scale) / 1000), n)
            select xs;
        Gen<double> maxNorm = Gen.Choose(0, 1000).Select(k => k / 100.0);
        return Arb.From(Gen.Zip(vector, maxNorm));
    }

    [Fact]
    public void Apply_AnyGradient_ResultNormAtMostMaxNormAndUnchangedWhenUnder()
    {
        Property property = Prop.ForAll(Inputs(), input =>
        {
            double[] g = (double[])input.G.Clone();
            double norm = ClipByGlobalNorm.Apply<double>(g, input.MaxNorm);
            double expectedNorm = TensorPrimitives.Norm<double>(input.G);
            double after = TensorPrimitives.Norm<double>(g);
            bool reportsNorm = norm == expectedNorm;
            bool bounded = after <= input.MaxNorm * (1 + 1e-12);
            bool unchangedWhenUnder = expectedNorm > input.MaxNorm || g.AsSpan().SequenceEqual(input.G);
            bool directionKept = true;
            for (int i = 0; i < g.Length; i++)
            {
                directionKept &= Math.Sign(g[i]) == Math.Sign(input.G[i]) || g[i] == 0;
            }

            return reportsNorm && bounded && unchangedWhenUnder && directionKept;
        });
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(300), property);
    }

    [Fact]
    public void Apply_ThreeFourFiveTriangle_ScalesLikeTorch()
    {
        double[] g = [3, 4];
        double norm = ClipByGlobalNorm.Apply<double>(g, 1.0);
        Assert.Equal(5.0, norm);
        Assert.Equal(3 / (5 + 1e-6), g[0], 1e-15);
        Assert.Equal(4 / (5 + 1e-6), g[1], 1e-15);
    }

    [Fact]
    public void Apply_FloatOverMaxNorm_ClipsBelowMaxNorm()
    {
        float[] g = [30f, -40f, 0f];
        float norm = ClipByGlobalNorm.Apply<float>(g, 2f);
        Assert.Equal(50f, norm);
        Assert.True(TensorPrimitives.Norm<float>(g) <= 2f * (1 + 1e-6f));
    }

    [Fact]
    public void Apply_NegativeMaxNorm_Throws() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => ClipByGlobalNorm.Apply<double>(new double[2], -1.0));
}
