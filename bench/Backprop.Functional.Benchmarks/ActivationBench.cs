using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;

namespace Backprop.Functional.Benchmarks;

/// <summary>Element-wise activation kernels over 100,000 floats (width 100): the forward a = σ(z) and the backward
/// δ = upstream ⊙ σ′(z), for ReLU, Sigmoid and GELU.</summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class ActivationBench
{
    private const int Count = 100_000, Width = 100;
    private readonly float[] _z = new float[Count], _a = new float[Count], _up = new float[Count], _delta = new float[Count];

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(5);
        for (int i = 0; i < Count; i++)
        {
            _z[i] = 4 * (random.NextSingle() - 0.5f);
            _up[i] = random.NextSingle() - 0.5f;
        }
    }

    [BenchmarkCategory("forward"), Benchmark(Baseline = true)]
    public void ReLUForward() => ReLU.Apply<float>(_z, _a, Width);

    [BenchmarkCategory("forward"), Benchmark]
    public void SigmoidForward() => Sigmoid.Apply<float>(_z, _a, Width);

    [BenchmarkCategory("forward"), Benchmark]
    public void GELUForward() => GELU.Apply<float>(_z, _a, Width);

    [BenchmarkCategory("backward"), Benchmark(Baseline = true)]
    public void ReLUBackward() => ReLU.Backward<float>(_z, _a, _up, _delta, Width);

    [BenchmarkCategory("backward"), Benchmark]
    public void SigmoidBackward() => Sigmoid.Backward<float>(_z, _a, _up, _delta, Width);

    [BenchmarkCategory("backward"), Benchmark]
    public void GELUBackward() => GELU.Backward<float>(_z, _a, _up, _delta, Width);
}
