using System.Diagnostics;
using System.Globalization;
using System.Text;
using Backprop.Functional;
using Spectre.Console;

namespace Backprop.Cli;

/// <summary><c>backprop ode-demo --task spiral</c>: Chen et al.'s spiral demo (torchdiffeq's ode_demo.py) on
/// <see cref="OdeTrajectory{T}"/>. The true dynamics dh/dt = A·h³ (element-wise cube), A = [[−0.1, 2], [−2, −0.1]],
/// from h₀ = [2, 0] over [0, 25], observed at evenly spaced times; f = 2→H tanh→2 (no cube features, no time input) is
/// fitted by Adam on minibatches of short windows of the observations (random start, the window's first observation its
/// h₀), the loss mean |ĥ − h| over the window. Then a table of NFE and memory of the two gradients at growing
/// integration lengths.</summary>
internal static class OdeSpiral
{
    internal sealed record Settings(OdeGradient Gradient, int Checkpoints, OdeSolver Solver, int Hidden, double LearningRate,
        int Iterations, int Batch, int Window, int Points, double Noise, long Seed, string Output);

    /// <summary>One row of the memory table: a gradient at an integration length.</summary>
    internal sealed record MemoryRow(double Length, int Steps, OdeGradient Gradient, int ForwardEvaluations, int BackwardEvaluations,
        long ScratchBytes, long BuildBytes, long IterationBytes, double Milliseconds, double GradientGap);

    public const double Span = 25;
    private static readonly double[] H0 = [2, 0];

    /// <summary>The integration lengths of the memory table, with a fixed RK4 step of <see cref="MemoryStep"/>.</summary>
    internal static readonly double[] MemoryLengths = [5, 10, 20, 40];

    internal const double MemoryStep = 0.025;

