using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Backprop.Functional.Tests.Serialization;
using Xunit;

namespace Backprop.Functional.Tests.Interop;

/// <summary>docs/deployment.md's PyTorch snippet, both ways: scripts/pytorch-interop.py ran it (PyTorch 1.13) and kept
/// the files it wrote, the library-written files it loaded, and PyTorch's outputs for each model
/// (Interop/Fixtures/PyTorch/pytorch.json). Each file loads with the library and gives PyTorch's outputs.</summary>
public sealed class PyTorchInteropTests : IDisposable
{
    private const string Marker = "<!-- scripts/pytorch-interop.py runs this block -->";

    private readonly ModelDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static string Fixture(string name) => Onnx.Fixture(Path.Combine("PyTorch", name));

    private static JsonNode Cases => JsonNode.Parse(File.ReadAllText(Fixture("pytorch.json")))!["cases"]!;

    public static TheoryData<string, string> Models() => new()
    {
        // PyTorch → library: modules built in PyTorch, written with save_file / torch.onnx.export.
        { "mlp", "6-8:ReLU,8-3:Softmax SoftmaxCrossEntropy" },
        { "mlp_onnx", "6-8:ReLU,8-3:Softmax SoftmaxCrossEntropy" },
        { "lstm", "Lstm(4-5),5-3:Identity Quadratic" },
        { "gru", "Gru(4-5),5-2:Softmax SoftmaxCrossEntropy" },
        // Library → PyTorch: ModelFile.Save's files, loaded into nn.Sequential / nn.LSTM with load_state_dict.
        { "dense", "4-8:Tanh,8-3:Softmax SoftmaxCrossEntropy" },
        { "rows", "Lstm(4-6),6-2:Identity Quadratic" },
    };

    [Theory]
    [MemberData(nameof(Models))]
    public void Load_givesPyTorchsOutputs(string name, string spec)
    {
        var c = Cases[name]!;
        string file = c["file"]!.GetValue<string>();
        int[] shape = c["shape"]!.AsArray().Select(d => d!.GetValue<int>()).ToArray();
        float[] x = Floats(c["inputs"]!), expected = Floats(c["outputs"]!);
        var model = file.EndsWith(".onnx", StringComparison.Ordinal) ? OnnxFile.Load(Fixture(file)) : ModelFile.Load(Fixture(file));
        Assert.Equal(spec, Describe(model.Spec));

        using var net = model.ToNetwork();
        using var ws = net.CreateWorkspace(shape[0], threads: 1, time: shape.Length == 3 ? shape[1] : 1);
        float[] actual = net.Forward(x, ws).ToArray();
        var (error, at) = Onnx.Worst(expected, actual);
        Assert.True(error <= Onnx.Relative, $"{name} ({file}): the library's outputs differ from PyTorch's by {error:E2} at {at}");
    }

    /// <summary>torch.onnx.export's graph and save_file's tensors of the same module import as the same network.</summary>
    [Fact]
    public void OnnxExport_andSafetensors_ofOneModule_loadAsTheSameParameters()
    {
        var fromOnnx = OnnxFile.Load(Fixture("mlp.onnx"));
        var fromSafetensors = ModelFile.Load(Fixture("mlp.safetensors"));
        Assert.Equal(fromSafetensors.Spec, fromOnnx.Spec);
        Assert.Equal(fromSafetensors.Parameters.Select(BitConverter.SingleToInt32Bits), fromOnnx.Parameters.Select(BitConverter.SingleToInt32Bits));
    }

    /// <summary>dense.safetensors and rows.safetensors, which the snippet loads into PyTorch, are the library's own
    /// bytes: loading and saving again gives the file back. BACKPROP_WRITE_PYTORCH_FIXTURES=1 (re)writes them first.</summary>
    [Theory]
    [InlineData("dense.safetensors", "4-8:Tanh,8-3:Softmax", LossKind.SoftmaxCrossEntropy)]
    [InlineData("rows.safetensors", "Lstm(4-6),6-2:Identity", LossKind.Quadratic)]
    public void LibraryWrittenFixtures_areModelFileSavesBytes(string file, string layers, LossKind loss)
    {
        if (Environment.GetEnvironmentVariable("BACKPROP_WRITE_PYTORCH_FIXTURES") == "1")
        {
            Assert.True(LayerList.TryParse(layers, LayerCatalog.Default, out var list, out string error), error);
            using var net = Network<float>.Create(new NetworkSpec(list, loss), seed: 17, Initialization.PyTorch);
            foreach (string path in new[] { Path.Combine(SourceFixtures(), file), Fixture(file) })
            {
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                ModelFile.Save(path, net);
            }
        }
        var model = ModelFile.Load(Fixture(file));
        Assert.Equal(layers, LayerList.Format(model.Spec.Layers));
        string again = _dir.File(file);
        ModelFile.Save<float>(again, model.Spec, model.Parameters);
        Assert.Equal(File.ReadAllBytes(Fixture(file)), File.ReadAllBytes(again));
    }

    /// <summary>The fixtures were made by the block now in docs/deployment.md: a changed snippet needs the script
    /// run again (/usr/bin/python3 scripts/pytorch-interop.py).</summary>
    [Fact]
    public void Fixtures_wereWrittenByTheDocsSnippetAsItStands()
    {
        string doc = File.ReadAllText(Path.Combine(Repository(), "docs", "deployment.md")).Replace("\r\n", "\n", StringComparison.Ordinal);
        var m = Regex.Match(doc, Regex.Escape(Marker) + "\n```python\n(.*?)\n```\n", RegexOptions.Singleline);
        Assert.True(m.Success, $"docs/deployment.md has no ```python block after {Marker}");
        string hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(m.Groups[1].Value)));
        string recorded = JsonNode.Parse(File.ReadAllText(Fixture("pytorch.json")))!["snippet_sha256"]!.GetValue<string>();
        Assert.True(hash == recorded,
            $"docs/deployment.md's PyTorch block (SHA-256 {hash}) is not the one the fixtures were made from ({recorded}): run /usr/bin/python3 scripts/pytorch-interop.py");
    }

    private static string Describe(NetworkSpec spec) => LayerList.Format(spec.Layers) + " " + spec.Loss;

    private static float[] Floats(JsonNode values) => values.AsArray().Select(v => (float)v!.GetValue<double>()).ToArray();

    private static string Repository([CallerFilePath] string path = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(path)!, "..", "..", ".."));

    private static string SourceFixtures([CallerFilePath] string path = "") =>
        Path.Combine(Path.GetDirectoryName(path)!, "Fixtures", "PyTorch");
}
