using System.Globalization;
using BenchmarkDotNet.Attributes;
using Backprop.Functional.Kernels;

namespace Backprop.Functional.Benchmarks;

/// <summary>Single-precision GEMM by shape: every product of the workloads' training steps (forward A·Wᵀ, hidden
/// error δ·W, weight gradient δᵀ·A) and the square 256³ / 1024³, one thread. Shape = "m×n×k op".</summary>
[MemoryDiagnoser]
public class GemmBench
{
    private float[] _a = [], _b = [], _c = [];
    private int _m, _n, _k;
    private bool _ta, _tb;

    /// <summary>"label m n k op", op ∈ NN, NT, TN.</summary>
    [Params(
        "W1-fwd 10 30 784 NT", "W1-wgrad 30 784 10 TN",
        "W2-fwd 64 128 784 NT", "W2-wgrad 128 784 64 TN", "W2-hidden 64 128 10 NN",
        "W3-fwd 256 1024 784 NT", "W3-hidden 256 1024 1024 NN", "W3-wgrad 1024 1024 256 TN",
        "W4-fwd 1 32 784 NT", "W4-wgrad 32 784 1 TN",
        "sq256 256 256 256 NN", "sq1024 1024 1024 1024 NN")]
    public string Shape { get; set; } = "";

    [GlobalSetup]
    public void Setup()
    {
        string[] s = Shape.Split(' ');
        _m = int.Parse(s[1], CultureInfo.InvariantCulture);
        _n = int.Parse(s[2], CultureInfo.InvariantCulture);
        _k = int.Parse(s[3], CultureInfo.InvariantCulture);
        _ta = s[4][0] == 'T';
        _tb = s[4][1] == 'T';
        var random = new Random(1);
        _a = new float[_m * _k];
        _b = new float[_k * _n];
        _c = new float[_m * _n];
        for (int i = 0; i < _a.Length; i++) _a[i] = random.NextSingle() - 0.5f;
        for (int i = 0; i < _b.Length; i++) _b[i] = random.NextSingle() - 0.5f;
    }

    /// <summary>C ← op(A)·op(B).</summary>
    [Benchmark]
    public void Multiply() => Gemm.Multiply<float>(_a, _ta, _b, _tb, _c, _m, _n, _k, accumulate: false);
}
