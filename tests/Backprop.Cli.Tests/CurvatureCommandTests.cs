using Xunit;

namespace Backprop.Cli.Tests;

/// <summary><c>train --optimizer hessian-free|kfac|natural|adahessian</c> end to end on fake MNIST, and the options such a
/// run refuses.</summary>
public class CurvatureCommandTests
{
    [Theory]
    [InlineData("hessian-free")]
    [InlineData("kfac")]
    [InlineData("natural")]
    [InlineData("adahessian")]
    public void Train_with_a_curvature_optimizer_saves_a_model_that_eval_scores_the_same(string optimizer)
    {
        using var dir = new TempDir();
        string data = Path.Combine(dir.Path, "mnist");
        Directory.CreateDirectory(data);
        SyntheticData.FakeMnist(data, train: 200, test: 50, seed: 1);
        string model = Path.Combine(dir.Path, optimizer + ".safetensors");
        var r = Cli.Run("train", "--layers", "784-16-10", "--optimizer", optimizer, "--batch", "50", "--epochs", "2", "--data", data, "--out", model);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains(optimizer + " {", r.Out, StringComparison.Ordinal);
        double trained = r.Number("test accuracy:");
        var e = Cli.Run("eval", "--model", model, "--data", data);
        Assert.True(e.ExitCode == 0, e.ToString());
        Assert.Equal(trained, e.Number("test accuracy:"));
    }

    [Theory]
    [InlineData("kfac", "--clip", "5", "--clip does not apply to --optimizer kfac")]
    [InlineData("natural", "--schedule", "cosine", "--schedule does not apply to --optimizer natural")]
    [InlineData("adahessian", "--checkpoint-every", "10", "--checkpoint-every does not apply")]
    [InlineData("hessian-free", "--lr", "0.1", "--lr does not apply to --optimizer hessian-free")]
    public void Options_of_the_gradient_chain_are_refused_with_a_curvature_optimizer(string optimizer, string option, string value, string message)
    {
        var r = Cli.Run("train", "--optimizer", optimizer, option, value, "--data", "/nonexistent");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains(message, r.Error, StringComparison.Ordinal);
    }

    /// <summary>A layer list that reads sequences is refused while parsing, with one line and exit code 2, before any
    /// data is read (it was an exception from the library after the run had started: exit 1, a "(Parameter …)" tail).</summary>
    [Theory]
    [InlineData("kfac", "Lstm(28-16),16-10:Softmax")]
    [InlineData("hessian-free", "Gru(28-8),8-10:Softmax")]
    public void A_curvature_optimizer_is_refused_for_a_sequence_network(string optimizer, string layers)
    {
        var r = Cli.Run("train", "--optimizer", optimizer, "--layers", layers, "--data", "/nonexistent");
        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.Contains($"--optimizer {optimizer}", r.Error, StringComparison.Ordinal);
        Assert.Contains("sequences", r.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("(Parameter", r.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_curvature_optimizer_is_refused_for_the_character_model()
    {
        var r = Cli.Run("train", "--task", "chars", "--optimizer", "kfac", "--text", "/nonexistent");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("does not apply to --task chars", r.Error, StringComparison.Ordinal);
    }

    /// <summary><c>--optimizer hessian-free:B/C/K…</c> takes the race's settings syntax: the K-FAC preconditioner is reachable
    /// from <c>train</c>, and the batch is B + H rows.</summary>
    [Fact]
    public void Hessian_free_takes_the_race_settings_and_their_batch()
    {
        using var dir = new TempDir();
        string data = Path.Combine(dir.Path, "mnist");
        Directory.CreateDirectory(data);
        SyntheticData.FakeMnist(data, train: 200, test: 50, seed: 1);
        string model = Path.Combine(dir.Path, "hf.safetensors");
        var r = Cli.Run("train", "--layers", "784-16-10", "--optimizer", "hessian-free:40/10/3/held=10/precond=kfac/krows=8", "--epochs", "1", "--data", data, "--out", model);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("Preconditioner = KFac", r.Out, StringComparison.Ordinal);
        Assert.Contains("PreconditionerRows = 8", r.Out, StringComparison.Ordinal);
        Assert.Contains("MaxIterations = 3", r.Out, StringComparison.Ordinal);
        Assert.Contains("batch 50", r.Out, StringComparison.Ordinal);
        Assert.True(File.Exists(model));
    }

    [Theory]
    [InlineData("hessian-free:10/20/5", "--optimizer hessian-free:10/20/5: the settings are hessian-free:B/C/K")]
    [InlineData("hessian-free:40/10/3/precond=lbfgs", "/precond=kfac|diagonal")]
    [InlineData("adamx", "unknown optimizer 'adamx'")]
    public void Bad_optimizer_settings_are_refused_with_their_syntax(string optimizer, string message)
    {
        var r = Cli.Run("train", "--optimizer", optimizer, "--data", "/nonexistent");
        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.Contains(message, r.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_batch_that_disagrees_with_the_hessian_free_settings_is_refused()
    {
        var r = Cli.Run("train", "--optimizer", "hessian-free:40/10/3/held=10", "--batch", "64", "--data", "/nonexistent");
        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.Contains("--batch 64 and --optimizer hessian-free:40/10/3/held=10 disagree: its settings take 50 rows a step", r.Error, StringComparison.Ordinal);
    }
}
