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

/// <summary>2-16-1 (tanh, identity output, quadratic): the EmbeddedOnline sample's network.</summary>
[Network]
[Dense(2, 16, typeof(Tanh))]
[Dense(16, 1)]
public static partial class Sine2;

/// <summary>64-32-10 (ReLU, softmax + cross-entropy): both layers small enough for the generated loops.</summary>
[Network(Loss = typeof(SoftmaxCrossEntropy))]
[Dense(64, 32, typeof(ReLU))]
[Dense(32, 10, typeof(Softmax))]
public static partial class Mid64;

/// <summary>784-32-10 as <see cref="Mnist32"/>, with its optimizer declared (Adam, η = 0 as the benchmarks run it).</summary>
[Network(Loss = typeof(SoftmaxCrossEntropy))]
[Optimizer(typeof(Adam), LearningRate = 0)]
[Dense(784, 32, typeof(ReLU))]
[Dense(32, 10, typeof(Softmax))]
public static partial class Mnist32Adam;

/// <summary>16-16-1 as <see cref="Tiny16"/>, Adam declared.</summary>
[Network]
[Optimizer(typeof(Adam), LearningRate = 0)]
[Dense(16, 16, typeof(Tanh))]
[Dense(16, 1)]
public static partial class Tiny16Adam;

/// <summary>2-16-1 as <see cref="Sine2"/>, Adam declared.</summary>
[Network]
[Optimizer(typeof(Adam), LearningRate = 0)]
[Dense(2, 16, typeof(Tanh))]
[Dense(16, 1)]
public static partial class Sine2Adam;

/// <summary>64-32-10 as <see cref="Mid64"/>, Adam declared.</summary>
[Network(Loss = typeof(SoftmaxCrossEntropy))]
[Optimizer(typeof(Adam), LearningRate = 0)]
[Dense(64, 32, typeof(ReLU))]
[Dense(32, 10, typeof(Softmax))]
public static partial class Mid64Adam;

