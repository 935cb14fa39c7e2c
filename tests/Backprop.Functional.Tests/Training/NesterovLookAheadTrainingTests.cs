using Xunit;

namespace Backprop.Functional.Tests.Training;

/// <summary>Trainer.Step and Trainer.Fit with <see cref="NesterovForm.LookAhead"/> follow the textbook recursion
/// v ← μv + η∇C(θ − μv), θ ← θ − v, written out here without the optimizer: the gradient must be taken at the
/// look-ahead point, not at θ (which would be heavy-ball momentum).</summary>
public class NesterovLookAheadTrainingTests
{
    /// <summary>C(θ) = (1/m) Σᵣ ½(w·xᵣ + b − yᵣ)² of one linear unit, with its gradient in closed form.</summary>
    private static void QuadraticGradient(double[] theta, double[] x, double[] y, int inputs, double[] g)
    {
        int rows = y.Length;
        Array.Clear(g);
        for (int r = 0; r < rows; r++)
        {
            double e = theta[inputs] - y[r];
            for (int j = 0; j < inputs; j++) e += theta[j] * x[r * inputs + j];
            for (int j = 0; j < inputs; j++) g[j] += e * x[r * inputs + j] / rows;
            g[inputs] += e / rows;
        }
    }

    [Theory]
    [InlineData(4, 0.1, 0.9)]
    [InlineData(1, 0.05, 0.8)]   // one row: a batch Trainer.Step could send to the online path
    [InlineData(3, 0.2, 0.5)]
    public void Step_on_a_quadratic_follows_the_textbook_recursion(int rows, double eta, double mu)
    {
        const int inputs = 3;
        var spec = new NetworkSpec([new Dense(inputs, 1)], LossKind.Quadratic);
        var rng = new SeededRandom(11);
        var x = new double[rows * inputs];
        var y = new double[rows];
        for (int i = 0; i < x.Length; i++) x[i] = rng.NextGaussian();
        for (int i = 0; i < y.Length; i++) y[i] = rng.NextGaussian();
        var theta = new double[inputs + 1];
        for (int i = 0; i < theta.Length; i++) theta[i] = rng.NextGaussian();

        using var net = Network<double>.FromParameters(spec, theta);
        var optimizer = new Nesterov(eta, mu, NesterovForm.LookAhead);
        using var ws = net.CreateWorkspace(rows);
        using var gradient = net.CreateGradient();
        using var buffers = optimizer.CreateBuffers<double>(net.Layout.Count);
        var state = new OptimizerState(0);
        var options = new TrainingOptions(Optimizer: optimizer);

        var v = new double[theta.Length];
        var point = new double[theta.Length];
        var g = new double[theta.Length];
        for (int step = 1; step <= 8; step++)
        {
            Trainer.Step(net, x, y, ws, gradient.Span, optimizer, ref state, buffers, options, 0.0);

            for (int i = 0; i < theta.Length; i++) point[i] = theta[i] - mu * v[i];
            QuadraticGradient(point, x, y, inputs, g);
            for (int i = 0; i < theta.Length; i++)
            {
                v[i] = mu * v[i] + eta * g[i];
                theta[i] -= v[i];
            }

            for (int i = 0; i < theta.Length; i++)
                Assert.True(Math.Abs(net.Parameters[i] - theta[i]) <= 1e-12 * Math.Max(1, Math.Abs(theta[i])),
                    $"rows {rows}, step {step}, θ[{i}]: trainer {net.Parameters[i]:R} vs textbook {theta[i]:R}");
        }
        Assert.Equal(8, state.Step);
    }

