using System.Numerics;
using System.Runtime.Intrinsics;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Xunit;

namespace Backprop.Functional.Tests.Training;

/// <summary>The bit-for-bit oracle for refactors of the training step: SHA-256 of θ, the optimizer's moments and its
/// step count after a fixed number of steps, pinned as hex from main @ 186c08c (before the layer protocol, the
/// transform chain and the one training step). A refactor that changes one bit of one trajectory fails here, by name.
/// <para>Each case calls the public API that stays: <see cref="Trainer.Step{T}"/> with a <see cref="TrainingOptions"/>
/// and Nielsen's λ/n (the stored path; with 2 threads the split GEMMs and update), <see cref="Network{T}.TrainOnline"/>
/// (the fused one-sample path), and <see cref="Trainer.Fit{T}(Network{T}, Dataset, Dataset?, TrainingOptions, Action{EpochResult}?, Action{int, int}?)"/>
/// (shuffling and the loop around the step). The hashes are never regenerated to make a change pass: a changed
/// trajectory is a bug unless the change meant it, and then the commit says why.</para></summary>
public partial class TrajectoryGoldenTests
{
    private const int Steps = 40;

    /// <summary>The eight optimizers with rates that move θ visibly in 40 steps, and the forms h/training added.</summary>
    private static Optimizer Make(string name) => name switch
    {
        "sgd" => new Sgd(0.1),
        "momentum" => new Momentum(0.05, Dampening: 0.1, WeightDecay: 1e-3),
        "momentum-classic" => new Momentum(0.05, Form: MomentumForm.Classic),
        "nesterov" => new Nesterov(0.05),
        "nesterov-lookahead" => new Nesterov(0.05, Form: NesterovForm.LookAhead),
        "adagrad" => new Adagrad(0.1, LrDecay: 1e-3, InitialAccumulatorValue: 0.1),
        "rmsprop" => new RmsProp(0.01),
        "rmsprop-centered" => new RmsProp(0.01, Mu: 0.5, Centered: true),
        "adam" => new Adam(0.01, WeightDecay: 1e-3),
        "adam-amsgrad" => new Adam(0.01, Amsgrad: true),
        "adamw" => new AdamW(0.01),
        "adadelta" => new AdaDelta(1.0),
        _ => throw new ArgumentException(name),
    };

    private static readonly string[] OptimizerNames =
        ["sgd", "momentum", "momentum-classic", "nesterov", "nesterov-lookahead", "adagrad", "rmsprop", "rmsprop-centered", "adam", "adam-amsgrad", "adamw", "adadelta"];

    /// <summary>plain: Trainer.Step; regularized: L2 + clip + Warmup(Cosine); threads2: 784-128-10 noise on 2 threads;
    /// fused: batch-1 Network.TrainOnline; fit: Trainer.Fit over two epochs.</summary>
    public static TheoryData<string, string, string> Cases()
    {
        var data = new TheoryData<string, string, string>();
        foreach (string type in new[] { "float", "double" })
        {
            foreach (string variant in new[] { "plain", "regularized", "threads2" })
                foreach (string optimizer in OptimizerNames) data.Add(variant, optimizer, type);
            foreach (string optimizer in new[] { "sgd", "adam", "adamw" }) data.Add("fused", optimizer, type);
            foreach (string optimizer in new[] { "momentum", "adam" }) data.Add("fit", optimizer, type);
        }
        return data;
    }

    /// <summary>The SIMD path this process runs (the widest accelerated vector, and whether FMA is used): the kernels
    /// sum in a different order on each, so each has its own hashes. Pinned here: 256+fma (AVX2, this project's
    /// machine), 128+fma (DOTNET_EnableAVX2=0) and scalar (DOTNET_EnableHWIntrinsic=0); another path is skipped.</summary>
    internal static string SimdPath =>
        (Vector512.IsHardwareAccelerated ? "512" : Vector256.IsHardwareAccelerated ? "256" : Vector128.IsHardwareAccelerated ? "128" : "scalar")
        + (System.Runtime.Intrinsics.X86.Fma.IsSupported ? "+fma" : "");

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public void Trajectory_is_bit_identical_to_the_pinned_one(string variant, string optimizer, string type)
    {
        string key = $"{SimdPath} {variant} {optimizer} {type}";
        Skip.IfNot(Pinned.Keys.Any(k => k.StartsWith(SimdPath + " ", StringComparison.Ordinal)),
            $"no hashes are pinned for the SIMD path {SimdPath} (pinned: {string.Join(", ", Pinned.Keys.Select(k => k[..k.IndexOf(' ')]).Distinct())})");
        string actual = type == "float" ? Run<float>(variant, Make(optimizer)) : Run<double>(variant, Make(optimizer));
        Assert.True(Pinned.TryGetValue(key, out string? expected), $"no pinned hash for {key}: {actual}");
        Assert.True(expected == actual, $"{key}: the trajectory changed: θ, moments and step hash to {actual}, pinned {expected}");
    }

    [Fact]
    public void Every_pinned_path_has_a_hash_for_every_case()
    {
        var cases = Cases().Select(row => $"{row[0]} {row[1]} {row[2]}").Order(StringComparer.Ordinal).ToArray();
        foreach (var path in Pinned.Keys.GroupBy(k => k[..k.IndexOf(' ')]))
            Assert.Equal(cases, path.Select(k => k[(k.IndexOf(' ') + 1)..]).Order(StringComparer.Ordinal));
    }

