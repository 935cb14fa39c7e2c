using System.Numerics.Tensors;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;

namespace Backprop.Functional.Benchmarks;

/// <summary>The cost of one batch of W2's output (64 rows × 10, float) per loss, from the logits (the library) against
/// the former form from aᴸ with ln clamped at the smallest normal number (kept here as the Baseline); and softplus
/// forward over 100,000 floats, one pass with the log1p correction against the former five TensorPrimitives passes.</summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class CostBench
{
    private const int Rows = 64, Width = 10, Elements = 100_000;
    private readonly float[] _z = new float[Rows * Width], _softmax = new float[Rows * Width], _sigmoid = new float[Rows * Width];
    private readonly float[] _oneHot = new float[Rows * Width], _soft = new float[Rows * Width];
    private readonly float[] _zMany = new float[Elements], _aMany = new float[Elements];

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(3);
        for (int i = 0; i < _z.Length; i++) { _z[i] = 6 * (random.NextSingle() - 0.5f); _soft[i] = random.NextSingle(); }
        for (int r = 0; r < Rows; r++) _oneHot[r * Width + random.Next(Width)] = 1;
        for (int i = 0; i < Elements; i++) _zMany[i] = 8 * (random.NextSingle() - 0.5f);
        Softmax.Apply<float>(_z, _softmax, Width);
        Sigmoid.Apply<float>(_z, _sigmoid, Width);
    }

    [BenchmarkCategory("softmax-ce"), Benchmark(Baseline = true)]
    public float SoftmaxCE_FromOutputsClamped()
    {
        float sum = 0;
        for (int i = 0; i < _softmax.Length; i++)
            if (_oneHot[i] != 0) sum -= _oneHot[i] * MathF.Log(MathF.Max(_softmax[i], 1.17549435E-38f));
        return sum;
    }

    [BenchmarkCategory("softmax-ce"), Benchmark]
    public float SoftmaxCE_FromLogits() => SoftmaxCrossEntropy.Cost<Softmax, float>(_z, _softmax, _oneHot, Width);

    [BenchmarkCategory("sigmoid-ce"), Benchmark(Baseline = true)]
    public float SigmoidCE_FromOutputsClamped()
    {
        float sum = 0;
        for (int i = 0; i < _sigmoid.Length; i++)
        {
            float a = _sigmoid[i], y = _soft[i];
            if (y != 0) sum -= y * MathF.Log(MathF.Max(a, 1.17549435E-38f));
            if (y != 1) sum -= (1 - y) * MathF.Log(MathF.Max(1 - a, 1.17549435E-38f));
        }
        return sum;
    }

    [BenchmarkCategory("sigmoid-ce"), Benchmark]
    public float SigmoidCE_FromLogits() => CrossEntropy.Cost<Sigmoid, float>(_z, _sigmoid, _soft, Width);

    [BenchmarkCategory("quadratic"), Benchmark(Baseline = true)]
    public float Quadratic_ScalarLoop()
    {
        float sum = 0;
        for (int i = 0; i < _sigmoid.Length; i++) { float d = _sigmoid[i] - _soft[i]; sum += d * d; }
        return sum / 2;
    }

    [BenchmarkCategory("quadratic"), Benchmark]
    public float Quadratic_Blocks() => Quadratic.Cost<Sigmoid, float>(_z, _sigmoid, _soft, Width);

    [BenchmarkCategory("softplus"), Benchmark(Baseline = true)]
    public void Softplus_FivePasses()
    {
        TensorPrimitives.Abs(_zMany, _aMany);
        TensorPrimitives.Negate(_aMany, _aMany);
        TensorPrimitives.Exp(_aMany, _aMany);
        TensorPrimitives.Add(_aMany, 1f, _aMany);
        TensorPrimitives.Log(_aMany, _aMany);
        for (int i = 0; i < Elements; i++) _aMany[i] += MathF.Max(_zMany[i], 0);
    }

    [BenchmarkCategory("softplus"), Benchmark]
    public void Softplus_OnePass() => Softplus.Apply<float>(_zMany, _aMany, Elements);
}
