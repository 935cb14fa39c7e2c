using Xunit;

namespace Backprop.Functional.Tests.Curvature;

/// <summary>Steady-state AdaHessian updates allocate nothing (all threads, after warm-up).</summary>
[Collection(RunsAlone.Name)]
public class AdaHessianAllocationTests
{
    [Fact]
    public void Update_steady_state_allocates_nothing()
    {
        var spec = NetworkSpec.Mlp([64, 32, 10], ActivationKind.Tanh, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy);
        using var net = Network<float>.Create(spec, seed: 1);
        float[] theta = net.Parameters.ToArray(), x = new float[16 * 64], y = new float[16 * 10];
        var random = new SeededRandom(2);
        for (int i = 0; i < x.Length; i++) x[i] = (float)random.NextDouble();
        for (int r = 0; r < 16; r++) y[r * 10 + random.Next(10)] = 1;
        using var optimizer = new AdaHessian<float>(spec, 16, new AdaHessianOptions(LearningRate: 1e-3, SpatialBlock: 4));
        Assert.Equal(0L, SteadyState.AllocatedBytes(() => optimizer.Update(theta, x, y)));
    }
}
