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

    /// <summary>A rank that dies ends the whole job: rank 1 is killed (SIGKILL, so nothing of ours runs on its way out)
    /// after rank 0 has printed its first epoch; mpirun names the rank and exits non-zero, rank 0 does not hang in the
    /// exchange, and the good model already at --out is left as it was.</summary>
    [SkippableFact]
    public void A_rank_that_dies_ends_the_job_naming_it_and_the_model_at_out_is_kept()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "the test finds rank 1's process through /proc (Linux only)");
        string mpirun = RequireMpi();
        using var dir = new TempDir();
        SyntheticData.Blobs(dir["train.csv"], 700, seed: 5);
        string[] common = ["train", "--csv", dir["train.csv"], "--label-column", "label", "--layers", "2-16-3", "--batch", "10"];
        var good = Cli.Run([.. common, "--epochs", "1", "--out", dir["m.safetensors"]]);
        Assert.True(good.ExitCode == 0, good.ToString());
        byte[] before = File.ReadAllBytes(dir["m.safetensors"]);

        string token = Guid.NewGuid().ToString("N");
        int killed = 0;
        var r = MpiRun(mpirun, 2, [.. common, "--epochs", "5000", "--mpi", "--out", dir["m.safetensors"]], token,
            line => { if (killed == 0 && line.Contains("train loss", StringComparison.Ordinal)) killed = KillRank(token, 1); });

        Assert.True(killed > 0, $"rank 1's process was not found to kill\n{r}");
        Assert.True(r.ExitCode != 0, r.ToString());
        Assert.Matches(@"rank 1\b", r.Out + r.Error);   // mpirun: "process rank 1 with PID … exited on signal 9 (Killed)"
        Assert.Equal(before, File.ReadAllBytes(dir["m.safetensors"]));
    }

    /// <summary>Kills (SIGKILL) the process of MPI rank <paramref name="rank"/> started with <paramref name="token"/> in
    /// its environment; returns its pid, or 0 if none was found.</summary>
    private static int KillRank(string token, int rank)
    {
        string mark = $"{TokenVariable}={token}", rankMark = $"OMPI_COMM_WORLD_RANK={rank.ToString(CultureInfo.InvariantCulture)}";
        foreach (string proc in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(proc), NumberStyles.None, CultureInfo.InvariantCulture, out int pid)) continue;
            string[] environment;
            try { environment = File.ReadAllText(Path.Combine(proc, "environ")).Split('\0'); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { continue; }   // gone, or not ours
            if (!environment.Contains(mark) || !environment.Contains(rankMark)) continue;
            try { Process.GetProcessById(pid).Kill(); }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException) { continue; }
            return pid;
        }
        return 0;
    }

    private const string TokenVariable = "BACKPROP_TEST_TOKEN";

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
    private static Cli.Result MpiRun(string mpirun, int processes, string[] args, string? token = null, Action<string>? onLine = null)
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
        if (token is not null)
        {
            start.Environment[TokenVariable] = token;   // exported to every rank, so the test can find their processes
            start.ArgumentList.Add("-x");
            start.ArgumentList.Add(TokenVariable);
        }
        start.ArgumentList.Add(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet");
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "backprop.dll"));
        foreach (string a in args) start.ArgumentList.Add(a);
        using var p = Process.Start(start)!;
        var error = p.StandardError.ReadToEndAsync();
        var lines = new StringBuilder();
        for (string? line; (line = p.StandardOutput.ReadLine()) is not null;)
        {
            lines.AppendLine(line);
            onLine?.Invoke(line);
        }
        string output = lines.ToString();
        if (!p.WaitForExit(TimeSpan.FromMinutes(3)))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail($"mpirun did not finish in 3 minutes\n{output}");
        }
        return new Cli.Result(p.ExitCode, output, error.Result);
    }
}
