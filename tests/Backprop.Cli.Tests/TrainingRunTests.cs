using System.Diagnostics;
using Backprop.Functional;
using Xunit;
using Xunit.Abstractions;

namespace Backprop.Cli.Tests;

/// <summary>Runs that go wrong, and runs that are stopped and resumed: a diverging run exits 1 and leaves the old
/// model alone; a run resumed from its checkpoint, even after a SIGKILL, ends with the same model file byte for byte.</summary>
public class TrainingRunTests(ITestOutputHelper output)
{
    private static void AssertOneLineFailure(Cli.Result r, params string[] parts)
    {
        Assert.True(r.ExitCode == 1, r.ToString());
        string[] lines = r.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, r.ToString());
        Assert.StartsWith("backprop: ", lines[0], StringComparison.Ordinal);
        foreach (string part in parts) Assert.Contains(part, lines[0], StringComparison.Ordinal);
    }

    /// <summary>The issue's case: <c>--lr 1e6</c> on the default network used to run to the end (loss ~78, accuracy
    /// 0.10), exit 0 and overwrite the model.</summary>
    [Fact]
    public void A_diverging_run_exits_1_naming_step_and_layer_and_keeps_the_old_model_and_plot()
    {
        using var dir = new TempDir();
        SyntheticData.FakeMnist(dir.Path, train: 300, test: 50, seed: 5);
        string model = dir["model.safetensors"];
        File.WriteAllText(model, "the good model");
        File.WriteAllText(model + ".png", "the good plot");

        var r = Cli.Run("train", "--data", dir.Path, "--lr", "1e6", "--epochs", "3", "--out", model);
        AssertOneLineFailure(r, "step ", "layer ");
        Assert.Equal("the good model", File.ReadAllText(model));
        Assert.Equal("the good plot", File.ReadAllText(model + ".png"));
        Assert.DoesNotContain("model saved", r.Out, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(dir.Path, "*.tmp-*"));
    }

    [Fact]
    public void A_diverging_run_leaves_no_model_and_the_factor_is_an_option()
    {
        using var dir = new TempDir();
        SyntheticData.Blobs(dir["b.csv"], 100, seed: 1);
        string model = dir["m.safetensors"];
        var r = Cli.Run("train", "--csv", dir["b.csv"], "--label-column", "label", "--optimizer", "sgd", "--lr", "50", "--epochs", "5", "--out", model);
        AssertOneLineFailure(r, "diverged", "starting cost");
        Assert.False(File.Exists(model));
        Assert.False(File.Exists(model + ".png"));

        Assert.Equal(2, Cli.Run("train", "--csv", dir["b.csv"], "--label-column", "label", "--divergence-factor", "-1").ExitCode);
    }

    private static string[] BlobsRun(TempDir dir, string model, params string[] extra) =>
    [
        "train", "--csv", dir["train.csv"], "--test-csv", dir["test.csv"], "--label-column", "label", "--layers", "2-16-3",
        "--epochs", "3", "--batch", "16", "--lr", "0.01", "--schedule", "cosine", "--warmup", "5", "--seed", "4", "--out", model, .. extra,
    ];

    private static string[] With(string[] args, string option, string value)
    {
        var copy = (string[])args.Clone();
        copy[Array.IndexOf(copy, option) + 1] = value;
        return copy;
    }

    /// <summary>300 rows, batch 16: 19 steps an epoch, 57 in all. Every 7 steps leaves the last checkpoint at step 56
    /// (mid-epoch 3), every 19 at step 57 (the end), every 20 at step 40 (two steps into epoch 3).</summary>
    [Theory]
    [InlineData("adam", "7")]
    [InlineData("adam", "19")]
    [InlineData("adam", "20")]
    [InlineData("nesterov", "20")]
    public void A_run_resumed_from_its_checkpoint_writes_the_same_model_file(string optimizer, string every)
    {
        using var dir = new TempDir();
        SyntheticData.Blobs(dir["train.csv"], 100, seed: 1);
        SyntheticData.Blobs(dir["test.csv"], 30, seed: 2);
        var full = Cli.Run(BlobsRun(dir, dir["full.safetensors"], "--optimizer", optimizer, "--checkpoint-every", every));
        Assert.True(full.ExitCode == 0, full.ToString());
        Assert.True(File.Exists(dir["full.checkpoint.safetensors"]), full.ToString());

        var resumed = Cli.Run(BlobsRun(dir, dir["resumed.safetensors"], "--optimizer", optimizer, "--resume", dir["full.checkpoint.safetensors"]));
        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        Assert.Contains("resuming from ", resumed.Out, StringComparison.Ordinal);
        Assert.Equal(File.ReadAllBytes(dir["full.safetensors"]), File.ReadAllBytes(dir["resumed.safetensors"]));
        Assert.Equal(full.Number("test accuracy:"), resumed.Number("test accuracy:"));
    }

    [Fact]
    public void A_checkpoint_of_other_options_or_a_damaged_one_is_refused_with_one_line()
    {
        using var dir = new TempDir();
        SyntheticData.Blobs(dir["train.csv"], 100, seed: 1);
        SyntheticData.Blobs(dir["test.csv"], 30, seed: 2);
        Assert.Equal(0, Cli.Run(BlobsRun(dir, dir["m.safetensors"], "--checkpoint-every", "10")).ExitCode);
        string checkpoint = dir["m.checkpoint.safetensors"];

        var other = Cli.Run(With(BlobsRun(dir, dir["n.safetensors"], "--resume", checkpoint), "--lr", "0.02"));
        AssertOneLineFailure(other, "optimizer adam(lr=0.01", "this run has optimizer adam(lr=0.02");
        AssertOneLineFailure(Cli.Run(With(BlobsRun(dir, dir["n.safetensors"], "--resume", checkpoint), "--batch", "8")), "batch 16", "batch 8");

        byte[] bytes = File.ReadAllBytes(checkpoint);
        bytes[^3] ^= 0x10;
        File.WriteAllBytes(dir["bad.safetensors"], bytes);
        AssertOneLineFailure(Cli.Run(BlobsRun(dir, dir["n.safetensors"], "--resume", dir["bad.safetensors"])), "is not a valid checkpoint", "sha256");
        AssertOneLineFailure(Cli.Run(BlobsRun(dir, dir["n.safetensors"], "--resume", dir["m.safetensors"])), "is not a valid checkpoint", "format");
        Assert.False(File.Exists(dir["n.safetensors"]));
        Assert.Equal(2, Cli.Run(BlobsRun(dir, dir["n.safetensors"], "--checkpoint-every", "0")).ExitCode);
    }

    /// <summary>The CLI as a process, killed with SIGKILL four times at random moments of training (a checkpoint is
    /// written every 5 steps and flushed to disk, so kills land inside writes too), each time resumed from whatever
    /// checkpoint is on disk, then left to finish: the model file is the uninterrupted run's, byte for byte.</summary>
    [Fact]
    public void Killed_at_random_moments_and_resumed_the_run_ends_with_the_same_model_file()
    {
        using var dir = new TempDir();
        SyntheticData.Blobs(dir["train.csv"], 300, seed: 1);
        SyntheticData.Blobs(dir["test.csv"], 30, seed: 2);
        string[] Args(string model, params string[] extra) =>
        [
            "train", "--csv", dir["train.csv"], "--test-csv", dir["test.csv"], "--label-column", "label", "--layers", "2-32-3",
            "--epochs", "4", "--batch", "4", "--lr", "0.005", "--schedule", "cosine", "--seed", "2", "--out", model, .. extra,
        ];
        var reference = Cli.Run(Args(dir["reference.safetensors"]));
        Assert.True(reference.ExitCode == 0, reference.ToString());

        string model = dir["killed.safetensors"], checkpoint = dir["killed.checkpoint.safetensors"];
        int seed = Environment.TickCount;
        var rng = new Random(seed);
        const int totalSteps = 4 * 900 / 4;
        var killedAt = new List<long>();
        for (int attempt = 0; ; attempt++)
        {
            Assert.True(attempt < 20, $"seed {seed}: no run finished after {attempt} attempts");
            long from = StepOf(checkpoint);
            string[] args = from >= 0 ? Args(model, "--checkpoint-every", "5", "--resume", checkpoint) : Args(model, "--checkpoint-every", "5");
            using var process = StartCli(args);
            if (killedAt.Count < 4)
            {
                // Wait until the run has passed a random step, then kill it a random few milliseconds later: mid-step,
                // mid-write of a checkpoint, or between the two.
                long target = Math.Max(from, 0) + rng.Next(20, 150);
                while (!process.HasExited && StepOf(checkpoint) < target) Thread.Sleep(2);
                Thread.Sleep(rng.Next(0, 12));
                if (!process.HasExited)
                {
                    process.Kill(entireProcessTree: true);   // SIGKILL on Unix
                    process.WaitForExit();
                    long at = StepOf(checkpoint);
                    killedAt.Add(at);
                    output.WriteLine($"attempt {attempt}: resumed from step {from}, killed with the checkpoint at step {at}");
                    continue;
                }
            }
            Assert.True(process.WaitForExit(120_000), "the last run did not finish in 2 minutes");
            string stderr = process.StandardError.ReadToEnd();
            Assert.True(process.ExitCode == 0, $"seed {seed}, attempt {attempt}: exit {process.ExitCode}: {stderr}");
            output.WriteLine($"attempt {attempt}: resumed from step {from}, finished");
            break;
        }
        Assert.True(killedAt.Count(s => s > 0 && s < totalSteps) >= 2, $"seed {seed}: killed with checkpoints at steps {string.Join(", ", killedAt)}");
        Assert.Equal(File.ReadAllBytes(dir["reference.safetensors"]), File.ReadAllBytes(model));
    }

    /// <summary>The step of the checkpoint at <paramref name="path"/>, −1 when there is none yet.</summary>
    private static long StepOf(string path)
    {
        if (!File.Exists(path)) return -1;
        return CheckpointFile.Load<float>(path).Step;   // renamed into place whole, so never half-written
    }

    private static Process StartCli(string[] args)
    {
        string dll = typeof(CliApp).Assembly.Location;
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(dll);
        foreach (string a in args) start.ArgumentList.Add(a);
        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        return process;
    }
}
