using Xunit;
using Backprop.Functional;

namespace Backprop.Cli.Tests;

/// <summary><c>backprop optimizer-race</c> end to end on fake MNIST: both tasks, the plots and the table, and its usage errors.</summary>
public class OptimizerRaceTests
{
    [Theory]
    [InlineData("classifier", "784-8-10", "accuracy")]
    [InlineData("autoencoder", "784-16-4-16-784", "squared error")]
    public void A_race_writes_two_plots_and_a_table_with_a_row_per_optimizer(string task, string widths, string metric)
    {
        using var dir = new TempDir();
        string data = FakeMnist(dir);
        string prefix = Path.Combine(dir.Path, "new", "race");   // a missing folder is created, as train does
        var r = Cli.Run("optimizer-race", "--task", task, "--widths", widths, "--optimizers", "momentum,adam",
            "--seconds", "0.3", "--evaluations", "3", "--data", data, "--out", prefix);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.True(new FileInfo(prefix + "-time.png").Length > 0);
        Assert.True(new FileInfo(prefix + "-epochs.png").Length > 0);
        string table = File.ReadAllText(prefix + ".md");
        Assert.Contains($"test {metric}", table, StringComparison.Ordinal);
        Assert.Contains("| momentum |", table, StringComparison.Ordinal);
        Assert.Contains("| adam |", table, StringComparison.Ordinal);
    }

    /// <summary>A learning-rate grid is one race (each rate its own row), and the autoencoder starts every optimizer from
    /// Martens' sparse initialisation unless told otherwise.</summary>
    [Fact]
    public void A_learning_rate_grid_races_each_rate_from_the_sparse_initialisation()
    {
        using var dir = new TempDir();
        string data = FakeMnist(dir);
        string prefix = Path.Combine(dir.Path, "grid");
        var r = Cli.Run("optimizer-race", "--task", "autoencoder", "--widths", "784-16-4-16-784", "--optimizers",
            "momentum:0.001,momentum:0.003", "--seconds", "0.2", "--evaluations", "2", "--data", data, "--out", prefix);
        Assert.True(r.ExitCode == 0, r.ToString());
        string table = File.ReadAllText(prefix + ".md");
        Assert.Contains("| momentum:0.001 | SGD + momentum η 0.001, μ 0.9, batch 64 |", table, StringComparison.Ordinal);
        Assert.Contains("| momentum:0.003 | SGD + momentum η 0.003, μ 0.9, batch 64 |", table, StringComparison.Ordinal);
        Assert.Contains("sparse initialisation", table, StringComparison.Ordinal);
    }

    /// <summary>Hessian-free's race settings are part of its name: gradient rows / Gv rows / CG cap, optionally a cap
    /// growing from K0 by γ per update; the table says which.</summary>
    [Fact]
    public void Hessian_free_settings_in_the_name_are_raced_and_described()
    {
        using var dir = new TempDir();
        string data = FakeMnist(dir);
        string prefix = Path.Combine(dir.Path, "hf");
        var r = Cli.Run("optimizer-race", "--task", "autoencoder", "--widths", "784-16-4-16-784", "--optimizers",
            "hessian-free:40/10/5,hessian-free:40/8/6/2/1.5,hessian-free:40/10/5/held=20/floor=0.1/damping=45", "--seconds", "0.3", "--evaluations", "2", "--data", data, "--out", prefix);
        Assert.True(r.ExitCode == 0, r.ToString());
        string table = File.ReadAllText(prefix + ".md");
        Assert.Contains("| hessian-free:40/10/5 | Hessian-free, gradient on 40 rows, Gv on 10, CG ≤ 5, preconditioned |", table, StringComparison.Ordinal);
        Assert.Contains("| hessian-free:40/8/6/2/1.5 | Hessian-free, gradient on 40 rows, Gv on 8, CG ≤ ⌈2·1.5ᵏ⌉ at update k, at most 6, preconditioned |", table, StringComparison.Ordinal);
        Assert.Contains("| hessian-free:40/10/5 | 0.0 | 0.00 | 0 | ", table, StringComparison.Ordinal);   // the curves, from θ₀ on
        Assert.Contains("| hessian-free:40/10/5/held=20/floor=0.1/damping=45 | Hessian-free, gradient on 40 rows, Gv on 10, CG ≤ 5, preconditioned, backtracking, ρ and line search on 20 held-out rows, λ ≥ 0.1, λ₀ 45 |", table, StringComparison.Ordinal);
        Assert.True(Racers.TryParseHessianFree("500/100/15/held=250/floor=0.05", out var race), "held and floor");
        Assert.Equal(new Racers.HessianFreeRace(500, 100, 15, 0, 1, 250, 0.05), race);
        Assert.Equal(1, race.Damping);   // λ₀ defaults to HessianFreeOptions' 1
        Assert.True(Racers.TryParseHessianFree("500/100/15/damping=45/floor=0.3", out race), "damping, in any order");
        Assert.Equal(new Racers.HessianFreeRace(500, 100, 15, 0, 1, 0, 0.3, 45), race);
        var options = Racers.Options(race);
        Assert.Equal((45.0, 0.3, 0.2, 15), (options.Damping, options.MinDamping, options.CurvatureFraction, options.Solver!.MaxIterations));
        Assert.Equal(HessianFreePreconditioner.Diagonal, options.Preconditioner);
        Assert.True(Racers.TryParseHessianFree("500/200/3/precond=kfac/floor=0.3/krows=50", out race), "precond and krows");
        Assert.Equal(new Racers.HessianFreeRace(500, 200, 3, 0, 1, 0, 0.3, 1, HessianFreePreconditioner.KFac, 50), race);
        options = Racers.Options(race);
        Assert.Equal((HessianFreePreconditioner.KFac, 50, 0.4), (options.Preconditioner, options.PreconditionerRows, options.CurvatureFraction));
        Assert.Equal(750, Racers.Create("hessian-free:500/100/15/held=250", OptimizerRace.Spec(new OptimizerRace.RaceSettings(true,
            [784, 16, 784], ActivationKind.Sigmoid, [], 1, 1, 0, 1, "x")), new OptimizerRace.RaceSettings(true, [784, 16, 784],
            ActivationKind.Sigmoid, [], 1, 1, 0, 1, "x")).Batch);   // the held-out rows come from the data stream too
    }

