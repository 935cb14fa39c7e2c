using System.Numerics;
using Backprop.Functional.Generators.Tests.Networks;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;
using static Backprop.Functional.Generators.Tests.ParityProperties;

namespace Backprop.Functional.Generators.Tests;

/// <summary>The generated <c>Predictor&lt;T&gt;</c> (W⁰ transposed, zero inputs skipped, sizes constant) against the runtime
/// <see cref="Predictor{T}"/> on the same θ: aᴸ within the one-sample bound (<see cref="Near{T}"/>: 256·2⁻²⁴ in float,
/// 10⁻¹² in double, against the scale of the terms summed: the runtime Predictor of the network with |θ| on |x|, since a
/// one-output network's sum can cancel far below its terms — 16-16(Tanh)-1 failed so once against ‖r‖∞), on inputs with 0–100 % of their values zero (both sides of the half-zero switch), and after
/// <c>Refresh</c> on a new θ.</summary>
public sealed class PredictorProperties
{
    [Property(MaxTest = 60)]
    public Property MnistMlp_Predictor_equals_runtime_Predictor(int seed, byte zeros) =>
        Check(MnistMlp.Spec, seed, zeros, t => new MnistMlp.Predictor<double>(t).Predict, t => new MnistMlp.Predictor<float>(t).Predict);

    [Property(MaxTest = 200)]
    public Property Mix_Predictor_equals_runtime_Predictor(int seed, byte zeros) =>
        Check(Mix.Spec, seed, zeros, t => new Mix.Predictor<double>(t).Predict, t => new Mix.Predictor<float>(t).Predict);

    [Property(MaxTest = 200)]
    public Property Tiny_Predictor_equals_runtime_Predictor(int seed, byte zeros) =>
        Check(Tiny.Spec, seed, zeros, t => new Tiny.Predictor<double>(t).Predict, t => new Tiny.Predictor<float>(t).Predict);

    private delegate ReadOnlySpan<T> PredictFn<T>(ReadOnlySpan<T> x);

    private static Property Check(NetworkSpec spec, int seed, byte zeros, Func<double[], PredictFn<double>> makeD, Func<float[], PredictFn<float>> makeF)
    {
        var random = new Random(seed);
        double[] x = Data(random, spec.Inputs);
        double zeroShare = zeros / 255.0;
        for (int i = 0; i < x.Length; i++) if (random.NextDouble() < zeroShare) x[i] = 0;
        string failure = One(spec, seed, x, makeD, DoubleBound) ?? One(spec, seed, [.. x.Select(v => (float)v)], makeF, FloatBound) ?? "";
        return (failure.Length == 0).Label($"{spec}, seed {seed}, {zeroShare:P0} zeros: {failure}");
    }

    private static string? One<T>(NetworkSpec spec, int seed, T[] x, Func<T[], PredictFn<T>> make, double bound) where T : unmanaged, IFloatingPointIeee754<T>
    {
        using var net = Network<T>.Create(spec, seed);
        using var runtime = net.CreatePredictor();
        var predict = make(net.Parameters.ToArray());
        return Near(predict(x).ToArray(), runtime.Predict(x).ToArray(), $"{typeof(T).Name} aᴸ", bound, RoundingScale.Output<T>(spec, net.Parameters, x));
    }

    [Fact]
    public void Refresh_takes_the_new_theta_and_Predict_refuses_wrong_lengths()
    {
        using var a = Network<float>.Create(MnistMlp.Spec, seed: 1);
        using var b = Network<float>.Create(MnistMlp.Spec, seed: 2);
        var predictor = new MnistMlp.Predictor<float>(a.Parameters);
        var x = new float[MnistMlp.InputSize];
        x[300] = 1; x[301] = 0.5f;
        predictor.Refresh(b.Parameters);
        using var runtime = b.CreatePredictor();
        Assert.Null(Near(predictor.Predict(x).ToArray(), runtime.Predict(x).ToArray(), "aᴸ", FloatBound));
        Assert.Equal(runtime.Classify(x), predictor.Classify(x));
        Assert.Contains("one sample of [784]", Assert.Throws<ArgumentException>(() => predictor.Predict(new float[783])).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => predictor.Refresh(new float[3]));
    }
}
