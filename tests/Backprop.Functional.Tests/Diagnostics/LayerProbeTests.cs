using Backprop.Functional.Testing;
using FsCheck.Xunit;
using Xunit;

namespace Backprop.Functional.Tests.Diagnostics;

/// <summary>The probe's figures against the same figures computed naively from a separate forward/backward pass:
/// the gradient vector, the workspace's z, a and δ, and θ before and after the step.</summary>
public class LayerProbeTests
{
    [Property(MaxTest = 150, Arbitrary = [typeof(NetArbitraries)])]
    public void Probe_equals_the_figures_computed_from_gradient_and_activations(NetCase c)
    {
        using var net = c.Network(Initialization.Nielsen);
        if (c.Seed % 2 != 0) foreach (ref double t in net.Parameters) t *= 4;   // large |z|: saturated and dead units
        var spec = c.Spec;
        var (x, y) = (c.X(), c.Y());
        double[] before = net.Parameters.ToArray();
        using var ws = net.CreateWorkspace(c.Batch);
        var g = new double[net.Layout.Count];
        net.ValueAndGradient(x, y, ws, g);

        using var state = new TrainState<double>(net, new Sgd(0.5), c.Batch);   // a batch of one takes the fused step
        using var probe = new LayerProbe<double>(spec);
        probe.Begin(net.Parameters);
        Trainer.Step<double>(net, x, y, state);
        probe.Observe(net.Parameters, x, state.Workspace, state.Gradient.Span);
        var report = probe.Report();

        Assert.Equal(1, report.Steps);
        Assert.Equal(c.Batch, report.Samples);
        int last = spec.Layers.Count - 1;
        for (int l = 0; l <= last; l++)
        {
            var d = (Dense)spec.Layers[l];
            var r = report.Layers[l];
            var w = net.Layout.Weight(l);
            var b = net.Layout.Bias(l);
            Close(Norm(w.Of<double>(g)), r.WeightGradientNorm, $"{c}: ‖∂C/∂W{l}‖");
            Close(Norm(b.Of<double>(g)), r.BiasGradientNorm, $"{c}: ‖∂C/∂b{l}‖");
            Close(Norm(ws.Delta(l, c.Batch)), r.DeltaNorm!.Value, $"{c}: ‖δ{l}‖");
            double[] change = [.. w.Of<double>(net.Parameters).ToArray().Zip(w.Of<double>(before).ToArray(), (n, o) => n - o)];
            Close(Norm(change) / Norm(w.Of<double>(net.Parameters)), r.UpdateRatio!.Value, $"{c}: update ratio {l}");

            var z = ws.Z(l, c.Batch).ToArray();
            var a = ws.A(l, c.Batch).ToArray();
            double? saturated = d.Activation switch
            {
                ActivationKind.Sigmoid => z.Count(v => Sigmoid(v) * (1 - Sigmoid(v)) < 0.01 * 0.25) / (double)z.Length,
                ActivationKind.Tanh => z.Count(v => 1 - Math.Tanh(v) * Math.Tanh(v) < 0.01) / (double)z.Length,
                _ => null,
            };
            Assert.Equal(saturated, r.SaturatedFraction);
            double? dead = d.Activation == ActivationKind.ReLU
                ? Enumerable.Range(0, d.Outputs).Count(j => Enumerable.Range(0, c.Batch).All(i => a[i * d.Outputs + j] == 0)) / (double)d.Outputs
                : null;
            Assert.Equal(dead, r.DeadFraction);
            Assert.Equal(l < last ? a.Count(v => Math.Abs(v) < 0.01) / (double)a.Length : null, r.LowActivationFraction);
        }
    }

