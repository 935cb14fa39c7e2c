using Xunit;
using System.Numerics;

namespace Backprop.Functional.Tests.Optimizers;

/// <summary>Updates, schedules and clipping allocate nothing once warmed up.</summary>
[Collection(RunsAlone.Name)]
public sealed class OptimizerAllocationTests
{
    private static readonly Optimizer[] All =
    [
        new Sgd(), new Sgd(WeightDecay: 0.1),
        new Momentum(), new Momentum(Dampening: 0.1, Form: MomentumForm.Classic, WeightDecay: 0.1),
        new Nesterov(), new Nesterov(Form: NesterovForm.LookAhead, WeightDecay: 0.1),
        new Adagrad(LrDecay: 0.1, InitialAccumulatorValue: 0.1, WeightDecay: 0.1),
        new RmsProp(), new RmsProp(Centered: true), new RmsProp(Mu: 0.9), new RmsProp(Mu: 0.9, Centered: true, WeightDecay: 0.1),
        new Adam(), new Adam(Amsgrad: true, WeightDecay: 0.1),
        new AdamW(), new AdamW(Amsgrad: true),
        new AdaDelta(), new AdaDelta(WeightDecay: 0.1),
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
    public void Update_AfterWarmUpDouble_AllocatesNothing(int index) => Assert.Equal(0, Measure<double>(All[index]));

    [Theory]
    [MemberData(nameof(Indices))]
    public void Update_AfterWarmUpFloat_AllocatesNothing(int index) => Assert.Equal(0, Measure<float>(All[index]));

    private static long Measure<T>(Optimizer o)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        const int n = 257;
        T[] theta = new T[n];
        T[] g = new T[n];
        for (int i = 0; i < n; i++)
        {
            theta[i] = T.CreateTruncating(Math.Sin(i));
            g[i] = T.CreateTruncating(Math.Cos(i));
        }

        LearningRateSchedule schedule = new Warmup(5, new CosineAnnealing(100, 1e-5));
        using OptimizerBuffers<T> buf = o.CreateBuffers<T>(n);
        var state = new OptimizerState(0);
        T maxNorm = T.CreateTruncating(1.0);
        long calls = 0;
        long allocated = SteadyState.AllocatedBytes(() =>
        {
            ClipByGlobalNorm.Apply<T>(g, maxNorm);
            state = o.Update<T>(state, theta, g, buf, schedule.Rate(o.LearningRate, state.Step));
            calls++;
        });
        Assert.Equal(calls, state.Step);
        return allocated;
    }
}
