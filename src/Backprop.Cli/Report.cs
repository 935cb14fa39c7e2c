using System.Globalization;
using Backprop.Functional;
using Spectre.Console;

namespace Backprop.Cli;

/// <summary>What the commands print: epoch lines, the final accuracy, the confusion matrix.</summary>
internal static class Report
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary><c>epoch 3/5  train loss 0.0712  test loss 0.0801  test accuracy 0.9752  61,234 samples/s</c>.</summary>
    public static string EpochLine(EpochResult r, int epochs, bool classification, string testName = "test")
    {
        ArgumentNullException.ThrowIfNull(r);
        string line = string.Create(Inv, $"epoch {r.Epoch}/{epochs}  train loss {r.TrainLoss:F4}");
        if (r.Test is { } t)
        {
            line += string.Create(Inv, $"  {testName} loss {t.Loss:F4}");
            if (classification) line += string.Create(Inv, $"  {testName} accuracy {t.Accuracy:F4}");
        }

        return line + string.Create(Inv, $"  {r.SamplesPerSecond:N0} samples/s");
    }

    public static string Accuracy(double accuracy, string testName = "test") => string.Create(Inv, $"{testName} accuracy: {accuracy:F4}");

    /// <summary>The most classes the console shows a confusion matrix for (wider ones collapse to "…" in a terminal,
    /// and a table of 1,000 classes took 14 s to build).</summary>
    public const int MaxConsoleConfusionClasses = 32;

    /// <summary>Rows are true labels, columns predictions; the diagonal is highlighted. Above
    /// <see cref="MaxConsoleConfusionClasses"/> classes, or when the evaluation kept no matrix
    /// (<see cref="Evaluation.MaxConfusionClasses"/>), one line saying so.</summary>
    public static Spectre.Console.Rendering.IRenderable Confusion(Evaluation e)
    {
        ArgumentNullException.ThrowIfNull(e);
        if (e.Classes > MaxConsoleConfusionClasses || e.Confusion.Length != e.Classes * e.Classes)
            return new Text(string.Create(Inv, $"confusion matrix left out: {e.Classes} classes (it is shown for at most {MaxConsoleConfusionClasses})") + Environment.NewLine);
        var table = new Table().Border(TableBorder.Minimal).Title("confusion matrix (rows: label, columns: predicted)");
        table.AddColumn(new TableColumn("").RightAligned());
        for (int p = 0; p < e.Classes; p++) table.AddColumn(new TableColumn(p.ToString(Inv)).RightAligned());
        for (int label = 0; label < e.Classes; label++)
        {
            var cells = new List<Spectre.Console.Rendering.IRenderable> { new Markup($"[bold]{label.ToString(Inv)}[/]") };
            for (int p = 0; p < e.Classes; p++)
            {
                string n = e.Confusion[label * e.Classes + p].ToString(Inv);
                cells.Add(p == label ? new Markup($"[green]{n}[/]") : new Text(n));
            }

            table.AddRow(cells);
        }

        return table;
    }
}

/// <summary>Plain lines: through Spectre on a terminal (so they land above a live progress bar), straight to the
/// writer otherwise (so a pipe or log gets them unwrapped, one per line).</summary>
internal static class ConsoleLines
{
    public static void Line(this IAnsiConsole console, string text)
    {
        ArgumentNullException.ThrowIfNull(console);
        if (console.Profile.Capabilities.Interactive) console.WriteLine(text);
        else console.Profile.Out.Writer.WriteLine(text);
    }
}