    [Fact]
    public void Report_over_a_window_averages_the_steps_and_counts_dead_units_over_every_sample()
    {
        var spec = new NetworkSpec([new Dense(3, 4, ActivationKind.ReLU), new Dense(4, 2, ActivationKind.Softmax)], LossKind.SoftmaxCrossEntropy);
        using var net = Network<double>.Create(spec, 3);
        var w = net.Layout.Weight(0).Of(net.Parameters);
        var bias = net.Layout.Bias(0).Of(net.Parameters);
        w.Clear();
        bias.Clear();
        w[0] = 1;        // unit 0 reads x₀; unit 1 reads −x₀; units 2 and 3 stay at z = 0, dead
        w[3] = -1;
        using var ws = net.CreateWorkspace(1);
        var g = new double[net.Layout.Count];
        using var probe = new LayerProbe<double>(spec, new LayerProbeOptions(RatioEvery: 1));
        double[] sums = new double[2];
        foreach (double x0 in new[] { 1.0, -1.0 })   // unit 0 alive on the first sample, unit 1 on the second
        {
            double[] x = [x0, 0.5, 0.25];
            net.ValueAndGradient(x, [1.0, 0.0], ws, g);
            probe.Observe(net.Parameters, x, ws, g);
            sums[0] += Norm(net.Layout.Weight(1).Of<double>(g));
            sums[1] += Norm(ws.Delta(1, 1));
        }
        var report = probe.Report();
        Assert.Equal(2, report.Steps);
        Assert.Equal(0.5, report.Layers[0].DeadFraction);
        Assert.Equal(0.0, report.Layers[0].UpdateRatio);   // measured for the second observation only; θ did not move
        Close(sums[0] / 2, report.Layers[1].WeightGradientNorm, "mean ‖∂C/∂W1‖");
        Close(sums[1] / 2, report.Layers[1].DeltaNorm!.Value, "mean ‖δ1‖");

        probe.Reset();
        Assert.Equal(0, probe.Report().Steps);
        Assert.True(double.IsNaN(probe.Report().Layers[0].DeadFraction!.Value));
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(3, 1)]
    [InlineData(1, 4)]
    [InlineData(2, 3)]
    [InlineData(1, 5)]
    public void Every_k_steps_reads_steps_k_and_2k_only_and_the_update_ratio_on_one_read_in_r(int k, int r)
    {
        var spec = NetworkSpec.Mlp([3, 4, 2], ActivationKind.Tanh, ActivationKind.Identity, LossKind.Quadratic);
        using var net = Network<double>.Create(spec, 8);
        using var state = new TrainState<double>(net, new Adam(0.05), 2);
        using var probe = new LayerProbe<double>(spec, new LayerProbeOptions(Every: k, RatioEvery: r));
        double[] x = [0.1, -0.2, 0.3, 0.5, 0.4, -0.6], y = [1, 0, 0, 1];
        var w = net.Layout.Weight(0);
        var ratios = new List<double>();
        var gradients = new List<double>();
        const int steps = 12;
        for (int step = 1; step <= steps; step++)
        {
            double[] before = w.Of<double>(net.Parameters).ToArray();
            Trainer.Step<double>(net, x, y, state);
            probe.Observe(net.Parameters, x, state.Workspace, state.Gradient.Span);
            double[] after = w.Of<double>(net.Parameters).ToArray();
            if (step % k != 0) continue;
            gradients.Add(Norm(w.Of<double>(state.Gradient.Span)));
            if (step > 1 && step % (k * r) == 0)   // without Begin, step 1's θ before is not known
                ratios.Add(Norm([.. after.Zip(before, (n, o) => n - o)]) / Norm(after));
        }
        var report = probe.Report();
        Assert.Equal(steps / k, report.Steps);
        Assert.Equal(2 * steps / k, report.Samples);
        Close(gradients.Average(), report.Layers[0].WeightGradientNorm, "mean ‖∂C/∂W‖ of the steps read");
        Close(ratios.Average(), report.Layers[0].UpdateRatio!.Value, $"mean ratio of steps {string.Join(", ", ratios)}");
    }

