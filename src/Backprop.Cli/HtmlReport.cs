using System.Globalization;
using System.Net;
using System.Text;
using Backprop.Functional;
using Spectre.Console;

namespace Backprop.Cli;

/// <summary>Per-epoch, per-layer figures for the report: for each epoch, one value per layer of the gradient norm
/// ‖∂C/∂Wˡ‖ and of the fraction of saturated units. The report draws the gradient-flow and saturation plots from it.</summary>
/// <param name="Layers">Layer names, in order (e.g. "layer 1 (784-30)").</param>
/// <param name="GradientNorms">[epoch][layer]: ‖∂C/∂Wˡ‖ (positive; plotted on a log scale).</param>
/// <param name="SaturatedFractions">[epoch][layer]: fraction of units saturated, in [0, 1].</param>
internal sealed record ReportDiagnostics(IReadOnlyList<string> Layers, IReadOnlyList<double[]> GradientNorms,
    IReadOnlyList<double[]> SaturatedFractions)
{
    /// <summary>Throws when an epoch's row does not have one value per layer.</summary>
    public void Validate()
    {
        foreach (var rows in (IReadOnlyList<double[]>[])[GradientNorms, SaturatedFractions])
            foreach (var row in rows)
                if (row.Length != Layers.Count)
                    throw new ArgumentException($"diagnostics: {row.Length} values in an epoch's row for {Layers.Count} layers");
    }
}

/// <summary>What the report shows: the run's configuration, its epochs, the final evaluation and, when given, the
/// per-layer diagnostics.</summary>
/// <param name="Title">Heading, e.g. the network.</param>
/// <param name="Configuration">Name/value pairs, in order.</param>
/// <param name="Epochs">One per epoch.</param>
/// <param name="Classification">False for regression (no accuracy, no confusion matrix).</param>
/// <param name="TestName">"test", or "train-set" when the training set was evaluated.</param>
/// <param name="Diagnostics">Per-layer figures per epoch, or null.</param>
internal sealed record ReportInput(string Title, IReadOnlyList<(string Name, string Value)> Configuration,
    IReadOnlyList<EpochResult> Epochs, bool Classification, string TestName, ReportDiagnostics? Diagnostics = null);

