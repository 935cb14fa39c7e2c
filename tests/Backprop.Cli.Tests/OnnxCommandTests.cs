using Backprop.Functional;
using Xunit;

namespace Backprop.Cli.Tests;

/// <summary><c>backprop export</c> and <c>backprop import</c>: files written, one-line errors, exit codes 0/1/2.</summary>
public sealed class OnnxCommandTests : IDisposable
{
    private static readonly NetworkSpec Spec = new(
        [new Dense(4, 6, ActivationKind.GELU), new Dense(6, 3, ActivationKind.Softmax)], LossKind.SoftmaxCrossEntropy);

    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private string SaveModel(string name, NetworkSpec spec)
    {
        using var net = Network<float>.Create(spec, seed: 3);
        ModelFile.Save(_dir[name], net);
        return _dir[name];
    }

    [Fact]
    public void Export_thenImport_givesTheSameModel()
    {
        string model = SaveModel("m.safetensors", Spec);
        var r = Cli.Run("export", "--model", model, "--onnx", _dir["m.onnx"]);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("ONNX opset 17", r.Out, StringComparison.Ordinal);

        r = Cli.Run("import", "--onnx", _dir["m.onnx"], "--model", _dir["back.safetensors"]);
        Assert.True(r.ExitCode == 0, r.ToString());
        var original = ModelFile.Load(model);
        var back = ModelFile.Load(_dir["back.safetensors"]);
        Assert.Equal(original.Spec, back.Spec);
        Assert.Equal(original.Parameters, back.Parameters);
        Assert.StartsWith("Backprop.Functional", back.Metadata["onnx.producer"], StringComparison.Ordinal);
    }

    [Fact]
    public void Import_withLoss_setsTheLoss()
    {
        string model = SaveModel("m.safetensors", Spec);
        Assert.Equal(0, Cli.Run("export", "--model", model, "--onnx", _dir["m.onnx"]).ExitCode);
        var r = Cli.Run("import", "--onnx", _dir["m.onnx"], "--model", _dir["q.safetensors"], "--loss", "quadratic");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(LossKind.Quadratic, ModelFile.Load(_dir["q.safetensors"]).Spec.Loss);
    }

    [Fact]
    public void Export_ofLstmModel_writesASequenceGraph()
    {
        var spec = new NetworkSpec([new Lstm(3, 4) { ReturnSequences = true, InitialState = InitialState.Learned }, new Lstm(4, 5),
            new Dense(5, 2, ActivationKind.Softmax)], LossKind.SoftmaxCrossEntropy);
        string model = SaveModel("lstm.safetensors", spec);
        var r = Cli.Run("export", "--model", model, "--onnx", _dir["lstm.onnx"]);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("input \"input\" [batch × time × 3], output \"output\" [batch × 2]", r.Out, StringComparison.Ordinal);
        Assert.True(new FileInfo(_dir["lstm.onnx"]).Length > 4 * spec.Layout.Count);
    }

    [Fact]
    public void Export_ofCarriedStateModel_failsNamingTheLayer()
    {
        string model = SaveModel("rnn.safetensors", new NetworkSpec([new Lstm(3, 4) { InitialState = InitialState.Carried }, new Dense(4, 2)], LossKind.Quadratic));
        var r = Cli.Run("export", "--model", model, "--onnx", _dir["rnn.onnx"]);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("layer 0 (Lstm) starts from the state carried over", r.Error, StringComparison.Ordinal);
        Assert.Single(r.Error.TrimEnd().Split('\n'));
        Assert.False(File.Exists(_dir["rnn.onnx"]));
    }

    [Fact]
    public void Export_ofMissingModel_failsInOneLine()
    {
        var r = Cli.Run("export", "--model", _dir["absent.safetensors"], "--onnx", _dir["x.onnx"]);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("no such model file", r.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Import_ofCorruptFile_failsInOneLine()
    {
        File.WriteAllBytes(_dir["bad.onnx"], [0x3A, 0x7F, 0x01]);
        var r = Cli.Run("import", "--onnx", _dir["bad.onnx"], "--model", _dir["bad.safetensors"]);
        Assert.Equal(1, r.ExitCode);
        Assert.StartsWith($"backprop: {_dir["bad.onnx"]} is not a valid ONNX model: ", r.Error, StringComparison.Ordinal);
        Assert.Single(r.Error.TrimEnd().Split('\n'));
        Assert.False(File.Exists(_dir["bad.safetensors"]));
    }

    [Fact]
    public void Export_toMissingFolder_failsBeforeWriting()
    {
        string model = SaveModel("m.safetensors", Spec);
        var r = Cli.Run("export", "--model", model, "--onnx", Path.Combine(_dir.Path, "no", "m.onnx"));
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("does not exist", r.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Export_withoutOnnx_isAUsageError()
    {
        var r = Cli.Run("export", "--model", "m.safetensors");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("--onnx", r.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Import_withUnknownLoss_isAUsageError()
    {
        var r = Cli.Run("import", "--onnx", "m.onnx", "--model", "m.safetensors", "--loss", "hinge");
        Assert.Equal(2, r.ExitCode);
    }
}
