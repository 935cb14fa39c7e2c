using Xunit;

namespace Backprop.Cli.Tests;

/// <summary><c>train --hogwild [--workers N]</c>: asynchronous SGD from the command line; the options it cannot honour
/// are refused with one line each.</summary>
public class HogwildCliTests
{
    [SkippableFact]
    public void Hogwild_on_two_workers_trains_a_model_whose_loss_falls()
    {
        Skip.If(Environment.ProcessorCount < 2, "one core: --workers 2 is refused");
        using var dir = new TempDir();
        SyntheticData.Blobs(dir["train.csv"], 200, seed: 1);
        string model = dir["hog.safetensors"];
        var r = Cli.Run("train", "--csv", dir["train.csv"], "--label-column", "label", "--layers", "2-16-3",
            "--epochs", "4", "--batch", "4", "--lr", "0.05", "--hogwild", "--workers", "2", "--out", model);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("Hogwild!", r.Out, StringComparison.Ordinal);
        Assert.Contains("2 worker(s)", r.Out, StringComparison.Ordinal);
        Assert.True(File.Exists(model));
        var losses = System.Text.RegularExpressions.Regex.Matches(r.Out, @"train loss ([0-9.]+)")
            .Select(m => double.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        Assert.True(losses.Length == 4, r.Out);
        Assert.True(losses[^1] < losses[0], r.Out);
    }

    [Fact]
    public void One_hogwild_worker_is_plain_sgd_and_gives_the_same_model_twice()
    {
        using var dir = new TempDir();
        SyntheticData.Blobs(dir["train.csv"], 60, seed: 2);
        float[] Train(string name)
        {
            var r = Cli.Run("train", "--csv", dir["train.csv"], "--label-column", "label", "--layers", "2-8-3",
                "--epochs", "2", "--batch", "1", "--hogwild", "--workers", "1", "--out", dir[name]);
            Assert.True(r.ExitCode == 0, r.ToString());
            return Backprop.Functional.ModelFile.Load(dir[name]).Parameters;
        }
        Assert.Equal(Train("a.safetensors"), Train("b.safetensors"));
    }

    [Theory]
    [InlineData("--optimizer adam", "plain SGD")]
    [InlineData("--optimizer sgd --momentum 0.9", "plain SGD")]
    [InlineData("--threads 1", "--threads does not apply to --hogwild")]
    [InlineData("--micro-shards 2", "--micro-shards does not apply to --hogwild")]
    [InlineData("--schedule cosine", "--schedule does not apply to --hogwild")]
    [InlineData("--clip 1", "--clip does not apply to --hogwild")]
    [InlineData("--l2 5", "--l2 does not apply to --hogwild")]
    [InlineData("--checkpoint-every 10", "--checkpoint-every does not apply to --hogwild")]
    [InlineData("--mpi", "--mpi")]
    [InlineData("--workers 0", "--workers must be ≥ 1")]
    [InlineData("--workers 100000", "--workers 100000: this machine has")]
    public void Hogwild_refuses_what_it_cannot_honour(string extra, string message)
    {
        var e = Assert.Throws<UsageException>(() => TrainCommand.Parse(["--hogwild", .. extra.Split(' ')]));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
    }

    /// <summary>The message names the optimizer asked for, not the first-order default it stands in for.</summary>
    [Theory]
    [InlineData("hessian-free")]
    [InlineData("kfac")]
    public void Hogwild_with_a_curvature_optimizer_names_that_optimizer(string optimizer)
    {
        var e = Assert.Throws<UsageException>(() => TrainCommand.Parse("--hogwild", "--optimizer", optimizer));
        Assert.Contains($"not {optimizer}", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("adam", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Workers_without_hogwild_is_a_usage_error() =>
        Assert.Contains("--workers goes with --hogwild", Assert.Throws<UsageException>(() => TrainCommand.Parse("--workers", "2")).Message, StringComparison.Ordinal);

    [Fact]
    public void Hogwild_defaults_to_sgd_on_every_core()
    {
        var s = TrainCommand.Parse("--hogwild", "--lr", "0.1");
        Assert.Equal(Environment.ProcessorCount, s.HogwildWorkers);
        Assert.Equal(new Backprop.Functional.Sgd(0.1), s.Optimizer);
        Assert.Null(TrainCommand.Parse().HogwildWorkers);
    }
}
