using Xunit;
using Curv = Backprop.Functional.Curvature;

namespace Backprop.Functional.Tests.Allocation;

/// <summary>Hv, Gv and both Fisher products allocate nothing once the workspace exists, in float and double, on one
/// and two GEMM threads.</summary>
[Collection(RunsAlone.Name)]
public sealed class CurvatureAllocationTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Products_allocate_nothing_in_steady_state(int threads)
    {
        AssertProductsAllocateNothing<float>(threads);
        AssertProductsAllocateNothing<double>(threads);
    }

    private static void AssertProductsAllocateNothing<T>(int threads) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        const int batch = 32;
        var spec = NetworkSpec.Mlp([64, 48, 10], ActivationKind.Tanh, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy);
        using var net = Network<T>.Create(spec, seed: 1);
        using var ws = new CurvatureWorkspace<T>(spec, batch, threads);
        var rng = new SeededRandom(2);
        var x = new T[batch * 64];
        for (int i = 0; i < x.Length; i++) x[i] = T.CreateChecked(rng.NextGaussian());
        var y = new T[batch * 10];
        for (int r = 0; r < batch; r++) y[r * 10 + rng.Next(10)] = T.One;
        var theta = net.Parameters.ToArray();
        var v = new T[theta.Length];
        for (int i = 0; i < v.Length; i++) v[i] = T.CreateChecked(rng.NextGaussian());
        var result = new T[theta.Length];
        Curv.Forward<T>(spec, theta, x, ws);
        Assert.Equal(0L, SteadyState.AllocatedBytes(() =>
        {
            Curv.HessianVector<T>(spec, theta, x, y, ws, v, result);
            Curv.GaussNewtonVector<T>(spec, theta, x, y, ws, v, result);
            Curv.FisherVector<T>(spec, theta, x, y, ws, v, result, FisherKind.True);
            Curv.FisherVector<T>(spec, theta, x, y, ws, v, result, FisherKind.Empirical);
        }));
    }
}
