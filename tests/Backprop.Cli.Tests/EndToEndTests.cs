using Backprop.Functional;
using Xunit;

namespace Backprop.Cli.Tests;

public class EndToEndTests
{
    [Fact]
    public void Blobs_csv_trains_to_high_accuracy_then_evaluates_the_saved_model()
    {
        using var dir = new TempDir();
        SyntheticData.Blobs(dir["train.csv"], 100, seed: 1);
        SyntheticData.Blobs(dir["test.csv"], 50, seed: 2);
        string model = dir["out/blobs.safetensors"];

        var train = Cli.Run("train", "--csv", dir["train.csv"], "--test-csv", dir["test.csv"], "--label-column", "label",
            "--layers", "2-16-3", "--epochs", "15", "--batch", "16", "--lr", "0.01", "--out", model);
        Assert.True(train.ExitCode == 0, train.ToString());
        Assert.Contains("epoch 15/15  train loss ", train.Out, StringComparison.Ordinal);
        Assert.Contains(" samples/s", train.Out, StringComparison.Ordinal);
        Assert.True(train.Number("test accuracy:") >= 0.95, train.ToString());
        Assert.True(File.Exists(model));
        Assert.True(File.Exists(model + ".png") || File.Exists(model + ".svg"));
        Assert.Equal("", train.Error);

        var loaded = ModelFile.Load(model);
        Assert.Equal(NetworkSpec.Mlp([2, 16, 3], ActivationKind.ReLU, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy), loaded.Spec);
        Assert.Equal("15", loaded.Metadata["epochs"]);

        var eval = Cli.Run("eval", "--model", model, "--csv", dir["test.csv"], "--label-column", "label");
        Assert.True(eval.ExitCode == 0, eval.ToString());
        Assert.Equal(train.Number("test accuracy:"), eval.Number("test accuracy:"));
        Assert.Contains("confusion matrix", eval.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void Xor_needs_the_hidden_layer_and_gets_it()
    {
        using var dir = new TempDir();
        SyntheticData.Xor(dir["xor.csv"], 400, seed: 3);
        var r = Cli.Run("train", "--csv", dir["xor.csv"], "--label-column", "y", "--layers", "2-16-2", "--hidden", "tanh",
            "--epochs", "40", "--batch", "16", "--lr", "0.02", "--schedule", "cosine", "--warmup", "20", "--out", dir["xor.safetensors"]);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.True(r.Number("train-set accuracy:") >= 0.95, r.ToString());
    }

    [Fact]
    public void Regression_reports_a_small_loss_and_no_accuracy()
    {
        using var dir = new TempDir();
        SyntheticData.Linear(dir["lin.csv"], 300, seed: 4);
        var r = Cli.Run("train", "--csv", dir["lin.csv"], "--label-column", "y", "--regression", "--layers", "2-8-1",
            "--optimizer", "momentum", "--lr", "0.05", "--epochs", "30", "--batch", "10", "--out", dir["lin.safetensors"]);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.True(r.Number("train-set loss:") < 0.01, r.ToString());
        Assert.DoesNotContain("accuracy", r.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void Fake_mnist_trains_evaluates_and_predicts_from_index_and_image()
    {
        using var dir = new TempDir();
        SyntheticData.FakeMnist(dir.Path, train: 300, test: 50, seed: 5);
        string model = dir["mnist.safetensors"];
        var train = Cli.Run("train", "--data", dir.Path, "--layers", "784-32-10", "--epochs", "3", "--batch", "16", "--out", model);
        Assert.True(train.ExitCode == 0, train.ToString());
        Assert.True(train.Number("test accuracy:") >= 0.95, train.ToString());

        var eval = Cli.Run("eval", "--model", model, "--data", dir.Path);
        Assert.True(eval.ExitCode == 0, eval.ToString());
        Assert.Equal(train.Number("test accuracy:"), eval.Number("test accuracy:"));

        var byIndex = Cli.Run("predict", "--model", model, "--idx-index", "13", "--data", dir.Path);
        Assert.True(byIndex.ExitCode == 0, byIndex.ToString());
        Assert.Contains("predicted: 3  (label 3)", byIndex.Out, StringComparison.Ordinal);
        Assert.Equal(10, byIndex.Out.Split('\n').Count(l => l.StartsWith("  ", StringComparison.Ordinal) && l.Contains("0.", StringComparison.Ordinal)));

        SyntheticData.Png(dir["seven.png"], 7, side: 28);
        var image = Cli.Run("predict", "--model", model, "--image", dir["seven.png"]);
        Assert.True(image.ExitCode == 0, image.ToString());
        Assert.Contains("predicted: 7", image.Out, StringComparison.Ordinal);

        SyntheticData.Png(dir["two-large-inverted.png"], 2, side: 84, inverted: true);
        var resized = Cli.Run("predict", "--model", model, "--image", dir["two-large-inverted.png"], "--invert");
        Assert.True(resized.ExitCode == 0, resized.ToString());
        Assert.Contains("predicted: 2", resized.Out, StringComparison.Ordinal);

        var outside = Cli.Run("predict", "--model", model, "--idx-index", "50", "--data", dir.Path);
        Assert.Equal(2, outside.ExitCode);
    }
}
