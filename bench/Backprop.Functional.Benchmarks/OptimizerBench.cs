using BenchmarkDotNet.Attributes;

namespace Backprop.Functional.Benchmarks;

/// <summary>One optimizer update over 100,000 float parameters: SGD (Baseline), momentum, Adam.</summary>
[MemoryDiagnoser]
public class OptimizerBench
{
    private const int Count = 100_000;
    private readonly float[] _theta = new float[Count], _g = new float[Count];
    private OptimizerBuffers<float> _sgdBuffers = null!, _momentumBuffers = null!, _adamBuffers = null!;
    private readonly Sgd _sgd = new(1e-6);
    private readonly Momentum _momentum = new(1e-6);
    private readonly Adam _adam = new(1e-6);
    private OptimizerState _sgdState, _momentumState, _adamState;

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(4);
        for (int i = 0; i < Count; i++)
        {
            _theta[i] = random.NextSingle() - 0.5f;
            _g[i] = random.NextSingle() - 0.5f;
        }
        _sgdBuffers = _sgd.CreateBuffers<float>(Count);
        _momentumBuffers = _momentum.CreateBuffers<float>(Count);
        _adamBuffers = _adam.CreateBuffers<float>(Count);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _sgdBuffers.Dispose();
        _momentumBuffers.Dispose();
        _adamBuffers.Dispose();
    }

    [Benchmark(Baseline = true)]
    public void SgdUpdate() => _sgdState = _sgd.Update<float>(_sgdState, _theta, _g, _sgdBuffers, _sgd.LearningRate);

    [Benchmark]
    public void MomentumUpdate() => _momentumState = _momentum.Update<float>(_momentumState, _theta, _g, _momentumBuffers, _momentum.LearningRate);

    [Benchmark]
    public void AdamUpdate() => _adamState = _adam.Update<float>(_adamState, _theta, _g, _adamBuffers, _adam.LearningRate);
}
