using Backprop.Functional;
using Spectre.Console;

namespace Backprop.Cli;

/// <summary>Train and evaluation loss (left axis) and evaluation accuracy (right axis) per epoch, drawn with ScottPlot 5.
/// The evaluation curves carry the evaluated set's name: "test", or "train-set" when a run has no test set.</summary>
internal static class LearningCurvePlot
{
    /// <summary>Writes <c>&lt;modelPath&gt;.png</c>; if the native Skia renderer cannot save a PNG here, writes
    /// <c>&lt;modelPath&gt;.svg</c> through ScottPlot's SVG export instead. Either is written to a temporary and
    /// renamed over the old plot (<see cref="TemporaryFiles.Replace"/>): a failure or a kill mid-write leaves the previous plot.</summary>
    /// <param name="savePng">Saves a plot as PNG at a path (ScottPlot's <c>SavePng</c>; tests replace it).</param>
    /// <param name="evaluatedName">What the evaluation curves are labelled: "test", or "train-set" without a test set.</param>
    /// <returns>The file written and, for the fallback, why.</returns>
    public static (string Path, string? Note) Write(string modelPath, IReadOnlyList<EpochResult> epochs, bool classification,
        Action<ScottPlot.Plot, string>? savePng = null, string evaluatedName = "test")
    {
        ArgumentNullException.ThrowIfNull(epochs);
        string png = modelPath + ".png";
        savePng ??= static (plot, path) => plot.SavePng(path, 800, 500);
        try
        {
            var plot = Build(epochs, classification, evaluatedName);
            TemporaryFiles.Replace(png, path => savePng(plot, path));
            return (png, null);
        }
        catch (Exception e) when (e is DllNotFoundException or TypeInitializationException or EntryPointNotFoundException or BadImageFormatException)
        {
            string svg = modelPath + ".svg";
            var plot = Build(epochs, classification, evaluatedName);
            TemporaryFiles.Replace(svg, path => plot.SaveSvg(path, 800, 500));
            return (svg, $"PNG rendering unavailable ({e.GetType().Name}); wrote SVG instead");
        }
    }

    /// <summary>Writes the plot and says where; if it cannot be written (the model is saved by then), one warning
    /// line goes to <paramref name="warnings"/> and the run still succeeds.</summary>
    public static void WriteOrWarn(string modelPath, IReadOnlyList<EpochResult> epochs, bool classification, string evaluatedName,
        IAnsiConsole console, TextWriter warnings)
    {
        ArgumentNullException.ThrowIfNull(warnings);
        try
        {
            var (path, note) = Write(modelPath, epochs, classification, evaluatedName: evaluatedName);
            console.Line(note is null ? $"plot saved to {path}" : $"plot saved to {path} ({note})");
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            string reason = e.Message.ReplaceLineEndings(" ").Trim();
            warnings.WriteLine($"backprop: warning: could not write the plot {modelPath}.png ({reason}); the model was saved to {modelPath}");
        }
    }

    internal static ScottPlot.Plot Build(IReadOnlyList<EpochResult> epochs, bool classification, string evaluatedName)
    {
        double[] x = [.. epochs.Select(e => (double)e.Epoch)];
        var plot = new ScottPlot.Plot();
        var train = plot.Add.Scatter(x, [.. epochs.Select(e => e.TrainLoss)]);
        train.LegendText = "train loss";
        if (epochs.All(e => e.Test is not null))
        {
            var test = plot.Add.Scatter(x, [.. epochs.Select(e => e.Test!.Loss)]);
            test.LegendText = $"{evaluatedName} loss";
            if (classification)
            {
                var accuracy = plot.Add.Scatter(x, [.. epochs.Select(e => e.Test!.Accuracy)]);
                accuracy.LegendText = $"{evaluatedName} accuracy";
                accuracy.Axes.YAxis = plot.Axes.Right;
                plot.Axes.Right.Label.Text = $"{evaluatedName} accuracy";
            }
        }

        plot.Title("Learning curves");
        plot.XLabel("epoch");
        plot.YLabel("loss");
        plot.ShowLegend(ScottPlot.Alignment.MiddleRight);
        return plot;
    }
}
