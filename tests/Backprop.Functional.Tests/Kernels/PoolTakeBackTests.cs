using Backprop.Functional.Kernels;
using Xunit;

namespace Backprop.Functional.Tests.Kernels;

/// <summary>
/// A part no worker has started by the time the caller has finished its own is taken back and run on the calling thread
/// (a worker descheduled by another process, or still waking). Forced here by holding the workers back from the jobs they
/// see: every part then runs on the caller, once, and the bits are those of one thread.
/// </summary>
[Collection(RunsAlone.Name)]
public sealed class PoolTakeBackTests
{
    private static void WithLateWorker(Action body)
    {
        Gemm.Pool.TestHoldWorkers = true;   // the workers see their parts but do not take them
        try
        {
            body();
        }
        finally
        {
            Gemm.Pool.TestHoldWorkers = false;
        }
    }

    [SkippableTheory]
    [InlineData(300, 96, 96, false, false)]   // the packed path, by rows
    [InlineData(96, 320, 96, false, false)]   // the packed path, by columns
    [InlineData(300, 10, 96, false, true)]    // the direct A·Bᵀ tiles
    [InlineData(300, 96, 10, false, false)]   // the axpy tiles
    public void A_part_the_worker_has_not_started_runs_on_the_caller_with_the_one_thread_bits(int m, int n, int k, bool ta, bool tb)
    {
        GemmProperties.SkipOnOneCore();
        Same<float>(m, n, k, ta, tb);
        Same<double>(m, n, k, ta, tb);
    }

    private static void Same<T>(int m, int n, int k, bool ta, bool tb)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        (T[] a, T[] b, T[] c0) = GemmProperties.Operands<T>(new GemmCase(m, n, k, ta, tb, Acc: true, Seed: m + 3 * n + k));
        T[] one = (T[])c0.Clone(), two = (T[])c0.Clone();
        Gemm.Multiply<T>(a, ta, b, tb, one, m, n, k, accumulate: true, threads: 1);
        long runs = Interlocked.Read(ref Gemm.Team<T>.Runs), taken = Interlocked.Read(ref Gemm.Pool.TakenBack);
        WithLateWorker(() => Gemm.Multiply<T>(a, ta, b, tb, two, m, n, k, accumulate: true, threads: 2));
        Assert.True(Interlocked.Read(ref Gemm.Team<T>.Runs) > runs, "the product ran on one thread");
        Assert.True(Interlocked.Read(ref Gemm.Pool.TakenBack) > taken, "the caller did not take the worker's part back");
        Assert.Equal(one, two);
    }

    /// <summary>Whole training steps (the split products, the split update, the shards at once with k = 2) with every
    /// worker part taken back: θ is that of one thread, bit for bit.</summary>
    [SkippableTheory]
    [InlineData(1)]
    [InlineData(2)]
    public void Training_steps_with_every_part_taken_back_give_the_one_thread_theta(int shards)
    {
        GemmProperties.SkipOnOneCore();
        var spec = NetworkSpec.Mlp([100, 96, 96, 10], ActivationKind.ReLU, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy);
        float[] Train(int threads)
        {
            using var net = Network<float>.Create(spec, seed: 5);
            using var state = new TrainState<float>(net, new Adam(1e-2), 300, threads) { MicroShards = shards };
            var rng = new SeededRandom(9);
            var x = new float[300 * 100];
            var y = new float[300 * 10];
            for (int step = 0; step < 3; step++)
            {
                for (int i = 0; i < x.Length; i++) x[i] = (float)rng.NextDouble() - 0.5f;
                Array.Clear(y);
                for (int r = 0; r < 300; r++) y[r * 10 + rng.Next(10)] = 1;
                Trainer.Step(net, x, y, state);
            }
            return net.Parameters.ToArray();
        }
        float[] one = Train(1);
        long taken = Interlocked.Read(ref Gemm.Pool.TakenBack);
        float[] two = [];
        WithLateWorker(() => two = Train(2));
        Assert.True(Interlocked.Read(ref Gemm.Pool.TakenBack) > taken, "no part was taken back");
        Assert.Equal(one, two);
    }
}
