using Backprop.Functional.Tests.Serialization;
using Xunit;
using Xunit.Abstractions;

namespace Backprop.Functional.Tests.Interop;

/// <summary>Every exported recurrent graph (ONNX's RNN, LSTM and GRU operators), run by ONNX Runtime, gives the
/// library's outputs on 200 random sequences (≤ 10⁻⁵ relative, 10⁻⁶ absolute floor: <see cref="Onnx.Worst"/>).</summary>
public sealed class OnnxRecurrentParityTests(ITestOutputHelper output) : IDisposable
{
    private const int Batch = 200, Time = 9;
    private readonly ModelDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    public static TheoryData<string> Cases() => [.. Specs.Keys];

    private static readonly Dictionary<string, NetworkSpec> Specs = new()
    {
        ["rnn-tanh"] = new([new Rnn(5, 8), new Dense(8, 3)], LossKind.Quadratic),
        ["rnn-relu"] = new([new Rnn(5, 8, ActivationKind.ReLU), new Dense(8, 3, ActivationKind.Tanh)], LossKind.Quadratic),
        ["lstm"] = new([new Lstm(5, 8), new Dense(8, 3, ActivationKind.Softmax)], LossKind.SoftmaxCrossEntropy),
        ["gru"] = new([new Gru(5, 8), new Dense(8, 3)], LossKind.Quadratic),
        ["lstm-stacked"] = new([new Lstm(5, 8) { ReturnSequences = true }, new Lstm(8, 6), new Dense(6, 3, ActivationKind.Softmax)], LossKind.SoftmaxCrossEntropy),
        ["gru-stacked"] = new([new Gru(5, 8) { ReturnSequences = true }, new Gru(8, 6), new Dense(6, 2)], LossKind.Quadratic),
        ["rnn-stacked"] = new([new Rnn(5, 8) { ReturnSequences = true }, new Rnn(8, 6, ActivationKind.ReLU), new Dense(6, 2)], LossKind.Quadratic),
        ["gru-lstm-stacked"] = new([new Gru(5, 7) { ReturnSequences = true }, new Lstm(7, 6), new Dense(6, 2, ActivationKind.Sigmoid)], LossKind.Quadratic),
        ["lstm-seq2seq"] = new([new Lstm(5, 8) { ReturnSequences = true }, new Dense(8, 4, ActivationKind.Softmax) { PerStep = true }], LossKind.SoftmaxCrossEntropy),
        ["gru-seq2seq-stacked"] = new([new Gru(5, 8) { ReturnSequences = true }, new Rnn(8, 6) { ReturnSequences = true },
            new Dense(6, 3, ActivationKind.GELU) { PerStep = true }], LossKind.Quadratic),
        ["per-step-input-layer"] = new([new Dense(5, 6, ActivationKind.Tanh) { PerStep = true }, new Lstm(6, 7), new Dense(7, 2)], LossKind.Quadratic),
        ["rnn-learned"] = new([new Rnn(5, 8) { InitialState = InitialState.Learned }, new Dense(8, 3)], LossKind.Quadratic),
        ["lstm-learned"] = new([new Lstm(5, 8) { InitialState = InitialState.Learned }, new Dense(8, 3)], LossKind.Quadratic),
        ["gru-learned-stacked"] = new([new Gru(5, 8) { ReturnSequences = true, InitialState = InitialState.Learned },
            new Lstm(8, 6) { ReturnSequences = true, InitialState = InitialState.Learned }, new Dense(6, 3) { PerStep = true }], LossKind.Quadratic),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Export_ofRecurrentNetwork_runsInOnnxRuntimeWithTheLibrarysOutputs(string name)
    {
        var spec = Specs[name];
        int seed = name.Length * 7919 + spec.Layout.Count;
        using var net = Network<float>.Create(spec, seed);
        Perturb(net, seed);
        string path = _dir.File(name + ".onnx");
        OnnxFile.Save(path, net);

        float[] x = Onnx.Inputs(Batch * Time, spec.Inputs, seed + 1);
        using var ws = net.CreateWorkspace(Batch, 1, Time);
        float[] mine = net.Forward(x, ws).ToArray();
        float[] ort = Onnx.Run(path, x, [Batch, Time, spec.Inputs]);
        int expected = Batch * spec.Outputs * (spec.Layers[^1].Output.IsSequence ? Time : 1);
        Assert.Equal(expected, mine.Length);
        var (error, at) = Onnx.Worst(mine, ort);
        output.WriteLine($"{name} {spec}: worst {error:E2} at {at}");
        Assert.True(error <= Onnx.Relative, $"{name}: ONNX Runtime differs from the library by {error:E2} (relative, floor {Onnx.Floor}) at element {at} of {ort.Length}");
    }

    /// <summary>Import reads dense graphs only: a recurrent export is refused in one line (its input is a sequence), not misread.</summary>
    [Fact]
    public void Load_ofRecurrentExport_isRefusedInOneLine()
    {
        using var net = Network<float>.Create(Specs["lstm"], seed: 3);
        string path = _dir.File("lstm.onnx");
        OnnxFile.Save(path, net);
        var e = Assert.Throws<InvalidDataException>(() => OnnxFile.Load(path));
        output.WriteLine(e.Message);
        Assert.Contains("the graph input \"input\" has rank 3", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
    }

    /// <summary>Weights ×1.5 (so the gates leave their linear region and a swapped gate block shows), every bias and
    /// learned initial state drawn away from zero (so a swapped bias block or an ignored h₀ shows).</summary>
    private static void Perturb(Network<float> net, int seed)
    {
        var rng = new SeededRandom(seed + 2);
        foreach (var slot in net.Layout.Slots)
        {
            var v = slot.Of(net.Parameters);
            bool vector = slot.Rank == 1;
            for (int i = 0; i < v.Length; i++) v[i] = vector ? (float)(rng.NextDouble() - 0.5) : 1.5f * v[i];
        }
    }
}