    public static int Run(Settings s, IAnsiConsole console)
    {
        ArgumentNullException.ThrowIfNull(s);
        ArgumentNullException.ThrowIfNull(console);
        var c = CultureInfo.InvariantCulture;
        var rng = new Random(unchecked((int)s.Seed ^ (int)(s.Seed >> 32)));
        double[] times = [.. Enumerable.Range(0, s.Points).Select(i => Span * i / (s.Points - 1))];
        double[] truth = TrueTrajectory(times);
        double[] observed = [.. truth];
        if (s.Noise > 0)
            for (int i = 0; i < observed.Length; i++) observed[i] += s.Noise * Normal(rng);

        var f = OdeFunction.Create(2, false, (s.Hidden, ActivationKind.Tanh), (2, ActivationKind.Identity));
        double[] theta = Initial(f, rng);
        double[] windowTimes = times[..s.Window];
        var window = new OdeTrajectory<double>(f, s.Solver, windowTimes, s.Batch, s.Gradient, s.Checkpoints);
        var whole = new OdeTrajectory<double>(f, Longer(s.Solver, (s.Points - 1 + s.Window - 2) / (s.Window - 1)), times, 1, OdeGradient.Adjoint);
        console.Line(string.Create(c,
            $"spiral dh/dt = A·h³ from h₀ = [2, 0] over [0, {Span:G}], {s.Points} observations{(s.Noise > 0 ? $" (noise σ {s.Noise:G})" : "")}; f = 2-{s.Hidden}:Tanh-2:Identity ({f.ParameterCount} parameters), solver {s.Solver.Format()}, gradient {Describe(s.Gradient, s.Checkpoints)}"));
        console.Line(string.Create(c,
            $"Adam η {s.LearningRate:G} (cosine decay to 1 %), {s.Iterations} iterations of {s.Batch} windows of {s.Window} observations (Δt {times[1]:G4}), loss mean |ĥ − h|; scratch held {Kib(window.ScratchBytes)}"));

        var adam = new Adam(s.LearningRate);
        using var moments = adam.CreateBuffers<double>(theta.Length);
        var state = new OptimizerState(0);
        int nd = s.Batch * 2;
        var h0 = new double[nd];
        var target = new double[s.Window * nd];
        var states = new double[s.Window * nd];
        var dStates = new double[s.Window * nd];
        var dH0 = new double[nd];
        var dTheta = new double[theta.Length];
        var wholeStates = new double[s.Points * 2];
        var losses = new double[s.Iterations];
        var evaluations = new List<(int Iteration, double Loss)> { (0, WholeLoss(whole, theta, observed, wholeStates)) };
        long forwardNfe = 0, backwardNfe = 0;
        int every = Math.Max(1, s.Iterations / 15);
        var clock = Stopwatch.StartNew();
        console.Line("iteration  window loss  trajectory loss  NFE forward  NFE backward");
        for (int it = 0; it < s.Iterations; it++)
        {
            for (int r = 0; r < s.Batch; r++)
            {
                int start = rng.Next(s.Points - s.Window + 1);
                for (int k = 0; k < s.Window; k++)
                {
                    target[(k * s.Batch + r) * 2] = observed[(start + k) * 2];
                    target[(k * s.Batch + r) * 2 + 1] = observed[(start + k) * 2 + 1];
                }
            }
            target.AsSpan(0, nd).CopyTo(h0);
            OdeStatistics forward, backward;
            try
            {
                forward = window.Solve(theta, h0, states);
                double loss = 0, scale = 1.0 / ((s.Window - 1) * nd);
                dStates.AsSpan(0, nd).Clear();
                for (int i = nd; i < states.Length; i++)
                {
                    double e = states[i] - target[i];
                    loss += Math.Abs(e);
                    dStates[i] = Math.Sign(e) * scale;
                }
                losses[it] = loss * scale;
                backward = window.Gradient(theta, dStates, dH0, dTheta);
            }
            catch (OdeStepLimitException e)
            {
                throw new CliException($"iteration {it + 1}: {e.Message}");
            }
            if (!double.IsFinite(losses[it])) throw new CliException($"iteration {it + 1}: the loss became {losses[it]}; lower --lr");
            forwardNfe += forward.ForwardEvaluations;
            backwardNfe += backward.BackwardEvaluations;
            // Cosine decay to 1 % of η over the run: a constant η leaves the trajectory loss wandering at the end.
            double rate = s.LearningRate * (0.01 + 0.99 * 0.5 * (1 + Math.Cos(Math.PI * it / s.Iterations)));
            state = adam.Update(state, theta.AsSpan(), dTheta, moments, rate);
            if ((it + 1) % every == 0 || it == s.Iterations - 1)
            {
                double total = WholeLoss(whole, theta, observed, wholeStates);
                evaluations.Add((it + 1, total));
                console.Line(string.Create(c, $"{it + 1,9}  {losses[it],11:0.0000}  {total,15:0.0000}  {forward.ForwardEvaluations,11}  {backward.BackwardEvaluations,12}"));
            }
        }
        double seconds = clock.Elapsed.TotalSeconds;
        double final = evaluations[^1].Loss;
        console.Line(string.Create(c,
            $"trained in {seconds:0.0} s ({1000 * seconds / s.Iterations:0.00} ms per iteration with the evaluations); NFE per iteration: forward {(double)forwardNfe / s.Iterations:0.#}, backward {(double)backwardNfe / s.Iterations:0.#}"));
        console.Line(string.Create(c, $"trajectory loss (mean |ĥ − h| over all {s.Points} observations from h₀): {evaluations[0].Loss:0.0000} at the start, {final:0.0000} after training"));

        var rows = MemoryTable(f, theta, s.Batch, observed, rng);
        console.Line(string.Create(c, $"NFE and memory per iteration, h(T) from {s.Batch} states by RK4 with a fixed step {MemoryStep:G}; held = OdeTrajectory.ScratchBytes, built = bytes allocated building it, gap = ‖dθ − dθ_discretise‖/‖dθ_discretise‖:"));
        WriteMemoryTable(rows, console);

        string trajectoryPlot = s.Output + "-trajectory.png", lossPlot = s.Output + "-loss.png", markdown = s.Output + ".md";
        if (Path.GetDirectoryName(Path.GetFullPath(s.Output)) is { } folder) Directory.CreateDirectory(folder);
        string a = Save(TrajectoryPlot(observed, Fine(f, theta), s), trajectoryPlot);
        string b = Save(LossPlot(losses, evaluations), lossPlot);
        TemporaryFiles.Replace(markdown, path => File.WriteAllText(path, Markdown(s, f, evaluations, forwardNfe, backwardNfe, seconds, rows)));
        console.Line($"plots saved to {a} and {b}; table saved to {markdown}");
        return ExitCodes.Ok;
    }

