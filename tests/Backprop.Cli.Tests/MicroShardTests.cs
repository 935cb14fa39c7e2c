using Xunit;

namespace Backprop.Cli.Tests;

/// <summary><c>train --micro-shards K</c>: the same model for any --threads; refused where it cannot apply.</summary>
public class MicroShardTests
{
    [SkippableFact]
    public void Train_with_micro_shards_writes_the_same_model_on_one_and_two_threads()
    {
        Skip.If(Environment.ProcessorCount < 2, "one core: --threads 2 is refused");
        using var dir = new TempDir();
        SyntheticData.Blobs(dir["train.csv"], 100, seed: 1);
        float[] Train(string threads)
        {
            string model = dir[$"m{threads}.safetensors"];
            var r = Cli.Run("train", "--csv", dir["train.csv"], "--label-column", "label", "--layers", "2-16-3",
                "--epochs", "3", "--batch", "16", "--threads", threads, "--micro-shards", "4", "--out", model);
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.Contains("on 4 micro-shards", r.Out, StringComparison.Ordinal);
            return Backprop.Functional.ModelFile.Load(model).Parameters;
        }
        Assert.Equal(Train("1"), Train("2"));
    }

    [Theory]
    [InlineData("0", null, "--micro-shards")]
    [InlineData("5000", null, "at most 4096")]
    [InlineData("2", "lstm", "sequences")]
    public void Micro_shards_out_of_range_or_with_a_sequence_model_are_usage_errors(string k, string? model, string message)
    {
        string[] args = model is null ? ["--micro-shards", k] : ["--micro-shards", k, "--model", model];
        var e = Assert.Throws<UsageException>(() => TrainCommand.Parse(args));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    /// <summary>The message names the optimizer as the user wrote it; it printed the options record
    /// ("natural { Solver = , LearningRate = 0.3, … }").</summary>
    [Fact]
    public void Micro_shards_with_a_curvature_optimizer_name_it_as_written()
    {
        var e = Assert.Throws<UsageException>(() => TrainCommand.Parse("--micro-shards", "2", "--optimizer", "natural"));
        Assert.Contains("--micro-shards does not apply to --optimizer natural: a curvature optimizer takes the whole step", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("{", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Micro_shards_default_to_one() => Assert.Equal(1, TrainCommand.Parse().MicroShards);
}
