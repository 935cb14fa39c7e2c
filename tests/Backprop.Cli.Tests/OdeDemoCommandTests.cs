using Backprop.Functional;
using Xunit;

namespace Backprop.Cli.Tests;

/// <summary><c>backprop ode-demo</c>: the spiral on a tiny setting writes its plots and table, the memory table shows
/// discretise growing with T and the adjoint flat, the MNIST task trains both models on fake MNIST, and bad options are
/// refused with one line.</summary>
public class OdeDemoCommandTests
{
    [Fact]
    public void The_spiral_on_a_tiny_setting_writes_two_plots_and_the_table()
    {
        using var dir = new TempDir();
        string prefix = Path.Combine(dir.Path, "new", "spiral");   // a missing folder is created
        var r = Cli.Run("ode-demo", "--iterations", "6", "--points", "40", "--window", "4", "--batch", "3", "--hidden", "8", "--out", prefix);
        Assert.True(r.ExitCode == 0, r.ToString());
        foreach (string suffix in (string[])["-trajectory", "-loss"])
            Assert.True(File.Exists(prefix + suffix + ".png") || File.Exists(prefix + suffix + ".svg"), r.ToString());
        // NFE per iteration: 3 intervals × 1 RK4 step × 4 stages, forward and backward.
        Assert.Contains("NFE per iteration: forward 12, backward 12", r.Out, StringComparison.Ordinal);
        string table = File.ReadAllText(prefix + ".md");
        Assert.Contains("| 40 | 1600 | discretise | 6400 | 6400 |", table, StringComparison.Ordinal);
        Assert.Contains("| 40 | 1600 | adjoint | 6400 | 6400 |", table, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(prefix)!, "*.tmp-*"));
    }

    [Fact]
    public void The_memory_table_shows_discretise_growing_with_T_and_the_adjoint_flat()
    {
        var f = OdeFunction.Create(2, false, (8, ActivationKind.Tanh), (2, ActivationKind.Identity));
        var rng = new Random(3);
        double[] theta = [.. Enumerable.Range(0, f.ParameterCount).Select(_ => rng.NextDouble() - 0.5)];
        double[] observed = OdeSpiral.TrueTrajectory([.. Enumerable.Range(0, 20).Select(i => 25.0 * i / 19)]);
        var rows = OdeSpiral.MemoryTable(f, theta, 5, observed, rng);
        var discretise = rows.Where(r => r.Gradient == OdeGradient.Discretise).ToArray();
        var adjoint = rows.Where(r => r.Gradient == OdeGradient.Adjoint).ToArray();
        Assert.Equal(OdeSpiral.MemoryLengths, discretise.Select(r => r.Length));
        for (int i = 1; i < discretise.Length; i++)
        {
            Assert.True(discretise[i].ScratchBytes > discretise[i - 1].ScratchBytes, $"discretise at T = {discretise[i].Length}");
            // One state of 5 rows × 2 values per step, in double.
            Assert.Equal((discretise[i].Steps - discretise[i - 1].Steps) * 5 * 2 * 8, discretise[i].ScratchBytes - discretise[i - 1].ScratchBytes);
        }
        Assert.All(adjoint, r => Assert.Equal(adjoint[0].ScratchBytes, r.ScratchBytes));
        Assert.True(adjoint[0].ScratchBytes < discretise[0].ScratchBytes);
        foreach (var r in rows)
        {
            // The managed allocation of building the trajectory is its scratch plus a little bookkeeping; a warm iteration allocates nothing.
            Assert.InRange(r.BuildBytes - r.ScratchBytes, 0, 4096);
            Assert.Equal(0, r.IterationBytes);
            Assert.Equal(4 * r.Steps, r.ForwardEvaluations);
            Assert.Equal(4 * r.Steps, r.BackwardEvaluations);
        }
        // Both gradients of the same loss agree up to RK4's error at step 0.025.
        Assert.All(adjoint, r => Assert.True(r.GradientGap < 1e-3, r.ToString()));
    }

    [Fact]
    public void The_mnist_task_trains_the_ode_net_and_the_dense_net_and_reports_nfe()
    {
        using var dir = new TempDir();
        string data = Path.Combine(dir.Path, "mnist");
        Directory.CreateDirectory(data);
        SyntheticData.FakeMnist(data, train: 200, test: 50, seed: 1);
        string prefix = Path.Combine(dir.Path, "ode");
        var r = Cli.Run("ode-demo", "--task", "mnist", "--hidden", "8", "--solver", "rk4:3", "--data", data, "--out", prefix);
        Assert.True(r.ExitCode == 0, r.ToString());
        string table = File.ReadAllText(prefix + "-mnist.md");
        Assert.Contains("| ODE-Net | `784-8:Tanh,Ode(8;8:Tanh-8:Identity;rk4:3;0:1;adjoint),8-10:Softmax` |", table, StringComparison.Ordinal);
        Assert.Contains("| dense | `784-8:Tanh,8-10:Softmax` |", table, StringComparison.Ordinal);
        // 3 RK4 steps of 4 stages forward; the adjoint integrates back with the same steps.
        Assert.Contains("NFE per batch forward 12 backward 12", r.Out, StringComparison.Ordinal);
        Assert.Contains("at the initial θ, on the first batch: ‖g_adjoint − g_discretise‖ / ‖g_discretise‖ = ", r.Out, StringComparison.Ordinal);
        Assert.Contains("backprop train --layers \"784-8:Tanh,Ode(8;8:Tanh-8:Identity;rk4:3;0:1;adjoint),8-10:Softmax\"", r.Out, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--solver", "rk5:3", "--solver: \"rk5:3\" is not a solver")]
    [InlineData("--solver", "dopri5:2:1e-6:10", "rtol must be in (0, 1)")]
    [InlineData("--solver", "rk4:0", "--solver: solver \"rk4:0\": steps must be between 1 and 100000")]
    [InlineData("--gradient", "sideways", "--gradient \"sideways\" is not adjoint, adjoint:CHECKPOINTS or discretise")]
    [InlineData("--iterations", "0", "--iterations must be 1 … 1000000, not 0")]
    [InlineData("--window", "1", "--window must be 2 … 1000, not 1")]
    [InlineData("--noise", "-1", "--noise must be in [0, 100], not -1")]
    [InlineData("--epochs", "2", "--epochs applies to --task mnist, not spiral")]
    [InlineData("--out", "", "--out needs a prefix")]
    public void Bad_spiral_options_are_refused_with_one_line(string option, string value, string message)
    {
        var r = Cli.Run("ode-demo", option, value);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains(message, r.Error, StringComparison.Ordinal);
        Assert.Single(r.Error.Trim().Split('\n'));
        Assert.Equal("", r.Out);
        Assert.DoesNotContain("(Parameter", r.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--iterations", "5", "--iterations applies to --task spiral, not mnist")]
    [InlineData("--threads", "1000", "--threads must be 1 …")]
    public void Bad_mnist_options_are_refused_with_one_line(string option, string value, string message)
    {
        var r = Cli.Run("ode-demo", "--task", "mnist", option, value, "--data", "/nonexistent");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains(message, r.Error, StringComparison.Ordinal);
        Assert.Single(r.Error.Trim().Split('\n'));
    }

    [Fact]
    public void Checkpoints_as_many_as_the_steps_are_a_failure_before_training()
    {
        var r = Cli.Run("ode-demo", "--gradient", "adjoint:2", "--solver", "rk4:2", "--out", Path.Combine(Path.GetTempPath(), "never-written"));
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("2 checkpoints need more than 2 steps per interval", r.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("iteration", r.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void An_output_prefix_under_a_file_is_refused_before_training()
    {
        using var dir = new TempDir();
        string file = Path.Combine(dir.Path, "plain");
        File.WriteAllText(file, "keep");
        var r = Cli.Run("ode-demo", "--iterations", "2", "--out", Path.Combine(file, "spiral"));
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("is a file, not a folder", r.Error, StringComparison.Ordinal);
        Assert.Equal("keep", File.ReadAllText(file));
    }

    [Fact]
    public void Train_through_an_ODE_block_that_exceeds_its_step_limit_fails_with_one_line_and_keeps_the_model()
    {
        using var dir = new TempDir();
        SyntheticData.Blobs(dir["b.csv"], 40, seed: 1);
        File.WriteAllText(dir["m.safetensors"], "keep");
        var r = Cli.Run("train", "--csv", dir["b.csv"], "--label-column", "label", "--epochs", "1", "--out", dir["m.safetensors"],
            "--layers", "2-4:Tanh,Ode(4;4:Tanh-4:Identity;dopri5:1E-12:1E-14:1;0:10;adjoint),4-3:Softmax");
        Assert.True(r.ExitCode == 1, r.ToString());
        Assert.Contains("Dormand–Prince needed more than 1 accepted steps", r.Error, StringComparison.Ordinal);
        Assert.Single(r.Error.Trim().Split('\n'));
        Assert.Equal("keep", File.ReadAllText(dir["m.safetensors"]));
    }
}
