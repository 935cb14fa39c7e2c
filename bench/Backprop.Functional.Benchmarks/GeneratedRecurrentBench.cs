using System.Diagnostics;
using System.Globalization;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;

namespace Backprop.Functional.Benchmarks;

/// <summary>LSTM 8→16, dense 16→1: a small sequence regressor, trained one sequence at a time.</summary>
[Network]
[Lstm(8, 16)]
[Dense(16, 1)]
public static partial class Lstm8;

/// <summary><see cref="Lstm8"/> with Adam declared (η = 0: every step does the same work).</summary>
[Network]
[Optimizer(typeof(Adam), LearningRate = 0)]
[Lstm(8, 16)]
[Dense(16, 1)]
public static partial class Lstm8Adam;

/// <summary>LSTM 28→128 and a softmax head: MNIST read row by row (seq-MNIST).</summary>
[Network(Loss = typeof(SoftmaxCrossEntropy))]
[Lstm(28, 128)]
[Dense(128, 10, typeof(Softmax))]
public static partial class SeqMnistLstm;

/// <summary>One recurrent case: the runtime network with its workspace, optimizer state and predictor, and the
/// generated side's own workspace, state, buffers and predictor on a copy of θ.</summary>
internal sealed class RecurrentCase : IDisposable
{
    public readonly Network<float> Runtime;
    public readonly Workspace<float> RuntimeWorkspace, GeneratedWorkspace;
    public readonly float[] Theta, X, Y, Gradient, RuntimeGradient;
    public readonly Optimizer Optimizer = new Adam(LearningRate: 0);   // η = 0: every step does the same work
    public readonly OptimizerBuffers<float> RuntimeBuffers, GeneratedBuffers;
    public OptimizerState RuntimeState, GeneratedState;
    public readonly Predictor<float> RuntimePredictor;
    private readonly TrainingOptions _options;

    public RecurrentCase(NetworkSpec spec, int batch, int time)
    {
        _options = new TrainingOptions(BatchSize: batch, Optimizer: Optimizer, Threads: 1);
        Runtime = Network<float>.Create(spec, seed: 1);
        Theta = Runtime.Parameters.ToArray();
        RuntimeWorkspace = Runtime.CreateWorkspace(batch, 1, time);
        GeneratedWorkspace = new Workspace<float>(spec.Layers, batch, time);
        var random = new Random(2);
        X = new float[batch * time * spec.Inputs];
        for (int i = 0; i < X.Length; i++) X[i] = random.NextSingle();
        Y = new float[batch * spec.Outputs];
        for (int r = 0; r < batch; r++) Y[r * spec.Outputs + random.Next(spec.Outputs)] = 1;
        Gradient = new float[spec.Layout.Count];
        RuntimeGradient = new float[spec.Layout.Count];
        RuntimeBuffers = Optimizer.CreateBuffers<float>(spec.Layout.Count);
        GeneratedBuffers = Optimizer.CreateBuffers<float>(spec.Layout.Count);
        RuntimePredictor = Runtime.CreatePredictor();
    }

    /// <summary>Trainer.Step on the runtime network (the stored path: the fused one-sample update is dense-only).</summary>
    public float RuntimeStep() =>
        Trainer.Step(Runtime, X, Y, RuntimeWorkspace, RuntimeGradient, Optimizer, ref RuntimeState, RuntimeBuffers, _options, 0f);

    public void Dispose()
    {
        Runtime.Dispose();
        RuntimeWorkspace.Dispose();
        GeneratedWorkspace.Dispose();
        RuntimeBuffers.Dispose();
        GeneratedBuffers.Dispose();
        RuntimePredictor.Dispose();
    }
}

