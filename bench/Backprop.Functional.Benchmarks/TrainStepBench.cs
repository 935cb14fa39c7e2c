using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;

namespace Backprop.Functional.Benchmarks;

/// <summary>784-30-10 sigmoid/sigmoid, quadratic cost (W1, Nielsen's network).</summary>
[Network(Loss = typeof(Quadratic))]
[Dense(784, 30, typeof(Sigmoid))]
[Dense(30, 10, typeof(Sigmoid))]
public static partial class Nielsen30;

/// <summary>One training step of the peer workloads W1 (784-30-10, SGD, batch 10), W2 (784-128-10, Adam, batch 64)
/// and W4 (784-32-10, SGD, batch 1): the runtime <see cref="Network{T}"/> (Baseline) against the generated network;
/// and W3 (784-1024-1024-10, Adam, batch 256) on the runtime with one thread (Baseline) and two.
/// η = 0, so every iteration does the same work on a stationary θ.</summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class TrainStepBench
{
    private static readonly NetworkSpec W3Spec =
        NetworkSpec.Mlp([784, 1024, 1024, 10], ActivationKind.ReLU, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy);

    private StepCase _w1 = null!, _w2 = null!, _w4 = null!, _w3 = null!, _w3Two = null!;

    [GlobalSetup]
    public void Setup()
    {
        _w1 = new StepCase(Nielsen30.Spec, 10, new Sgd(0));
        _w2 = new StepCase(Mnist128.Spec, 64, new Adam(0));
        _w4 = new StepCase(Mnist32.Spec, 1, new Sgd(0));
        _w3 = new StepCase(W3Spec, 256, new Adam(0));
        _w3Two = new StepCase(W3Spec, 256, new Adam(0), threads: 2);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _w1.Dispose();
        _w2.Dispose();
        _w4.Dispose();
        _w3.Dispose();
        _w3Two.Dispose();
    }

    [BenchmarkCategory("W3"), Benchmark(Baseline = true)]
    public float W3_Runtime() => _w3.RuntimeStep();

    [BenchmarkCategory("W3"), Benchmark]
    public float W3_RuntimeTwoThreads() => _w3Two.RuntimeStep();

    [BenchmarkCategory("W1"), Benchmark(Baseline = true)]
    public float W1_Runtime() => _w1.RuntimeStep();

    [BenchmarkCategory("W1"), Benchmark]
    public float W1_Generated()
    {
        var c = _w1;
        return Nielsen30.TrainStep<float>(c.Theta, c.X, c.Y, c.GeneratedWorkspace, c.Gradient, c.Optimizer, ref c.GeneratedState, c.GeneratedBuffers);
    }

    [BenchmarkCategory("W2"), Benchmark(Baseline = true)]
    public float W2_Runtime() => _w2.RuntimeStep();

    [BenchmarkCategory("W2"), Benchmark]
    public float W2_Generated()
    {
        var c = _w2;
        return Mnist128.TrainStep<float>(c.Theta, c.X, c.Y, c.GeneratedWorkspace, c.Gradient, c.Optimizer, ref c.GeneratedState, c.GeneratedBuffers);
    }

    [BenchmarkCategory("W4"), Benchmark(Baseline = true)]
    public float W4_Runtime() => _w4.RuntimeStep();

    [BenchmarkCategory("W4"), Benchmark]
    public float W4_Generated()
    {
        var c = _w4;
        return Mnist32.TrainStep<float>(c.Theta, c.X, c.Y, c.GeneratedWorkspace, c.Gradient, c.Optimizer, ref c.GeneratedState, c.GeneratedBuffers);
    }
}

/// <summary>Buffers for one network stepped both ways: same θ, data and optimizer; separate workspaces and state.</summary>
internal sealed class StepCase : IDisposable
{
    public readonly Network<float> Runtime;
    public readonly Workspace<float> RuntimeWorkspace, GeneratedWorkspace;
    public readonly float[] Theta, X, Y, Gradient, RuntimeGradient;
    public readonly Optimizer Optimizer;
    public readonly OptimizerBuffers<float> RuntimeBuffers, GeneratedBuffers;
    public OptimizerState RuntimeState, GeneratedState;
    private readonly TrainingOptions _options;

    public StepCase(NetworkSpec spec, int batch, Optimizer optimizer, int threads = 1)
    {
        Optimizer = optimizer;
        _options = new TrainingOptions(BatchSize: batch, Optimizer: optimizer, Threads: threads);
        Runtime = Network<float>.Create(spec, seed: 1);
        Theta = Runtime.Parameters.ToArray();
        RuntimeWorkspace = Runtime.CreateWorkspace(batch, threads);
        GeneratedWorkspace = new Workspace<float>(spec.Layers, batch);
        var random = new Random(2);
        X = new float[batch * spec.Inputs];
        for (int i = 0; i < X.Length; i++) X[i] = random.NextSingle();
        Y = new float[batch * spec.Outputs];
        for (int r = 0; r < batch; r++) Y[r * spec.Outputs + random.Next(spec.Outputs)] = 1;
        Gradient = new float[spec.Layout.Count];
        RuntimeGradient = new float[spec.Layout.Count];
        RuntimeBuffers = optimizer.CreateBuffers<float>(spec.Layout.Count);
        GeneratedBuffers = optimizer.CreateBuffers<float>(spec.Layout.Count);
    }

    /// <summary>Trainer.Step on the runtime network: what the end-to-end runner times per batch.</summary>
    public float RuntimeStep() =>
        Trainer.Step(Runtime, X, Y, RuntimeWorkspace, RuntimeGradient, Optimizer, ref RuntimeState, RuntimeBuffers, _options, 0f);

    public void Dispose()
    {
        Runtime.Dispose();
        RuntimeWorkspace.Dispose();
        GeneratedWorkspace.Dispose();
        RuntimeBuffers.Dispose();
        GeneratedBuffers.Dispose();
    }
}
