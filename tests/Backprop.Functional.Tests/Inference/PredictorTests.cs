using Backprop.Functional.Testing;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace Backprop.Functional.Tests.Inference;

/// <summary><see cref="Predictor{T}"/>: on a sparse input its first layer is exactly the FMA chain it documents,
/// z⁰ⱼ = fma(xᵢ, W⁰ⱼᵢ, …) over the non-zero xᵢ in increasing i starting from b⁰ⱼ, and on a dense one it is
/// Network.Forward's; the whole network agrees with
/// <see cref="Network{T}.Forward"/> to rounding; it is a snapshot until refreshed; bad input is refused; 0 bytes.</summary>
[Collection(RunsAlone.Name)]
public sealed class PredictorTests
{
    /// <summary>Inputs N(0, 1) with about <paramref name="zeros"/> of them exactly zero, in runs and alone.</summary>
    private static double[] SparseInput(int length, int seed, double zeros)
    {
        var rng = new SeededRandom(seed);
        var x = new double[length];
        for (int i = 0; i < length; i++)
            x[i] = rng.NextDouble() < zeros ? 0 : rng.NextGaussian();
        return x;
    }

    private static Arbitrary<(int Inputs, int Outputs, double Zeros, int Seed)> OneLayer() =>
        (from inputs in Gen.Choose(1, 100)
         from outputs in Gen.Choose(1, 150)   // more than one register block (64 floats, 32 doubles) and ragged ends
         from zeros in Gen.Elements(0.0, 0.4, 0.5, 0.6, 0.9, 1.0)
         from seed in Gen.Choose(0, 1_000_000)
         select (inputs, outputs, zeros, seed)).ToArbitrary();

    [Property(MaxTest = 150)]
    public Property First_layer_is_the_documented_FMA_chain_over_the_non_zero_inputs() =>
        Prop.ForAll(OneLayer(), c =>
        {
            var spec = NetworkSpec.Mlp([c.Inputs, c.Outputs], ActivationKind.Identity, ActivationKind.Identity, LossKind.Quadratic);
            CheckChain<double>(spec, SparseInput(c.Inputs, c.Seed, c.Zeros), c.Seed);
            CheckChain<float>(spec, SparseInput(c.Inputs, c.Seed, c.Zeros), c.Seed);
        });

