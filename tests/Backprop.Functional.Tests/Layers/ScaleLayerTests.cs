using Xunit;

namespace Backprop.Functional.Tests.Layers;

/// <summary>What the core does with a kind it does not know (<see cref="Scale"/>): layout, chain errors, training,
/// the stored-path fallback of the online step, the predictor's fallback, the tangent slot.</summary>
public class ScaleLayerTests
{
    private static NetworkSpec Spec(LossKind loss = LossKind.SoftmaxCrossEntropy) =>
        new([new Dense(4, 6, ActivationKind.Tanh), new Scale(6), new Dense(6, 3, ActivationKind.Softmax)], loss);

    [Fact]
    public void Layout_places_the_kinds_tensors_by_name_between_the_dense_ones()
    {
        var layout = Spec().Layout;
        Assert.Equal(["layers.0.weight", "layers.0.bias", "layers.1.scale", "layers.2.weight", "layers.2.bias"],
            layout.Slots.ToArray().Select(s => s.Name));
        var scale = layout.SlotsOf(1)[0];
        Assert.Equal((30, 6, 1, "[6]"), (scale.Offset, scale.Length, scale.Rank, scale.Shape));
        Assert.Equal(4 * 6 + 6 + 6 + 6 * 3 + 3, layout.Count);
        Assert.Equal(new Range(30, 36), layout.LayerRange(1));
        Assert.Equal(["layers.0.weight", "layers.2.weight"], layout.DecayedSlots.ToArray().Select(s => s.Name));
        var e = Assert.Throws<InvalidOperationException>(() => layout.Weight(1));
        Assert.Equal("layer 1 (Scale) has no weight", e.Message);
    }