/// <summary>Generated recurrent networks against the runtime network of the same Spec: an online Adam step of one
/// sequence of LSTM 8→16 + dense 16→1 (10 steps), and <c>Predict</c> of one seq-MNIST sequence (28 steps of 28) through
/// LSTM 28→128 + softmax 128→10. The generated code calls the runtime's recurrent kernels with its constants, so the
/// question is only what the generated wrapper costs or saves (dispatch, the per-layer pass built from the spec).</summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class GeneratedRecurrentBench
{
    internal const int StepTime = 10, MnistTime = 28;
    private RecurrentCase _lstm8 = null!, _mnist = null!;
    private Lstm8.Predictor<float> _lstm8Predictor = null!;
    private SeqMnistLstm.Predictor<float> _mnistPredictor = null!;

    [GlobalSetup]
    public void Setup()
    {
        _lstm8 = new RecurrentCase(Lstm8.Spec, 1, StepTime);
        _mnist = new RecurrentCase(SeqMnistLstm.Spec, 1, MnistTime);
        _lstm8Predictor = new Lstm8.Predictor<float>(_lstm8.Theta);
        _mnistPredictor = new SeqMnistLstm.Predictor<float>(_mnist.Theta);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _lstm8.Dispose();
        _mnist.Dispose();
        _lstm8Predictor.Dispose();
        _mnistPredictor.Dispose();
    }

    [BenchmarkCategory("LSTM 8-16-1 step, batch 1, 10 steps"), Benchmark(Baseline = true)]
    public float Runtime_Lstm8_step() => _lstm8.RuntimeStep();

    [BenchmarkCategory("LSTM 8-16-1 step, batch 1, 10 steps"), Benchmark]
    public float Generated_Lstm8_step()
    {
        var c = _lstm8;
        return Lstm8.TrainStep<float>(c.Theta, c.X, c.Y, c.GeneratedWorkspace, c.Gradient, c.Optimizer, ref c.GeneratedState, c.GeneratedBuffers);
    }

    [BenchmarkCategory("LSTM 8-16-1 step, batch 1, 10 steps"), Benchmark]
    public float GeneratedDeclared_Lstm8_step()
    {
        var c = _lstm8;
        return Lstm8Adam.TrainStep<float>(c.Theta, c.X, c.Y, c.GeneratedWorkspace, c.Gradient, ref c.GeneratedState, c.GeneratedBuffers);
    }

    [BenchmarkCategory("LSTM 28-128-10 predict, 28 steps"), Benchmark(Baseline = true)]
    public float Runtime_SeqMnist_predict() => _mnist.RuntimePredictor.Predict(_mnist.X)[0];

    [BenchmarkCategory("LSTM 28-128-10 predict, 28 steps"), Benchmark]
    public float Generated_SeqMnist_predict() => _mnistPredictor.Predict(_mnist.X)[0];
}

/// <summary><see cref="GeneratedRecurrentBench"/>'s cases alternated in one process, as <see cref="GeneratedAlternation"/>
/// does for the dense ones: per case the median of the per-alternation ratios (generated ÷ runtime time) and the bytes
/// every timed block allocated. Run: <c>dotnet run -c Release --project bench/Backprop.Functional.Benchmarks -- alternate-recurrent [alternations]</c>.</summary>
internal static class RecurrentAlternation
{
    public static void Run(int alternations)
    {
        using (var c = new RecurrentCase(Lstm8.Spec, 1, GeneratedRecurrentBench.StepTime))
        {
            Case("LSTM 8-16-1 step b1 T10", 20_000, alternations,
                () => c.RuntimeStep(),
                () => Lstm8.TrainStep<float>(c.Theta, c.X, c.Y, c.GeneratedWorkspace, c.Gradient, c.Optimizer, ref c.GeneratedState, c.GeneratedBuffers),
                () => Lstm8Adam.TrainStep<float>(c.Theta, c.X, c.Y, c.GeneratedWorkspace, c.Gradient, ref c.GeneratedState, c.GeneratedBuffers));
        }
        using (var c = new RecurrentCase(SeqMnistLstm.Spec, 1, GeneratedRecurrentBench.MnistTime))
        using (var predictor = new SeqMnistLstm.Predictor<float>(c.Theta))
        {
            Case("LSTM 28-128-10 predict T28", 2_000, alternations,
                () => c.RuntimePredictor.Predict(c.X)[0],
                () => predictor.Predict(c.X)[0],
                null);
        }
    }

    private static void Case(string name, int steps, int alternations, Func<float> runtime, Func<float> generated, Func<float>? declared)
    {
        Func<float>[] sides = declared is null ? [runtime, generated] : [runtime, generated, declared];
        foreach (var s in sides)
        {
            long warm = Stopwatch.GetTimestamp();
            while (Stopwatch.GetElapsedTime(warm).TotalMilliseconds < 500) Time(s, steps / 10, out _);
        }
        var ns = new double[sides.Length][];
        for (int k = 0; k < sides.Length; k++) ns[k] = new double[alternations];
        long bytes = 0;
        for (int a = 0; a < alternations; a++)
        {
            for (int k = 0; k < sides.Length; k++)
            {
                ns[k][a] = Time(sides[k], steps, out long allocated);
                bytes += allocated;
            }
        }
        double Median(Func<int, double> f) => Enumerable.Range(0, alternations).Select(f).Order().ElementAt(alternations / 2);
        string Side(int k, string label) => string.Create(CultureInfo.InvariantCulture,
            $"  {label} {Median(a => ns[k][a]),10:N1} ns ({Median(a => ns[k][a] / ns[0][a]):F3}) [{string.Join(' ', Enumerable.Range(0, alternations).Select(a => (ns[k][a] / ns[0][a]).ToString("F2", CultureInfo.InvariantCulture)))}]");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name,-26} runtime {Median(a => ns[0][a]),10:N1} ns")
            + Side(1, "generated") + (sides.Length > 2 ? Side(2, "declared") : "") + $"  {bytes} B");
    }

    private static double Time(Func<float> step, int steps, out long allocated)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        long start = Stopwatch.GetTimestamp();
        float sink = 0;
        for (int i = 0; i < steps; i++) sink += step();
        long ticks = Stopwatch.GetTimestamp() - start;
        allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        GC.KeepAlive(sink);
        return ticks * 1e9 / Stopwatch.Frequency / steps;
    }
}
