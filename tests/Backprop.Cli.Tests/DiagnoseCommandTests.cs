using System.Text.RegularExpressions;
using Xunit;

namespace Backprop.Cli.Tests;

/// <summary><c>backprop diagnose</c> and <c>backprop train --diagnostics</c> on small synthetic data.</summary>
public class DiagnoseCommandTests
{
    [Fact]
    public void Diagnose_on_mnist_files_prints_every_layer_per_epoch_and_writes_the_plot()
    {
        using var dir = new TempDir();
        SyntheticData.FakeMnist(dir.Path, train: 120, test: 20, seed: 4);
        var r = Cli.Run("diagnose", "--data", dir.Path, "--layers", "784-8-8-8-10", "--epochs", "3", "--samples", "100",
            "--out", dir["plots/speed.png"]);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("on the first 100 samples", r.Out, StringComparison.Ordinal);
        for (int epoch = 1; epoch <= 3; epoch++)
            Assert.Contains($"epoch {epoch}/3  train loss ", r.Out, StringComparison.Ordinal);
        // Four layers, three epochs: twelve layer lines, the hidden ones with a saturated fraction (sigmoid), none dead.
        var layerLines = r.Out.Split('\n').Where(l => l.StartsWith("  layer ", StringComparison.Ordinal)).ToArray();
        Assert.Equal(12, layerLines.Length);
        Assert.All(layerLines.Where(l => l.Contains("sigmoid", StringComparison.Ordinal)), l => Assert.Matches(@"saturated \d+\.\d%  dead -", l));
        Assert.Contains("first/last hidden layer ‖∂C/∂b‖: ", r.Out, StringComparison.Ordinal);
        Assert.True(File.Exists(dir["plots/speed.png"]) || File.Exists(dir["plots/speed.svg"]), r.ToString());
        Assert.Equal("", r.Error);
    }

    [Fact]
    public void Diagnose_relu_on_csv_reports_dead_units_not_saturation()
    {
        using var dir = new TempDir();
        SyntheticData.Blobs(dir["b.csv"], 30, seed: 2);
        var r = Cli.Run("diagnose", "--csv", dir["b.csv"], "--label-column", "label", "--layers", "2-6-6-3",
            "--activation", "relu", "--init", "he", "--epochs", "2", "--out", dir["d.png"]);
        Assert.True(r.ExitCode == 0, r.ToString());
        var hidden = r.Out.Split('\n').Where(l => l.StartsWith("  layer ", StringComparison.Ordinal) && l.Contains("relu", StringComparison.Ordinal)).ToArray();
        Assert.Equal(4, hidden.Length);
        Assert.All(hidden, l => Assert.Matches(@"saturated -  dead \d+\.\d%", l));
        Assert.Contains("init he", r.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void Diagnose_with_one_hidden_layer_has_no_ratio_to_print()
    {
        using var dir = new TempDir();
        SyntheticData.Blobs(dir["b.csv"], 20, seed: 3);
        var r = Cli.Run("diagnose", "--csv", dir["b.csv"], "--label-column", "label", "--layers", "2-5-3", "--epochs", "1", "--out", dir["d.png"]);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.DoesNotContain("NaN", r.Out, StringComparison.Ordinal);
        Assert.Contains("first/last hidden layer ‖∂C/∂b‖: needs two hidden layers or more", r.Out, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--activation", "gelu")]
    [InlineData("--layers", "784")]
    [InlineData("--epochs", "0")]
    [InlineData("--lr", "-1")]
    public void Diagnose_refuses_bad_options_with_a_usage_error(string option, string value)
    {
        var r = Cli.Run("diagnose", option, value);
        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.Equal("", r.Out);
    }

    [Fact]
    public void Train_with_diagnostics_adds_a_per_layer_line_after_each_epoch()
    {
        using var dir = new TempDir();
        SyntheticData.Blobs(dir["b.csv"], 40, seed: 1);
        var r = Cli.Run("train", "--csv", dir["b.csv"], "--label-column", "label", "--layers", "2-8-8-3", "--hidden", "tanh",
            "--epochs", "3", "--batch", "16", "--diagnostics", "--out", dir["m.safetensors"]);
        Assert.True(r.ExitCode == 0, r.ToString());
        var lines = r.Out.Split('\n').Select(l => l.TrimEnd('\r')).ToArray();
        for (int epoch = 1; epoch <= 3; epoch++)
        {
            int at = Array.FindIndex(lines, l => l.StartsWith($"epoch {epoch}/3 ", StringComparison.Ordinal));
            Assert.True(at >= 0, r.ToString());
            // L1 and L2 are tanh (a saturated fraction), L3 the softmax output (neither).
            Assert.Matches(new Regex(@"^  L1 ‖∂C/∂W‖ \S+ ΔW/W \S+ sat \d+\.\d% \| L2 ‖∂C/∂W‖ \S+ ΔW/W \S+ sat \d+\.\d% \| L3 ‖∂C/∂W‖ \S+ ΔW/W \S+$"), lines[at + 1]);
        }
        // The report beside the model charts the same figures: gradient flow and saturation.
        string html = File.ReadAllText(dir["m.safetensors"] + ".html");
        Assert.Contains("Gradient flow", html, StringComparison.Ordinal);
        Assert.Contains("Saturated units", html, StringComparison.Ordinal);
    }

    [Fact]
    public void Train_without_diagnostics_writes_a_report_without_the_layer_plots()
    {
        using var dir = new TempDir();
        SyntheticData.Blobs(dir["b.csv"], 20, seed: 1);
        var r = Cli.Run("train", "--csv", dir["b.csv"], "--label-column", "label", "--layers", "2-4-3", "--epochs", "1", "--out", dir["m.safetensors"]);
        Assert.True(r.ExitCode == 0, r.ToString());
        string html = File.ReadAllText(dir["m.safetensors"] + ".html");
        Assert.DoesNotContain("Gradient flow", html, StringComparison.Ordinal);
    }

    [Fact]
    public void Train_without_diagnostics_prints_no_layer_lines()
    {
        using var dir = new TempDir();
        SyntheticData.Blobs(dir["b.csv"], 20, seed: 1);
        var r = Cli.Run("train", "--csv", dir["b.csv"], "--label-column", "label", "--layers", "2-4-3", "--epochs", "1", "--out", dir["m.safetensors"]);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.DoesNotContain("ΔW/W", r.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void Train_diagnostics_with_task_chars_is_a_usage_error()
    {
        var r = Cli.Run("train", "--diagnostics", "--model", "lstm", "--task", "chars");
        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.Contains("--diagnostics does not apply to --task chars", r.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Train_diagnostics_with_a_curvature_optimizer_is_a_usage_error()
    {
        var r = Cli.Run("train", "--diagnostics", "--optimizer", "hessian-free");
        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.Contains("--diagnostics", r.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Train_diagnostics_with_micro_shards_is_a_usage_error()
    {
        var r = Cli.Run("train", "--diagnostics", "--micro-shards", "2");
        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.Contains("--diagnostics reads the workspace of an unsharded step", r.Error, StringComparison.Ordinal);
    }
}