/// <summary>One self-contained HTML file per training run, next to the model (<c>FILE.html</c>): configuration,
/// per-epoch metrics, plots (loss, accuracy; gradient flow and saturation when diagnostics are given) as base64 PNG
/// data URIs (inline SVG when SkiaSharp's native library cannot load), and the confusion matrix as a table. No script,
/// no external resource: it opens offline and can be mailed as one file.</summary>
internal static class HtmlReport
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>Larger confusion matrices are left out of the report (a note says so): a 65 536-class table is not read.</summary>
    public const int MaxConfusionClasses = 100;

    /// <summary>The report of a <c>backprop train</c> run.</summary>
    public static ReportInput ForTrain(TrainSettings s, NetworkSpec spec, Dataset train, Dataset test, bool testIsTrain,
        IReadOnlyList<EpochResult> epochs, bool classification, string testName)
    {
        ArgumentNullException.ThrowIfNull(s);
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(test);
        var config = new List<(string, string)>
        {
            ("network", spec.ToString()),
            ("training data", string.Create(Inv, $"{train.Name} ({train.Count:N0} rows, {train.Features} features)")),
            (testIsTrain ? "evaluated on" : "test data", testIsTrain ? "the training set (no test set given)" : string.Create(Inv, $"{test.Name} ({test.Count:N0} rows)")),
            ("optimizer", s.OptimizerText),
            ("schedule", s.Schedule.ToString()),
            ("L2 λ", s.L2.ToString(Inv)),
            ("gradient clipping", s.ClipNorm?.ToString(Inv) ?? "off"),
            ("initialisation", Names.Of(s.Init)),
            ("batch", s.Batch.ToString(Inv)),
            ("epochs", s.Epochs.ToString(Inv)),
            ("seed", s.Seed.ToString(Inv)),
            ("threads", s.Threads.ToString(Inv)),
        };
        if (s.Preset is not null) config.Add(("preset", s.Preset));
        config.Add(("model file", s.Out));
        config.Add(("written", DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", Inv)));
        return new ReportInput(spec.ToString(), config, epochs, classification, testName);
    }

    /// <summary>Writes <c>&lt;modelPath&gt;.html</c> to a temporary next to it and renames it into place: a failure or a
    /// kill mid-write leaves the previous report.</summary>
    /// <param name="png">Renders a plot as PNG bytes (ScottPlot's <c>GetImageBytes</c>; tests replace it).</param>
    /// <returns>The file written.</returns>
    public static string Write(string modelPath, ReportInput input, Func<ScottPlot.Plot, int, int, byte[]>? png = null)
    {
        string path = modelPath + ".html";
        string html = Render(input, png);
        TemporaryFiles.Replace(path, p => File.WriteAllText(p, html, new UTF8Encoding(false)));
        return path;
    }

    /// <summary>Writes the report and says where; if it cannot be written (the model is saved by then), one warning line
    /// goes to <paramref name="warnings"/> and the run still succeeds.</summary>
    public static void WriteOrWarn(string modelPath, ReportInput input, IAnsiConsole console, TextWriter warnings)
    {
        ArgumentNullException.ThrowIfNull(console);
        ArgumentNullException.ThrowIfNull(warnings);
        try
        {
            console.Line($"report saved to {Write(modelPath, input)}");
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            string reason = e.Message.ReplaceLineEndings(" ").Trim();
            warnings.WriteLine($"backprop: warning: could not write the report {modelPath}.html ({reason}); the model was saved to {modelPath}");
        }
    }

    /// <summary>The whole HTML document.</summary>
    public static string Render(ReportInput input, Func<ScottPlot.Plot, int, int, byte[]>? png = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        input.Diagnostics?.Validate();
        png ??= static (plot, w, h) => plot.GetImageBytes(w, h, ScottPlot.ImageFormat.Png);
        var epochs = input.Epochs;
        bool tested = epochs.Count > 0 && epochs.All(e => e.Test is not null);
        var sb = new StringBuilder();
        sb.Append("""
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            """).Append('\n');
        sb.Append(Inv, $"<title>backprop train: {E(input.Title)}</title>\n");
        sb.Append("""
            <style>
            body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 1000px; padding: 0 1em; color: #1b1b1b; }
            h1 { font-size: 1.5em; margin-bottom: .2em; } h2 { font-size: 1.2em; margin-top: 1.6em; border-bottom: 1px solid #ddd; }
            table { border-collapse: collapse; margin: .5em 0; font-variant-numeric: tabular-nums; }
            th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: right; }
            th { background: #f2f2f2; } td.name, th.name { text-align: left; }
            table.confusion td, table.confusion th { padding: .2em .45em; min-width: 2.2em; }
            figure { margin: 1em 0; } figure img, figure svg { max-width: 100%; height: auto; border: 1px solid #eee; }
            figcaption { color: #555; font-size: .9em; } p.note { color: #555; }
            </style>
            </head>
            <body>
            """).Append('\n');
        sb.Append(Inv, $"<h1>backprop train: {E(input.Title)}</h1>\n");

        sb.Append("<h2>Configuration</h2>\n<table id=\"configuration\">\n");
        foreach (var (name, value) in input.Configuration)
            sb.Append(Inv, $"<tr><th class=\"name\">{E(name)}</th><td class=\"name\">{E(value)}</td></tr>\n");
        sb.Append("</table>\n");

        sb.Append("<h2>Epochs</h2>\n<table id=\"epochs\">\n<thead><tr><th>epoch</th><th>train loss</th>");
        if (tested) sb.Append(Inv, $"<th>{E(input.TestName)} loss</th>");
        if (tested && input.Classification) sb.Append(Inv, $"<th>{E(input.TestName)} accuracy</th>");
        sb.Append("<th>samples/s</th><th>seconds</th></tr></thead>\n<tbody>\n");
        foreach (var e in epochs)
        {
            sb.Append(Inv, $"<tr><td>{e.Epoch}</td><td>{e.TrainLoss:F4}</td>");
            if (tested) sb.Append(Inv, $"<td>{e.Test!.Loss:F4}</td>");
            if (tested && input.Classification) sb.Append(Inv, $"<td>{e.Test!.Accuracy:F4}</td>");
            sb.Append(Inv, $"<td>{e.SamplesPerSecond:N0}</td><td>{e.Elapsed.TotalSeconds:F2}</td></tr>\n");
        }
        sb.Append("</tbody>\n</table>\n");

        sb.Append("<h2>Plots</h2>\n");
        Figure(sb, LossPlot(input, tested), "loss", "Loss per epoch: the mean batch cost while training, and the cost on the evaluated set after each epoch.", png);
        if (tested && input.Classification)
            Figure(sb, AccuracyPlot(input), "accuracy", $"Accuracy on the {input.TestName} set after each epoch.", png);
        if (input.Diagnostics is { } d)
        {
            Figure(sb, GradientFlowPlot(d), "gradient-flow", "Gradient flow: ‖∂C/∂Wˡ‖ per layer and epoch (log scale); early layers far below late ones learn slower.", png);
            Figure(sb, SaturationPlot(d), "saturation", "Saturated units: the fraction of each layer's units whose σ′(z) is near 0.", png);
        }

        if (input.Classification && epochs.Count > 0 && epochs[^1].Test is { } final)
        {
            sb.Append(Inv, $"<h2>Confusion matrix ({E(input.TestName)} set, after epoch {epochs[^1].Epoch})</h2>\n");
            if (final.Classes > MaxConfusionClasses)
                sb.Append(Inv, $"<p class=\"note\">{final.Classes} classes: the matrix is left out (more than {MaxConfusionClasses}).</p>\n");
            else Confusion(sb, final);
        }
        sb.Append("</body>\n</html>\n");
        return sb.ToString();
    }

    private static void Confusion(StringBuilder sb, Evaluation e)
    {
        int k = e.Classes;
        sb.Append("<table id=\"confusion\" class=\"confusion\">\n<thead><tr><th class=\"name\">label ↓ predicted →</th>");
        for (int j = 0; j < k; j++) sb.Append(Inv, $"<th>{j}</th>");
        sb.Append("<th>recall</th></tr></thead>\n<tbody>\n");
        for (int i = 0; i < k; i++)
        {
            long row = 0;
            for (int j = 0; j < k; j++) row += e.Confusion[i * k + j];
            sb.Append(Inv, $"<tr><th>{i}</th>");
            for (int j = 0; j < k; j++)
            {
                int count = e.Confusion[i * k + j];
                double share = row == 0 ? 0 : (double)count / row;
                // Correct predictions in blue, errors in red, the shade by the share of the row.
                string colour = i == j ? $"rgba(40, 110, 200, {0.1 + 0.6 * share:F2})" : count == 0 ? "transparent" : $"rgba(210, 60, 40, {0.1 + 0.9 * Math.Min(1, 5 * share):F2})";
                sb.Append(Inv, $"<td style=\"background: {colour}\">{count}</td>");
            }
            sb.Append(Inv, $"<td>{(row == 0 ? "–" : ((double)e.Confusion[i * k + i] / row).ToString("F3", Inv))}</td></tr>\n");
        }
        sb.Append("</tbody>\n</table>\n");
    }

    /// <summary>A plot as an &lt;img&gt; with a PNG data URI, or as inline SVG when the native renderer cannot load.</summary>
    private static void Figure(StringBuilder sb, ScottPlot.Plot plot, string id, string caption, Func<ScottPlot.Plot, int, int, byte[]> png)
    {
        const int width = 800, height = 400;
        sb.Append(Inv, $"<figure id=\"{id}\">\n");
        try
        {
            string data = Convert.ToBase64String(png(plot, width, height));
            sb.Append(Inv, $"<img alt=\"{E(caption)}\" width=\"{width}\" height=\"{height}\" src=\"data:image/png;base64,{data}\">\n");
        }
        catch (Exception e) when (e is DllNotFoundException or TypeInitializationException or EntryPointNotFoundException or BadImageFormatException)
        {
            string svg = plot.GetSvgXml(width, height);
            int start = svg.IndexOf("<svg", StringComparison.Ordinal);
            sb.Append(start >= 0 ? svg[start..] : svg).Append('\n');
        }
        sb.Append(Inv, $"<figcaption>{E(caption)}</figcaption>\n</figure>\n");
    }

    private static ScottPlot.Plot LossPlot(ReportInput input, bool tested)
    {
        var plot = new ScottPlot.Plot();
        double[] x = [.. input.Epochs.Select(e => (double)e.Epoch)];
        plot.Add.Scatter(x, [.. input.Epochs.Select(e => e.TrainLoss)]).LegendText = "train loss";
        if (tested) plot.Add.Scatter(x, [.. input.Epochs.Select(e => e.Test!.Loss)]).LegendText = $"{input.TestName} loss";
        plot.Title("Loss");
        plot.XLabel("epoch");
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };
        plot.YLabel("mean cost");
        plot.ShowLegend(ScottPlot.Alignment.UpperRight);
        return plot;
    }

    private static ScottPlot.Plot AccuracyPlot(ReportInput input)
    {
        var plot = new ScottPlot.Plot();
        double[] x = [.. input.Epochs.Select(e => (double)e.Epoch)];
        var line = plot.Add.Scatter(x, [.. input.Epochs.Select(e => e.Test!.Accuracy)]);
        line.LegendText = $"{input.TestName} accuracy";
        line.Color = new ScottPlot.Palettes.Category10().GetColor(2);
        plot.Title("Accuracy");
        plot.XLabel("epoch");
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };
        plot.YLabel("accuracy");
        plot.ShowLegend(ScottPlot.Alignment.LowerRight);
        return plot;
    }

    private static ScottPlot.Plot GradientFlowPlot(ReportDiagnostics d) => PerLayer(d, d.GradientNorms, log: true,
        "Gradient flow", "‖∂C/∂Wˡ‖ (log scale)");

    private static ScottPlot.Plot SaturationPlot(ReportDiagnostics d) => PerLayer(d, d.SaturatedFractions, log: false,
        "Saturated units", "fraction of units saturated");

    private static ScottPlot.Plot PerLayer(ReportDiagnostics d, IReadOnlyList<double[]> values, bool log, string title, string yLabel)
    {
        var plot = new ScottPlot.Plot();
        var palette = new ScottPlot.Palettes.Category10();
        double[] x = [.. Enumerable.Range(1, values.Count).Select(e => (double)e)];
        for (int l = 0; l < d.Layers.Count; l++)
        {
            int layer = l;
            var line = plot.Add.Scatter(x, [.. values.Select(row => log ? Math.Log10(Math.Max(row[layer], 1e-300)) : row[layer])]);
            line.LegendText = d.Layers[l];
            line.Color = palette.GetColor(l);
        }
        if (log)
            plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
            {
                IntegerTicksOnly = true,
                MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
                LabelFormatter = static v => Math.Pow(10, v).ToString("0.#E+0", CultureInfo.InvariantCulture),
            };
        plot.Title(title);
        plot.XLabel("epoch");
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };
        plot.YLabel(yLabel);
        plot.ShowLegend(ScottPlot.Edge.Right);   // beside the data: per-layer lines can be anywhere
        return plot;
    }

    private static string E(string text) => WebUtility.HtmlEncode(text);
}