    [Fact]
    public void Spec_reads_the_kind_in_its_text_and_takes_the_output_activation_from_the_last_layer()
    {
        var spec = Spec();
        Assert.Equal("4-6(Tanh)-Scale(6)-3(Softmax) SoftmaxCrossEntropy", spec.ToString());
        Assert.Equal(ActivationKind.Softmax, spec.OutputActivation);
        var last = new NetworkSpec([new Dense(4, 3, ActivationKind.Sigmoid), new Scale(3)], LossKind.Quadratic);
        Assert.Equal(ActivationKind.Identity, last.OutputActivation);
        var e = Assert.Throws<ArgumentException>(() => new NetworkSpec([new Dense(4, 3, ActivationKind.Sigmoid), new Scale(3)], LossKind.CrossEntropy));
        Assert.Contains("does not fit output activation Identity", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Records_print_their_widths_and_own_members()
    {
        Assert.Equal("Dense { Inputs = 2, Outputs = 3, Activation = ReLU, ParameterCount = 9, PerStep = False }", new Dense(2, 3, ActivationKind.ReLU).ToString());
        Assert.Equal("Scale { Inputs = 4, Outputs = 4, Width = 4 }", new Scale(4).ToString());
    }

    [Fact]
    public void Chain_error_names_the_layer_its_kind_and_both_edges()
    {
        var e = Assert.Throws<ArgumentException>(() =>
            new NetworkSpec([new Dense(4, 6, ActivationKind.Tanh), new Scale(5), new Dense(5, 3, ActivationKind.Softmax)], LossKind.SoftmaxCrossEntropy));
        Assert.StartsWith("layers do not chain: layer 1 (Scale) takes [batch × 5] but layer 0 (Dense) gives [batch × 6]", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Initializer_draws_the_scale_as_ones_and_the_dense_layers_as_before()
    {
        using var net = Network<double>.Create(Spec(), seed: 3, Initialization.PyTorch);
        Assert.All(net.Layout.SlotsOf(1)[0].Of(net.Parameters).ToArray(), s => Assert.Equal(1.0, s));
        // The first dense layer's draws come first, so they are the all-dense network's.
        using var dense = Network<double>.Create(NetworkSpec.Mlp([4, 6, 3], ActivationKind.Tanh, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy), seed: 3, Initialization.PyTorch);
        Assert.Equal(dense.Parameters[..30].ToArray(), net.Parameters[..30].ToArray());
    }

    [Fact]
    public void The_tangent_kernels_a_kind_does_not_implement_throw_naming_it()
    {
        var layer = new Scale(3);
        var e = Assert.Throws<NotSupportedException>(() => layer.ForwardTangent(new TangentPass<double>()));
        Assert.Contains("Scale", e.Message, StringComparison.Ordinal);
        var back = Assert.Throws<NotSupportedException>(() => layer.BackwardTangent(new TangentBackwardPass<double>()));
        Assert.Contains("Scale", back.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_float_network_with_a_scale_layer_trains()
    {
        var spec = Spec();
        using var net = Network<float>.Create(spec, seed: 5);
        var rng = new SeededRandom(6);
        const int n = 64;
        var x = new float[n * 4];
        var y = new float[n * 3];
        for (int r = 0; r < n; r++)
        {
            for (int i = 0; i < 4; i++) x[r * 4 + i] = (float)rng.NextGaussian();
            y[r * 3 + (x[r * 4] > 0 ? 0 : x[r * 4 + 1] > 0 ? 1 : 2)] = 1;
        }
        using var ws = net.CreateWorkspace(n);
        using var g = net.CreateGradient();
        var adam = new Adam(0.05);
        using var buffers = adam.CreateBuffers<float>(net.Layout.Count);
        var state = new OptimizerState(0);
        var options = new TrainingOptions { Optimizer = adam };
        float first = Trainer.Step(net, x, y, ws, g.Span, adam, ref state, buffers, options, 0f);
        float cost = first;
        for (int i = 0; i < 200; i++) cost = Trainer.Step(net, x, y, ws, g.Span, adam, ref state, buffers, options, 0f);
        Assert.True(cost < first / 4, $"cost {first} → {cost}");
        Assert.NotEqual(1f, net.Layout.SlotsOf(1)[0].Of(net.Parameters)[0]);   // the scale itself moved
    }

    [Fact]
    public void One_sample_Sgd_step_takes_the_stored_path_and_TrainOnline_refuses_by_name()
    {
        var spec = Spec();
        using var net = Network<double>.Create(spec, seed: 7);
        using var reference = Network<double>.FromParameters(spec, net.Parameters);
        double[] x = [0.5, -1, 0.25, 2], y = [0, 1, 0];
        using var ws = net.CreateWorkspace(1);
        using var g = net.CreateGradient();
        g.Span.Fill(double.NaN);
        var sgd = new Sgd(0.1);
        using var buffers = sgd.CreateBuffers<double>(net.Layout.Count);
        var state = new OptimizerState(0);
        Trainer.Step(net, x, y, ws, g.Span, sgd, ref state, buffers, new TrainingOptions { Optimizer = sgd }, 0.0);
        Assert.Equal(1, state.Step);
        Assert.All(g.Span.ToArray(), v => Assert.True(double.IsFinite(v)));   // the stored path wrote ∂C/∂θ

        using var expected = reference.CreateGradient();
        using var ws2 = reference.CreateWorkspace(1);
        reference.ValueAndGradient(x, y, ws2, expected.Span);
        Assert.Equal(expected.Span.ToArray(), g.Span.ToArray());
        var e = Assert.Throws<ArgumentException>(() => reference.TrainOnline(x, y, ws2, sgd, ref state, buffers, 0.1));
        Assert.Contains("layer 1 (Scale)", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Predictor_without_a_fast_path_is_Forward_bit_for_bit()
    {
        var spec = new NetworkSpec([new Scale(5), new Dense(5, 4, ActivationKind.ReLU), new Dense(4, 2, ActivationKind.Softmax)], LossKind.SoftmaxCrossEntropy);
        using var net = Network<float>.Create(spec, seed: 9);
        var rng = new SeededRandom(10);
        var s = net.Layout.SlotsOf(0)[0].Of(net.Parameters);
        for (int i = 0; i < s.Length; i++) s[i] = (float)rng.NextGaussian();
        using var predictor = net.CreatePredictor();
        using var ws = net.CreateWorkspace(1);
        for (int k = 0; k < 20; k++)
        {
            var x = new float[5];
            for (int i = 0; i < 5; i++) x[i] = rng.NextDouble() < 0.5 ? 0 : (float)rng.NextGaussian();
            Assert.Equal(net.Forward(x, ws).ToArray(), predictor.Predict(x).ToArray());
        }
    }
}
