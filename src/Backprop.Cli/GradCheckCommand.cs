using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Backprop.Functional;
using Spectre.Console;

namespace Backprop.Cli;

/// <summary><c>backprop gradcheck</c>: backprop's ∂C/∂θ against three finite-difference stencils on the same network, in
/// double: the largest relative error per tensor, and for a series of widths the passes each method made (counted as
/// they were made) and its wall time, so the cost of numerical gradients (N + 1, 2N, 4N cost evaluations against one
/// forward and one backward pass) is measured, with a log-log plot of time against N.</summary>
internal static class GradCheckCommand
{
    /// <summary>Hidden widths of the timing series when <c>--sizes</c> is not given: N grows about 100-fold.</summary>
    public static readonly int[] DefaultSizes = [2, 4, 8, 16, 32, 64, 128, 256];

    /// <summary>The largest network the series accepts: the stencils' time grows as N² (N evaluations of an O(N) cost).</summary>
    public const int MaxParameters = 50_000;

    public static Command Create(IAnsiConsole console)
    {
        var layers = new Option<string>("--layers") { Description = "Layer widths, input first; the per-tensor errors are for this network [default: 4-8-3]", HelpName = "W-W-…" };
        var activation = new Option<string>("--activation") { Description = "Hidden activation (the output is softmax with cross-entropy) [default: tanh]", HelpName = "NAME" }
            .AcceptOnlyFromAmong(Names.HiddenActivations);
        var sizes = new Option<string>("--sizes") { Description = $"Hidden widths of the timing series, comma-separated; each replaces every hidden width of --layers [default: {string.Join(',', DefaultSizes)}]", HelpName = "W,W,…" };
        var batch = new Option<int?>("--batch") { Description = "Rows of the random batch the cost is taken over [default: 8]", HelpName = "N" };
        var seed = new Option<long?>("--seed") { Description = "Seed of the weights and the batch [default: 0]", HelpName = "N" };
        var output = new Option<string>("--out") { Description = "Log-log plot of time against N [default: gradcheck.png]", HelpName = "FILE" };
        var command = new Command("gradcheck", "Backprop against forward, central and five-point differences: errors, cost evaluations and wall time as N grows")
        {
            layers, activation, sizes, batch, seed, output,
        };
        command.SetAction(parse =>
        {
            int[] widths = ParseWidths(parse.GetValue(layers) ?? "4-8-3");
            var hidden = Names.Activation(parse.GetValue(activation) ?? "tanh");
            int[] series = parse.GetValue(sizes) is { } text ? ParseSizes(text) : DefaultSizes;
            int rows = parse.GetValue(batch) ?? 8;
            if (rows is < 1 or > 4096) throw new UsageException("--batch must be 1 … 4096");
            if (widths.Length < 3) throw new UsageException($"--layers {string.Join('-', widths)} has no hidden layer for --sizes to widen; give at least input-hidden-output");
            foreach (int[] w in series.Select(s => WithHidden(widths, s)).Prepend(widths))
                if (Count(w) > MaxParameters)
                    throw new UsageException($"{string.Join('-', w)} has {Count(w):N0} parameters; gradcheck takes at most {MaxParameters:N0} (the stencils' time grows as N²)");
            string path = parse.GetValue(output) ?? "gradcheck.png";
            if (string.IsNullOrWhiteSpace(path)) throw new UsageException("--out needs a file name, not an empty value");
            OutputPath.Check(path);
            return Run(widths, hidden, series, rows, parse.GetValue(seed) ?? 0, path, console);
        });
        return command;
    }

    /// <summary>The methods, in table order: backprop and the three stencils.</summary>
    public static readonly (string Name, FiniteDifference? Stencil, string Cost)[] Methods =
    [
        ("backprop", null, "1 + 1"),
        ("forward", FiniteDifference.Forward, "N + 1"),
        ("central", FiniteDifference.Central, "2N"),
        ("five-point", FiniteDifference.FivePoint, "4N"),
    ];

