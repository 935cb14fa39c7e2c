using Backprop.Functional.Testing;
using Xunit;
using static Backprop.Functional.Tests.Curvature.HessianDiagonalOracles;

namespace Backprop.Functional.Tests.Curvature;

/// <summary>Hutchinson's estimate against the exact diagonal of H (built densely in double): unbiased, so its error falls
/// as the probes grow (about as 1/√S), and exact from one probe when H is diagonal.</summary>
public class HutchinsonTests
{
    private static double[] Estimate(NetCase c, int samples, long seed)
    {
        var spec = c.Spec;
        double[] theta = Theta(c), x = c.X(), y = c.Y();
        using var ws = new CurvatureWorkspace<double>(spec, c.Batch);
        using var hutchinson = new Hutchinson<double>(spec, seed);
        Backprop.Functional.Curvature.Forward<double>(spec, theta, x, ws);
        var diagonal = new double[theta.Length];
        hutchinson.Estimate(theta, x, y, ws, samples, diagonal);
        return diagonal;
    }

    /// <summary>Mean over entries of |estimate − exact|, divided by the mean |exact|.</summary>
    private static double MeanError(double[] exact, double[] estimate)
    {
        double err = 0, scale = 0;
        for (int i = 0; i < exact.Length; i++)
        {
            err += Math.Abs(estimate[i] - exact[i]);
            scale += Math.Abs(exact[i]);
        }
        return err / scale;
    }

    [Theory]
    [InlineData(ActivationKind.Tanh, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy)]
    [InlineData(ActivationKind.Softplus, ActivationKind.Sigmoid, LossKind.Quadratic)]
    [InlineData(ActivationKind.GELU, ActivationKind.Sigmoid, LossKind.CrossEntropy)]
    public void Error_falls_as_samples_grow(ActivationKind hidden, ActivationKind output, LossKind loss)
    {
        var c = new NetCase([4, 5, 3], [hidden], output, loss, Batch: 6, Seed: 8);
        var exact = Exact(c.Spec, Theta(c), c.X(), c.Y(), c.Batch);
        double e10 = 0, e1000 = 0;
        for (long seed = 1; seed <= 5; seed++)
        {
            e10 += MeanError(exact, Estimate(c, 10, seed)) / 5;
            e1000 += MeanError(exact, Estimate(c, 1000, seed)) / 5;
        }
        // 1/√S predicts a factor of 10; the mean over five seeds is held to a factor of 4.
        Assert.True(e1000 < e10 / 4, $"mean relative error: S = 10 {e10:E3}, S = 1000 {e1000:E3}");
        Assert.True(e1000 < 0.1, $"S = 1000: {e1000:E3}");
    }

    [Fact]
    public void One_probe_is_exact_when_H_is_diagonal()
    {
        // z = w·x + b on x = ±1, quadratic cost: H = (1/m) Σ [x²  x; x  1] = I, exactly diagonal.
        var spec = NetworkSpec.Mlp([1, 1], ActivationKind.Identity, ActivationKind.Identity, LossKind.Quadratic);
        double[] theta = [0.3, -0.2], x = [1, -1], y = [0.5, 2];
        var exact = Exact(spec, theta, x, y, 2);
        Assert.Equal([1.0, 1.0], exact);
        using var ws = new CurvatureWorkspace<double>(spec, 2);
        using var hutchinson = new Hutchinson<double>(spec, seed: 3);
        Backprop.Functional.Curvature.Forward<double>(spec, theta, x, ws);
        var diagonal = new double[2];
        for (int trial = 0; trial < 10; trial++)
        {
            hutchinson.Estimate(theta, x, y, ws, 1, diagonal);
            Assert.Equal(exact, diagonal);
        }
    }

    [Fact]
    public void The_same_seed_gives_the_same_estimate_and_the_state_resumes_the_stream()
    {
        var c = new NetCase([3, 4, 2], [ActivationKind.Tanh], ActivationKind.Identity, LossKind.Quadratic, Batch: 3, Seed: 2);
        Assert.Equal(Estimate(c, 7, 42), Estimate(c, 7, 42));
        Assert.NotEqual(Estimate(c, 7, 42), Estimate(c, 7, 43));

        var spec = c.Spec;
        double[] theta = Theta(c), x = c.X(), y = c.Y();
        using var ws = new CurvatureWorkspace<double>(spec, c.Batch);
        using var first = new Hutchinson<double>(spec, 9);
        using var second = new Hutchinson<double>(spec, 0);
        Backprop.Functional.Curvature.Forward<double>(spec, theta, x, ws);
        double[] a = new double[theta.Length], b = new double[theta.Length];
        first.Estimate(theta, x, y, ws, 2, a);
        second.RandomState = first.RandomState;
        first.Estimate(theta, x, y, ws, 2, a);
        second.Estimate(theta, x, y, ws, 2, b);
        Assert.Equal(a, b);
    }

    [Fact]
    public void Rademacher_draws_plus_and_minus_one_about_equally_often()
    {
        var random = new SeededRandom(5);
        var z = new double[10_001];   // not a multiple of 64
        Hutchinson<double>.Rademacher(ref random, z);
        Assert.All(z, v => Assert.True(v is 1 or -1));
        Assert.InRange(z.Sum(), -300, 300);   // ± 3σ, σ = √10001 ≈ 100
    }

    [Fact]
    public void Estimate_ThrowsForMismatchedShapes()
    {
        var c = new NetCase([3, 2], [], ActivationKind.Identity, LossKind.Quadratic, Batch: 2, Seed: 1);
        var spec = c.Spec;
        double[] theta = Theta(c), x = c.X(), y = c.Y();
        using var ws = new CurvatureWorkspace<double>(spec, 2);
        using var hutchinson = new Hutchinson<double>(spec, 1);
        Backprop.Functional.Curvature.Forward<double>(spec, theta, x, ws);
        Assert.Throws<ArgumentException>(() => hutchinson.Estimate(theta, x, y, ws, 1, new double[theta.Length + 1]));
        Assert.Throws<ArgumentOutOfRangeException>(() => hutchinson.Estimate(theta, x, y, ws, 0, new double[theta.Length]));
    }
}
