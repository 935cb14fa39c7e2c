using System.Numerics;
using System.Numerics.Tensors;
using Xunit;
using Xunit.Abstractions;

namespace Backprop.Functional.Tests.Training;

/// <summary>Hogwild! (<see cref="HogwildTrainer{T}"/>): on a sparse convex problem the lock-free updates of two workers
/// still reach the known optimum, at a rate within a band of serial SGD's; with one worker it is serial SGD bit for bit.</summary>
[Collection(RunsAlone.Name)]   // two workers need the GEMM pool to themselves, and it counts the pool's parallel runs
public sealed class HogwildTests(ITestOutputHelper output)
{
    private const int Features = 256, Samples = 2048, NonZeros = 4;

    /// <summary>Sparse least squares with an exact solution: each row has <see cref="NonZeros"/> of
    /// <see cref="Features"/> features (N(0, 1) at random places), y = w*·x + b*. θ* = (w*, b*) is the unique minimum
    /// of the mean cost, where it is 0. A batch-1 update touches 4 weights and the bias.</summary>
    private static (Dataset Data, double[] Optimum) SparseLeastSquares(int seed)
    {
        var rng = new SeededRandom(seed);
        var w = new double[Features + 1];
        for (int i = 0; i < Features; i++) w[i] = rng.NextGaussian();
        w[Features] = 0.5;
        var x = new float[Samples * Features];
        var y = new float[Samples];
        for (int r = 0; r < Samples; r++)
        {
            double target = w[Features];
            for (int k = 0; k < NonZeros; k++)
            {
                int j = rng.Next(Features);
                if (x[r * Features + j] != 0) { k--; continue; }
                float v = (float)rng.NextGaussian();
                x[r * Features + j] = v;
                target += w[j] * v;
            }
            y[r] = (float)target;
        }
        // y rounded to float: θ* is the float data's solution only to ~1e-7 relative; the tests ask for 1e-5
        return (Dataset.Create("sparse least squares", Samples, Features, 1, x, y), w);
    }

    private static readonly NetworkSpec Linear = NetworkSpec.Mlp([Features, 1], ActivationKind.Identity, ActivationKind.Identity, LossKind.Quadratic);

    private static double RelativeError(ReadOnlySpan<double> theta, double[] optimum)
    {
        double diff = 0, norm = 0;
        for (int i = 0; i < optimum.Length; i++)
        {
            diff += (theta[i] - optimum[i]) * (theta[i] - optimum[i]);
            norm += optimum[i] * optimum[i];
        }
        return Math.Sqrt(diff / norm);
    }

    /// <summary>The distance to θ* after each epoch, from θ = 0.</summary>
    private static (double[] Errors, HogwildEpoch[] Epochs) Run(Dataset data, double[] optimum, int threads, int epochs)
    {
        using var net = Network<double>.Create(Linear, seed: 1);
        net.Parameters.Clear();
        using var trainer = new HogwildTrainer<double>(net, data, new HogwildOptions(LearningRate: 0.05, Seed: 7, Threads: threads));
        var errors = new double[epochs];
        var runs = new HogwildEpoch[epochs];
        for (int e = 0; e < epochs; e++)
        {
            runs[e] = trainer.RunEpoch();
            errors[e] = RelativeError(net.Parameters, optimum);
        }
        return (errors, runs);
    }

    [SkippableFact]
    public void Two_workers_reach_the_optimum_of_sparse_least_squares_within_a_band_of_serial_SGD()
    {
        Skip.If(Environment.ProcessorCount < 2, "one core: Hogwild runs one worker, which is serial SGD");
        var (data, optimum) = SparseLeastSquares(seed: 5);
        const int epochs = 25;
        var (serial, _) = Run(data, optimum, threads: 1, epochs);
        var (hogwild, runs) = Run(data, optimum, threads: 2, epochs);
        output.WriteLine($"epoch: serial | Hogwild ‖θ − θ*‖/‖θ*‖");
        for (int e = 0; e < epochs; e++) output.WriteLine($"{e + 1,3}: {serial[e]:E3} | {hogwild[e]:E3} ({runs[e].Workers} workers, loss {runs[e].TrainLoss:E2})");

        Assert.All(runs, r => Assert.Equal(2, r.Workers));   // really asynchronous, every epoch
        Assert.True(serial[^1] < 1e-5, $"serial SGD ends {serial[^1]:E2} from θ*");
        Assert.True(hogwild[^1] < 1e-5, $"Hogwild ends {hogwild[^1]:E2} from θ*");
        // the rate: after 2, 5 and 10 epochs Hogwild is within 2× of serial SGD's distance (lost or stale updates would
        // slow it; a run that stalled or diverged would be far outside)
        foreach (int e in new[] { 2, 5, 10 })
            Assert.True(hogwild[e - 1] <= 2 * serial[e - 1] && serial[e - 1] <= 2 * hogwild[e - 1],
                $"epoch {e}: Hogwild {hogwild[e - 1]:E2}, serial {serial[e - 1]:E2}");
    }