    /// <summary>One method on one network: the passes it made (counted at the calls), its time per gradient, and per
    /// tensor the largest relative error against backprop (0 for backprop itself).</summary>
    public sealed record MethodResult(string Name, long ForwardPasses, long BackwardPasses, double Seconds, int Repeats,
        IReadOnlyList<(string Tensor, double MaxRelativeError)> Errors)
    {
        /// <summary>The cost evaluations as the notes count them: "1 + 1" for backprop, the forward passes otherwise.</summary>
        public string Evaluations => BackwardPasses > 0
            ? string.Create(CultureInfo.InvariantCulture, $"{ForwardPasses} + {BackwardPasses}")
            : ForwardPasses.ToString("N0", CultureInfo.InvariantCulture);

        /// <summary>The largest error over the tensors.</summary>
        public double MaxRelativeError => Errors.Count == 0 ? 0 : Errors.Max(e => e.MaxRelativeError);
    }

    /// <summary>All methods on one network.</summary>
    public sealed record Measurement(int[] Widths, int Parameters, IReadOnlyList<MethodResult> Methods);

    public static int Run(int[] widths, ActivationKind hidden, int[] sizes, int batch, long seed, string path, IAnsiConsole console)
    {
        ArgumentNullException.ThrowIfNull(console);
        var inv = CultureInfo.InvariantCulture;
        // Warm-up, discarded: the JIT compiles the hot methods again, optimised, only after they have run a while
        // (tiered compilation); timing before that measures the first tier.
        for (int i = 0; i < 3; i++)
            foreach (int[] w in (int[][])[widths, WithHidden(widths, sizes[0])]) Measure(w, hidden, batch, seed, minSeconds: 0.05);
        var first = Measure(widths, hidden, batch, seed, minSeconds: 0.02);
        console.Line(string.Create(inv,
            $"{Spec(widths, hidden)} in double, batch {batch}, seed {seed}: N = {first.Parameters:N0} parameters"));
        console.Line("largest relative error |g − ĝ| / max(|g|, |ĝ|, 1e-8) per tensor, against backprop:");
        var errors = new Table().Border(TableBorder.Simple).AddColumn("tensor");
        foreach (var m in first.Methods.Skip(1)) errors.AddColumn(new TableColumn(m.Name).RightAligned());
        for (int t = 0; t < first.Methods[1].Errors.Count; t++)
        {
            var cells = new List<string> { first.Methods[1].Errors[t].Tensor };
            cells.AddRange(first.Methods.Skip(1).Select(m => m.Errors[t].MaxRelativeError.ToString("0.0E+0", inv)));
            errors.AddRow([.. cells]);
        }
        console.Write(errors);

        var rows = new List<Measurement>();
        foreach (int size in sizes) rows.Add(Measure(WithHidden(widths, size), hidden, batch, seed, minSeconds: 0.25));

        console.Line("cost evaluations, counted at the calls (backprop: forward + backward passes):");
        var counts = NewTable(["network", "N", .. Methods.Select(m => m.Name)]);
        foreach (var m in rows)
            counts.AddRow([string.Join('-', m.Widths), m.Parameters.ToString("N0", inv), .. m.Methods.Select(r => r.Evaluations)]);
        counts.AddRow(["(the notes)", "", .. Methods.Select(m => m.Cost)]);
        console.Write(counts);
        console.Line("wall time per gradient (fastest of 5 rounds):");
        var times = NewTable(["network", "N", .. Methods.Select(m => m.Name), "central ÷ backprop"]);
        foreach (var m in rows)
            times.AddRow([string.Join('-', m.Widths), m.Parameters.ToString("N0", inv), .. m.Methods.Select(r => Time(r.Seconds)),
                (m.Methods[2].Seconds / m.Methods[0].Seconds).ToString("N0", inv) + "×"]);
        console.Write(times);
        string pattern = string.Join('-', widths.Select((w, l) => l == 0 || l == widths.Length - 1 ? w.ToString(inv) : "w"));
        var (written, note) = Plot(rows, $"{pattern}, {hidden} hidden, softmax + cross-entropy", batch, path);
        console.Line(note is null ? $"plot saved to {written}" : $"plot saved to {written} ({note})");
        return ExitCodes.Ok;
    }

