using Backprop.Functional.Testing;
using Backprop.Functional.Tests.Serialization;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;
using Xunit.Abstractions;

namespace Backprop.Functional.Tests.Interop;

/// <summary>Every exported graph, run by ONNX Runtime, gives the library's outputs on 1,000 random inputs
/// (≤ 10⁻⁵ relative, 10⁻⁶ absolute floor: <see cref="Onnx.Worst"/>).</summary>
public sealed class OnnxRuntimeParityTests(ITestOutputHelper output) : IDisposable
{
    private const int Batch = 1000;
    private readonly ModelDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    public static TheoryData<ActivationKind> Activations()
    {
        var data = new TheoryData<ActivationKind>();
        foreach (var kind in Enum.GetValues<ActivationKind>()) data.Add(kind);
        return data;
    }

    /// <summary>Each activation as the only layer's, as the hidden layers' of depth 2 and 3 (softmax output), and as
    /// the output of depth 3.</summary>
    [Theory]
    [MemberData(nameof(Activations))]
    public void Export_ofEachActivation_runsInOnnxRuntimeWithTheLibrarysOutputs(ActivationKind kind)
    {
        var hidden = kind == ActivationKind.Softmax ? ActivationKind.Tanh : kind;
        NetworkSpec[] specs =
        [
            new([new Dense(7, 5, kind)], LossKind.Quadratic),
            new([new Dense(6, 8, hidden), new Dense(8, 3, ActivationKind.Softmax)], LossKind.SoftmaxCrossEntropy),
            new([new Dense(10, 16, hidden), new Dense(16, 12, hidden), new Dense(12, 4, kind)], LossKind.Quadratic),
            new([new Dense(33, 1, kind)], LossKind.Quadratic),
        ];
        foreach (var spec in specs)
        {
            var (error, at) = Check(spec, seed: (int)kind * 31 + spec.Layers.Count);
            output.WriteLine($"{spec}: worst {error:E2} at {at}");
            Assert.True(error <= Onnx.Relative, $"{spec}: ONNX Runtime differs from the library by {error:E2} (relative, floor {Onnx.Floor}) at element {at}");
        }
    }

    public static Arbitrary<NetCase> Nets() => Arb.From(NetArbitraries.Gen(maxDepth: 3, maxWidth: 16, maxBatch: 1), NetArbitraries.Shrink);

    [Property(MaxTest = 40, Arbitrary = [typeof(OnnxRuntimeParityTests)])]
    public Property Export_ofRandomSmallNetwork_runsInOnnxRuntimeWithTheLibrarysOutputs(NetCase c)
    {
        var (error, at) = Check(c.Spec, c.Seed);
        return (error <= Onnx.Relative).Label($"{c}: ONNX Runtime differs by {error:E2} at element {at}");
    }

    /// <summary>The predictor (the one-sample inference path, sparse first layer) agrees with ONNX Runtime too.</summary>
    [Fact]
    public void Export_runsInOnnxRuntimeWithThePredictorsOutputs()
    {
        var spec = NetworkSpec.Mlp([20, 16, 8, 4], ActivationKind.GELU, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy);
        using var net = Network<float>.Create(spec, seed: 5);
        string path = _dir.File("predictor.onnx");
        OnnxFile.Save(path, net);
        const int rows = 200;
        float[] x = Onnx.Inputs(rows, spec.Inputs, seed: 6);
        for (int i = 0; i < x.Length; i += 3) x[i] = 0;   // zeros: the predictor skips them
        float[] ort = Onnx.Run(path, x, rows, spec.Inputs);
        using var predictor = net.CreatePredictor();
        var mine = new float[rows * spec.Outputs];
        for (int r = 0; r < rows; r++)
            predictor.Predict(x.AsSpan(r * spec.Inputs, spec.Inputs)).CopyTo(mine.AsSpan(r * spec.Outputs));
        var (error, at) = Onnx.Worst(mine, ort);
        Assert.True(error <= Onnx.Relative, $"predictor vs ONNX Runtime: {error:E2} at {at}");
    }

    private (double Error, int At) Check(NetworkSpec spec, int seed)
    {
        using var net = Network<float>.Create(spec, seed);
        string path = _dir.File($"{Guid.NewGuid():N}.onnx");
        OnnxFile.Save(path, net);
        float[] x = Onnx.Inputs(Batch, spec.Inputs, seed + 1);
        return Onnx.Worst(Onnx.Forward(net, x, Batch), Onnx.Run(path, x, Batch, spec.Inputs));
    }
}