    [Theory]
    [InlineData("--optimizers", "adam,lbfgs", "unknown optimizer 'lbfgs'")]
    [InlineData("--optimizers", "kfac:0.1", "unknown optimizer 'kfac:0.1'")]
    [InlineData("--optimizers", "momentum:fast", "unknown optimizer 'momentum:fast'")]
    [InlineData("--optimizers", "hessian-free:10/20/5", "unknown optimizer 'hessian-free:10/20/5'")]
    [InlineData("--optimizers", "hessian-free:500/100", "unknown optimizer 'hessian-free:500/100'")]
    [InlineData("--optimizers", "hessian-free:500/100/15/20/1.1", "unknown optimizer 'hessian-free:500/100/15/20/1.1'")]
    [InlineData("--optimizers", "hessian-free:500/100/15/held=0", "unknown optimizer 'hessian-free:500/100/15/held=0'")]
    [InlineData("--optimizers", "hessian-free:500/100/15/floor=-1", "unknown optimizer 'hessian-free:500/100/15/floor=-1'")]
    [InlineData("--optimizers", "hessian-free:500/100/15/held=5/held=6", "unknown optimizer 'hessian-free:500/100/15/held=5/held=6'")]
    [InlineData("--optimizers", "hessian-free:500/100/15/lambda=1", "unknown optimizer 'hessian-free:500/100/15/lambda=1'")]
    [InlineData("--optimizers", "hessian-free:500/100/15/damping=0", "unknown optimizer 'hessian-free:500/100/15/damping=0'")]
    [InlineData("--optimizers", "hessian-free:500/100/15/damping=-45", "unknown optimizer 'hessian-free:500/100/15/damping=-45'")]
    [InlineData("--optimizers", "hessian-free:500/100/15/damping=Infinity", "unknown optimizer 'hessian-free:500/100/15/damping=Infinity'")]
    [InlineData("--optimizers", "hessian-free:500/100/15/damping=45/damping=9", "unknown optimizer 'hessian-free:500/100/15/damping=45/damping=9'")]
    [InlineData("--optimizers", "hessian-free:500/100/15/precond=lbfgs", "unknown optimizer 'hessian-free:500/100/15/precond=lbfgs'")]
    [InlineData("--optimizers", "hessian-free:500/100/15/precond=kfac/precond=diagonal", "unknown optimizer 'hessian-free:500/100/15/precond=kfac/precond=diagonal'")]
    [InlineData("--optimizers", "hessian-free:500/100/15/krows=0", "unknown optimizer 'hessian-free:500/100/15/krows=0'")]
    [InlineData("--optimizers", "hessian-free:500/200/3/precond=bogus", "/precond=kfac|diagonal and /krows=R)")]
    [InlineData("--init", "he", "sparse")]
    [InlineData("--seconds", "0", "--seconds must be")]
    [InlineData("--widths", "784-x-10", "each width must be")]
    public void Bad_options_are_usage_errors_naming_the_option(string option, string value, string message)
    {
        var r = Cli.Run("optimizer-race", option, value, "--data", "/nonexistent");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains(message, r.Error, StringComparison.Ordinal);
    }

    /// <summary>More GEMM threads than cores is refused, as <c>train --threads</c> refuses it (issue 15's rule: the threads
    /// never exceed the cores). It was accepted up to 256: <c>--threads 9</c> raced on two cores.</summary>
    [Fact]
    public void More_threads_than_cores_is_a_usage_error()
    {
        string threads = (Environment.ProcessorCount + 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var r = Cli.Run("optimizer-race", "--threads", threads, "--data", "/nonexistent");
        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.Contains($"--threads {threads}: this machine has {Environment.ProcessorCount} core", r.Error, StringComparison.Ordinal);
    }

    /// <summary>200 training and 50 test images of fake MNIST in a folder under <paramref name="dir"/>.</summary>
    private static string FakeMnist(TempDir dir)
    {
        string data = Path.Combine(dir.Path, "mnist");
        Directory.CreateDirectory(data);
        SyntheticData.FakeMnist(data, train: 200, test: 50, seed: 1);
        return data;
    }

    [Fact]
    public void An_output_prefix_under_a_file_is_refused_before_training()
    {
        using var dir = new TempDir();
        string file = Path.Combine(dir.Path, "plain");
        File.WriteAllText(file, "keep");
        var r = Cli.Run("optimizer-race", "--out", Path.Combine(file, "race"), "--data", "/nonexistent");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("is a file, not a folder", r.Error, StringComparison.Ordinal);
        Assert.Equal("keep", File.ReadAllText(file));
    }
}
