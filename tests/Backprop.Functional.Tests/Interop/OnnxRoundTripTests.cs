using Backprop.Functional.Testing;
using Backprop.Functional.Tests.Serialization;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace Backprop.Functional.Tests.Interop;

/// <summary>Export → import gives the same network: spec (the loss from metadata_props) and θ bit for bit; layers ONNX
/// does not get from the exporter are refused by name, and nothing is written.</summary>
public sealed class OnnxRoundTripTests : IDisposable
{
    private readonly ModelDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    public static Arbitrary<NetCase> Nets() => ModelFiles.Specs();

    [Property(MaxTest = 100, Arbitrary = [typeof(OnnxRoundTripTests)])]
    public Property Load_ofExport_returnsSameSpecAndBitIdenticalParameters(NetCase c)
    {
        string path = _dir.File($"{Guid.NewGuid():N}.onnx");
        float[] theta = ModelFiles.Floats(c.Spec.Layout.Count, c.Seed);   // raw bit patterns: −0, subnormals, extremes

        OnnxFile.Save<float>(path, c.Spec, theta);
        var loaded = OnnxFile.Load(path);

        return (loaded.Spec == c.Spec).Label($"spec {loaded.Spec} != {c.Spec}")
            .And(theta.Select(BitConverter.SingleToInt32Bits).SequenceEqual(loaded.Parameters.Select(BitConverter.SingleToInt32Bits))
                .Label("parameters differ bitwise"));
    }

    [Fact]
    public void Load_ofExport_keepsProducerAndOpsetInMetadata()
    {
        string path = _dir.File("small.onnx");
        OnnxFile.Save(path, ModelFiles.Small, new float[ModelFiles.Small.Layout.Count]);
        var loaded = OnnxFile.Load(path);
        Assert.StartsWith(OnnxFile.ProducerName, loaded.Metadata["onnx.producer"], StringComparison.Ordinal);
        Assert.Equal("17", loaded.Metadata["onnx.opset"]);
    }

    [Fact]
    public void Save_ofDoubleNetwork_roundsParametersToFloat()
    {
        string path = _dir.File("double.onnx");
        double[] theta = ModelFiles.Doubles(ModelFiles.Small.Layout.Count, 3).Select(v => Math.Clamp(v, -1e30, 1e30)).ToArray();
        OnnxFile.Save<double>(path, ModelFiles.Small, theta);
        var loaded = OnnxFile.Load(path);
        Assert.Equal(theta.Select(v => (float)v), loaded.Parameters);
    }

    [Fact]
    public void Load_withLoss_overridesTheFilesLoss()
    {
        string path = _dir.File("loss.onnx");
        OnnxFile.Save(path, ModelFiles.Small, new float[ModelFiles.Small.Layout.Count]);
        Assert.Equal(LossKind.Quadratic, OnnxFile.Load(path, LossKind.Quadratic).Spec.Loss);
        Assert.Equal(LossKind.SoftmaxCrossEntropy, OnnxFile.Load(path).Spec.Loss);
    }

    public static TheoryData<string, string> Unexportable() => new()
    {
        { "Lstm", "layer 0 (Lstm) starts from the state carried over" },
        { "Gru", "layer 1 (Gru) starts from the state carried over" },
        { "Rnn", "layer 0 (Rnn) starts from the state carried over" },
        { "Ode", "layer 1 (Ode) has no ONNX form" },
        { "Scale", "layer 1 (Scale) has no ONNX form" },
    };

    [Theory]
    [MemberData(nameof(Unexportable))]
    public void Save_ofLayerWithoutOnnxForm_throwsNamingTheLayerAndWritesNothing(string kind, string named)
    {
        Layer[] layers = kind switch
        {
            "Lstm" => [new Lstm(3, 4) { InitialState = InitialState.Carried }, new Dense(4, 2)],
            "Gru" => [new Lstm(3, 4) { ReturnSequences = true }, new Gru(4, 4) { InitialState = InitialState.Carried }, new Dense(4, 2)],
            "Rnn" => [new Rnn(3, 4) { InitialState = InitialState.Carried }, new Dense(4, 2)],
            "Ode" => [new Dense(3, 4, ActivationKind.Tanh),
                new OdeBlock(OdeFunction.Create(4, true, (8, ActivationKind.Tanh), (4, ActivationKind.Identity)), new RungeKutta4(2)), new Dense(4, 2)],
            _ => [new Dense(3, 4, ActivationKind.Tanh), new Layers.Scale(4), new Dense(4, 2)],
        };
        var spec = new NetworkSpec(layers, LossKind.Quadratic);
        string path = _dir.File("refused.onnx");
        Assert.False(OnnxFile.CanSave(spec, out string reason));
        Assert.Contains(named, reason, StringComparison.Ordinal);
        var e = Assert.Throws<NotSupportedException>(() => OnnxFile.Save(path, spec, new float[spec.Layout.Count]));
        Assert.Contains(named, e.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(_dir.Path));
    }

    [Fact]
    public void Save_ofNonFiniteParameter_throwsAndLeavesTheExistingFile()
    {
        string path = _dir.File("keep.onnx");
        File.WriteAllText(path, "old");
        float[] theta = new float[ModelFiles.Small.Layout.Count];
        theta[5] = float.NaN;
        var e = Assert.Throws<ArgumentException>(() => OnnxFile.Save<float>(path, ModelFiles.Small, theta));
        Assert.Contains("layers.0.weight at index 5", e.Message, StringComparison.Ordinal);
        Assert.Equal("old", File.ReadAllText(path));
        Assert.Single(Directory.GetFiles(_dir.Path));
    }

    [Fact]
    public void Save_replacesAnExistingFileWhole()
    {
        string path = _dir.File("replace.onnx");
        File.WriteAllBytes(path, new byte[100_000]);
        OnnxFile.Save(path, ModelFiles.Small, new float[ModelFiles.Small.Layout.Count]);
        Assert.Equal(ModelFiles.Small, OnnxFile.Load(path).Spec);
        Assert.Single(Directory.GetFiles(_dir.Path));
    }
}
