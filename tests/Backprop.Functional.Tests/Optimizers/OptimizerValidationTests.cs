using Xunit;
namespace Backprop.Functional.Tests.Optimizers;

/// <summary>Bad input and buffer handling.</summary>
public sealed class OptimizerValidationTests
{
    private static readonly Optimizer[] All =
    [
        new Sgd(), new Momentum(), new Momentum(Form: MomentumForm.Classic), new Nesterov(),
        new Nesterov(Form: NesterovForm.LookAhead), new Adagrad(), new RmsProp(Mu: 0.9, Centered: true),
        new Adam(Amsgrad: true), new AdamW(), new AdaDelta(),
    ];

    public static TheoryData<int> Indices()
    {
        var data = new TheoryData<int>();
        for (int i = 0; i < All.Length; i++)
        {
            data.Add(i);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Indices))]
    public void Update_GradientLengthMismatch_ThrowsNamingBothLengths(int index)
    {
        Optimizer o = All[index];
        using var buf = o.CreateBuffers<double>(12);
        var ex = Assert.Throws<ArgumentException>(() => o.Update<double>(default, new double[12], new double[10], buf, 0.1));
        Assert.Contains("gradient has 10 elements but theta has 12", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Indices))]
    public void Update_BufferLengthMismatch_ThrowsNamingBothLengths(int index)
    {
        Optimizer o = All[index];
        if (o.MomentCount == 0)
        {
            return;
        }

        using var buf = o.CreateBuffers<float>(11);
        var ex = Assert.Throws<ArgumentException>(() => o.Update<float>(default, new float[12], new float[12], buf, 0.1));
        Assert.Contains("11", ex.Message, StringComparison.Ordinal);
        Assert.Contains("12", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Update_TooFewMoments_Throws()
    {
        using var buf = new RmsProp().CreateBuffers<double>(4);
        Assert.Throws<ArgumentException>(() => new RmsProp(Centered: true).Update<double>(default, new double[4], new double[4], buf, 0.1));
    }

    [Fact]
    public void LookAheadPoint_DestinationLengthMismatch_ThrowsNamingBothLengths()
    {
        using var buf = new Nesterov(Form: NesterovForm.LookAhead).CreateBuffers<double>(3);
        var ex = Assert.Throws<ArgumentException>(() => Nesterov.LookAheadPoint<double>(new double[3], buf, 0.9, new double[2]));
        Assert.Contains("destination has 2 elements but theta has 3", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Update_AnyOptimizer_ReturnsIncrementedStep()
    {
        foreach (Optimizer o in All)
        {
            using var buf = o.CreateBuffers<double>(3);
            OptimizerState s = o.Update<double>(new OptimizerState(41), new double[3], new double[] { 1, 2, 3 }, buf, o.LearningRate);
            Assert.Equal(42, s.Step);
        }
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(1, 5)]
    [InlineData(3, 7)]
    public void CreateBuffers_AnyShape_ZeroedMomentsOfRequestedLength(int count, int length)
    {
        using var buf = new OptimizerBuffers<double>(count, length);
        Assert.Equal(count, buf.Count);
        Assert.Equal(length, buf.Length);
        for (int i = 0; i < count; i++)
        {
            Assert.Equal(length, buf.Moment(i).Length);
            Assert.All(buf.Moment(i).ToArray(), x => Assert.Equal(0.0, x));
        }

        Assert.Throws<ArgumentOutOfRangeException>(() => buf.Moment(count));
    }

    [Fact]
    public void CreateBuffers_Adagrad_FillsInitialAccumulatorValue()
    {
        using var buf = new Adagrad(InitialAccumulatorValue: 0.25).CreateBuffers<float>(5);
        Assert.All(buf.Moment(0).ToArray(), x => Assert.Equal(0.25f, x));
    }

    [Fact]
    public void MomentCount_Variants_MatchTheMomentsUsed()
    {
        Assert.Equal(0, new Sgd().MomentCount);
        Assert.Equal(1, new RmsProp().MomentCount);
        Assert.Equal(2, new RmsProp(Centered: true).MomentCount);
        Assert.Equal(3, new RmsProp(Mu: 0.5, Centered: true).MomentCount);
        Assert.Equal(2, new Adam().MomentCount);
        Assert.Equal(3, new AdamW(Amsgrad: true).MomentCount);
        Assert.Equal(2, new AdaDelta().MomentCount);
    }

    [Fact]
    public void Defaults_AllOptimizers_FollowTorch()
    {
        Assert.Equal(new Adam(1e-3, 0.9, 0.999, 1e-8, false, 0), new Adam());
        Assert.Equal(1e-2, new AdamW().WeightDecay);
        Assert.Equal(1e-10, new Adagrad().Epsilon);
        Assert.Equal(0.99, new RmsProp().Alpha);
        Assert.Equal(1.0, new AdaDelta().LearningRate);
        Assert.Equal(0.9, new AdaDelta().Rho);
    }
}