    /// <summary>h at <paramref name="times"/> (from 0) under dh/dt = A·h³, by RK4 with 200 steps per interval: [times × 2].</summary>
    internal static double[] TrueTrajectory(double[] times)
    {
        var result = new double[times.Length * 2];
        double x = H0[0], y = H0[1];
        result[0] = x;
        result[1] = y;
        for (int k = 1; k < times.Length; k++)
        {
            const int sub = 200;
            double dt = (times[k] - times[k - 1]) / sub;
            for (int i = 0; i < sub; i++)
            {
                var (ax, ay) = Slope(x, y);
                var (bx, by) = Slope(x + 0.5 * dt * ax, y + 0.5 * dt * ay);
                var (cx, cy) = Slope(x + 0.5 * dt * bx, y + 0.5 * dt * by);
                var (dx, dy) = Slope(x + dt * cx, y + dt * cy);
                x += dt / 6 * (ax + 2 * bx + 2 * cx + dx);
                y += dt / 6 * (ay + 2 * by + 2 * cy + dy);
            }
            result[2 * k] = x;
            result[2 * k + 1] = y;
        }
        return result;

        static (double, double) Slope(double x, double y)
        {
            double x3 = x * x * x, y3 = y * y * y;
            return (-0.1 * x3 + 2.0 * y3, -2.0 * x3 - 0.1 * y3);
        }
    }

    /// <summary>f's initial θ: weights N(0, 1/fan-in), biases 0, in θ's order (each layer's weight [outputs × inputs], then
    /// its bias). torchdiffeq's demo draws N(0, 0.1²), which suits its cube features; without them the tanh layer must
    /// leave its linear range to bend the field into A·h³, and from 0.1 it learns a near-linear spiral instead.</summary>
    private static double[] Initial(OdeFunction f, Random rng)
    {
        var theta = new double[f.ParameterCount];
        int at = 0;
        foreach (var layer in f.Layers)
        {
            for (int i = 0; i < layer.Outputs * layer.Inputs; i++) theta[at++] = Math.Sqrt(1.0 / layer.Inputs) * Normal(rng);
            at += layer.Outputs;
        }
        return theta;
    }

    private const int FineSteps = 2000;

    /// <summary>The learned f's trajectory from h₀ over [0, 25] at 2001 times (RK4, one step each), cut at the first
    /// value that is not finite, for the plot.</summary>
    private static double[] Fine(OdeFunction f, double[] theta)
    {
        double[] times = [.. Enumerable.Range(0, FineSteps + 1).Select(i => Span * i / FineSteps)];
        var states = new double[times.Length * 2];
        new OdeTrajectory<double>(f, new RungeKutta4(1), times, 1).Solve(theta, H0, states);
        int end = Array.FindIndex(states, v => !double.IsFinite(v) || Math.Abs(v) > 1e6);
        return end < 0 ? states : states[..(end / 2 * 2)];
    }

    /// <summary>An adaptive solver over the whole trajectory may take <paramref name="factor"/>× the accepted steps of a window.</summary>
    private static OdeSolver Longer(OdeSolver solver, int factor) =>
        solver is DormandPrince dp
            ? new DormandPrince(dp.RelativeTolerance, dp.AbsoluteTolerance, (int)Math.Min(100_000L, (long)dp.MaxSteps * Math.Max(1, factor))) : solver;

    /// <summary>Mean |ĥ − h| over the whole trajectory solved from h₀ = [2, 0].</summary>
    private static double WholeLoss(OdeTrajectory<double> whole, double[] theta, double[] observed, double[] states)
    {
        try
        {
            whole.Solve(theta, H0, states);
        }
        catch (OdeStepLimitException)
        {
            return double.NaN;   // the learned dynamics cannot yet be integrated over [0, 25]; the windows train on
        }
        double sum = 0;
        for (int i = 2; i < states.Length; i++) sum += Math.Abs(states[i] - observed[i]);
        return sum / (states.Length - 2);
    }

