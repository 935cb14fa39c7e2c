using System.Security.Cryptography;
using Xunit;

namespace Backprop.Functional.Tests.Layers;

/// <summary>Layer lists of any kind in model files: text form, catalog, round trip; dense files unchanged byte for byte.</summary>
public class LayerListFileTests
{
    private static readonly LayerCatalog WithScale = LayerCatalog.Default.With<Scale, ScaleKernel>();

    private static NetworkSpec ScaleSpec() =>
        new([new Dense(4, 6, ActivationKind.Tanh), new Scale(6), new Dense(6, 3, ActivationKind.Softmax)], LossKind.SoftmaxCrossEntropy);

    [Fact]
    public void Format_writes_dense_layers_short_and_other_kinds_as_Kind_of_arguments_and_TryParse_reads_both()
    {
        var layers = ScaleSpec().Layers;
        string text = LayerList.Format(layers);
        Assert.Equal("4-6:Tanh,Scale(6),6-3:Softmax", text);
        Assert.True(LayerList.TryParse(text, WithScale, out var parsed, out string error), error);
        Assert.Equal(layers, parsed);
        Assert.True(LayerList.TryParse("Dense(4-6:Tanh),Scale(6),6-3:Softmax", WithScale, out parsed, out error), error);
        Assert.Equal(layers, parsed);
    }

    [Theory]
    [InlineData("4-6:Tanh,Scale(6),6-3:Softmax", "layer 1: unknown layer kind \"Scale\" (known: Dense, Rnn, Lstm, Gru, Ode)")]
    [InlineData("4-6:Tanh,Scale(x),6-3:Softmax", "layer 1 (Scale): \"x\" is not a positive width")]
    [InlineData("4-6:Tanh,Dense(6),6-3:Softmax", "layer 1 (Dense): \"6\" is not of the form inputs-outputs:Activation")]
    [InlineData("4-6:Tanh,", "layer 1: \"\" is not of the form")]
    public void TryParse_refuses_naming_the_layer(string text, string expected)
    {
        var catalog = text.Contains("(x)", StringComparison.Ordinal) ? WithScale : LayerCatalog.Default;
        Assert.False(LayerList.TryParse(text, catalog, out _, out string error));
        Assert.StartsWith(expected, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Format_refuses_a_kind_whose_arguments_would_not_read_back()
    {
        var e = Assert.Throws<ArgumentException>(() => LayerList.Format([new Dense(2, 3), new Pair(3)]));
        Assert.StartsWith("layer 1 (Pair) formats as Pair(3,3)", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Catalog_lists_its_kinds_and_With_replaces_a_kind_of_the_same_name()
    {
        Assert.Equal(["Dense", "Rnn", "Lstm", "Gru", "Ode"], LayerCatalog.Default.Kinds);
        Assert.Equal(["Dense", "Rnn", "Lstm", "Gru", "Ode", "Scale"], WithScale.Kinds);
        Assert.Equal(WithScale, WithScale.With<Scale, ScaleKernel>());
        Assert.Equal("LayerCatalog { Dense, Rnn, Lstm, Gru, Ode, Scale }", WithScale.ToString());
    }

    [Fact]
    public void A_network_with_a_scale_layer_round_trips_through_a_model_file_with_the_catalog()
    {
        using var dir = new Serialization.ModelDirectory();
        using var net = Network<double>.Create(ScaleSpec(), seed: 11);
        net.Layout.SlotsOf(1)[0].Of(net.Parameters).Fill(0.75);
        string path = dir.File("scale.safetensors");
        ModelFile.Save(path, net);
        var loaded = ModelFile.Load<double>(path, WithScale);
        Assert.Equal(net.Spec, loaded.Spec);
        Assert.Equal(net.Parameters.ToArray(), loaded.Parameters);

        var e = Assert.Throws<InvalidDataException>(() => ModelFile.Load<double>(path));
        Assert.Contains("unknown layer kind \"Scale\" (known: Dense, Rnn, Lstm, Gru, Ode)", e.Message, StringComparison.Ordinal);
        Assert.StartsWith(path, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_checkpoint_of_a_network_with_a_scale_layer_resumes_bit_for_bit_with_the_catalog()
    {
        using var dir = new Serialization.ModelDirectory();
        var train = Training.TrainerTests.Blobs(60, 1);
        var options = new TrainingOptions(Epochs: 2, BatchSize: 16, Seed: 3, Optimizer: new Adam(0.01), CheckpointEvery: 3);
        var checkpoints = new List<TrainingCheckpoint<float>>();
        using var net = Network<float>.Create(ScaleSpec(), seed: 5);
        Trainer.Fit(net, train, null, options, resume: null, onCheckpoint: checkpoints.Add);
        string path = dir.File("scale-checkpoint.safetensors");
        CheckpointFile.Save(path, checkpoints[1]);

        var e = Assert.Throws<InvalidDataException>(() => CheckpointFile.Load<float>(path));
        Assert.Contains("unknown layer kind \"Scale\" (known: Dense, Rnn, Lstm, Gru, Ode)", e.Message, StringComparison.Ordinal);
        var loaded = CheckpointFile.Load<float>(path, WithScale);
        using var again = Network<float>.Create(ScaleSpec(), seed: 99);
        Trainer.Fit(again, train, null, options, loaded, onCheckpoint: null);
        Assert.True(net.Parameters.SequenceEqual(again.Parameters), "θ resumed from a checkpoint differs");
    }

    /// <summary>SHA-256 of this file as main wrote it before the protocol (4-8(Tanh)-3(Softmax) in double, PyTorch init, seed 42).</summary>
    private const string DenseFileBeforeTheProtocol = "6A1C3584D57C5AA5FA635853DB1814EA44E2F625E618A80753C1CA8284D87222";

    [Fact]
    public void Dense_model_files_are_byte_identical_to_before_the_protocol()
    {
        using var dir = new Serialization.ModelDirectory();
        var spec = new NetworkSpec([new Dense(4, 8, ActivationKind.Tanh), new Dense(8, 3, ActivationKind.Softmax)], LossKind.SoftmaxCrossEntropy);
        using var net = Network<double>.Create(spec, 42, Initialization.PyTorch);
        string path = dir.File("dense.safetensors");
        ModelFile.Save(path, net);
        Assert.Equal(DenseFileBeforeTheProtocol, Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path))));
        var loaded = ModelFile.Load<double>(path);
        Assert.Equal(spec, loaded.Spec);
        Assert.Equal(net.Parameters.ToArray(), loaded.Parameters);
    }
}

/// <summary>A kind whose arguments hold a comma: a layer list could not read it back.</summary>
public sealed record Pair(int Width) : Layer<Pair, PairKernel>
{
    public override int Inputs => Width;
    public override int Outputs => Width;
}

public readonly struct PairKernel : ILayerKernel<Pair>
{
    public static string Kind => "Pair";
    public static ParameterTensor[] Parameters(Pair layer) => [];
    public static int ScratchPerSample(Pair layer, int time) => 0;
    public static void Forward<T>(Pair layer, scoped in ForwardPass<T> p) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T> => p.X.CopyTo(p.Y);
    public static void Backward<T>(Pair layer, scoped in BackwardPass<T> p) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T> => p.DY.CopyTo(p.DX);
    public static string Format(Pair layer) => $"{layer.Width},{layer.Width}";
    public static bool TryParse(string arguments, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out Pair? layer, out string reason)
    {
        layer = null;
        reason = "never";
        return false;
    }
}