    /// <summary>Every epoch applies each batch once between the two workers, and the pool's worker takes batches. An
    /// epoch lasts a few milliseconds, about a scheduler's time slice: on a loaded machine (CI runs the test assemblies
    /// at once on two cores) the worker may wake after the caller has taken every batch of one epoch, which is the
    /// scheduler's doing, not the trainer's. So the worker is given epochs for up to 20 s to take one.</summary>
    [SkippableFact]
    public void Both_workers_take_batches()
    {
        Skip.If(Environment.ProcessorCount < 2, "one core: Hogwild runs one worker");
        var (data, _) = SparseLeastSquares(seed: 6);
        using var net = Network<float>.Create(Linear, seed: 1);
        using var trainer = new HogwildTrainer<float>(net, data, new HogwildOptions(LearningRate: 0.05, Threads: 2));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (int epochs = 1; ; epochs++)
        {
            var epoch = trainer.RunEpoch();
            Assert.Equal(2, epoch.Workers);
            Assert.Equal(Samples, epoch.Updates);
            Assert.Equal(Samples, trainer.UpdatesOf(0) + trainer.UpdatesOf(1));
            if (trainer.UpdatesOf(1) > 0) return;
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"worker 1 took no batch in {epochs} epochs over 20 s");
        }
    }

    /// <summary>One worker: the serial SGD loop θ ← θ + ∇C·(−η) over the Batcher's batches (the last one short), on a
    /// dense hidden layer too, with the epoch decay; equal element by element.</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void One_worker_is_serial_SGD_bit_for_bit(int batch)
    {
        var spec = NetworkSpec.Mlp([10, 7, 3], ActivationKind.Tanh, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy);
        var rng = new SeededRandom(11);
        const int count = 50;
        var x = new float[count * 10];
        var labels = new int[count];
        for (int i = 0; i < x.Length; i++) x[i] = rng.Next(3) == 0 ? (float)rng.NextGaussian() : 0f;
        for (int r = 0; r < count; r++) labels[r] = rng.Next(3);
        var data = Dataset.Create("small", count, 10, 3, x, Dataset.OneHot(labels, 3), labels);
        var options = new HogwildOptions(BatchSize: batch, LearningRate: 0.3, EpochDecay: 0.5, Seed: 4, Threads: 1);

        using var hogwild = Network<float>.Create(spec, seed: 2);
        using var serial = Network<float>.Create(spec, seed: 2);
        using var trainer = new HogwildTrainer<float>(hogwild, data, options);
        using var ws = serial.CreateWorkspace(batch);
        using var g = serial.CreateGradient();
        var batcher = new Batcher(data, batch, options.Seed);
        var bx = new float[batch * 10];
        var by = new float[batch * 3];
        for (int e = 0; e < 3; e++)
        {
            var run = trainer.RunEpoch();
            float eta = (float)(options.LearningRate * Math.Pow(options.EpochDecay, e));
            Assert.Equal((double)eta, (double)(float)run.LearningRate);
            batcher.NextEpoch();
            for (int b = 0; b < batcher.BatchCount; b++)
            {
                int rows = batcher.Copy<float>(b, bx, by);
                serial.ValueAndGradient(bx.AsSpan(0, rows * 10), by.AsSpan(0, rows * 3), ws, g.Span);
                TensorPrimitives.MultiplyAdd(g.Span, -eta, serial.Parameters, serial.Parameters);
            }
            Assert.Equal(serial.Parameters.ToArray(), hogwild.Parameters.ToArray());
        }
    }

    [Fact]
    public void A_learning_rate_that_diverges_stops_with_NonFiniteException()
    {
        var (data, _) = SparseLeastSquares(seed: 8);
        using var net = Network<float>.Create(Linear, seed: 1);
        using var trainer = new HogwildTrainer<float>(net, data, new HogwildOptions(LearningRate: 50, Threads: 2));
        var e = Assert.Throws<NonFiniteException>(() => { for (int i = 0; i < 5; i++) trainer.RunEpoch(); });
        Assert.Contains("not finite", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Options_and_data_are_checked()
    {
        var (data, _) = SparseLeastSquares(seed: 9);
        using var net = Network<float>.Create(NetworkSpec.Mlp([5, 1], ActivationKind.Identity, ActivationKind.Identity, LossKind.Quadratic), seed: 1);
        var e = Assert.Throws<ArgumentException>(() => new HogwildTrainer<float>(net, data, new HogwildOptions()));
        Assert.Contains("256 features", e.Message, StringComparison.Ordinal);
        using var linear = Network<float>.Create(Linear, seed: 1);
        Assert.Throws<ArgumentOutOfRangeException>(() => new HogwildTrainer<float>(linear, data, new HogwildOptions(LearningRate: 0)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new HogwildTrainer<float>(linear, data, new HogwildOptions(BatchSize: 0)));
    }

    [Fact]
    public void The_sparse_update_writes_only_where_the_gradient_is_not_zero()
    {
        var g = new double[37];
        g[3] = 2;
        g[20] = -1;
        g[36] = 4;
        var theta = new double[37];
        for (int i = 0; i < theta.Length; i++) theta[i] = double.NaN;   // a write anywhere else would show
        theta[3] = theta[20] = theta[36] = 1;
        HogwildTrainer<double>.SparseUpdate(theta, g, -0.5);
        Assert.Equal(0.0, theta[3]);
        Assert.Equal(1.5, theta[20]);
        Assert.Equal(-1.0, theta[36]);
        Assert.Equal(34, theta.Count(double.IsNaN));
    }
}