    [Fact]
    public void Recurrent_layer_reports_its_tensors_gradient_norms_and_no_unit_figures()
    {
        var spec = new NetworkSpec([new Rnn(2, 3), new Dense(3, 2, ActivationKind.Softmax)], LossKind.SoftmaxCrossEntropy);
        using var net = Network<double>.Create(spec, 5);
        const int batch = 2, time = 4;
        using var ws = net.CreateWorkspace(batch, time: time);
        var rng = new SeededRandom(6);
        var x = new double[batch * time * 2];
        for (int i = 0; i < x.Length; i++) x[i] = rng.NextGaussian();
        double[] y = [1, 0, 0, 1];
        var g = new double[net.Layout.Count];
        net.ValueAndGradient(x, y, ws, g);
        using var probe = new LayerProbe<double>(spec);
        probe.Observe(net.Parameters, x, ws, g);
        var r = probe.Report().Layers[0];
        double weights = 0, biases = 0;
        foreach (var slot in net.Layout.SlotsOf(0))
            if (slot.Rank == 2) weights += Math.Pow(Norm(slot.Of<double>(g)), 2); else biases += Math.Pow(Norm(slot.Of<double>(g)), 2);
        Close(Math.Sqrt(weights), r.WeightGradientNorm, "‖∂C/∂W‖ of the Rnn");
        Close(Math.Sqrt(biases), r.BiasGradientNorm, "‖∂C/∂b‖ of the Rnn");
        Assert.Null(r.DeltaNorm);
        Assert.Null(r.SaturatedFraction);
        Assert.Null(r.DeadFraction);
        Assert.Null(r.LowActivationFraction);
    }

    /// <summary>Nielsen ch. 5 on a synthetic equivalent of 784-30-30-30-30-10: 64 inputs in [0, 1], four sigmoid
    /// hidden layers of 30, W ~ N(0, 1/nᵢₙ), b ~ N(0, 1), at initialisation. BP2 gives δˡ = (Wˡ⁺¹)ᵀδˡ⁺¹ ⊙ σ′(zˡ); with
    /// that initialisation a 30 × 30 Wᵀ keeps ‖v‖ on average (E‖Wᵀv‖² = ‖v‖² · 30 · 1/30), and σ′ ≤ ¼ (z ~ N(0, ≈1.3)
    /// gives an RMS σ′ near 0.2). So ‖∂C/∂b¹‖/‖∂C/∂b⁴‖ (first over last hidden layer) is about 0.2³ ≈ 8·10⁻³, and
    /// (¼)³ ≈ 1.6·10⁻² is the bound when every unit sits at z = 0. The band [10⁻³, 4·10⁻²] allows a factor 8 below the
    /// estimate (weight gains of random matrices below 1, σ′ spread) and 2.5 above the bound (gains above 1); it
    /// excludes a ratio near 1, which a probe reading the wrong layer, or no vanishing at all, would give.</summary>
    [Fact]
    public void Deep_sigmoid_network_first_hidden_layer_gradient_is_one_to_two_orders_below_the_last()
    {
        var spec = NetworkSpec.Mlp([64, 30, 30, 30, 30, 10], ActivationKind.Sigmoid, ActivationKind.Sigmoid, LossKind.CrossEntropy);
        using var net = Network<double>.Create(spec, 11, Initialization.Nielsen);
        const int batch = 10;
        using var ws = net.CreateWorkspace(batch);
        using var probe = new LayerProbe<double>(spec);
        var g = new double[net.Layout.Count];
        var rng = new SeededRandom(12);
        for (int step = 0; step < 50; step++)
        {
            var x = new double[batch * 64];
            var y = new double[batch * 10];
            for (int i = 0; i < x.Length; i++) x[i] = rng.NextDouble();
            for (int r = 0; r < batch; r++) y[r * 10 + rng.Next(10)] = 1;
            net.ValueAndGradient(x, y, ws, g);
            probe.Observe(net.Parameters, x, ws, g);
        }
        var layers = probe.Report().Layers;
        double ratio = layers[0].BiasGradientNorm / layers[3].BiasGradientNorm;
        Console.WriteLine($"deep sigmoid: ‖∂C/∂b‖ first/last hidden = {ratio:E2}");
        Assert.InRange(ratio, 1e-3, 4e-2);
        for (int l = 0; l < 3; l++)
            Assert.True(layers[l].BiasGradientNorm < layers[l + 1].BiasGradientNorm,
                $"‖∂C/∂b‖ of layer {l} ({layers[l].BiasGradientNorm:E2}) is not below layer {l + 1}'s ({layers[l + 1].BiasGradientNorm:E2})");
    }

