using Xunit;

namespace Backprop.Functional.Tests.Layers;

/// <summary>A network with a kind from another assembly allocates nothing per step either: the kind is reached by one
/// virtual call per layer per batch.</summary>
[Collection(RunsAlone.Name)]
public class ScaleAllocationTests
{
    [Theory]
    [InlineData(8)]
    [InlineData(1)]
    public void Trainer_Step_with_a_scale_layer_allocates_nothing(int batch)
    {
        var spec = new NetworkSpec([new Dense(16, 8, ActivationKind.ReLU), new Scale(8), new Dense(8, 4, ActivationKind.Softmax)], LossKind.SoftmaxCrossEntropy);
        using var net = Network<float>.Create(spec, seed: 1);
        using var ws = net.CreateWorkspace(batch);
        using var g = net.CreateGradient();
        var x = new float[batch * 16];
        var y = new float[batch * 4];
        var rng = new SeededRandom(2);
        for (int i = 0; i < x.Length; i++) x[i] = (float)rng.NextDouble();
        for (int r = 0; r < batch; r++) y[r * 4 + rng.Next(4)] = 1;
        var optimizer = batch == 1 ? (Optimizer)new Sgd(0.01) : new Adam(1e-3);
        using var buffers = optimizer.CreateBuffers<float>(net.Layout.Count);
        var options = new TrainingOptions { Optimizer = optimizer };
        var state = new OptimizerState(0);
        Assert.Equal(0L, SteadyState.AllocatedBytes(() => Trainer.Step(net, x, y, ws, g.Span, optimizer, ref state, buffers, options, 0f)));
    }
}
