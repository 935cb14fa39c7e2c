using Xunit;

namespace Backprop.Functional.Tests.Allocation;

/// <summary>The layer probe reads a step's workspace and gradient without allocating, in the stored step (a batch)
/// and the fused one-sample step, for every activation it counts something for, reading every step or one in three.</summary>
[Collection(RunsAlone.Name)]
public class ProbeAllocationTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(16, 1)]
    [InlineData(16, 3)]
    public void Step_and_Observe_steady_state_allocates_nothing(int batch, int every)
    {
        var spec = new NetworkSpec(
        [
            new Dense(784, 32, ActivationKind.ReLU), new Dense(32, 32, ActivationKind.Sigmoid),
            new Dense(32, 32, ActivationKind.Tanh), new Dense(32, 10, ActivationKind.Softmax),
        ], LossKind.SoftmaxCrossEntropy);
        using var net = Network<float>.Create(spec, seed: 1);
        using var state = new TrainState<float>(net, new Adam(1e-3), batch);
        using var probe = new LayerProbe<float>(spec, new LayerProbeOptions(Every: every));
        var x = new float[batch * 784];
        var y = new float[batch * 10];
        var rng = new SeededRandom(2);
        for (int i = 0; i < x.Length; i++) x[i] = (float)rng.NextDouble();
        for (int r = 0; r < batch; r++) y[r * 10 + rng.Next(10)] = 1;
        probe.Begin(net.Parameters);

        Assert.Equal(0L, SteadyState.AllocatedBytes(() =>
        {
            Trainer.Step<float>(net, x, y, state);
            probe.Observe(net.Parameters, x, state.Workspace, state.Gradient.Span);
            if (probe.Steps == 1000) probe.Reset();
        }));
    }
}
