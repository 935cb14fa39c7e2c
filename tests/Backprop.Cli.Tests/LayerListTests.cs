using Backprop.Functional;
using Xunit;

namespace Backprop.Cli.Tests;

/// <summary><c>--layers</c> as a layer list: every layer's activation given, the saved model is that list.</summary>
public class LayerListTests
{
    [Fact]
    public void Layer_list_trains_and_saves_exactly_that_network()
    {
        using var dir = new TempDir();
        SyntheticData.Blobs(dir["train.csv"], 100, seed: 1);
        string model = dir["list.safetensors"];
        var r = Cli.Run("train", "--csv", dir["train.csv"], "--label-column", "label", "--layers", "2-8:Tanh,8-3:Softmax",
            "--epochs", "10", "--batch", "16", "--lr", "0.01", "--out", model);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("2-8(Tanh)-3(Softmax) SoftmaxCrossEntropy", r.Out, StringComparison.Ordinal);
        Assert.Equal(new NetworkSpec([new Dense(2, 8, ActivationKind.Tanh), new Dense(8, 3, ActivationKind.Softmax)], LossKind.SoftmaxCrossEntropy),
            ModelFile.Load(model).Spec);
    }

    [Fact]
    public void Layer_list_with_hidden_or_output_is_a_usage_error()
    {
        using var dir = new TempDir();
        var r = Cli.Run("train", "--layers", "784-128:ReLU,128-10:Softmax", "--hidden", "tanh", "--data", dir.Path, "--out", dir["m.safetensors"]);
        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.Contains("drop --hidden and --output", r.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("784-128:Swish,128-10:Softmax", "layer 0: unknown activation \"Swish\"")]
    [InlineData("784-128:ReLU,Scale(128),128-10:Softmax", "layer 1: unknown layer kind \"Scale\" (known: Dense, Rnn, Lstm, Gru, Ode)")]
    [InlineData("784-128:ReLU,64-10:Softmax", "layer 1 (Dense) takes [batch × 64] but layer 0 (Dense) gives [batch × 128]")]
    public void Bad_layer_list_is_a_usage_error_naming_the_layer(string layers, string expected)
    {
        using var dir = new TempDir();
        var r = Cli.Run("train", "--layers", layers, "--data", dir.Path, "--out", dir["m.safetensors"]);
        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.Contains(expected, r.Error, StringComparison.Ordinal);
    }

    /// <summary>A sequence network whose step width does not divide the sample: the message says a sample is read as
    /// steps of that width (before, it said only "maps 27 → 10", as if 784 inputs were wanted).</summary>
    [Fact]
    public void A_step_width_that_does_not_divide_the_features_is_named_as_such()
    {
        using var dir = new TempDir();
        string data = dir["mnist"];
        Directory.CreateDirectory(data);
        SyntheticData.FakeMnist(data, train: 32, test: 8, seed: 1);
        var r = Cli.Run("train", "--layers", "Lstm(27-8),8-10:Softmax", "--epochs", "1", "--data", data, "--out", dir["m.safetensors"]);
        Assert.True(r.ExitCode == 1, r.ToString());
        Assert.Contains("steps of 27 features", r.Error, StringComparison.Ordinal);
        Assert.Contains("784 is not a multiple of 27", r.Error, StringComparison.Ordinal);
        Assert.False(File.Exists(dir["m.safetensors"]));
    }
}
