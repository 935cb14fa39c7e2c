using BenchmarkDotNet.Attributes;

namespace Backprop.Functional.Benchmarks;

/// <summary>I1: one 784-vector through the 784-128-10 network, runtime <see cref="Network{T}.Forward"/> (Baseline)
/// against the generated <c>Forward</c>, <see cref="Predictor{T}"/> and the generated <c>Mnist128.Predictor</c>; on a dense input and on a digit-like one
/// (a filled ellipse in the middle of a blank 28 × 28 image, 20 % of the pixels non-zero, like an MNIST digit).</summary>
[MemoryDiagnoser]
public class InferenceBench
{
    private Network<float> _net = null!;
    private Workspace<float> _ws = null!, _generatedWs = null!;
    private Predictor<float> _predictor = null!;
    private Mnist128.Predictor<float> _generatedPredictor = null!;
    private float[] _theta = [], _x = [];

    [Params("dense", "digit")]
    public string Input { get; set; } = "dense";

    [GlobalSetup]
    public void Setup()
    {
        _net = Network<float>.Create(Mnist128.Spec, seed: 1);
        _theta = _net.Parameters.ToArray();
        _ws = _net.CreateWorkspace(1);
        _generatedWs = new Workspace<float>(Mnist128.Spec.Layers, 1);
        var random = new Random(3);
        _x = new float[784];
        for (int i = 0; i < _x.Length; i++)
        {
            double r = (i / 28 - 13.5) / 9.0, c = (i % 28 - 13.5) / 5.0;
            _x[i] = Input == "dense" || r * r + c * c <= 1 ? random.NextSingle() : 0f;
        }
        _predictor = _net.CreatePredictor();
        _generatedPredictor = new Mnist128.Predictor<float>(_theta);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _net.Dispose();
        _ws.Dispose();
        _generatedWs.Dispose();
        _predictor.Dispose();
    }

    [Benchmark(Baseline = true)]
    public float Runtime() => _net.Forward(_x, _ws)[0];

    [Benchmark]
    public float Generated() => Mnist128.Forward<float>(_theta, _x, _generatedWs)[0];

    [Benchmark]
    public float Predictor() => _predictor.Predict(_x)[0];

    [Benchmark]
    public float GeneratedPredictor() => _generatedPredictor.Predict(_x)[0];
}
