using System.Numerics;
using Xunit;

namespace Backprop.Functional.Tests.Training;

/// <summary>Synchronous data parallelism (<see cref="TrainingOptions.MicroShards"/>): θ does not depend on the thread
/// count, the micro-shard count is the one knob that changes its bits, and k shards equal the unsharded step to rounding.</summary>
[Collection(RunsAlone.Name)]   // raises DataParallel's processor limit, and counts the pool's parallel runs
public sealed class DataParallelTests
{
    // 784-128-10: 101,770 parameters, above the length from which the sum and the update split by parameter range
    private static readonly NetworkSpec Wide = NetworkSpec.Mlp([784, 128, 10], ActivationKind.ReLU, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy);
    private static readonly NetworkSpec Small = NetworkSpec.Mlp([12, 9, 7, 3], ActivationKind.Tanh, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy);

    private static (T[] X, T[] Y) Batch<T>(NetworkSpec spec, int rows, int seed) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var rng = new SeededRandom(seed);
        var x = new T[rows * spec.Inputs];
        var y = new T[rows * spec.Outputs];
        for (int i = 0; i < x.Length; i++) x[i] = T.CreateChecked(rng.NextDouble());
        for (int r = 0; r < rows; r++) y[r * spec.Outputs + rng.Next(spec.Outputs)] = T.One;
        return (x, y);
    }

    /// <summary>Four steps of Adam (batches of <paramref name="rows"/>, the last one short) with clipping in the chain;
    /// θ, the moments and the costs.</summary>
    private static (T[] Theta, T[] Moments, T[] Costs) Train<T>(NetworkSpec spec, int threads, int shards, int rows,
        bool elementWise = false) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int saved = DataParallel<T>.ProcessorLimit;
        DataParallel<T>.ProcessorLimit = Math.Max(saved, threads);   // 8 workers even on a 2-core machine
        try
        {
            using var net = Network<T>.Create(spec, seed: 3);
            // the clip reads the whole summed g (the sum runs before the update); Adam alone is element-wise, and its
            // split update runs the sum itself, each thread on its half
            GradientTransform transform = elementWise ? new Adam(1e-2) : Transforms.Chain(new ClipByGlobalNorm(1.0), new Adam(1e-2));
            using var train = new TrainState<T>(net, transform, rows, threads) { MicroShards = shards };
            var costs = new T[4];
            for (int step = 0; step < costs.Length; step++)
            {
                var (x, y) = Batch<T>(spec, step == 3 ? rows - 5 : rows, 10 + step);
                costs[step] = Trainer.Step(net, x, y, train);
            }
            return (net.Parameters.ToArray(), [.. train.Buffers.Moment(0).ToArray(), .. train.Buffers.Moment(1).ToArray()], costs);
        }
        finally
        {
            DataParallel<T>.ProcessorLimit = saved;
        }
    }

    private static void SameForEveryThreadCount<T>(NetworkSpec spec, int shards, int rows, bool elementWise = false)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var one = Train<T>(spec, 1, shards, rows, elementWise);
        long parallel = Interlocked.Read(ref DataParallel<T>.ParallelRuns);
        var two = Train<T>(spec, 2, shards, rows, elementWise);
        var eight = Train<T>(spec, 8, shards, rows, elementWise);
        Assert.True(Interlocked.Read(ref DataParallel<T>.ParallelRuns) > parallel, "the shards never ran on more than one thread");
        Assert.Equal(one.Theta, two.Theta);
        Assert.Equal(one.Theta, eight.Theta);
        Assert.Equal(one.Moments, two.Moments);
        Assert.Equal(one.Moments, eight.Moments);
        Assert.Equal(one.Costs, two.Costs);
        Assert.Equal(one.Costs, eight.Costs);
    }

    [Theory]
    [InlineData(8, 64)]
    [InlineData(3, 37)]    // uneven shards: weights 12/37, 12/37, 13/37
    [InlineData(16, 10)]   // more shards than rows: one row each
    public void Theta_is_the_same_bit_for_bit_for_1_2_and_8_threads_float(int shards, int rows) =>
        SameForEveryThreadCount<float>(Wide, shards, rows);

    [Theory]
    [InlineData(2, 64)]
    [InlineData(3, 37)]
    [InlineData(8, 64)]
    public void The_sum_inside_the_split_update_gives_the_same_bits_for_1_2_and_8_threads(int shards, int rows)
    {
        long fused = Interlocked.Read(ref DataParallel<float>.DeferredSums);
        long streamed = Interlocked.Read(ref AdamKernel.StreamedUpdates);
        SameForEveryThreadCount<float>(Wide, shards, rows, elementWise: true);
        Assert.True(Interlocked.Read(ref DataParallel<float>.DeferredSums) > fused, "the sum never ran inside the update");
        // shards at once: the split update wrote θ past the caches (where the CPU has AVX), with the same bits
        if (System.Runtime.Intrinsics.X86.Avx.IsSupported && System.Numerics.Vector<float>.Count == 8)
            Assert.True(Interlocked.Read(ref AdamKernel.StreamedUpdates) > streamed, "θ was never streamed");
    }

    [Theory]
    [InlineData(8, 64)]
    [InlineData(3, 37)]
    public void Theta_is_the_same_bit_for_bit_for_1_2_and_8_threads_double(int shards, int rows) =>
        SameForEveryThreadCount<double>(Wide, shards, rows);

    [SkippableFact]
    public void A_large_theta_runs_its_shards_one_after_another_on_split_GEMMs_with_the_same_bits()
    {
        Skip.If(Environment.ProcessorCount < 2, "one core: Gemm never asks the pool for a second thread");
        var parallel = Train<float>(Wide, 2, 2, 64);   // 32-row shards: 32 × 128 × 784 is large enough to split
        long saved = DataParallel<float>.MaxParallelBytes, runs = Interlocked.Read(ref Backprop.Functional.Kernels.Gemm.Team<float>.Runs);
        long shardRuns = Interlocked.Read(ref DataParallel<float>.ParallelRuns);
        DataParallel<float>.MaxParallelBytes = 0;   // every θ counts as large
        try
        {
            var one = Train<float>(Wide, 1, 2, 64);
            var split = Train<float>(Wide, 2, 2, 64);
            Assert.True(Interlocked.Read(ref Backprop.Functional.Kernels.Gemm.Team<float>.Runs) > runs, "the shards' GEMMs never split");
            Assert.Equal(shardRuns, Interlocked.Read(ref DataParallel<float>.ParallelRuns));
            Assert.Equal(one.Theta, split.Theta);
            Assert.Equal(parallel.Theta, split.Theta);
            Assert.Equal(parallel.Costs, split.Costs);
        }
        finally
        {
            DataParallel<float>.MaxParallelBytes = saved;
        }
    }

    /// <summary>The rule's θ threshold sits where the untuned shapes measured it (bench/RESULTS.md, "Fifth pass"): shards
    /// at once were faster at θ = 1.4 and 2.2 MB, in turn at 3.1 and 3.6 MB.</summary>
    [Theory]
    [InlineData(new[] { 1000, 333, 77, 10 }, true)]
    [InlineData(new[] { 64, 500, 500, 500, 64 }, true)]
    [InlineData(new[] { 784, 1000, 10 }, false)]
    [InlineData(new[] { 300, 3001, 7 }, false)]
    public void The_rule_runs_shards_at_once_up_to_the_measured_theta(int[] widths, bool atOnce)
    {
        var spec = NetworkSpec.Mlp(widths, ActivationKind.ReLU, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy);
        int saved = DataParallel<float>.ProcessorLimit;
        DataParallel<float>.ProcessorLimit = 2;   // the rule as on two cores, whatever runs the test
        try
        {
            using var main = new Workspace<float>(spec.Layers, 16) { Threads = 2 };
            var set = DataParallel<float>.For(spec, main, 2);
            Assert.Equal(atOnce, !set.SplitGemms);
            Assert.Equal(atOnce ? 2 : 1, set.Threads);
        }
        finally
        {
            DataParallel<float>.ProcessorLimit = saved;
        }
    }

    [Fact]
    public void Theta_is_the_same_bit_for_bit_for_1_2_and_8_threads_small_network() =>
        SameForEveryThreadCount<double>(Small, 4, 23);

    [Fact]
    public void The_micro_shard_count_changes_the_bits_and_stays_within_rounding_of_the_unsharded_step()
    {
        var unsharded = Train<double>(Wide, 2, 1, 64);
        var two = Train<double>(Wide, 2, 2, 64);
        var three = Train<double>(Wide, 2, 3, 64);
        Assert.NotEqual(unsharded.Theta, two.Theta);
        Assert.NotEqual(two.Theta, three.Theta);
        foreach (var sharded in new[] { two, three })
        {
            for (int i = 0; i < unsharded.Theta.Length; i++)
                Assert.True(Math.Abs(unsharded.Theta[i] - sharded.Theta[i]) <= 1e-11, $"θ[{i}]: {unsharded.Theta[i]} vs {sharded.Theta[i]}");
            for (int s = 0; s < unsharded.Costs.Length; s++)
                Assert.Equal(unsharded.Costs[s], sharded.Costs[s], 1e-13);
        }
    }

    [Fact]
    public void A_float_gradient_from_four_shards_is_the_batch_gradient_to_rounding()
    {
        // Compared as gradients: Adam's first steps are ±η whatever |g| is, so a rounding-sized difference in a g that
        // nearly cancels over the batch moves θ by up to η.
        using var net = Network<float>.Create(Wide, seed: 3);
        var (x, y) = Batch<float>(Wide, 64, 5);
        using var ws = net.CreateWorkspace(64);
        using var whole = net.CreateGradient();
        float cost = net.ValueAndGradient(x, y, ws, whole.Span);
        using var train = new TrainState<float>(net, new Sgd(0), 64, 2) { MicroShards = 4 };
        float sharded = Trainer.Step(net, x, y, train);
        Assert.Equal(cost, sharded, 1e-6f);
        float largest = TensorPrimitivesMaxAbs(whole.Span);
        var g = train.Gradient.Span;
        Assert.NotEqual(whole.Span.ToArray(), g.ToArray());
        for (int i = 0; i < g.Length; i++)
            Assert.True(Math.Abs(whole.Span[i] - g[i]) <= 1e-6f * largest, $"g[{i}]: {whole.Span[i]} vs {g[i]} (largest |g| {largest})");
    }

    private static float TensorPrimitivesMaxAbs(ReadOnlySpan<float> values) => System.Numerics.Tensors.TensorPrimitives.MaxMagnitude(values) is var m ? Math.Abs(m) : 0;

    [SkippableFact]
    public void Two_sharded_trainers_at_once_each_get_their_sequential_bits()
    {
        Skip.If(Environment.ProcessorCount < 2, "one core: the shards never ask the pool for a second thread");
        float[] Run(int seed, Barrier? start)
        {
            using var net = Network<float>.Create(Wide, seed);
            using var train = new TrainState<float>(net, new Adam(1e-3), 64, 2) { MicroShards = 2 };
            start?.SignalAndWait();
            for (int step = 0; step < 60; step++)
            {
                var (x, y) = Batch<float>(Wide, 64, seed * 100 + step % 5);
                Trainer.Step(net, x, y, train);
            }
            return net.Parameters.ToArray();
        }
        float[] alone1 = Run(1, null), alone2 = Run(2, null);
        long refused = Interlocked.Read(ref Backprop.Functional.Kernels.Gemm.Pool.Refused);
        using var start = new Barrier(2);
        float[]? together2 = null;
        var other = new Thread(() => together2 = Run(2, start));
        other.Start();
        float[] together1 = Run(1, start);
        other.Join();
        Assert.True(Interlocked.Read(ref Backprop.Functional.Kernels.Gemm.Pool.Refused) > refused, "the two trainers never asked for the pool at the same time");
        Assert.Equal(alone1, together1);
        Assert.Equal(alone2, together2);
    }

    [Fact]
    public void One_micro_shard_is_the_unsharded_step()
    {
        using var net = Network<double>.Create(Small, seed: 3);
        using var copy = Network<double>.Create(Small, seed: 3);
        var (x, y) = Batch<double>(Small, 16, 4);
        var options = new TrainingOptions(Optimizer: new Adam(1e-2), Threads: 2, MicroShards: 1);
        using var ws = net.CreateWorkspace(16, 2);
        using var g = net.CreateGradient();
        using var b = options.Optimizer!.CreateBuffers<double>(net.Layout.Count);
        var state = new OptimizerState(0);
        Trainer.Step(net, x, y, ws, g.Span, options.Optimizer, ref state, b, options, 0.0);
        using var train = new TrainState<double>(copy, new Adam(1e-2), 16, 2);
        Trainer.Step(copy, x, y, train);
        Assert.Equal(copy.Parameters.ToArray(), net.Parameters.ToArray());
    }

    [Fact]
    public void Fit_with_micro_shards_gives_the_same_model_on_one_and_two_threads()
    {
        var rng = new SeededRandom(1);
        var x = new float[300 * 12];
        var labels = new int[300];
        for (int i = 0; i < x.Length; i++) x[i] = (float)rng.NextDouble();
        for (int i = 0; i < labels.Length; i++) labels[i] = rng.Next(3);
        var data = Dataset.Create("noise", 300, 12, 3, x, Dataset.OneHot(labels, 3), labels);
        float[] Fit(int threads)
        {
            using var net = Network<float>.Create(Small, seed: 2);
            Trainer.Fit(net, data, null, new TrainingOptions(Epochs: 2, BatchSize: 32, Threads: threads, MicroShards: 4)).Complete();
            return net.Parameters.ToArray();
        }
        Assert.Equal(Fit(1), Fit(2));
    }

    [Fact]
    public void Micro_shards_refuse_a_sequence_network_and_a_count_below_one()
    {
        var lstm = new NetworkSpec([new Lstm(3, 4), new Dense(4, 2, ActivationKind.Softmax)], LossKind.SoftmaxCrossEntropy);
        using var net = Network<float>.Create(lstm, seed: 1);
        using var train = new TrainState<float>(net, new Adam(), 4, 2, time: 5) { MicroShards = 2 };
        var e = Assert.Throws<ArgumentException>(() => Trainer.Step(net, new float[4 * 5 * 3], new float[4 * 2], train));
        Assert.Contains("sequences", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => new TrainState<float>(net, new Adam(), 4) { MicroShards = 0 });
    }
}
