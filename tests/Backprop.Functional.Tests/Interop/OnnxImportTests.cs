using System.Text.Json.Nodes;
using Backprop.Functional.Tests.Serialization;
using Xunit;

namespace Backprop.Functional.Tests.Interop;

/// <summary>Models exported by PyTorch 1.13 (scripts/onnx_fixtures.py) load as networks whose outputs are PyTorch's;
/// graphs the library cannot run are refused naming the node.</summary>
public sealed class OnnxImportTests : IDisposable
{
    private readonly ModelDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    public static TheoryData<string, string> TorchModels() => new()
    {
        { "torch_tanh_softmax", "6-5(Tanh)-3(Softmax) SoftmaxCrossEntropy" },
        { "torch_activations", "5-4(LeakyReLU)-4(Softplus)-4(GELU)-4(ReLU)-3(Sigmoid) Quadratic" },
        { "torch_matmul_add", "5-4(GELU)-2(Identity) Quadratic" },
    };

    [Theory]
    [MemberData(nameof(TorchModels))]
    public void Load_ofPyTorchExport_givesPyTorchsOutputs(string name, string spec)
    {
        var model = OnnxFile.Load(Onnx.Fixture(name + ".onnx"));
        Assert.Equal(spec, model.Spec.ToString());
        Assert.StartsWith("pytorch", model.Metadata["onnx.producer"], StringComparison.Ordinal);

        var json = JsonNode.Parse(File.ReadAllText(Onnx.Fixture(name + ".json")))!;
        float[] x = Flatten(json["inputs"]!), expected = Flatten(json["outputs"]!);
        int batch = json["inputs"]!.AsArray().Count;
        using var net = model.ToNetwork();
        var (error, at) = Onnx.Worst(expected, Onnx.Forward(net, x, batch));
        Assert.True(error <= Onnx.Relative, $"{name}: the imported network differs from PyTorch by {error:E2} at {at}");
    }

    /// <summary>The same check as the export's, the other way: ONNX Runtime on PyTorch's file equals the imported network.</summary>
    [Theory]
    [MemberData(nameof(TorchModels))]
    public void Load_ofPyTorchExport_matchesOnnxRuntimeOnTheSameFile(string name, string spec)
    {
        string path = Onnx.Fixture(name + ".onnx");
        using var net = OnnxFile.Load(path).ToNetwork();
        float[] x = Onnx.Inputs(1000, net.Spec.Inputs, seed: spec.Length);
        var (error, at) = Onnx.Worst(Onnx.Forward(net, x, 1000), Onnx.Run(path, x, 1000, net.Spec.Inputs));
        Assert.True(error <= Onnx.Relative, $"{name}: {error:E2} at {at}");
    }

    [Fact]
    public void Load_ofPyTorchExport_thenExport_roundTripsBitForBit()
    {
        var model = OnnxFile.Load(Onnx.Fixture("torch_activations.onnx"));
        string path = _dir.File("again.onnx");
        OnnxFile.Save<float>(path, model.Spec, model.Parameters);
        var again = OnnxFile.Load(path);
        Assert.Equal(model.Spec, again.Spec);
        Assert.Equal(model.Parameters.Select(BitConverter.SingleToInt32Bits), again.Parameters.Select(BitConverter.SingleToInt32Bits));
    }

    [Theory]
    [InlineData("torch_erf_gelu.onnx", "node \"/1/Erf\" (Erf) is part of the exact (erf) GELU")]
    [InlineData("torch_elu.onnx", "node \"/1/Elu\" (Elu) compute an element-wise function that is none of the library's activations")]
    public void Load_ofGraphTheLibraryCannotRun_throwsNamingTheNode(string file, string reason)
    {
        string path = Onnx.Fixture(file);
        var e = Assert.Throws<InvalidDataException>(() => OnnxFile.Load(path));
        Assert.StartsWith($"{path} is not a valid ONNX model: ", e.Message, StringComparison.Ordinal);
        Assert.Contains(reason, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
    }

    private static float[] Flatten(JsonNode rows) =>
        rows.AsArray().SelectMany(r => r!.AsArray().Select(v => (float)v!.GetValue<double>())).ToArray();
}
