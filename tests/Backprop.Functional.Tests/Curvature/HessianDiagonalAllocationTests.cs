using Xunit;

namespace Backprop.Functional.Tests.Curvature;

/// <summary>Steady-state Becker–LeCun diagonals and Hutchinson estimates allocate nothing (all threads, after warm-up).</summary>
[Collection(RunsAlone.Name)]
public class HessianDiagonalAllocationTests
{
    [Theory]
    [InlineData(BeckerLeCunVariant.SecondOrder)]
    [InlineData(BeckerLeCunVariant.GaussNewton)]
    public void BeckerLeCun_steady_state_allocates_nothing(BeckerLeCunVariant variant)
    {
        var spec = NetworkSpec.Mlp([64, 32, 16, 10], ActivationKind.GELU, ActivationKind.Sigmoid, LossKind.Quadratic);
        var (theta, x, y) = Data(spec);
        using var ws = new CurvatureWorkspace<float>(spec, 16);
        using var bl = new HessianDiagonal<float>(spec, 16);
        var diagonal = new float[theta.Length];
        Assert.Equal(0L, SteadyState.AllocatedBytes(() =>
        {
            Backprop.Functional.Curvature.Forward<float>(spec, theta, x, ws);
            bl.BeckerLeCun(theta, x, y, ws, diagonal, variant);
        }));
    }

    [Fact]
    public void Hutchinson_steady_state_allocates_nothing()
    {
        var spec = NetworkSpec.Mlp([64, 32, 10], ActivationKind.Tanh, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy);
        var (theta, x, y) = Data(spec);
        using var ws = new CurvatureWorkspace<float>(spec, 16);
        using var hutchinson = new Hutchinson<float>(spec, 3);
        var diagonal = new float[theta.Length];
        Assert.Equal(0L, SteadyState.AllocatedBytes(() =>
        {
            Backprop.Functional.Curvature.Forward<float>(spec, theta, x, ws);
            hutchinson.Estimate(theta, x, y, ws, 2, diagonal);
        }));
    }

    private static (float[] Theta, float[] X, float[] Y) Data(NetworkSpec spec)
    {
        using var net = Network<float>.Create(spec, seed: 1);
        float[] x = new float[16 * spec.Inputs], y = new float[16 * spec.Outputs];
        var random = new SeededRandom(2);
        for (int i = 0; i < x.Length; i++) x[i] = (float)random.NextDouble();
        for (int r = 0; r < 16; r++) y[r * spec.Outputs + random.Next(spec.Outputs)] = 1;
        return (net.Parameters.ToArray(), x, y);
    }
}
