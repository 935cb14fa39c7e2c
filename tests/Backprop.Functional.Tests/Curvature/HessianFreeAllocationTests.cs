using System.Numerics;
using Xunit;

namespace Backprop.Functional.Tests.Curvature;

/// <summary>Hessian-free, natural-gradient and conjugate-gradient steps allocate nothing once built, in float and double,
/// on one and two GEMM threads.</summary>
[Collection(RunsAlone.Name)]
public sealed class HessianFreeAllocationTests
{
    private const int Batch = 32;
    private static readonly NetworkSpec Spec =
        NetworkSpec.Mlp([64, 48, 10], ActivationKind.Tanh, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy);

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void HessianFree_Update_AllocatesNothingInSteadyState(int threads)
    {
        Assert.Equal(0L, Measure<float>(new HessianFreeOptions(), threads));
        Assert.Equal(0L, Measure<double>(new HessianFreeOptions(), threads));
        Assert.Equal(0L, Measure<float>(new HessianFreeOptions(HeldOutFraction: 0.25, MinDamping: 1e-3), threads));
        Assert.Equal(0L, Measure<float>(new HessianFreeOptions(Preconditioner: HessianFreePreconditioner.KFac), threads));
        Assert.Equal(0L, Measure<double>(new HessianFreeOptions(Preconditioner: HessianFreePreconditioner.KFac, HeldOutFraction: 0.25), threads));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void NaturalGradient_Update_AllocatesNothingInSteadyState(int threads)
    {
        Assert.Equal(0L, Measure<float>(new NaturalGradientOptions(Momentum: 0.9), threads));
        Assert.Equal(0L, Measure<double>(new NaturalGradientOptions(Fisher: FisherKind.Empirical, WarmStartDecay: 0.5), threads));
    }

    [Fact]
    public void ConjugateGradient_Solve_AllocatesNothingInSteadyState()
    {
        var rng = new Random(1);
        const int n = 50;
        double[] a = ConjugateGradientOracle.RandomSpd(rng, n, 0.01);
        double[] b = ConjugateGradientOracle.Random(rng, n);
        double[] m = ConjugateGradientOracle.Random(rng, n, 0.5, 2);
        double[] d = new double[n];
        using var cg = new ConjugateGradient<double>(n);
        Assert.Equal(0L, SteadyState.AllocatedBytes(() =>
        {
            var op = new MatrixOperator(a, n);
            d.AsSpan().Clear();
            cg.Solve(ref op, b, 0.01, d, m);
        }));
    }

    private static long Measure<T>(CurvatureMethod method, int threads) where T : unmanaged, IFloatingPointIeee754<T>
    {
        using var net = Network<T>.Create(Spec, seed: 1);
        using var optimizer = method.Create<T>(Spec, Batch, threads, seed: 3);
        var rng = new SeededRandom(2);
        var x = new T[Batch * 64];
        for (int i = 0; i < x.Length; i++) x[i] = T.CreateChecked(rng.NextGaussian());
        var y = new T[Batch * 10];
        for (int r = 0; r < Batch; r++) y[(r * 10) + rng.Next(10)] = T.One;
        var theta = net.Parameters.ToArray();
        return SteadyState.AllocatedBytes(() => optimizer.Update(theta, x, y));
    }
}
