using Xunit;

namespace Backprop.Functional.Tests.Allocation;

/// <summary>A data-parallel step (micro-shards on the GEMM pool's threads, the sum and the update split by parameter
/// range) allocates nothing in steady state, on any thread: the hand-offs included.</summary>
[Collection(RunsAlone.Name)]
public sealed class DataParallelAllocationTests
{
    [SkippableTheory]
    [InlineData(2, 64)]
    [InlineData(4, 64)]
    [InlineData(3, 37)]
    public void Sharded_step_on_two_threads_allocates_nothing(int shards, int rows)
    {
        Skip.If(Environment.ProcessorCount < 2, "one core: the shards run on the calling thread alone");
        var spec = NetworkSpec.Mlp([784, 128, 10], ActivationKind.ReLU, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy);
        using var net = Network<float>.Create(spec, seed: 1);
        using var train = new TrainState<float>(net, Transforms.Chain(new ClipByGlobalNorm(1.0), new Adam(1e-4)), rows, threads: 2) { MicroShards = shards };
        var x = new float[rows * 784];
        var y = new float[rows * 10];
        var rng = new SeededRandom(2);
        for (int i = 0; i < x.Length; i++) x[i] = (float)rng.NextDouble();
        for (int r = 0; r < rows; r++) y[r * 10 + rng.Next(10)] = 1;
        long runs = Interlocked.Read(ref DataParallel<float>.ParallelRuns);

        Assert.Equal(0L, SteadyState.AllocatedBytes(() => Trainer.Step(net, x, y, train)));
        Assert.True(Interlocked.Read(ref DataParallel<float>.ParallelRuns) > runs, "the shards never ran on two threads");
    }

    [SkippableFact]
    public void Sharded_step_with_shards_in_turn_on_split_GEMMs_allocates_nothing()
    {
        Skip.If(Environment.ProcessorCount < 2, "one core: the GEMMs run on the calling thread alone");
        long saved = DataParallel<float>.MaxParallelBytes;
        DataParallel<float>.MaxParallelBytes = 0;   // θ counts as large: the shards in turn, their GEMMs on two threads
        try
        {
            var spec = NetworkSpec.Mlp([784, 128, 10], ActivationKind.ReLU, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy);
            using var net = Network<float>.Create(spec, seed: 1);
            using var train = new TrainState<float>(net, new Adam(1e-4), 64, threads: 2) { MicroShards = 2 };
            var x = new float[64 * 784];
            var y = new float[64 * 10];
            for (int r = 0; r < 64; r++) y[r * 10 + r % 10] = 1;
            long runs = Interlocked.Read(ref Backprop.Functional.Kernels.Gemm.Team<float>.Runs);
            Assert.Equal(0L, SteadyState.AllocatedBytes(() => Trainer.Step(net, x, y, train)));
            Assert.True(Interlocked.Read(ref Backprop.Functional.Kernels.Gemm.Team<float>.Runs) > runs, "the GEMMs never split");
        }
        finally
        {
            DataParallel<float>.MaxParallelBytes = saved;
        }
    }

    [SkippableFact]
    public void Sharded_legacy_step_with_options_allocates_nothing()
    {
        Skip.If(Environment.ProcessorCount < 2, "one core: the shards run on the calling thread alone");
        var spec = NetworkSpec.Mlp([784, 128, 10], ActivationKind.ReLU, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy);
        using var net = Network<float>.Create(spec, seed: 1);
        var optimizer = new Adam(1e-4);
        var options = new TrainingOptions(Optimizer: optimizer, Threads: 2, MicroShards: 2);
        using var ws = net.CreateWorkspace(64, 2);
        using var g = net.CreateGradient();
        using var buffers = optimizer.CreateBuffers<float>(net.Layout.Count);
        var x = new float[64 * 784];
        var y = new float[64 * 10];
        for (int r = 0; r < 64; r++) y[r * 10 + r % 10] = 1;
        var state = new OptimizerState(0);

        Assert.Equal(0L, SteadyState.AllocatedBytes(() => Trainer.Step(net, x, y, ws, g.Span, optimizer, ref state, buffers, options, 0f)));
    }
}