    [Fact]
    public void Fit_shows_the_probe_every_step_and_trains_the_same_theta()
    {
        var spec = NetworkSpec.Mlp([4, 5, 3], ActivationKind.Tanh, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy);
        var rng = new SeededRandom(21);
        var x = new float[30 * 4];
        var y = new float[30 * 3];
        for (int i = 0; i < x.Length; i++) x[i] = (float)rng.NextGaussian();
        for (int r = 0; r < 30; r++) y[r * 3 + rng.Next(3)] = 1;
        var data = Dataset.Create("synthetic", 30, 4, 3, x, y);
        var options = new TrainingOptions(Epochs: 2, BatchSize: 8, Seed: 1, Optimizer: new Adam(1e-2));
        using var plain = Network<float>.Create(spec, 1);
        Trainer.Fit(plain, data, null, options, new FitHooks<float>()).Complete();
        using var probed = Network<float>.Create(spec, 1);
        using var probe = new LayerProbe<float>(spec);
        var seen = new List<ProbeReport>();
        foreach (var _ in Trainer.Fit(probed, data, null, options, new FitHooks<float>(Probe: probe)))
        {
            seen.Add(probe.Report());
            probe.Reset();
        }
        Assert.Equal(plain.Parameters.ToArray(), probed.Parameters.ToArray());
        Assert.Equal([4L, 4L], seen.Select(r => r.Steps));
        Assert.Equal([30L, 30L], seen.Select(r => r.Samples));
        Assert.All(seen, r => Assert.True(r.Layers[0].UpdateRatio > 0));
        // A sharded step fills each shard's workspace, not the one the probe reads: refused, not read stale.
        var e = Assert.Throws<ArgumentException>(() => Trainer.Fit(probed, data, null, options with { MicroShards = 2 }, new FitHooks<float>(Probe: probe)).Complete());
        Assert.Contains("leave MicroShards at 1 while probing", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Observe_ThrowsForMismatchedShapes()
    {
        var spec = NetworkSpec.Mlp([3, 2], ActivationKind.Identity, ActivationKind.Identity, LossKind.Quadratic);
        using var probe = new LayerProbe<double>(spec);
        using var ws = new Workspace<double>(spec.Layers, 2);
        var theta = new double[spec.Layout.Count];
        Assert.Throws<ArgumentException>(() => probe.Observe(theta.AsSpan(1), new double[3], ws, theta));
        Assert.Throws<ArgumentException>(() => probe.Observe(theta, new double[3], ws, new double[1]));
        Assert.Throws<ArgumentException>(() => probe.Observe(theta, new double[9], ws, theta));   // 3 rows in a 2-row workspace
        Assert.Throws<ArgumentException>(() => probe.Begin(new double[1]));
    }

    private static double Sigmoid(double z) => 1 / (1 + Math.Exp(-z));

    private static double Norm(ReadOnlySpan<double> v)
    {
        double s = 0;
        foreach (double e in v) s += e * e;
        return Math.Sqrt(s);
    }

    private static void Close(double expected, double actual, string what)
    {
        double tolerance = 1e-9 * Math.Max(1, Math.Abs(expected));
        Assert.True(Math.Abs(expected - actual) <= tolerance || (double.IsNaN(expected) && double.IsNaN(actual)),
            $"{what}: probe {actual:R}, direct {expected:R}");
    }
}
