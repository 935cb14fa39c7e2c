using BenchmarkDotNet.Attributes;
using Backprop.Functional.Kernels;

namespace Backprop.Functional.Benchmarks;

/// <summary>What the kept plan saves per product: the unplanned <c>Gemm.Multiply</c> (the decision tree on every call)
/// against <c>Gemm.Multiply(in plan, …)</c> and against <c>Gemm.Plan</c> alone, on products small enough for the decision
/// to show (16-16-1's and 64-32-10's batch-of-8 forward products, and an empty one). One thread, float.</summary>
[MemoryDiagnoser]
public class GemmPlanBench
{
    private float[] _a = [], _b = [], _c = [];
    private int _m, _n, _k;
    private GemmPlan _plan;

    /// <summary>m n k of an A·Bᵀ (x·Wᵀ) product.</summary>
    [Params("8 16 16", "8 32 64", "1 0 16")]
    public string Shape { get; set; } = "";

    [GlobalSetup]
    public void Setup()
    {
        var s = Shape.Split(' ').Select(int.Parse).ToArray();
        (_m, _n, _k) = (s[0], s[1], s[2]);
        _a = new float[_m * _k];
        _b = new float[_k * _n];
        _c = new float[_m * _n];
        _a.AsSpan().Fill(0.25f);
        _b.AsSpan().Fill(0.5f);
        _plan = Gemm.Plan<float>(_m, _n, _k, false, true);
    }

    /// <summary>The decision tree and the product.</summary>
    [Benchmark(Baseline = true)]
    public void Unplanned() => Gemm.Multiply<float>(_a, false, _b, true, _c, _m, _n, _k, accumulate: false);

    /// <summary>The kept plan's product.</summary>
    [Benchmark]
    public void Planned() => Gemm.Multiply<float>(in _plan, _a, _b, _c, accumulate: false);

    /// <summary>The decision alone.</summary>
    [Benchmark]
    public GemmPlan PlanOnly() => Gemm.Plan<float>(_m, _n, _k, false, true);
}