    /// <summary>Every method on the network of <paramref name="widths"/>: each run repeated until it has taken at least
    /// <paramref name="minSeconds"/> (after one warm-up run), the time per run reported. The finite differences go through
    /// <see cref="GradientCheck.FiniteDifferences{T}(CostFunction{T}, Span{T}, Span{double}, GradientCheckOptions?)"/>
    /// with a cost that counts its calls; backprop through a forward and a backward pass that count theirs.</summary>
    public static Measurement Measure(int[] widths, ActivationKind hidden, int batch, long seed, double minSeconds)
    {
        ArgumentNullException.ThrowIfNull(widths);
        var spec = NetworkSpec.Mlp(widths, hidden, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy);
        using var net = Network<double>.Create(spec, seed, Initialization.Xavier);
        var (x, y) = Batch(widths[0], widths[^1], batch, seed);
        using var ws = net.CreateWorkspace(batch);
        var passes = new Passes(net, x, y, ws);
        int n = net.Layout.Count;
        var g = new double[n];
        var fd = new double[n];
        var results = new List<MethodResult>();
        foreach (var (name, stencil, _) in Methods)
        {
            var (seconds, repeats) = Timed(() =>
            {
                passes.Reset();
                if (stencil is { } s)
                    GradientCheck.FiniteDifferences<double>(passes.Cost, net.Parameters, fd, new GradientCheckOptions(s));
                else
                    passes.Gradient(g);
            }, minSeconds);
            var errors = new List<(string, double)>();
            if (stencil is not null)
                foreach (var slot in net.Layout.Slots)
                {
                    double worst = 0;
                    for (int i = slot.Offset; i < slot.Offset + slot.Length; i++)
                        worst = Math.Max(worst, GradientCheck.RelativeError(g[i], fd[i], 1e-8));
                    errors.Add((slot.Name, worst));
                }
            results.Add(new MethodResult(name, passes.Forwards, passes.Backwards, seconds, repeats, errors));
        }
        return new Measurement(widths, n, results);
    }

    /// <summary>The network's forward and backward passes, each call counted: the finite differences' cost
    /// evaluations and backprop's 1 + 1 are what these counters saw, not a formula.</summary>
    private sealed class Passes(Network<double> net, double[] x, double[] y, Workspace<double> ws)
    {
        public long Forwards { get; private set; }

        public long Backwards { get; private set; }

        public void Reset() => (Forwards, Backwards) = (0, 0);

        /// <summary>C(θ), one forward pass; θ is the network's own vector, which the stencil perturbs in place.</summary>
        public double Cost(ReadOnlySpan<double> theta)
        {
            Forwards++;
            return net.Cost(x, y, ws);
        }

        /// <summary>∂C/∂θ by backprop: one forward pass, then one backward pass.</summary>
        public void Gradient(Span<double> gradient)
        {
            Forwards++;
            net.Forward(x, ws);
            Backwards++;
            net.Backward(x, y, ws, gradient);
        }
    }

    private static Table NewTable(string[] headers)
    {
        var table = new Table().Border(TableBorder.Simple).AddColumn(headers[0]);
        foreach (string h in headers[1..]) table.AddColumn(new TableColumn(h).RightAligned());
        return table;
    }

    /// <summary>Time per run: one warm-up run, then 5 rounds each repeating the run for at least a fifth of
    /// <paramref name="minSeconds"/>; the fastest round's time per run (the others met more interference from the
    /// rest of the machine). Returns it and the runs made.</summary>
    private static (double Seconds, int Repeats) Timed(Action run, double minSeconds)
    {
        run();   // warm-up: caches, and this method's first JIT tier
        double best = double.PositiveInfinity;
        int total = 0;
        for (int round = 0; round < 5; round++)
        {
            var clock = Stopwatch.StartNew();
            int repeats = 0;
            do
            {
                run();
                repeats++;
            }
            while (clock.Elapsed.TotalSeconds < minSeconds / 5);
            best = Math.Min(best, clock.Elapsed.TotalSeconds / repeats);
            total += repeats;
        }
        return (best, total);
    }

    /// <summary>Inputs uniform in [−1, 1) and random one-hot targets, from the seed.</summary>
    private static (double[] X, double[] Y) Batch(int inputs, int classes, int batch, long seed)
    {
        var random = new Random(unchecked((int)seed) ^ 0x5EED);
        var x = new double[batch * inputs];
        for (int i = 0; i < x.Length; i++) x[i] = 2 * random.NextDouble() - 1;
        var y = new double[batch * classes];
        for (int r = 0; r < batch; r++) y[r * classes + random.Next(classes)] = 1;
        return (x, y);
    }

    private static string Spec(int[] widths, ActivationKind hidden) =>
        NetworkSpec.Mlp(widths, hidden, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy).ToString();

