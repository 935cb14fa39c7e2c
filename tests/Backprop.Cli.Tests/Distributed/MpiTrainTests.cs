using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Backprop.Functional;
using Xunit;

namespace Backprop.Cli.Tests.Distributed;

/// <summary><c>mpirun -np 2 backprop train --mpi</c> on localhost: the model is the one a single process writes with
/// the same micro-shards, bit for bit; rank 0 alone writes it; the loss falls. Skipped, with the reason, where Open MPI
/// (mpirun, libmpi.so.40) is absent; scripts/ci-deps.sh installs it.</summary>
public class MpiTrainTests
{
    [SkippableTheory]
    [InlineData("2")]   // one shard per process
    [InlineData("3")]   // uneven: rank 0 computes shard 0, rank 1 shards 1 and 2
    public void Two_processes_write_the_model_of_one_process_with_the_same_micro_shards(string shards)
    {
        string mpirun = RequireMpi();
        using var dir = new TempDir();
        SyntheticData.Blobs(dir["train.csv"], 60, seed: 3);
        string[] common = ["train", "--csv", dir["train.csv"], "--label-column", "label", "--layers", "2-16-3",
            "--epochs", "3", "--batch", "20", "--micro-shards", shards];

        var one = Cli.Run([.. common, "--out", dir["one.safetensors"]]);
        Assert.True(one.ExitCode == 0, one.ToString());
        string[] mpi = shards == "3" ? ["--distributed", "mpi"] : ["--mpi"];   // both spellings
        var two = MpiRun(mpirun, 2, [.. common, .. mpi, "--out", dir["two.safetensors"]]);
        Assert.True(two.ExitCode == 0, two.ToString());

        Assert.Equal(File.ReadAllBytes(dir["one.safetensors"]), File.ReadAllBytes(dir["two.safetensors"]));
        Assert.Single(Regex.Matches(two.Out, "model saved to"));   // rank 1 writes nothing and says nothing
        Assert.Contains("MPI: 2 processes", two.Out, StringComparison.Ordinal);
        // Bytes per step, exactly: rank 0 receives the shards it does not own, each the 99 float gradients of 2-16-3
        // (k = 2: one; k = 3: two). Rounded to KiB this printed "0 KiB".
        Assert.Contains($"({(shards == "2" ? 396 : 792)} bytes) received per step", two.Out, StringComparison.Ordinal);
        double[] losses = [.. Regex.Matches(two.Out, @"train loss ([0-9.]+)").Select(m => double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture))];
        Assert.Equal(3, losses.Length);
        Assert.True(losses[^1] < losses[0], $"the loss did not fall: {string.Join(", ", losses)}\n{two.Out}");
    }

    [SkippableFact]
    public void Fewer_micro_shards_than_processes_is_a_usage_error_on_every_rank()
    {
        string mpirun = RequireMpi();
        using var dir = new TempDir();
        SyntheticData.Blobs(dir["train.csv"], 10, seed: 3);
        var r = MpiRun(mpirun, 3, ["train", "--csv", dir["train.csv"], "--label-column", "label", "--layers", "2-4-3",
            "--epochs", "1", "--micro-shards", "2", "--mpi", "--out", dir["m.safetensors"]]);
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("--micro-shards 2 with 3 MPI processes", r.Error, StringComparison.Ordinal);
        Assert.False(File.Exists(dir["m.safetensors"]));
    }

    [Theory]
    [InlineData("--optimizer", "kfac")]
    [InlineData("--model", "lstm")]
    [InlineData("--diagnostics", null)]
    public void Mpi_with_what_cannot_be_sharded_is_a_usage_error(string option, string? value)
    {
        string[] args = value is null ? ["--mpi", option] : ["--mpi", option, value];
        var e = Assert.Throws<UsageException>(() => TrainCommand.Parse(args));
        Assert.Contains("--mpi", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Mpi_with_task_chars_is_a_usage_error()
    {
        var r = Cli.Run("train", "--task", "chars", "--mpi");
        Assert.True(r.ExitCode == ExitCodes.Usage, r.ToString());
        Assert.Contains("--mpi does not apply to --task chars", r.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Mpi_is_off_unless_asked() => Assert.False(TrainCommand.Parse().Mpi);

    /// <summary>Issue 15 spells it <c>--distributed mpi</c>: the same switch, with the same refusals; other engines are
    /// usage errors.</summary>
    [Fact]
    public void Distributed_mpi_is_mpi()
    {
        Assert.True(TrainCommand.Parse("--distributed", "mpi").Mpi);
        Assert.Contains("--mpi", Assert.Throws<UsageException>(() => TrainCommand.Parse("--distributed", "mpi", "--optimizer", "kfac")).Message, StringComparison.Ordinal);
        var r = Cli.Run("train", "--distributed", "tcp");
        Assert.True(r.ExitCode == ExitCodes.Usage, r.ToString());
        Assert.Contains("'tcp'", r.Error, StringComparison.Ordinal);
    }

    /// <summary>mpirun's path, or a skip saying what is missing.</summary>
    private static string RequireMpi()
    {
        string? mpirun = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator)
            .Select(d => Path.Combine(d, "mpirun")).FirstOrDefault(File.Exists);
        Skip.If(mpirun is null, "mpirun is not on PATH: install Open MPI (scripts/ci-deps.sh: apt-get install openmpi-bin libopenmpi-dev)");
        Skip.IfNot(MpiWorld.IsAvailable(out string? reason), reason);
        return mpirun!;
    }

    /// <summary>Runs the CLI as <paramref name="processes"/> MPI processes on this machine.</summary>
    private static Cli.Result MpiRun(string mpirun, int processes, string[] args)
    {
        var start = new ProcessStartInfo(mpirun)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        // More processes than cores is fine for a test (--oversubscribe); as root, Open MPI wants both consents.
        foreach (string a in (string[])["-np", processes.ToString(CultureInfo.InvariantCulture), "--oversubscribe"]) start.ArgumentList.Add(a);
        if (Environment.UserName == "root") start.ArgumentList.Add("--allow-run-as-root");
        start.Environment["OMPI_ALLOW_RUN_AS_ROOT"] = "1";
        start.Environment["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1";
        start.Environment["TERM"] = "dumb";
        start.ArgumentList.Add(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet");
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "backprop.dll"));
        foreach (string a in args) start.ArgumentList.Add(a);
        using var p = Process.Start(start)!;
        var error = p.StandardError.ReadToEndAsync();
        string output = p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(TimeSpan.FromMinutes(3)))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail($"mpirun did not finish in 3 minutes\n{output}");
        }
        return new Cli.Result(p.ExitCode, output, error.Result);
    }
}
