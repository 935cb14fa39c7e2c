using Xunit;

namespace Backprop.Functional.Tests.Allocation;

/// <summary>Zero allocation in steady state: after a warm-up step (JIT, statics, pool buckets), a forward and
/// backward pass over a workspace allocates nothing.</summary>
[Collection(RunsAlone.Name)]
public class StepAllocationTests
{
    public static TheoryData<int, int> Shapes => new() { { 1, 16 }, { 16, 32 }, { 64, 128 } };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void ForwardBackward_steady_state_allocates_nothing_float(int batch, int hidden) =>
        AssertZero<float>(batch, hidden);

    [Theory]
    [MemberData(nameof(Shapes))]
    public void ForwardBackward_steady_state_allocates_nothing_double(int batch, int hidden) =>
        AssertZero<double>(batch, hidden);

    private static void AssertZero<T>(int batch, int hidden) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        // Every activation and every loss path once: GELU/Softplus/LeakyReLU hidden layers, softmax + CE output.
        var spec = new NetworkSpec(
        [
            new Dense(784, hidden, ActivationKind.ReLU), new Dense(hidden, hidden, ActivationKind.GELU),
            new Dense(hidden, hidden, ActivationKind.Softplus), new Dense(hidden, hidden, ActivationKind.LeakyReLU),
            new Dense(hidden, hidden, ActivationKind.Tanh), new Dense(hidden, hidden, ActivationKind.Sigmoid),
            new Dense(hidden, 10, ActivationKind.Softmax),
        ], LossKind.SoftmaxCrossEntropy);
        using var net = Network<T>.Create(spec, seed: 1);
        using var ws = net.CreateWorkspace(batch);
        using var g = net.CreateGradient();
        var x = new T[batch * 784];
        var y = new T[batch * 10];
        var rng = new SeededRandom(2);
        for (int i = 0; i < x.Length; i++) x[i] = T.CreateChecked(rng.NextDouble());
        for (int r = 0; r < batch; r++) y[r * 10 + rng.Next(10)] = T.One;

        Assert.Equal(0L, SteadyState.AllocatedBytes(() => net.ValueAndGradient(x, y, ws, g.Span)));
    }
}