    /// <summary>The case: a 3-6-5-3 tanh network, quadratic cost, batch 4, η = 0.1, μ = 0.9; also with
    /// Nielsen's L2, whose term is taken at the look-ahead point too.</summary>
    [Theory]
    [InlineData(0.0)]
    [InlineData(0.05)]
    public void Step_on_a_network_follows_the_textbook_recursion(double l2)
    {
        const double eta = 0.1, mu = 0.9;
        var spec = NetworkSpec.Mlp([3, 6, 5, 3], ActivationKind.Tanh, ActivationKind.Tanh, LossKind.Quadratic);
        var rng = new SeededRandom(5);
        var x = new double[4 * 3];
        var y = new double[4 * 3];
        for (int i = 0; i < x.Length; i++) x[i] = rng.NextGaussian();
        for (int i = 0; i < y.Length; i++) y[i] = rng.NextDouble() - 0.5;

        using var net = Network<double>.Create(spec, seed: 2);
        double[] theta = net.Parameters.ToArray();
        var optimizer = new Nesterov(eta, mu, NesterovForm.LookAhead);
        using var ws = net.CreateWorkspace(4);
        using var gradient = net.CreateGradient();
        using var buffers = optimizer.CreateBuffers<double>(net.Layout.Count);
        var state = new OptimizerState(0);
        var options = new TrainingOptions(Optimizer: optimizer);

        // The oracle's gradient: another network evaluated at θ − μv (plus (λ)·w on weights for L2).
        using var oracle = Network<double>.FromParameters(spec, theta);
        using var oracleWs = oracle.CreateWorkspace(4);
        var g = new double[theta.Length];
        var v = new double[theta.Length];
        for (int step = 1; step <= 6; step++)
        {
            Trainer.Step(net, x, y, ws, gradient.Span, optimizer, ref state, buffers, options, l2);

            for (int i = 0; i < theta.Length; i++) oracle.Parameters[i] = theta[i] - mu * v[i];
            oracle.ValueAndGradient(x, y, oracleWs, g);
            for (int l = 0; l < spec.Layers.Count; l++)
            {
                var w = spec.Layout.Weight(l);
                for (int i = w.Offset; i < w.Offset + w.Length; i++) g[i] += l2 * oracle.Parameters[i];
            }
            for (int i = 0; i < theta.Length; i++)
            {
                v[i] = mu * v[i] + eta * g[i];
                theta[i] -= v[i];
            }

            double worst = 0;
            for (int i = 0; i < theta.Length; i++) worst = Math.Max(worst, Math.Abs(net.Parameters[i] - theta[i]));
            Assert.True(worst <= 1e-12, $"step {step}: max |θ_trainer − θ_textbook| = {worst:E2}");
        }
    }

    /// <summary>Fit with one batch per epoch takes the same steps; the shuffle only reorders the batch's rows, so the
    /// comparison allows for the reordered sums.</summary>
    [Fact]
    public void Fit_follows_the_textbook_recursion()
    {
        const double eta = 0.05, mu = 0.9;
        var spec = NetworkSpec.Mlp([4, 8, 3], ActivationKind.Tanh, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy);
        var data = TrainerTests.Blobs(32, 7);
        using var net = Network<double>.Create(spec, seed: 4);
        double[] theta = net.Parameters.ToArray();
        Trainer.Fit(net, data, null, new TrainingOptions(Epochs: 10, BatchSize: 32, Optimizer: new Nesterov(eta, mu, NesterovForm.LookAhead))).Complete();

        using var oracle = Network<double>.FromParameters(spec, theta);
        using var ws = oracle.CreateWorkspace(32);
        var x = data.X.Select(f => (double)f).ToArray();
        var y = data.Y.Select(f => (double)f).ToArray();
        var g = new double[theta.Length];
        var v = new double[theta.Length];
        for (int step = 0; step < 10; step++)
        {
            for (int i = 0; i < theta.Length; i++) oracle.Parameters[i] = theta[i] - mu * v[i];
            oracle.ValueAndGradient(x, y, ws, g);
            for (int i = 0; i < theta.Length; i++)
            {
                v[i] = mu * v[i] + eta * g[i];
                theta[i] -= v[i];
            }
        }

        double worst = 0;
        for (int i = 0; i < theta.Length; i++) worst = Math.Max(worst, Math.Abs(net.Parameters[i] - theta[i]));
        Assert.True(worst <= 1e-12, $"max |θ_fit − θ_textbook| = {worst:E2}");
    }

    [Fact]
    public void The_fused_online_path_does_not_take_the_look_ahead_form() =>
        Assert.False(OuterProductUpdate.Supports(new Nesterov(Form: NesterovForm.LookAhead)));
}