/// <summary>One training step (forward, loss, backward, update, float) of a generated network against the runtime
/// <see cref="Network{T}"/> built from the same spec (Baseline), per network and batch size: the generated TrainStep
/// and, for one sample, the generated TrainOnline (∂C/∂W formed inside the update, never stored), with the optimizer passed
/// (GeneratedOnline) and declared by [Optimizer] (GeneratedDeclared: the update called directly).</summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class GeneratedVsRuntimeBench
{
    private StepCase _mnist32 = null!, _tiny16 = null!, _mnist128 = null!, _mnist32Sgd = null!, _sine2 = null!, _mid64 = null!;

    [GlobalSetup]
    public void Setup()
    {
        _mnist32 = new StepCase(Mnist32.Spec, 1, new Adam(LearningRate: 0));   // η = 0: every step does the same work
        _tiny16 = new StepCase(Tiny16.Spec, 1, new Adam(LearningRate: 0));
        _mnist128 = new StepCase(Mnist128.Spec, 64, new Adam(LearningRate: 0));
        _mnist32Sgd = new StepCase(Mnist32.Spec, 1, new Sgd(LearningRate: 0));   // W4's optimizer
        _sine2 = new StepCase(Sine2.Spec, 1, new Adam(LearningRate: 0));
        _mid64 = new StepCase(Mid64.Spec, 1, new Adam(LearningRate: 0));
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _mnist32.Dispose();
        _tiny16.Dispose();
        _mnist128.Dispose();
        _mnist32Sgd.Dispose();
        _sine2.Dispose();
        _mid64.Dispose();
    }

    [BenchmarkCategory("784-32-10 batch 1"), Benchmark(Baseline = true)]
    public float Runtime_784_32_10_b1() => _mnist32.RuntimeStep();

    [BenchmarkCategory("784-32-10 batch 1"), Benchmark]
    public float Generated_784_32_10_b1()
    {
        var c = _mnist32;
        return Mnist32.TrainStep<float>(c.Theta, c.X, c.Y, c.GeneratedWorkspace, c.Gradient, c.Optimizer, ref c.GeneratedState, c.GeneratedBuffers);
    }

    [BenchmarkCategory("784-32-10 batch 1"), Benchmark]
    public float GeneratedOnline_784_32_10_b1()
    {
        var c = _mnist32;
        return Mnist32.TrainOnline<float>(c.Theta, c.X, c.Y, c.GeneratedWorkspace, c.Optimizer, ref c.GeneratedState, c.GeneratedBuffers);
    }

    [BenchmarkCategory("784-32-10 batch 1"), Benchmark]
    public float GeneratedDeclared_784_32_10_b1()
    {
        var c = _mnist32;
        return Mnist32Adam.TrainOnline<float>(c.Theta, c.X, c.Y, c.GeneratedWorkspace, ref c.GeneratedState, c.GeneratedBuffers);
    }

    [BenchmarkCategory("784-32-10 batch 1 SGD"), Benchmark(Baseline = true)]
    public float Runtime_784_32_10_b1_Sgd() => _mnist32Sgd.RuntimeStep();

    [BenchmarkCategory("784-32-10 batch 1 SGD"), Benchmark]
    public float Generated_784_32_10_b1_Sgd()
    {
        var c = _mnist32Sgd;
        return Mnist32.TrainStep<float>(c.Theta, c.X, c.Y, c.GeneratedWorkspace, c.Gradient, c.Optimizer, ref c.GeneratedState, c.GeneratedBuffers);
    }

    [BenchmarkCategory("784-32-10 batch 1 SGD"), Benchmark]
    public float GeneratedOnline_784_32_10_b1_Sgd()
    {
        var c = _mnist32Sgd;
        return Mnist32.TrainOnline<float>(c.Theta, c.X, c.Y, c.GeneratedWorkspace, c.Optimizer, ref c.GeneratedState, c.GeneratedBuffers);
    }

    [BenchmarkCategory("16-16-1 batch 1"), Benchmark(Baseline = true)]
    public float Runtime_16_16_1_b1() => _tiny16.RuntimeStep();

    [BenchmarkCategory("16-16-1 batch 1"), Benchmark]
    public float Generated_16_16_1_b1()
    {
        var c = _tiny16;
        return Tiny16.TrainStep<float>(c.Theta, c.X, c.Y, c.GeneratedWorkspace, c.Gradient, c.Optimizer, ref c.GeneratedState, c.GeneratedBuffers);
    }

    [BenchmarkCategory("16-16-1 batch 1"), Benchmark]
    public float GeneratedOnline_16_16_1_b1()
    {
        var c = _tiny16;
        return Tiny16.TrainOnline<float>(c.Theta, c.X, c.Y, c.GeneratedWorkspace, c.Optimizer, ref c.GeneratedState, c.GeneratedBuffers);
    }

    [BenchmarkCategory("16-16-1 batch 1"), Benchmark]
    public float GeneratedDeclared_16_16_1_b1()
    {
        var c = _tiny16;
        return Tiny16Adam.TrainOnline<float>(c.Theta, c.X, c.Y, c.GeneratedWorkspace, ref c.GeneratedState, c.GeneratedBuffers);
    }

    [BenchmarkCategory("2-16-1 batch 1"), Benchmark(Baseline = true)]
    public float Runtime_2_16_1_b1() => _sine2.RuntimeStep();

    [BenchmarkCategory("2-16-1 batch 1"), Benchmark]
    public float GeneratedOnline_2_16_1_b1()
    {
        var c = _sine2;
        return Sine2.TrainOnline<float>(c.Theta, c.X, c.Y, c.GeneratedWorkspace, c.Optimizer, ref c.GeneratedState, c.GeneratedBuffers);
    }

    [BenchmarkCategory("2-16-1 batch 1"), Benchmark]
    public float GeneratedDeclared_2_16_1_b1()
    {
        var c = _sine2;
        return Sine2Adam.TrainOnline<float>(c.Theta, c.X, c.Y, c.GeneratedWorkspace, ref c.GeneratedState, c.GeneratedBuffers);
    }

    [BenchmarkCategory("64-32-10 batch 1"), Benchmark(Baseline = true)]
    public float Runtime_64_32_10_b1() => _mid64.RuntimeStep();

    [BenchmarkCategory("64-32-10 batch 1"), Benchmark]
    public float GeneratedOnline_64_32_10_b1()
    {
        var c = _mid64;
        return Mid64.TrainOnline<float>(c.Theta, c.X, c.Y, c.GeneratedWorkspace, c.Optimizer, ref c.GeneratedState, c.GeneratedBuffers);
    }

    [BenchmarkCategory("64-32-10 batch 1"), Benchmark]
    public float GeneratedDeclared_64_32_10_b1()
    {
        var c = _mid64;
        return Mid64Adam.TrainOnline<float>(c.Theta, c.X, c.Y, c.GeneratedWorkspace, ref c.GeneratedState, c.GeneratedBuffers);
    }

    [BenchmarkCategory("784-128-10 batch 64"), Benchmark(Baseline = true)]
    public float Runtime_784_128_10_b64() => _mnist128.RuntimeStep();

    [BenchmarkCategory("784-128-10 batch 64"), Benchmark]
    public float Generated_784_128_10_b64()
    {
        var c = _mnist128;
        return Mnist128.TrainStep<float>(c.Theta, c.X, c.Y, c.GeneratedWorkspace, c.Gradient, c.Optimizer, ref c.GeneratedState, c.GeneratedBuffers);
    }
}
