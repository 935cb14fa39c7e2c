using Backprop.Functional.Kernels;
using Xunit;

namespace Backprop.Functional.Tests.Training;

/// <summary>The GEMM worker pool is process-wide and serves one caller at a time; a caller that finds it busy computes
/// alone. Two trainers at once therefore contend for it, and each must still get the bits it gets on its own.</summary>
[Collection(RunsAlone.Name)]   // with nothing else holding the pool, the contention below is between these two only
public sealed class ConcurrentTrainingTests
{
    private static Dataset Noise(int seed, int count)
    {
        var rng = new SeededRandom(seed);
        var x = new float[count * 784];
        var labels = new int[count];
        for (int i = 0; i < x.Length; i++) x[i] = (float)rng.NextDouble();
        for (int i = 0; i < labels.Length; i++) labels[i] = rng.Next(10);
        return Dataset.Create($"noise {seed}", count, 784, 10, x, Dataset.OneHot(labels, 10), labels);
    }

    /// <summary>Trains one network (2 GEMM threads, so its products and its optimizer update ask for the pool) and
    /// returns θ; <paramref name="start"/> lines the two trainers up.</summary>
    private static T[] Train<T>(NetworkSpec spec, Dataset data, Optimizer optimizer, Barrier? start)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        using var net = Network<T>.Create(spec, seed: 5);
        var options = new TrainingOptions(Epochs: 3, BatchSize: 64, Seed: 7, Optimizer: optimizer, Threads: 2);
        start?.SignalAndWait();
        foreach (var _ in Trainer.Fit(net, data, null, options)) { }
        return net.Parameters.ToArray();
    }

    [SkippableFact]
    public void Two_networks_trained_at_once_with_two_threads_each_get_their_sequential_bits()
    {
        Skip.If(Environment.ProcessorCount < 2, "one core: Gemm never asks the pool for a second thread");
        var wide = NetworkSpec.Mlp([784, 128, 10], ActivationKind.ReLU, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy);
        var narrow = NetworkSpec.Mlp([784, 96, 10], ActivationKind.Tanh, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy);
        Dataset first = Noise(1, 512), second = Noise(2, 512);

        float[] alone1 = Train<float>(wide, first, new Adam(1e-3), null);
        float[] alone2 = Train<float>(narrow, second, new Momentum(0.05, 0.9), null);

        // On a fast machine the two 24-step runs can miss each other (one finishes while the other's thread starts), so
        // the pair runs again until they have met at the pool, up to 20 times; every run must give the sequential bits.
        long runs = Interlocked.Read(ref Gemm.Team<float>.Runs);
        bool met = false;
        for (int attempt = 0; attempt < 20 && !met; attempt++)
        {
            long refused = Interlocked.Read(ref Gemm.Pool.Refused);
            using var start = new Barrier(2);
            float[]? together2 = null;
            var other = new Thread(() => together2 = Train<float>(narrow, second, new Momentum(0.05, 0.9), start));
            other.Start();
            float[] together1 = Train<float>(wide, first, new Adam(1e-3), start);
            other.Join();
            Assert.Equal(alone1, together1);
            Assert.Equal(alone2, together2);
            met = Interlocked.Read(ref Gemm.Pool.Refused) > refused;
        }

        Assert.True(Interlocked.Read(ref Gemm.Team<float>.Runs) > runs, "the float trainer never used the pool");
        Assert.True(met, "the two trainers never asked for the pool at the same time in 20 runs");
    }
}
