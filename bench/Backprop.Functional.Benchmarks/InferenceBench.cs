using BenchmarkDotNet.Attributes;

namespace Backprop.Functional.Benchmarks;

/// <summary>I1: one 784-vector through the 784-128-10 network, runtime <see cref="Network{T}.Forward"/> (Baseline)
/// against the generated <c>Forward</c>.</summary>
[MemoryDiagnoser]
public class InferenceBench
{
    private Network<float> _net = null!;
    private Workspace<float> _ws = null!, _generatedWs = null!;
    private float[] _theta = [], _x = [];

    [GlobalSetup]
    public void Setup()
    {
        _net = Network<float>.Create(Mnist128.Spec, seed: 1);
        _theta = _net.Parameters.ToArray();
        _ws = _net.CreateWorkspace(1);
        _generatedWs = new Workspace<float>(Mnist128.Spec.Layers, 1);
        var random = new Random(3);
        _x = new float[784];
        for (int i = 0; i < _x.Length; i++) _x[i] = random.NextSingle();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _net.Dispose();
        _ws.Dispose();
        _generatedWs.Dispose();
    }

    [Benchmark(Baseline = true)]
    public float Runtime() => _net.Forward(_x, _ws)[0];

    [Benchmark]
    public float Generated() => Mnist128.Forward<float>(_theta, _x, _generatedWs)[0];
}