    private static void CheckChain<T>(NetworkSpec spec, double[] input, int seed) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        using var net = Network<T>.Create(spec, seed);
        using var predictor = net.CreatePredictor();
        T[] x = [.. input.Select(T.CreateTruncating)];
        var got = predictor.Predict(x).ToArray();
        if (x.Count(v => v != T.Zero) * 2 > x.Length)
        {
            using var ws = net.CreateWorkspace(1);   // mostly non-zero: the forward pass's own first layer
            Assert.Equal(net.Forward(x, ws).ToArray(), got);
            return;
        }
        ReadOnlySpan<T> w = net.Layout.Weight(0).Of((ReadOnlySpan<T>)net.Parameters);
        ReadOnlySpan<T> b = net.Layout.Bias(0).Of((ReadOnlySpan<T>)net.Parameters);
        for (int j = 0; j < got.Length; j++)
        {
            T z = b[j];
            for (int i = 0; i < x.Length; i++)
                if (x[i] != T.Zero) z = T.FusedMultiplyAdd(x[i], w[j * x.Length + i], z);
            if (got[j] != z)
                throw new Xunit.Sdk.XunitException($"{typeof(T).Name} {spec}: z⁰[{j}] = {got[j]} but the chain gives {z}");
        }
    }

    [Property(MaxTest = 150)]
    public Property Agrees_with_Network_Forward_to_rounding() =>
        Prop.ForAll(NetArbitraries.Gen(maxBatch: 1).ToArbitrary(), Gen.Elements(0.0, 0.5, 0.95).ToArbitrary(), (c, zeros) =>
        {
            using var net = c.Network();
            using var ws = net.CreateWorkspace(1);
            using var predictor = net.CreatePredictor();
            double[] x = SparseInput(c.Inputs, c.Seed, zeros);
            double[] expected = net.Forward(x, ws).ToArray();
            double[] got = predictor.Predict(x).ToArray();
            for (int j = 0; j < expected.Length; j++)
                Assert.True(Math.Abs(got[j] - expected[j]) <= 1e-12 * (1 + Math.Abs(expected[j])),
                    $"{c}, zeros {zeros}: aᴸ[{j}] = {got[j]:R}, Forward gives {expected[j]:R}");
            Assert.Equal(Trainer.ClassOf<double>(expected), predictor.Classify(x));   // one output: ≥ ½
        });

    [Fact]
    public void Is_a_snapshot_until_refreshed()
    {
        var spec = NetworkSpec.Mlp([6, 5, 3], ActivationKind.Tanh, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy);
        using var net = Network<double>.Create(spec, 4);
        using var ws = net.CreateWorkspace(1);
        using var predictor = net.CreatePredictor();
        double[] x = SparseInput(6, 1, 0.3);
        double[] before = predictor.Predict(x).ToArray();
        foreach (ref double p in net.Parameters) p *= 1.5;   // stands for more training
        Assert.Equal(before, predictor.Predict(x).ToArray());
        predictor.Refresh();
        double[] after = predictor.Predict(x).ToArray();
        Assert.NotEqual(before, after);
        double[] forward = net.Forward(x, ws).ToArray();
        for (int j = 0; j < 3; j++) Assert.Equal(forward[j], after[j], 1e-12);
    }

    [Fact]
    public void Refuses_a_wrong_length_and_non_finite_input()
    {
        var spec = NetworkSpec.Mlp([4, 3, 2], ActivationKind.ReLU, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy);
        using var net = Network<float>.Create(spec, 1);
        using var predictor = net.CreatePredictor();
        var length = Assert.Throws<ArgumentException>(() => predictor.Predict(new float[8]));
        Assert.Contains("one sample of [4]", length.Message);
        Assert.Contains("8 values", length.Message);
        var nan = Assert.Throws<ArgumentException>(() => predictor.Predict([0f, 0f, float.NaN, 1f]));
        Assert.Contains("feature 2", nan.Message);
    }

    [Fact]
    public void Predict_allocates_nothing()
    {
        var spec = NetworkSpec.Mlp([784, 128, 10], ActivationKind.ReLU, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy);
        using var net = Network<float>.Create(spec, 2);
        using var predictor = net.CreatePredictor();
        float[] x = [.. SparseInput(784, 3, 0.8).Select(v => (float)v)];
        Assert.Equal(0L, SteadyState.AllocatedBytes(() => predictor.Predict(x)));
    }
    /// <summary>One predictor shared by 8 threads: overlapping calls throw <see cref="InvalidOperationException"/> naming
    /// the rule, and every call that returns gives the class a predictor of its own gives (no silently wrong output).</summary>
    [Fact]
    public void Shared_by_eight_threads_refuses_overlapping_calls_and_never_answers_wrong()
    {
        const int threads = 8, calls = 10_000;
        var spec = NetworkSpec.Mlp([64, 32, 10], ActivationKind.ReLU, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy);
        using var net = Network<float>.Create(spec, 5);
        using var shared = net.CreatePredictor();
        var inputs = new float[threads][];
        var expected = new int[threads];
        using (var own = net.CreatePredictor())
        {
            for (int t = 0; t < threads; t++)
            {
                inputs[t] = [.. SparseInput(64, 100 + t, 0.3).Select(v => (float)v)];
                expected[t] = own.Classify(inputs[t]);
            }
        }
        Assert.True(expected.Distinct().Count() > 1, "the inputs should not all have one class");
        int wrong = 0, refused = 0;
        string? message = null;
        Exception? other = null;
        using var start = new Barrier(threads);
        var workers = Enumerable.Range(0, threads).Select(t => new Thread(() =>
        {
            start.SignalAndWait();
            for (int i = 0; i < calls; i++)
            {
                try
                {
                    if (shared.Classify(inputs[t]) != expected[t]) Interlocked.Increment(ref wrong);
                }
                catch (InvalidOperationException e)
                {
                    Interlocked.Increment(ref refused);
                    Interlocked.CompareExchange(ref message, e.Message, null);
                }
                catch (Exception e)
                {
                    Interlocked.CompareExchange(ref other, e, null);
                }
            }
        })).ToList();
        workers.ForEach(w => w.Start());
        workers.ForEach(w => w.Join());

        Assert.Null(other);
        Assert.Equal(0, wrong);
        Assert.True(refused > 0, $"{threads} threads × {calls} calls on one predictor: no overlapping call was refused");
        Assert.Contains("one thread at a time", message);
        Assert.Equal(expected[0], shared.Classify(inputs[0]));   // the flag is released after a refused call
    }
}
