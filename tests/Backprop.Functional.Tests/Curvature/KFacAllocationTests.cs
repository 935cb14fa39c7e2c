using System.Numerics;
using Xunit;

namespace Backprop.Functional.Tests.Curvature;

/// <summary>K-FAC's steady-state update allocates nothing: plain steps, statistics steps (a second backward pass at
/// drawn targets, ĀᵀĀ, δᵀδ) and inverse steps (Cholesky, L⁻¹, L⁻ᵀL⁻¹) all fall inside the measured windows, with momentum on.</summary>
[Collection(RunsAlone.Name)]
public sealed class KFacAllocationTests
{
    [Fact]
    public void Update_after_warm_up_allocates_nothing_double() => Assert.Equal(0, Measure<double>());

    [Fact]
    public void Update_after_warm_up_allocates_nothing_float() => Assert.Equal(0, Measure<float>());

    private static long Measure<T>() where T : unmanaged, IFloatingPointIeee754<T>
    {
        const int batch = 8;
        var spec = NetworkSpec.Mlp([20, 16, 10], ActivationKind.ReLU, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy);
        using var net = Network<T>.Create(spec, 1);
        using var kfac = new KFac<T>(spec, batch, new KFacOptions(Momentum: 0.9, StatisticsEvery: 2, InverseEvery: 3));
        var random = new SeededRandom(2);
        var x = new T[batch * 20];
        var y = new T[batch * 10];
        for (int i = 0; i < x.Length; i++) x[i] = T.CreateChecked(random.NextGaussian());
        for (int r = 0; r < batch; r++) y[r * 10 + random.Next(10)] = T.One;
        long calls = 0;
        long allocated = SteadyState.AllocatedBytes(() =>
        {
            kfac.Update(net.Parameters, x, y);
            calls++;
        });
        Assert.Equal(calls, kfac.Step);
        return allocated;
    }
}