    /// <summary>For each integration length T (fixed RK4 step <see cref="MemoryStep"/>, so the steps grow with T) and each
    /// gradient: one solve of h(T) from <paramref name="rows"/> observed states and the gradient of ½‖h(T)‖²/rows. Memory is
    /// <see cref="OdeTrajectory{T}.ScratchBytes"/>, cross-checked by the managed bytes allocated while building the
    /// trajectory; a warmed-up iteration allocates nothing (the least of three windows).</summary>
    internal static List<MemoryRow> MemoryTable(OdeFunction f, double[] theta, int rows, double[] observed, Random rng)
    {
        var h0 = new double[rows * 2];
        for (int r = 0; r < rows; r++)
        {
            int at = rng.Next(observed.Length / 2);
            h0[2 * r] = observed[2 * at];
            h0[2 * r + 1] = observed[2 * at + 1];
        }
        var table = new List<MemoryRow>();
        var states = new double[2 * rows * 2];
        var dStates = new double[states.Length];
        var dH0 = new double[rows * 2];
        var discretised = new double[theta.Length];
        var dTheta = new double[theta.Length];
        foreach (double length in MemoryLengths)
        {
            int steps = (int)Math.Round(length / MemoryStep);
            foreach (var gradient in (OdeGradient[])[OdeGradient.Discretise, OdeGradient.Adjoint])
            {
                long before = GC.GetAllocatedBytesForCurrentThread();
                var trajectory = new OdeTrajectory<double>(f, new RungeKutta4(steps), [0, length], rows, gradient);
                long built = GC.GetAllocatedBytesForCurrentThread() - before;
                (OdeStatistics Forward, OdeStatistics Backward) Iterate()
                {
                    var forward = trajectory.Solve(theta, h0, states);
                    for (int i = rows * 2; i < states.Length; i++) dStates[i] = states[i] / rows;
                    return (forward, trajectory.Gradient(theta, dStates, dH0, dTheta));
                }
                for (int i = 0; i < 3; i++) Iterate();
                const int repeats = 3;
                (OdeStatistics Forward, OdeStatistics Backward) last = default;
                long perIteration = long.MaxValue;
                double ms = double.PositiveInfinity;
                // The least of three windows of three warm iterations: an allocation in every iteration shows in every
                // window, while a one-off does not. Full CI runs (three test assemblies at once) twice counted 24 bytes in
                // one window that quiet runs never show, cause not found; the 0-byte guarantee of the ODE step itself is
                // OdeAllocationTests' (every window, every thread).
                for (int window = 0; window < 3; window++)
                {
                    var clock = Stopwatch.StartNew();
                    before = GC.GetAllocatedBytesForCurrentThread();
                    for (int i = 0; i < repeats; i++) last = Iterate();
                    perIteration = Math.Min(perIteration, (GC.GetAllocatedBytesForCurrentThread() - before) / repeats);
                    ms = Math.Min(ms, clock.Elapsed.TotalMilliseconds / repeats);
                }
                double gap = 0;
                if (gradient == OdeGradient.Discretise) dTheta.CopyTo(discretised, 0);
                else
                {
                    double diff = 0, norm = 0;
                    for (int i = 0; i < dTheta.Length; i++)
                    {
                        diff += (dTheta[i] - discretised[i]) * (dTheta[i] - discretised[i]);
                        norm += discretised[i] * discretised[i];
                    }
                    gap = Math.Sqrt(diff / Math.Max(norm, double.Epsilon));
                }
                table.Add(new MemoryRow(length, steps, gradient, last.Forward.ForwardEvaluations, last.Backward.BackwardEvaluations,
                    trajectory.ScratchBytes, built, perIteration, ms, gap));
            }
        }
        return table;
    }

