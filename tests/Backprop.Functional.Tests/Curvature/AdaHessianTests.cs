using Backprop.Functional.Testing;
using Xunit;

namespace Backprop.Functional.Tests.Curvature;

/// <summary>AdaHessian: two updates equal the written formula with the same Hutchinson probes, D is refreshed only every
/// UpdateEach steps, spatial averaging averages, a non-finite cost changes nothing, and it trains a small classifier.</summary>
public class AdaHessianTests
{
    private static readonly NetCase Small =
        new([3, 4, 3], [ActivationKind.Tanh], ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy, Batch: 5, Seed: 6);

    [Theory]
    [InlineData(1.0, 0.0, 1)]
    [InlineData(0.5, 0.01, 3)]
    public void Two_updates_equal_the_written_formula(double power, double decay, int samples)
    {
        var spec = Small.Spec;
        double[] x = Small.X(), y = Small.Y();
        var options = new AdaHessianOptions(LearningRate: 0.05, Beta1: 0.8, Beta2: 0.95, Epsilon: 1e-3, HessianPower: power,
            WeightDecay: decay, Samples: samples, Seed: 17);
        double[] theta = HessianDiagonalOracles.Theta(Small);
        double[] expected = (double[])theta.Clone();
        using var optimizer = new AdaHessian<double>(spec, Small.Batch, options);
        Assert.Equal("adahessian", optimizer.Name);

        // The reference: the same gradient and the same probes (the same seed), then the formula as written.
        int n = theta.Length;
        using var ws = new CurvatureWorkspace<double>(spec, Small.Batch);
        using var hutchinson = new Hutchinson<double>(spec, 17);
        double[] g = new double[n], d = new double[n], m = new double[n], v = new double[n];
        for (int t = 1; t <= 2; t++)
        {
            Backprop.Functional.Curvature.Forward<double>(spec, expected, x, ws);
            double cost = Backprop.Functional.Curvature.Gradient<double>(spec, expected, x, y, ws, g);
            hutchinson.Estimate(expected, x, y, ws, samples, d);
            for (int i = 0; i < n; i++)
            {
                m[i] = options.Beta1 * m[i] + (1 - options.Beta1) * g[i];
                v[i] = options.Beta2 * v[i] + (1 - options.Beta2) * d[i] * d[i];
                double mHat = m[i] / (1 - Math.Pow(options.Beta1, t));
                double vHat = v[i] / (1 - Math.Pow(options.Beta2, t));
                expected[i] = expected[i] - options.LearningRate * options.WeightDecay * expected[i]
                    - options.LearningRate * mHat / (Math.Pow(vHat, power / 2) + options.Epsilon);
            }
            Assert.Equal(cost, optimizer.Update(theta, x, y), 15);
            for (int i = 0; i < n; i++) Assert.Equal(expected[i], theta[i], 13);
        }
        Assert.Equal(2, optimizer.Step);
    }

    [Fact]
    public void D_is_refreshed_only_every_UpdateEach_steps()
    {
        double[] theta = HessianDiagonalOracles.Theta(Small), x = Small.X(), y = Small.Y();
        using var optimizer = new AdaHessian<double>(Small.Spec, Small.Batch, new AdaHessianOptions(UpdateEach: 3));
        var seen = new List<double[]>();
        for (int t = 0; t < 4; t++)
        {
            optimizer.Update(theta, x, y);
            seen.Add(optimizer.Diagonal.ToArray());
        }
        Assert.Equal(seen[0], seen[1]);
        Assert.Equal(seen[0], seen[2]);
        Assert.NotEqual(seen[0], seen[3]);
        Assert.All(seen[0], value => Assert.True(value >= 0));
    }

    [Fact]
    public void Spatial_averaging_replaces_each_run_of_a_row_by_its_mean()
    {
        var c = Small with { Widths = [5, 4, 3] };   // rows of 5 inputs: runs of 2, 2, 1
        var spec = c.Spec;
        double[] theta = HessianDiagonalOracles.Theta(c), x = c.X(), y = c.Y();
        using var optimizer = new AdaHessian<double>(spec, c.Batch, new AdaHessianOptions(SpatialBlock: 2, Seed: 4));
        using var ws = new CurvatureWorkspace<double>(spec, c.Batch);
        using var hutchinson = new Hutchinson<double>(spec, 4);
        var raw = new double[theta.Length];
        Backprop.Functional.Curvature.Forward<double>(spec, theta, x, ws);
        hutchinson.Estimate(theta, x, y, ws, 1, raw);
        optimizer.Update(theta, x, y);
        var d = optimizer.Diagonal;
        foreach (var slot in spec.Layout.Slots)
        {
            int width = slot.Rank == 1 ? slot.Length : slot.Columns;
            for (int r = slot.Offset; r < slot.Offset + slot.Length; r += width)
                for (int k = 0; k < width; k += 2)
                {
                    int len = Math.Min(2, width - k);
                    double mean = 0;
                    for (int i = r + k; i < r + k + len; i++) mean += Math.Abs(raw[i]) / len;
                    for (int i = r + k; i < r + k + len; i++) Assert.Equal(mean, d[i], 14);
                }
        }
    }

    [Fact]
    public void A_non_finite_cost_leaves_theta_and_the_state_as_they_were()
    {
        var spec = NetworkSpec.Mlp([2, 2], ActivationKind.Identity, ActivationKind.Identity, LossKind.Quadratic);
        float[] theta = [1e20f, 1e20f, 1e20f, 1e20f, 0, 0], x = [1, 1], y = [0, 0];
        using var optimizer = new AdaHessian<float>(spec, 1);
        float cost = optimizer.Update(theta, x, y);
        Assert.False(float.IsFinite(cost));
        Assert.Equal([1e20f, 1e20f, 1e20f, 1e20f, 0, 0], theta);
        Assert.Equal(0, optimizer.Step);
        Assert.All(optimizer.FirstMoment.ToArray(), m => Assert.Equal(0f, m));
    }

    [Fact]
    public void It_lowers_the_loss_of_a_small_classifier()
    {
        // Three Gaussian blobs in 4-D, 60 points, full batch; 4-8(Tanh)-3(Softmax), default options.
        const int rows = 60;
        var spec = NetworkSpec.Mlp([4, 8, 3], ActivationKind.Tanh, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy);
        var random = new SeededRandom(12);
        double[] x = new double[rows * 4], y = new double[rows * 3];
        for (int r = 0; r < rows; r++)
        {
            int k = r % 3;
            y[r * 3 + k] = 1;
            for (int j = 0; j < 4; j++) x[r * 4 + j] = (j == k ? 2.0 : 0.0) + 0.7 * random.NextGaussian();
        }
        using var net = Network<double>.Create(spec, seed: 3);
        double[] theta = net.Parameters.ToArray();
        using var optimizer = new AdaHessian<double>(spec, rows);
        double first = optimizer.Update(theta, x, y), last = first;
        for (int t = 1; t < 100; t++) last = optimizer.Update(theta, x, y);
        Assert.True(last < 0.25 * first, $"mean cost {first:F4} → {last:F4} in 100 steps");
    }

    [Fact]
    public void Options_refuse_values_out_of_range()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new AdaHessianOptions(HessianPower: 1.5));
        Assert.Throws<ArgumentOutOfRangeException>(() => new AdaHessianOptions(Beta2: 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new AdaHessianOptions(UpdateEach: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new AdaHessianOptions(LearningRate: double.NaN));
        Assert.Throws<ArgumentOutOfRangeException>(() => new AdaHessianOptions() with { SpatialBlock = 0 });
    }
}
