using Xunit;

namespace Backprop.Functional.Tests.Allocation;

/// <summary>A Hogwild epoch (the workers on the GEMM pool's threads, each with its own workspace and gradient, writing
/// the shared θ) allocates nothing in steady state, on any thread.</summary>
[Collection(RunsAlone.Name)]
public sealed class HogwildAllocationTests
{
    [SkippableTheory]
    [InlineData(1)]
    [InlineData(4)]
    public void Hogwild_epoch_on_two_threads_allocates_nothing(int batch)
    {
        Skip.If(Environment.ProcessorCount < 2, "one core: one worker");
        var spec = NetworkSpec.Mlp([256, 32, 4], ActivationKind.ReLU, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy);
        using var net = Network<float>.Create(spec, seed: 1);
        var rng = new SeededRandom(2);
        const int count = 1024;   // epochs of milliseconds: the second worker takes part in every one, even on a loaded machine
        var x = new float[count * 256];
        var labels = new int[count];
        for (int i = 0; i < x.Length; i++) x[i] = rng.Next(8) == 0 ? (float)rng.NextDouble() : 0f;
        for (int r = 0; r < count; r++) labels[r] = rng.Next(4);
        var data = Dataset.Create("sparse", count, 256, 4, x, Dataset.OneHot(labels, 4), labels);
        using var trainer = new HogwildTrainer<float>(net, data, new HogwildOptions(BatchSize: batch, LearningRate: 1e-3, Threads: 2));
        long runs = Interlocked.Read(ref HogwildTrainer<float>.ParallelRuns);
        int calls = 0, withSecond = 0;

        Assert.Equal(0L, SteadyState.AllocatedBytes(() =>
        {
            trainer.RunEpoch();
            calls++;
            if (trainer.UpdatesOf(1) > 0) withSecond++;
        }));
        Assert.True(Interlocked.Read(ref HogwildTrainer<float>.ParallelRuns) > runs, "the epochs never ran on two threads");
        // a worker that allocates shows only if it runs: it must have taken batches in most epochs
        Assert.True(withSecond * 4 >= calls, $"the second worker took batches in {withSecond} of {calls} epochs");
    }
}
