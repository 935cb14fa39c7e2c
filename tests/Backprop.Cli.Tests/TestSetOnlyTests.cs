using Backprop.Functional;
using Xunit;

namespace Backprop.Cli.Tests;

/// <summary><c>eval</c> and <c>predict --idx-index</c> read only the MNIST test set, so a folder with only the two
/// t10k files is enough for them.</summary>
public class TestSetOnlyTests
{
    [Fact]
    public void Eval_and_predict_need_only_the_two_test_files()
    {
        using var dir = new TempDir();
        string full = dir["full"], testOnly = dir["test-only"];
        Directory.CreateDirectory(full);
        Directory.CreateDirectory(testOnly);
        SyntheticData.FakeMnist(full, train: 300, test: 50, seed: 5);
        File.Copy(Path.Combine(full, Mnist.TestImagesFile), Path.Combine(testOnly, Mnist.TestImagesFile));
        File.Copy(Path.Combine(full, Mnist.TestLabelsFile), Path.Combine(testOnly, Mnist.TestLabelsFile));
        string model = dir["m.safetensors"];
        var train = Cli.Run("train", "--data", full, "--layers", "784-16-10", "--epochs", "2", "--batch", "16", "--out", model);
        Assert.True(train.ExitCode == 0, train.ToString());

        var eval = Cli.Run("eval", "--model", model, "--data", testOnly);
        Assert.True(eval.ExitCode == 0, eval.ToString());
        Assert.Equal(train.Number("test accuracy:"), eval.Number("test accuracy:"));

        var predict = Cli.Run("predict", "--model", model, "--idx-index", "13", "--data", testOnly);
        Assert.True(predict.ExitCode == 0, predict.ToString());
        Assert.Contains("(label 3)", predict.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void Train_still_names_the_missing_training_files()
    {
        using var dir = new TempDir();
        SyntheticData.FakeMnist(dir.Path, train: 10, test: 10, seed: 5);
        File.Delete(dir[Mnist.TrainLabelsFile]);
        var r = Cli.Run("train", "--data", dir.Path, "--out", dir["m.safetensors"]);
        Assert.True(r.ExitCode == 1, r.ToString());
        Assert.Contains(Mnist.TrainLabelsFile, r.Error, StringComparison.Ordinal);
        Assert.DoesNotContain(Mnist.TestImagesFile, r.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Eval_and_predict_name_the_missing_test_file_not_the_training_files()
    {
        using var dir = new TempDir();
        SyntheticData.FakeMnist(dir.Path, train: 10, test: 10, seed: 5);
        File.Delete(dir[Mnist.TestLabelsFile]);
        File.Delete(dir[Mnist.TrainImagesFile]);
        var spec = NetworkSpec.Mlp([784, 8, 10], ActivationKind.ReLU, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy);
        using (var net = Network<float>.Create(spec, seed: 1, Initialization.He)) ModelFile.Save(dir["m.safetensors"], net);

        foreach (var r in new[]
        {
            Cli.Run("eval", "--model", dir["m.safetensors"], "--data", dir.Path),
            Cli.Run("predict", "--model", dir["m.safetensors"], "--idx-index", "0", "--data", dir.Path),
        })
        {
            Assert.True(r.ExitCode == 1, r.ToString());
            Assert.Contains(Mnist.TestLabelsFile, r.Error, StringComparison.Ordinal);
            Assert.DoesNotContain(Mnist.TrainImagesFile, r.Error, StringComparison.Ordinal);
            Assert.Single(r.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        }
    }
}
