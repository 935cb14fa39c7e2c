using Backprop.Functional.Testing;
using Backprop.Functional.Tests.Optimizers;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace Backprop.Functional.Tests.Training;

/// <summary>
/// The runtime network's online step (<see cref="Network{T}.TrainOnline"/>, and <see cref="Trainer.Step{T}"/> on a
/// one-sample batch) against the unfused step it replaces: <see cref="Network{T}.ValueAndGradient"/> then
/// <see cref="Optimizer.Update{T}"/>. Every network shape, activation and cost the generators make, every fused
/// optimizer variant, three steps with a changing rate: θ, the moments, the state and the cost are equal with ==.
/// </summary>
[Collection(RunsAlone.Name)]
public sealed class OnlineStepProperties
{
    private static readonly string[] Fused =
        ["Sgd", "SgdWeightDecay", "Adam", "AdamAmsgrad", "AdamWeightDecay", "AdamAmsgradWeightDecay", "AdamW", "AdamWAmsgrad", "AdamWNoDecay"];

    private static Arbitrary<(NetCase Net, Optimizer Optimizer)> Cases() =>
        (from net in NetArbitraries.Gen(maxBatch: 1)
         from variant in Gen.Elements(Fused)
         from optimizer in OptimizerCases.For(variant)
         select (net, optimizer)).ToArbitrary();

    [Property(MaxTest = 200)]
    public Property TrainOnline_equals_ValueAndGradient_then_Update() =>
        Prop.ForAll(Cases(), c =>
        {
            using var fused = c.Net.Network();
            using var plain = c.Net.Network();
            using var ws = fused.CreateWorkspace(1);
            using var g = plain.CreateGradient();
            using var buffers = c.Optimizer.CreateBuffers<double>(fused.Layout.Count);
            using var plainBuffers = c.Optimizer.CreateBuffers<double>(fused.Layout.Count);
            var state = new OptimizerState(0);
            var plainState = new OptimizerState(0);
            for (int step = 0; step < 3; step++)
            {
                double[] x = c.Net.X(step), y = c.Net.Y(step);
                double eta = c.Optimizer.LearningRate / (1 + step);
                double cost = fused.TrainOnline(x, y, ws, c.Optimizer, ref state, buffers, eta);
                double plainCost = plain.ValueAndGradient(x, y, ws, g.Span);
                plainState = c.Optimizer.Update<double>(plainState, plain.Parameters, g.Span, plainBuffers, eta);
                string at = $"{c.Net}, {c.Optimizer}, step {step + 1}: ";
                Assert.True(cost == plainCost, at + $"cost {cost} vs {plainCost}");
                Assert.True(state == plainState, at + $"state {state} vs {plainState}");
                Same(fused.Parameters, plain.Parameters, at + "θ");
                for (int k = 0; k < buffers.Count; k++)
                    Same(buffers.Moment(k), plainBuffers.Moment(k), at + $"moment {k}");
            }
        });