    /// <summary>The table as plain fixed-width lines: a console that is not a terminal is 80 columns wide, which a
    /// ten-column Spectre table wraps cell by cell. PREFIX.md has the long headings.</summary>
    private static void WriteMemoryTable(List<MemoryRow> rows, IAnsiConsole console)
    {
        var c = CultureInfo.InvariantCulture;
        console.Line("    T  steps  gradient    NFE fwd  NFE bwd  held KiB  built KiB  B/iter  ms/iter      gap");
        foreach (var r in rows)
            console.Line(string.Create(c,
                $"{r.Length,5:G}  {r.Steps,5}  {Name(r.Gradient),-10}  {r.ForwardEvaluations,7}  {r.BackwardEvaluations,7}  {r.ScratchBytes / 1024.0,8:0.0}  {r.BuildBytes / 1024.0,9:0.0}  {r.IterationBytes,6}  {r.Milliseconds,7:0.0}  {(r.Gradient == OdeGradient.Adjoint ? r.GradientGap.ToString("0.0e+0", c) : ""),7}"));
    }

    private static string Markdown(Settings s, OdeFunction f, List<(int Iteration, double Loss)> evaluations, long forwardNfe, long backwardNfe,
        double seconds, List<MemoryRow> rows)
    {
        var c = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine(string.Create(c, $"Spiral dh/dt = A·h³, A = [[−0.1, 2], [−2, −0.1]], h₀ = [2, 0], {s.Points} observations over [0, {Span:G}]{(s.Noise > 0 ? $", noise σ {s.Noise:G}" : "")}."));
        sb.AppendLine(string.Create(c, $"f = 2-{s.Hidden}:Tanh-2:Identity ({f.ParameterCount} parameters), solver `{s.Solver.Format()}`, gradient {Describe(s.Gradient, s.Checkpoints)}, Adam η {s.LearningRate:G} (cosine decay to 1 %), {s.Iterations} iterations of {s.Batch} windows of {s.Window} observations, seed {s.Seed}."));
        sb.AppendLine(string.Create(c, $"Trajectory loss (mean |ĥ − h| from h₀ over all observations): {evaluations[0].Loss:0.0000} → {evaluations[^1].Loss:0.0000}; NFE per iteration: forward {(double)forwardNfe / s.Iterations:0.#}, backward {(double)backwardNfe / s.Iterations:0.#}; {seconds:0.0} s."));
        sb.AppendLine();
        sb.AppendLine(string.Create(c, $"h(T) from {s.Batch} observed states, RK4 with a fixed step {MemoryStep:G} (so the steps grow with T), loss ½‖h(T)‖²; memory is `OdeTrajectory.ScratchBytes`, cross-checked by the managed bytes allocated building it (`GC.GetAllocatedBytesForCurrentThread`)."));
        sb.AppendLine();
        sb.AppendLine("| T | RK4 steps | gradient | NFE forward | NFE backward | scratch held | allocated building | allocated per iteration (least of 3 windows) | ms per iteration | ‖dθ − dθ_discretise‖ / ‖dθ_discretise‖ |");
        sb.AppendLine("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in rows)
            sb.AppendLine(string.Create(c,
                $"| {r.Length:G} | {r.Steps} | {Name(r.Gradient)} | {r.ForwardEvaluations} | {r.BackwardEvaluations} | {Kib(r.ScratchBytes)} | {Kib(r.BuildBytes)} | {r.IterationBytes:N0} B | {r.Milliseconds:0.00} | {(r.Gradient == OdeGradient.Adjoint ? r.GradientGap.ToString("0.0e+0", c) : "")} |"));
        return sb.ToString();
    }

    private static ScottPlot.Plot TrajectoryPlot(double[] observed, double[] learned, Settings s)
    {
        var plot = new ScottPlot.Plot();
        double[] fine = [.. Enumerable.Range(0, 2001).Select(i => Span * i / 2000)];
        double[] curve = TrueTrajectory(fine);
        var t = plot.Add.Scatter(Xs(curve), Ys(curve));
        t.LegendText = "true dh/dt = A·h³";
        t.MarkerSize = 0;
        t.LineWidth = 2;
        int every = (observed.Length / 2 + 199) / 200;   // at most 200 markers
        double[] shown = [.. Enumerable.Range(0, observed.Length).Where(i => i / 2 % every == 0).Select(i => observed[i])];
        var o = plot.Add.ScatterPoints(Xs(shown), Ys(shown));
        o.LegendText = (s.Noise > 0 ? "observed (noisy)" : "observed") + (every > 1 ? string.Create(CultureInfo.InvariantCulture, $", every {every}th") : "");
        o.MarkerSize = 4;
        var l = plot.Add.Scatter(Xs(learned), Ys(learned));
        l.LegendText = string.Create(CultureInfo.InvariantCulture, $"learned f from h₀ (RK4, Δt {Span / FineSteps:G3})");
        l.MarkerSize = 0;
        l.LineWidth = 2;
        l.LinePattern = ScottPlot.LinePattern.Dashed;
        plot.Title(string.Create(CultureInfo.InvariantCulture, $"Spiral: true and learned trajectories ({s.Iterations} iterations, {Name(s.Gradient)}, {s.Solver.Format()})"));
        plot.XLabel("h₁");
        plot.YLabel("h₂");
        plot.Axes.SquareUnits();
        plot.ShowLegend(ScottPlot.Alignment.UpperRight);
        return plot;
    }

    private static ScottPlot.Plot LossPlot(double[] losses, List<(int Iteration, double Loss)> evaluations)
    {
        var plot = new ScottPlot.Plot();
        var w = plot.Add.Scatter(Enumerable.Range(1, losses.Length).Select(i => (double)i).ToArray(), losses.Select(Math.Log10).ToArray());
        w.LegendText = "window minibatch loss";
        w.MarkerSize = 0;
        w.Color = ScottPlot.Colors.LightSteelBlue;   // solid: a translucent line doubles the PNG
        int span = Math.Max(1, losses.Length / 100);
        if (span > 1)
        {
            // The mean over each run of span iterations: the trend under the minibatch noise.
            double[] xs = new double[losses.Length / span], ys = new double[xs.Length];
            for (int k = 0; k < xs.Length; k++)
            {
                xs[k] = (k + 0.5) * span;
                ys[k] = Math.Log10(losses.AsSpan(k * span, span).ToArray().Average());
            }
            var m = plot.Add.Scatter(xs, ys);
            m.LegendText = string.Create(CultureInfo.InvariantCulture, $"window loss, mean of {span} iterations");
            m.MarkerSize = 0;
            m.LineWidth = 2;
        }
        var finite = evaluations.Where(e => double.IsFinite(e.Loss)).ToArray();
        if (finite.Length > 0)
        {
            var e = plot.Add.Scatter(finite.Select(v => (double)v.Iteration).ToArray(), finite.Select(v => Math.Log10(v.Loss)).ToArray());
            e.LegendText = "whole trajectory from h₀";
            e.LineWidth = 2;
        }
        plot.Title("Spiral: loss mean |ĥ − h|");
        plot.XLabel("iteration");
        plot.YLabel("log₁₀ loss");
        plot.ShowLegend(ScottPlot.Alignment.UpperRight);
        return plot;
    }

    /// <summary>Saves a PNG, or an SVG beside it when the native renderer is missing (as the learning-curve plot does).</summary>
    internal static string Save(ScottPlot.Plot plot, string png)
    {
        try
        {
            TemporaryFiles.Replace(png, p => plot.SavePng(p, 800, 600));
            return png;
        }
        catch (Exception e) when (e is DllNotFoundException or TypeInitializationException or EntryPointNotFoundException or BadImageFormatException)
        {
            string svg = Path.ChangeExtension(png, ".svg");
            TemporaryFiles.Replace(svg, p => plot.SaveSvg(p, 800, 600));
            return svg;
        }
    }

    private static double[] Xs(double[] xy) => [.. Enumerable.Range(0, xy.Length / 2).Select(i => xy[2 * i])];

    private static double[] Ys(double[] xy) => [.. Enumerable.Range(0, xy.Length / 2).Select(i => xy[2 * i + 1])];

    internal static string Name(OdeGradient gradient) => gradient == OdeGradient.Adjoint ? "adjoint" : "discretise";

    internal static string Describe(OdeGradient gradient, int checkpoints) =>
        gradient == OdeGradient.Adjoint && checkpoints > 0 ? string.Create(CultureInfo.InvariantCulture, $"adjoint with {checkpoints} checkpoints") : Name(gradient);

    internal static string Kib(long bytes) => (bytes / 1024.0).ToString("N1", CultureInfo.InvariantCulture) + " KiB";

    private static double Normal(Random rng) => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
}