    private static string Run<T>(string variant, Optimizer optimizer) where T : unmanaged, IFloatingPointIeee754<T> => variant switch
    {
        "plain" => Stored<T>(SmallSpec, optimizer, new TrainingOptions(Optimizer: optimizer), threads: 1, batch: 8),
        "regularized" => Stored<T>(SmallSpec, optimizer, new TrainingOptions(Optimizer: optimizer, L2: 2.0, ClipNorm: 0.5,
            Schedule: new Warmup(5, new CosineAnnealing(30, MinRate: 1e-4))), threads: 1, batch: 8),
        "threads2" => Stored<T>(NoiseSpec, optimizer, new TrainingOptions(Optimizer: optimizer, Threads: 2), threads: 2, batch: 16),
        "fused" => Fused<T>(optimizer),
        "fit" => Fit<T>(optimizer),
        _ => throw new ArgumentException(variant),
    };

    private static readonly NetworkSpec SmallSpec = new(
        [new Dense(5, 12, ActivationKind.Tanh), new Dense(12, 7, ActivationKind.GELU), new Dense(7, 3, ActivationKind.Softmax)],
        LossKind.SoftmaxCrossEntropy);

    private static readonly NetworkSpec NoiseSpec = NetworkSpec.Mlp([784, 128, 10], ActivationKind.ReLU, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy);

    /// <summary>Uniform noise in [0, 1) and one-hot targets of uniformly drawn classes.</summary>
    private static Dataset Noise(int count, int features, int classes, long seed)
    {
        var rng = new SeededRandom(seed);
        var x = new float[count * features];
        for (int i = 0; i < x.Length; i++) x[i] = (float)rng.NextDouble();
        var labels = new int[count];
        for (int i = 0; i < count; i++) labels[i] = rng.Next(classes);
        return Dataset.Create($"noise{seed}", count, features, classes, x, Dataset.OneHot(labels, classes), labels);
    }

    /// <summary><see cref="Steps"/> calls of Trainer.Step on consecutive batches, as Fit makes them (λ/n with n the set's size).</summary>
    private static string Stored<T>(NetworkSpec spec, Optimizer optimizer, TrainingOptions options, int threads, int batch)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var data = Noise(batch * 10, spec.Inputs, spec.Outputs, seed: 11);
        using var net = Network<T>.Create(spec, seed: 3);
        using var ws = net.CreateWorkspace(batch, threads);
        using var gradient = net.CreateGradient();
        using var buffers = optimizer.CreateBuffers<T>(net.Layout.Count);
        var state = new OptimizerState(0);
        T l2 = T.CreateChecked(options.L2 / data.Count);
        T[] x = new T[batch * spec.Inputs], y = new T[batch * spec.Outputs];
        for (int s = 0; s < Steps; s++)
        {
            int first = s % 10 * batch;
            Copy(data.X.AsSpan(first * spec.Inputs, x.Length), x);
            Copy(data.Y.AsSpan(first * spec.Outputs, y.Length), y);
            T cost = Trainer.Step(net, x, y, ws, gradient.Span, optimizer, ref state, buffers, options, l2);
            Assert.True(T.IsFinite(cost), $"step {s}: cost {cost}");
        }
        Assert.Equal(Steps, state.Step);
        return Hash<T>(net.Parameters, buffers, state);
    }

    /// <summary>One sample per step through the fused online update.</summary>
    private static string Fused<T>(Optimizer optimizer) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var spec = SmallSpec;
        var data = Noise(Steps, spec.Inputs, spec.Outputs, seed: 12);
        using var net = Network<T>.Create(spec, seed: 4);
        using var ws = net.CreateWorkspace(1);
        using var buffers = optimizer.CreateBuffers<T>(net.Layout.Count);
        var state = new OptimizerState(0);
        T[] x = new T[spec.Inputs], y = new T[spec.Outputs];
        for (int s = 0; s < Steps; s++)
        {
            Copy(data.X.AsSpan(s * spec.Inputs, x.Length), x);
            Copy(data.Y.AsSpan(s * spec.Outputs, y.Length), y);
            net.TrainOnline(x, y, ws, optimizer, ref state, buffers);
        }
        Assert.Equal(Steps, state.Step);
        return Hash<T>(net.Parameters, buffers, state);
    }

    /// <summary>Two epochs of Fit (shuffle, L2, clipping, schedule, a last short batch); θ only, as Fit keeps its moments.</summary>
    private static string Fit<T>(Optimizer optimizer) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var data = Noise(150, SmallSpec.Inputs, SmallSpec.Outputs, seed: 13);
        using var net = Network<T>.Create(SmallSpec, seed: 5);
        var options = new TrainingOptions(Epochs: 2, BatchSize: 8, Seed: 9, Optimizer: optimizer, L2: 1.0, ClipNorm: 1.0,
            Schedule: new Warmup(3, new CosineAnnealing(38)), DivergenceFactor: null);
        var results = Trainer.Fit(net, data, null, options);
        Assert.Equal(2, results.Count);
        using var none = new OptimizerBuffers<T>(0, net.Layout.Count);
        return Hash<T>(net.Parameters, none, new OptimizerState(0));
    }

    private static void Copy<T>(ReadOnlySpan<float> source, Span<T> destination) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < source.Length; i++) destination[i] = T.CreateChecked(source[i]);
    }

    private static string Hash<T>(ReadOnlySpan<T> theta, OptimizerBuffers<T> buffers, OptimizerState state) where T : unmanaged, IFloatingPointIeee754<T>
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(MemoryMarshal.AsBytes(theta));
        for (int i = 0; i < buffers.Count; i++) sha.AppendData(MemoryMarshal.AsBytes((ReadOnlySpan<T>)buffers.Moment(i)));
        sha.AppendData(BitConverter.GetBytes(state.Step));
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }
}
