using System.Diagnostics;
using System.Globalization;
using Backprop.Functional;
using Xunit;

namespace Backprop.Cli.Tests;

/// <summary>Inputs a hostile user tried (a review of 2026-11-28), each once a crash, a lost model, a hang or a wrong
/// answer: now a clear error that loses nothing, or the right answer.</summary>
public class HostileInputTests
{
    private static string Csv(TempDir dir, string name, string text)
    {
        File.WriteAllText(dir[name], text);
        return dir[name];
    }

    /// <summary>200 rows a,b in 0…100 labelled a &gt; b.</summary>
    private static string Many(TempDir dir)
    {
        var rows = new System.Text.StringBuilder("a,b,label\n");
        for (int i = 0; i < 200; i++)
        {
            int a = i * 37 % 101, b = i * 53 % 97;
            rows.Append(CultureInfo.InvariantCulture, $"{a},{b},{(a > b ? 1 : 0)}\n");
        }
        return Csv(dir, "many.csv", rows.ToString());
    }

    [Fact]
    public void A_label_of_65535_trains_evaluates_and_leaves_out_the_confusion_matrix()
    {
        // Was: an IndexOutOfRangeException (65,536² counts wrapped to 0), an OverflowException at 50,000, 13.9 GB at 30,000.
        using var dir = new TempDir();
        string csv = Csv(dir, "wide.csv", "a,b,label\n0.1,0.2,0\n0.9,0.8,65535\n");
        var r = Cli.Run("train", "--csv", csv, "--label-column", "label", "--layers", "2-4-65536", "--epochs", "1", "--out", dir["m.safetensors"]);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("confusion matrix left out: 65536 classes", r.Out, StringComparison.Ordinal);
        var e = Cli.Run("eval", "--model", dir["m.safetensors"], "--csv", csv, "--label-column", "label");
        Assert.True(e.ExitCode == 0, e.ToString());
        Assert.Contains("confusion matrix left out: 65536 classes", e.Out, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("m.safetensors")]
    [InlineData("./sub/../m.safetensors")]
    public void A_checkpoint_on_the_model_file_is_refused_before_training_and_the_model_is_kept(string checkpoint)
    {
        // Was: the checkpoint replaced the good model, then the run diverged, leaving a checkpoint where the model had been.
        using var dir = new TempDir();
        Directory.CreateDirectory(dir["sub"]);
        string csv = Many(dir), model = dir["m.safetensors"];
        Assert.Equal(0, Cli.Run("train", "--csv", csv, "--label-column", "label", "--epochs", "1", "--out", model).ExitCode);
        byte[] good = File.ReadAllBytes(model);
        var r = Cli.Run("train", "--csv", csv, "--label-column", "label", "--out", model, "--checkpoint", Path.Combine(dir.Path, checkpoint),
            "--checkpoint-every", "1", "--batch", "1", "--optimizer", "sgd", "--lr", "1", "--epochs", "1");
        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.Contains("is the model file --out names", r.Error, StringComparison.Ordinal);
        Assert.Equal(good, File.ReadAllBytes(model));
    }

    [Theory]
    [InlineData("--sample-length", "0")]
    [InlineData("--sample-length", "10000001")]
    [InlineData("--sample-length", "2147483647")]
    public void A_sample_length_out_of_range_is_refused_before_training(string option, string value)
    {
        // Was: 2147483647 trained the whole epoch, then ran out of memory and lost the training.
        using var dir = new TempDir();
        string text = Csv(dir, "t.txt", string.Concat(Enumerable.Repeat("the quick brown fox jumps over the lazy dog.\n", 50)));
        var r = Cli.Run("train", "--task", "chars", "--text", text, "--units", "8", "--bptt", "8", "--batch", "2", option, value,
            "--out", dir["c.safetensors"]);
        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.Contains("--sample-length must be 1 … 10000000", r.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("bits", r.Out, StringComparison.Ordinal);   // nothing trained
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void An_update_that_blows_up_theta_on_the_last_step_stops_the_run_naming_the_tensor_and_keeps_the_model(bool hogwild)
    {
        // One batch of every row, SGD with η = 1e308 (∞ in float): the cost before the only update is finite, the update
        // is not. Was: "train-set loss NaN", an accuracy and a confusion matrix, then a refusal at save.
        using var dir = new TempDir();
        string csv = Many(dir), model = dir["m.safetensors"];
        Assert.Equal(0, Cli.Run("train", "--csv", csv, "--label-column", "label", "--epochs", "1", "--out", model).ExitCode);
        byte[] good = File.ReadAllBytes(model);
        string[] args = ["train", "--csv", csv, "--label-column", "label", "--lr", "1e308", "--batch", "200", "--epochs", "1", "--out", model,
            .. hogwild ? new[] { "--hogwild", "--workers", "1" } : ["--optimizer", "sgd"]];
        var r = Cli.Run(args);
        Assert.True(r.ExitCode == 1, r.ToString());
        Assert.Contains("in tensor layers.", r.Error, StringComparison.Ordinal);
        Assert.Contains(hogwild ? "Hogwild epoch 1" : "epoch 1, step 1", r.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("accuracy", r.Out, StringComparison.Ordinal);   // nothing evaluated on the blown-up θ
        Assert.Equal(good, File.ReadAllBytes(model));
    }

    [Theory]
    [InlineData(1e-6)]   // an untrained network's log-probabilities differ by ~1e-4: 1e-3 would still draw among near-ties
    [InlineData(1e-300)]
    public void Sampling_as_the_temperature_goes_to_zero_takes_the_most_likely_character(double temperature)
    {
        // Was: every p^(1/τ) underflowed to 0 and each draw fell back to the vocabulary's last character ("zzzz…").
        var corpus = new CharCorpus("abcdefghijklmnopqrstuvwxyz \n");
        int v = corpus.VocabularySize;
        using var net = Network<float>.Create(CharModel.Spec("lstm", v, 16), seed: 5, Initialization.PyTorch);
        var rng = new SeededRandom(1);
        string sampled = CharModel.Sample(net, corpus, 60, temperature, ref rng);

        using var ws = net.CreateWorkspace(1, 1, 1);
        Recurrent.ResetState(net.Spec, ws, 1);
        var x = new float[v];
        int current = corpus.IndexOf('\n');
        var greedy = new System.Text.StringBuilder();
        for (int i = 0; i < 60; i++)
        {
            Array.Clear(x);
            x[current] = 1;
            var a = net.Forward(x, ws);
            Recurrent.CarryOver(net.Spec, ws, 1);
            current = Trainer.ArgMax<float>(a[..v]);
            greedy.Append(corpus.Vocabulary[current]);
        }
        Assert.Equal(greedy.ToString(), sampled);
        Assert.NotEqual(new string(corpus.Vocabulary[^1], 60), sampled);   // the vocabulary's last character, the old fallback
    }

    [SkippableFact]
    public void Max_chars_reads_a_pipe_once()
    {
        // Was: the text was read twice, and the second read of a drained pipe was empty ("Index and length must refer…").
        Skip.IfNot(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS(), "named pipes by mkfifo are a Unix thing");
        using var dir = new TempDir();
        string fifo = dir["text.fifo"];
        using (var mk = Process.Start(new ProcessStartInfo("mkfifo", [fifo]) { UseShellExecute = false })!)
        {
            mk.WaitForExit();
            Skip.If(mk.ExitCode != 0, "mkfifo failed here");
        }
        string text = string.Concat(Enumerable.Repeat("the quick brown fox jumps over the lazy dog.\n", 200));
        var writer = Task.Run(() =>   // blocks until the CLI opens the pipe
        {
            try { File.WriteAllText(fifo, text); }
            catch (IOException) { }   // EPIPE: the reader took its 2,001 characters and closed the pipe, as it should
        });
        var run = Task.Run(() => Cli.Run("train", "--task", "chars", "--text", fifo, "--max-chars", "2000", "--units", "8", "--bptt", "8",
            "--batch", "2", "--sample-length", "5", "--out", dir["c.safetensors"]));
        Assert.True(run.Wait(TimeSpan.FromMinutes(2)), "the run did not finish: it waited on the pipe a second time");
        var r = run.Result;
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("1,900 characters to train on, 100 to validate", r.Out, StringComparison.Ordinal);
        Assert.True(writer.Wait(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public void A_vocabulary_that_is_not_sorted_and_distinct_is_refused_by_sample()
    {
        // Was: "input has 1 elements, which is not a whole number of rows of width 29" (repeated characters), or, for a
        // reordered vocabulary, text written under the wrong characters.
        using var dir = new TempDir();
        string text = Csv(dir, "t.txt", string.Concat(Enumerable.Repeat("abcab\n", 200)));
        string model = dir["c.safetensors"];
        var t = Cli.Run("train", "--task", "chars", "--text", text, "--units", "8", "--bptt", "8", "--batch", "2", "--sample-length", "5", "--out", model);
        Assert.True(t.ExitCode == 0, t.ToString());
        var loaded = ModelFile.Load(model);
        Assert.Equal("\nabc", loaded.Metadata[CharModel.VocabularyKey]);
        var metadata = new Dictionary<string, string>(loaded.Metadata) { [CharModel.VocabularyKey] = "\nbac" };
        string swapped = dir["swapped.safetensors"];
        ModelFile.Save<float>(swapped, loaded.Spec, loaded.Parameters, metadata);
        var r = Cli.Run("sample", "--model", swapped, "--length", "5");
        Assert.True(r.ExitCode == 1, r.ToString());
        Assert.Contains("is not 4 distinct characters in code-point order", r.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Import_with_a_loss_the_output_cannot_take_is_a_usage_error()
    {
        // Was: exit 1 (a failure) with the library's "(Parameter 'loss')" on the end.
        using var dir = new TempDir();
        var spec = new NetworkSpec([new Dense(4, 6, ActivationKind.Tanh), new Dense(6, 3, ActivationKind.Softmax)], LossKind.SoftmaxCrossEntropy);
        using (var net = Network<float>.Create(spec, seed: 3)) ModelFile.Save(dir["m.safetensors"], net);
        Assert.Equal(0, Cli.Run("export", "--model", dir["m.safetensors"], "--onnx", dir["m.onnx"]).ExitCode);
        var r = Cli.Run("import", "--onnx", dir["m.onnx"], "--model", dir["back.safetensors"], "--loss", "ce");
        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.StartsWith("backprop: --loss ce: ", r.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("Parameter", r.Error, StringComparison.Ordinal);
        Assert.False(File.Exists(dir["back.safetensors"]));
    }

    [Fact]
    public void Eval_of_a_model_whose_outputs_overflow_names_the_sample_and_fails()
    {
        // Was: "test loss: NaN", an accuracy, and exit 0. The weights are finite (a model file holds only finite ones)
        // but 3e38 · x overflows.
        using var dir = new TempDir();
        string csv = Many(dir);
        var spec = NetworkSpec.Mlp([2, 4, 2], ActivationKind.Tanh, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy);
        var theta = new float[spec.Layout.Count];
        Array.Fill(theta, 3e38f);
        ModelFile.Save<float>(dir["big.safetensors"], spec, theta);
        var r = Cli.Run("eval", "--model", dir["big.safetensors"], "--csv", csv, "--label-column", "label");
        Assert.True(r.ExitCode == 1, r.ToString());
        Assert.Contains("sample 0 gives NaN at output 0", r.Error, StringComparison.Ordinal);
        Assert.Contains("mean nothing", r.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--gamma must be a finite number > 0", "--schedule", "exp", "--gamma", "Infinity")]
    [InlineData("--max-chars must be 10 …", "--task", "chars", "--max-chars", "5")]
    public void Values_a_run_would_fail_on_later_are_usage_errors(string expected, params string[] args)
    {
        var r = Cli.Run(["train", .. args]);
        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.Contains(expected, r.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Train_warns_when_its_finite_model_overflows_on_a_test_sample()
    {
        using var dir = new TempDir();
        string csv = Many(dir);
        string test = Csv(dir, "test.csv", "a,b,label\n1,2,0\n3e38,3e38,1\n");   // finite, but no ReLU layer keeps it so
        var r = Cli.Run("train", "--csv", csv, "--test-csv", test, "--label-column", "label", "--layers", "2-16-2", "--hidden", "relu",
            "--epochs", "1", "--out", dir["m.safetensors"]);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("warning: on the test set sample 1 gives", r.Error, StringComparison.Ordinal);
        Assert.Contains("mean nothing", r.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_text_too_short_to_validate_is_a_clear_error()
    {
        using var dir = new TempDir();
        string text = Csv(dir, "one.txt", "a");
        var r = Cli.Run("train", "--task", "chars", "--text", text, "--units", "8", "--bptt", "8", "--batch", "2", "--out", dir["c.safetensors"]);
        Assert.True(r.ExitCode == 1, r.ToString());
        Assert.Contains("1 characters (after --max-chars) are too few to keep 5 % of them for validation", r.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("Parameter", r.Error, StringComparison.Ordinal);
    }
}