    /// <summary>Trainer.Step takes the fused path on one sample when nothing needs the stored gradient (the gradient
    /// scratch is left untouched) and gives the bits the stored path gives (clipping at a norm no gradient reaches
    /// keeps it on the stored path).</summary>
    [Theory]
    [InlineData("sgd")]
    [InlineData("adam")]
    [InlineData("adamw")]
    public void Step_on_one_sample_fuses_and_matches_the_stored_path(string name)
    {
        var spec = NetworkSpec.Mlp([4, 16, 3], ActivationKind.Tanh, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy);
        using var fused = Network<float>.Create(spec, 3);
        using var stored = Network<float>.Create(spec, 3);
        var optimizer = TrainerTests.Make(name);
        using var ws = fused.CreateWorkspace(1);
        using var g = fused.CreateGradient();
        using var gStored = fused.CreateGradient();
        using var buffers = optimizer.CreateBuffers<float>(fused.Layout.Count);
        using var buffersStored = optimizer.CreateBuffers<float>(fused.Layout.Count);
        var state = new OptimizerState(0);
        var stateStored = new OptimizerState(0);
        var options = new TrainingOptions(BatchSize: 1, Optimizer: optimizer);
        var unreachable = options with { ClipNorm = 1e30 };
        var data = TrainerTests.Blobs(50, 7);
        g.Span.Fill(float.NaN);
        for (int i = 0; i < data.Count; i++)
        {
            var x = data.X.AsSpan(i * 4, 4);
            var y = data.Y.AsSpan(i * 3, 3);
            float cost = Trainer.Step(fused, x, y, ws, g.Span, optimizer, ref state, buffers, options, 0f);
            float costStored = Trainer.Step(stored, x, y, ws, gStored.Span, optimizer, ref stateStored, buffersStored, unreachable, 0f);
            Assert.Equal(costStored, cost);
        }
        Assert.All(g.Span.ToArray(), v => Assert.True(float.IsNaN(v)));   // the fused path never formed ∂C/∂θ
        Assert.Equal(stateStored, state);
        Assert.Equal(stored.Parameters.ToArray(), fused.Parameters.ToArray());
        float[] x0 = data.X[..4], y0 = data.Y[..3];
        Assert.Equal(0L, SteadyState.AllocatedBytes(() => Trainer.Step(fused, x0, y0, ws, g.Span, optimizer, ref state, buffers, options, 0f)));
    }

    [Fact]
    public void TrainOnline_refuses_a_batch_and_an_optimizer_without_a_fused_update()
    {
        var spec = NetworkSpec.Mlp([4, 5, 3], ActivationKind.ReLU, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy);
        using var net = Network<double>.Create(spec, 1);
        using var ws = net.CreateWorkspace(2);
        using var buffers = new Sgd(0.1).CreateBuffers<double>(net.Layout.Count);
        var state = new OptimizerState(0);
        var batch = Assert.Throws<ArgumentException>(() => net.TrainOnline(new double[8], new double[6], ws, new Sgd(0.1), ref state, buffers));
        Assert.Contains("one sample of [4]", batch.Message);
        Assert.Contains("2 samples", batch.Message);
        using var momentum = new Momentum(0.1).CreateBuffers<double>(net.Layout.Count);
        var refused = Assert.Throws<ArgumentException>(() => net.TrainOnline(new double[4], new double[3], ws, new Momentum(0.1), ref state, momentum));
        Assert.Contains("Momentum", refused.Message);
        var options = new TrainingOptions(BatchSize: 1, Optimizer: new Sgd(0.1));
        var gradient = Assert.Throws<ArgumentException>(() =>
            Trainer.Step(net, new double[4], new double[3], ws, new double[5], new Sgd(0.1), ref state, buffers, options, 0.0));
        Assert.Contains("gradient has 5 elements", gradient.Message);
        Assert.Equal(0, state.Step);
    }

    [Fact]
    public void TrainOnline_with_a_non_finite_cost_leaves_theta_the_moments_and_the_state_alone()
    {
        var spec = NetworkSpec.Mlp([2, 3, 1], ActivationKind.Tanh, ActivationKind.Identity, LossKind.Quadratic);
        using var net = Network<double>.Create(spec, 2);
        using var ws = net.CreateWorkspace(1);
        var adam = new Adam(0.1);
        using var buffers = adam.CreateBuffers<double>(net.Layout.Count);
        var state = new OptimizerState(0);
        double[] before = net.Parameters.ToArray();
        double cost = net.TrainOnline([1e200, 1e200], [double.MaxValue], ws, adam, ref state, buffers);
        Assert.False(double.IsFinite(cost));
        Assert.Equal(before, net.Parameters.ToArray());
        Assert.Equal(0, state.Step);
        for (int k = 0; k < buffers.Count; k++)
            Assert.All(buffers.Moment(k).ToArray(), v => Assert.Equal(0.0, v));
    }

    private static void Same(ReadOnlySpan<double> actual, ReadOnlySpan<double> expected, string what)
    {
        for (int i = 0; i < expected.Length; i++)
            if (actual[i] != expected[i])
                throw new Xunit.Sdk.XunitException($"{what}[{i}]: fused {actual[i]:R} vs unfused {expected[i]:R}");
    }
}
