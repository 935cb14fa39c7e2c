using System.Globalization;
using Xunit;

namespace Backprop.Cli.Tests;

/// <summary>The recurrent commands end to end on small data: <c>train --model</c> on MNIST read row by row,
/// <c>train --task chars</c> then <c>sample</c>, <c>grad-flow</c>, and their usage errors.</summary>
public class RecurrentCommandTests
{
    [Fact]
    public void Train_model_lstm_reads_mnist_row_by_row_and_eval_scores_the_saved_model()
    {
        using var dir = new TempDir();
        string data = System.IO.Path.Combine(dir.Path, "mnist");
        Directory.CreateDirectory(data);
        SyntheticData.FakeMnist(data, train: 256, test: 64, seed: 1);
        string model = System.IO.Path.Combine(dir.Path, "lstm.safetensors");
        var r = Cli.Run("train", "--model", "lstm", "--units", "16", "--epochs", "1", "--batch", "32", "--data", data, "--out", model);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("Lstm(28-16)", r.Out, StringComparison.Ordinal);
        double trained = r.Number("test accuracy:");
        var e = Cli.Run("eval", "--model", model, "--data", data);
        Assert.True(e.ExitCode == 0, e.ToString());
        Assert.Equal(trained, e.Number("test accuracy:"));
    }

    [Fact]
    public void Train_task_chars_learns_a_text_prints_bits_per_character_and_sample_generates_from_its_vocabulary()
    {
        using var dir = new TempDir();
        string text = System.IO.Path.Combine(dir.Path, "abc.txt");
        File.WriteAllText(text, string.Concat(Enumerable.Repeat("abcabcabd\n", 300)));
        string model = System.IO.Path.Combine(dir.Path, "chars.safetensors");
        var r = Cli.Run("train", "--task", "chars", "--text", text, "--units", "16", "--bptt", "8", "--batch", "4",
            "--epochs", "3", "--sample-length", "30", "--out", model);
        Assert.True(r.ExitCode == 0, r.ToString());
        var bits = r.Out.Split('\n').Where(l => l.StartsWith("epoch ", StringComparison.Ordinal))
            .Select(l => double.Parse(l.Split("validation ")[1].Split(' ')[0], CultureInfo.InvariantCulture)).ToArray();
        Assert.Equal(3, bits.Length);
        // a uniform guess over the 5 characters is log₂5 = 2.32 bits; the text is nearly periodic
        Assert.True(bits.All(b => b < Math.Log2(5)) && bits.Min() < 1, $"validation bits per character: {string.Join(", ", bits)}");
        var s = Cli.Run("sample", "--model", model, "--length", "50", "--temperature", "0.5", "--seed", "2");
        Assert.True(s.ExitCode == 0, s.ToString());
        string sample = s.Out[..^Environment.NewLine.Length];   // the sample may itself end in a newline
        Assert.Equal(50, sample.Length);
        Assert.All(sample, c => Assert.Contains(c, "abcd\n"));
        Assert.Equal(sample, Cli.Run("sample", "--model", model, "--length", "50", "--temperature", "0.5", "--seed", "2").Out[..^Environment.NewLine.Length]);
    }

    /// <summary>A diverging character model stops like a diverging MNIST run (<c>--divergence-factor</c>, default 10):
    /// exit 1, one line naming the epoch and block, and the good model already at <c>--out</c> left as it was. Before,
    /// η = 10³⁰ ran to the end at 10³¹ bits per character (finite, thanks to clipping) and overwrote it.</summary>
    [Fact]
    public void Train_task_chars_that_diverges_stops_and_leaves_the_model_file_alone()
    {
        using var dir = new TempDir();
        string text = System.IO.Path.Combine(dir.Path, "abc.txt");
        File.WriteAllText(text, string.Concat(Enumerable.Repeat("abcabcabd\n", 300)));
        string model = System.IO.Path.Combine(dir.Path, "chars.safetensors");
        string[] common = ["train", "--task", "chars", "--text", text, "--units", "8", "--bptt", "8", "--batch", "4", "--epochs", "2"];
        var good = Cli.Run([.. common, "--sample-length", "5", "--out", model]);
        Assert.True(good.ExitCode == 0, good.ToString());
        byte[] saved = File.ReadAllBytes(model);

        var r = Cli.Run([.. common, "--lr", "1e30", "--out", model]);
        Assert.True(r.ExitCode == 1, r.ToString());
        Assert.Contains("epoch 1, block", r.Error, StringComparison.Ordinal);
        Assert.Contains("the model was not saved", r.Error, StringComparison.Ordinal);
        Assert.Single(r.Error.Trim().Split('\n'));
        Assert.Equal(saved, File.ReadAllBytes(model));

        var off = Cli.Run([.. common, "--lr", "1e30", "--divergence-factor", "0", "--out", System.IO.Path.Combine(dir.Path, "off.safetensors")]);
        Assert.DoesNotContain("rose above", off.Error, StringComparison.Ordinal);   // the check is off (a NaN cost still stops it)
        Assert.Equal(2, Cli.Run([.. common, "--divergence-factor", "-1", "--out", model]).ExitCode);
    }

    [Fact]
    public void Grad_flow_measures_every_cell_and_writes_its_plot()
    {
        using var dir = new TempDir();
        string data = System.IO.Path.Combine(dir.Path, "mnist");
        Directory.CreateDirectory(data);
        SyntheticData.FakeMnist(data, train: 640, test: 64, seed: 2);
        string plot = System.IO.Path.Combine(dir.Path, "flow.png");
        var r = Cli.Run("grad-flow", "--units", "8", "--steps", "5", "--data", data, "--out", plot);
        Assert.True(r.ExitCode == 0, r.ToString());
        foreach (string kind in new[] { "Rnn", "Gru", "Lstm", "forget" }) Assert.Contains(kind, r.Out, StringComparison.Ordinal);
        Assert.True(File.Exists(plot) && new FileInfo(plot).Length > 1000, r.ToString());
    }

    [Theory]
    [InlineData("--model and --layers both describe the network", "train", "--model", "lstm", "--layers", "784-10")]
    [InlineData("--task and --units go with --model", "train", "--units", "32")]
    [InlineData("--bptt goes with --task chars", "train", "--bptt", "16")]
    [InlineData("--layers does not apply to --task chars", "train", "--task", "chars", "--layers", "784-10")]
    [InlineData("--temperature must be a positive number", "sample", "--model", "m.safetensors", "--temperature", "0")]
    public void Wrong_combinations_are_usage_errors(string expected, params string[] args)
    {
        var r = Cli.Run(args);
        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.Contains(expected, r.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Sample_refuses_a_model_without_a_vocabulary()
    {
        using var dir = new TempDir();
        string data = System.IO.Path.Combine(dir.Path, "mnist");
        Directory.CreateDirectory(data);
        SyntheticData.FakeMnist(data, train: 64, test: 16, seed: 3);
        string model = System.IO.Path.Combine(dir.Path, "mlp.safetensors");
        Assert.Equal(0, Cli.Run("train", "--layers", "784-8-10", "--epochs", "1", "--data", data, "--out", model).ExitCode);
        var r = Cli.Run("sample", "--model", model);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("is not a character model", r.Error, StringComparison.Ordinal);
    }
}
