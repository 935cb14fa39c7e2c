using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;

namespace Backprop.Functional.Benchmarks;

/// <summary>784-32-10 (ReLU, softmax + cross-entropy).</summary>
[Network(Loss = typeof(SoftmaxCrossEntropy))]
[Dense(784, 32, typeof(ReLU))]
[Dense(32, 10, typeof(Softmax))]
public static partial class Mnist32;

/// <summary>784-128-10 (ReLU, softmax + cross-entropy).</summary>
[Network(Loss = typeof(SoftmaxCrossEntropy))]
[Dense(784, 128, typeof(ReLU))]
[Dense(128, 10, typeof(Softmax))]
public static partial class Mnist128;

/// <summary>16-16-1 (tanh, identity output, quadratic): the embedded, online case.</summary>
[Network]
[Dense(16, 16, typeof(Tanh))]
[Dense(16, 1)]
public static partial class Tiny16;

/// <summary>One training step (forward, loss, backward, Adam update, float) of a generated network against the runtime
/// <see cref="Network{T}"/> built from the same spec (Baseline), per network and batch size.</summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class GeneratedVsRuntimeBench
{
    private Case _mnist32 = null!, _tiny16 = null!, _mnist128 = null!;

    [GlobalSetup]
    public void Setup()
    {
        _mnist32 = new Case(Mnist32.Spec, batch: 1);
        _tiny16 = new Case(Tiny16.Spec, batch: 1);
        _mnist128 = new Case(Mnist128.Spec, batch: 64);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _mnist32.Dispose();
        _tiny16.Dispose();
        _mnist128.Dispose();
    }

    [BenchmarkCategory("784-32-10 batch 1"), Benchmark(Baseline = true)]
    public float Runtime_784_32_10_b1() => _mnist32.RuntimeStep();

    [BenchmarkCategory("784-32-10 batch 1"), Benchmark]
    public float Generated_784_32_10_b1()
    {
        var c = _mnist32;
        return Mnist32.TrainStep<float>(c.Theta, c.X, c.Y, c.GeneratedWorkspace, c.Gradient, c.Optimizer, ref c.GeneratedState, c.GeneratedBuffers);
    }

    [BenchmarkCategory("16-16-1 batch 1"), Benchmark(Baseline = true)]
    public float Runtime_16_16_1_b1() => _tiny16.RuntimeStep();

    [BenchmarkCategory("16-16-1 batch 1"), Benchmark]
    public float Generated_16_16_1_b1()
    {
        var c = _tiny16;
        return Tiny16.TrainStep<float>(c.Theta, c.X, c.Y, c.GeneratedWorkspace, c.Gradient, c.Optimizer, ref c.GeneratedState, c.GeneratedBuffers);
    }

    [BenchmarkCategory("784-128-10 batch 64"), Benchmark(Baseline = true)]
    public float Runtime_784_128_10_b64() => _mnist128.RuntimeStep();

    [BenchmarkCategory("784-128-10 batch 64"), Benchmark]
    public float Generated_784_128_10_b64()
    {
        var c = _mnist128;
        return Mnist128.TrainStep<float>(c.Theta, c.X, c.Y, c.GeneratedWorkspace, c.Gradient, c.Optimizer, ref c.GeneratedState, c.GeneratedBuffers);
    }

    /// <summary>Both paths' buffers for one network: same θ, data and optimizer, each with its own workspace and state.</summary>
    private sealed class Case : IDisposable
    {
        public readonly Network<float> Runtime;
        public readonly Workspace<float> RuntimeWorkspace, GeneratedWorkspace;
        public readonly float[] Theta, X, Y, Gradient, RuntimeGradient;
        // η = 0 keeps θ fixed, so every step does the same work on both sides: a real trajectory on one repeated sample
        // saturates the softmax and drifts into subnormal gradients, and the two sides would time different states.
        public readonly Optimizer Optimizer = new Adam(LearningRate: 0);
        public readonly OptimizerBuffers<float> RuntimeBuffers, GeneratedBuffers;
        public OptimizerState RuntimeState, GeneratedState;

        public Case(NetworkSpec spec, int batch)
        {
            Runtime = Network<float>.Create(spec, seed: 1);
            Theta = Runtime.Parameters.ToArray();
            RuntimeWorkspace = Runtime.CreateWorkspace(batch);
            GeneratedWorkspace = new Workspace<float>(spec.Layers, batch);
            var random = new Random(2);
            X = new float[batch * spec.Inputs];
            for (int i = 0; i < X.Length; i++) X[i] = random.NextSingle();
            Y = new float[batch * spec.Outputs];
            for (int r = 0; r < batch; r++) Y[r * spec.Outputs + random.Next(spec.Outputs)] = 1;
            Gradient = new float[spec.Layout.Count];
            RuntimeGradient = new float[spec.Layout.Count];
            RuntimeBuffers = Optimizer.CreateBuffers<float>(spec.Layout.Count);
            GeneratedBuffers = Optimizer.CreateBuffers<float>(spec.Layout.Count);
        }

        public float RuntimeStep()
        {
            float cost = Runtime.ValueAndGradient(X, Y, RuntimeWorkspace, RuntimeGradient);
            RuntimeState = Optimizer.Update<float>(RuntimeState, Runtime.Parameters, RuntimeGradient, RuntimeBuffers, Optimizer.LearningRate);
            return cost;
        }

        public void Dispose()
        {
            Runtime.Dispose();
            RuntimeWorkspace.Dispose();
            GeneratedWorkspace.Dispose();
            RuntimeBuffers.Dispose();
            GeneratedBuffers.Dispose();
        }
    }
}