    private static string Time(double seconds) => seconds switch
    {
        < 1e-6 => string.Create(CultureInfo.InvariantCulture, $"{seconds * 1e9:0.#} ns"),
        < 1e-3 => string.Create(CultureInfo.InvariantCulture, $"{seconds * 1e6:0.#} µs"),
        < 1 => string.Create(CultureInfo.InvariantCulture, $"{seconds * 1e3:0.##} ms"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{seconds:0.##} s"),
    };

    /// <summary>Parameters of an MLP of these widths: Σ (inₗ + 1)·outₗ.</summary>
    public static long Count(int[] widths)
    {
        long n = 0;
        for (int l = 1; l < widths.Length; l++) n += (widths[l - 1] + 1L) * widths[l];
        return n;
    }

    /// <summary><paramref name="widths"/> with every hidden width replaced by <paramref name="hidden"/>.</summary>
    public static int[] WithHidden(int[] widths, int hidden)
    {
        var w = (int[])widths.Clone();
        for (int l = 1; l < w.Length - 1; l++) w[l] = hidden;
        return w;
    }

    private static int[] ParseWidths(string text)
    {
        var parts = text.Split('-');
        var w = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out w[i]) || w[i] < 1 || w[i] > 65_536)
                throw new UsageException($"--layers \"{text}\": each width must be a whole number 1 … 65536, as in 4-8-3");
        if (w.Length < 2) throw new UsageException($"--layers \"{text}\" needs at least an input and an output width");
        if (w[^1] < 2) throw new UsageException($"--layers \"{text}\": the softmax output needs at least 2 classes");
        return w;
    }

    private static int[] ParseSizes(string text)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        var sizes = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out sizes[i]) || sizes[i] < 1 || sizes[i] > 65_536)
                throw new UsageException($"--sizes \"{text}\": each size must be a whole number 1 … 65536, as in 2,4,8,16");
        return sizes;
    }

    /// <summary>log₁₀ seconds per gradient against log₁₀ N, one line per method, the axes labelled in powers of ten;
    /// PNG, or SVG when SkiaSharp's native library cannot load; written to a temporary and renamed into place.</summary>
    internal static (string Path, string? Note) Plot(IReadOnlyList<Measurement> rows, string network, int batch, string path)
    {
        ScottPlot.Plot Build()
        {
            var plot = new ScottPlot.Plot();
            var palette = new ScottPlot.Palettes.Category10();
            double[] n = [.. rows.Select(r => Math.Log10(r.Parameters))];
            for (int m = 0; m < Methods.Length; m++)
            {
                var line = plot.Add.Scatter(n, [.. rows.Select(r => Math.Log10(r.Methods[m].Seconds))]);
                line.LegendText = $"{Methods[m].Name} ({Methods[m].Cost})";
                line.Color = palette.GetColor(m);
                line.MarkerSize = 6;
            }
            plot.Axes.Bottom.TickGenerator = LogTicks(static v => Math.Pow(10, v).ToString("#,0", CultureInfo.InvariantCulture));
            plot.Axes.Left.TickGenerator = LogTicks(static v => Time(Math.Pow(10, v)));
            plot.Title($"Time per gradient: {network}, batch {batch}");
            plot.XLabel("parameters N (log scale)");
            plot.YLabel("seconds per gradient (log scale)");
            plot.ShowLegend(ScottPlot.Alignment.UpperLeft);
            return plot;
        }

        static ScottPlot.TickGenerators.NumericAutomatic LogTicks(Func<double, string> label) => new()
        {
            IntegerTicksOnly = true,
            MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
            LabelFormatter = label,
        };

        if (Path.GetDirectoryName(Path.GetFullPath(path)) is { } dir) Directory.CreateDirectory(dir);
        try
        {
            var plot = Build();
            TemporaryFiles.Replace(path, p => plot.SavePng(p, 800, 500));
            return (path, null);
        }
        catch (Exception e) when (e is DllNotFoundException or TypeInitializationException or EntryPointNotFoundException or BadImageFormatException)
        {
            string svg = Path.ChangeExtension(path, ".svg");
            var plot = Build();
            TemporaryFiles.Replace(svg, p => plot.SaveSvg(p, 800, 500));
            return (svg, $"PNG rendering unavailable ({e.GetType().Name}); wrote SVG instead");
        }
    }
}
