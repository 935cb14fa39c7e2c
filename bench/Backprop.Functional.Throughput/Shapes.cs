using System.Diagnostics;
using System.Globalization;
using System.Text;
using Backprop.Functional.Kernels;

namespace Backprop.Functional.Throughput;

/// <summary>Shapes nobody tuned for: training-step throughput of three networks unlike the MNIST workloads, on
/// synthetic data, and single-thread GEMM efficiency over shapes larger than 64 in every dimension, relative to the
/// best of them. Prints (and optionally appends) a markdown section.</summary>
internal static class Shapes
{
    private sealed record Net(string Name, NetworkSpec Spec, int Batch, Func<Optimizer> Optimizer);

    private static readonly Net[] Nets =
    [
        new("100-50-1 regression (ReLU, identity, quadratic), Adam", NetworkSpec.Mlp([100, 50, 1], ActivationKind.ReLU, ActivationKind.Identity, LossKind.Quadratic), 32, () => new Adam(1e-3)),
        new("100-50-1 regression, online", NetworkSpec.Mlp([100, 50, 1], ActivationKind.ReLU, ActivationKind.Identity, LossKind.Quadratic), 1, () => new Sgd(1e-3)),
        new("256-256-256-256 tanh (quadratic), SGD", NetworkSpec.Mlp([256, 256, 256, 256], ActivationKind.Tanh, ActivationKind.Tanh, LossKind.Quadratic), 64, () => new Sgd(1e-3)),
        new("3000-10 logistic regression (softmax CE), SGD", NetworkSpec.Mlp([3000, 10], ActivationKind.Identity, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy), 64, () => new Sgd(1e-3)),
    ];

    private static readonly (int M, int N, int K)[] GemmShapes =
    [
        (65, 65, 65), (96, 80, 72), (100, 200, 300), (129, 257, 513), (256, 256, 256), (300, 100, 2000),
        (500, 70, 1000), (1000, 1000, 65), (784, 128, 256), (1024, 1024, 1024), (2000, 300, 100), (67, 3000, 67),
    ];

    public static void Run(string? appendTo)
    {
        var sb = new StringBuilder();
        sb.AppendLine();
        sb.AppendLine("## Shapes nobody tuned for");
        sb.AppendLine();
        sb.AppendLine(CultureInfo.InvariantCulture, $"`dotnet run -c Release --project bench/Backprop.Functional.Throughput -- shapes`, {DateTime.UtcNow:yyyy-MM-dd}, one thread, float, synthetic data; medians of 5 windows after a 1.5 s warm-up (GEMM: each cell the median of 7 windows of 0.1 s, taken in 7 sweeps over the whole table).");
        sb.AppendLine();
        sb.AppendLine("| network | batch | steps/s | samples/s | µs/step | bytes/step |");
        sb.AppendLine("|---|---|---|---|---|---|");
        foreach (var n in Nets)
        {
            var (steps, bytes) = StepRate(n);
            sb.AppendLine(CultureInfo.InvariantCulture, $"| {n.Name} | {n.Batch} | {steps:N0} | {steps * n.Batch:N0} | {1e6 / steps:F2} | {bytes:N0} |");
            Console.Error.WriteLine($"{n.Name}: {steps:N0} steps/s");
        }
        sb.AppendLine();
        sb.AppendLine("GEMM, C = op(A)·op(B), every dimension > 64, one thread (GFLOP/s; efficiency = ÷ the best figure in this table):");
        sb.AppendLine();
        sb.AppendLine("| m × n × k | NN | NT | TN | worst / best |");
        sb.AppendLine("|---|---|---|---|---|");
        // Sweeps over the whole table, one 0.1 s window per cell per sweep, median per cell: a burst of load on this
        // shared machine then costs one window of several cells rather than every window of one cell.
        const int Sweeps = 7;
        var modes = new[] { (false, false), (false, true), (true, false) };
        var cells = GemmShapes.SelectMany(s => modes.Select(md => new GemmCell(s.M, s.N, s.K, md.Item1, md.Item2))).ToArray();
        var windows = new double[cells.Length, Sweeps];
        for (int sweep = 0; sweep < Sweeps; sweep++)
            for (int c = 0; c < cells.Length; c++)
                windows[c, sweep] = cells[c].Window(warmUp: sweep == 0);
        var results = new List<(string Shape, double[] G)>();
        for (int sh = 0; sh < GemmShapes.Length; sh++)
        {
            var g = new double[3];
            for (int md = 0; md < 3; md++)
            {
                var w = Enumerable.Range(0, Sweeps).Select(i => windows[sh * 3 + md, i]).Order().ToArray();
                g[md] = w[Sweeps / 2];
            }
            var (m, n, k) = GemmShapes[sh];
            results.Add(($"{m} × {n} × {k}", g));
            Console.Error.WriteLine($"{m}x{n}x{k}: {string.Join(" ", g.Select(x => x.ToString("F1", CultureInfo.InvariantCulture)))}");
        }
        double best = results.Max(r => r.G.Max());
        foreach (var (shape, g) in results)
            sb.AppendLine(CultureInfo.InvariantCulture, $"| {shape} | {g[0]:F1} | {g[1]:F1} | {g[2]:F1} | {g.Min() / best:P0} |");
        double worst = results.Min(r => r.G.Min());
        sb.AppendLine();
        sb.AppendLine(CultureInfo.InvariantCulture, $"Best {best:F1} GFLOP/s, worst {worst:F1} ({worst / best:P0} of the best; the target is ≥ 75%).");
        Console.WriteLine(sb.ToString());
        if (appendTo is not null) File.AppendAllText(appendTo, sb.ToString());
    }

    private static (double StepsPerSecond, double BytesPerStep) StepRate(Net n)
    {
        using var net = Network<float>.Create(n.Spec, 1);
        var opt = n.Optimizer();
        var options = new TrainingOptions(BatchSize: n.Batch, Optimizer: opt);
        using var ws = net.CreateWorkspace(n.Batch);
        using var g = net.CreateGradient();
        using var buffers = opt.CreateBuffers<float>(net.Layout.Count);
        var random = new Random(7);
        var x = new float[n.Batch * n.Spec.Inputs];
        var y = new float[n.Batch * n.Spec.Outputs];
        for (int i = 0; i < x.Length; i++) x[i] = random.NextSingle() - 0.5f;
        for (int r = 0; r < n.Batch; r++)
        {
            if (n.Spec.Outputs == 1) y[r] = random.NextSingle();
            else y[r * n.Spec.Outputs + random.Next(n.Spec.Outputs)] = 1;
        }
        var state = new OptimizerState(0);
        var warm = Stopwatch.StartNew();
        while (warm.Elapsed.TotalSeconds < 1.5)
            Trainer.Step(net, x, y, ws, g.Span, opt, ref state, buffers, options, 0f);
        var rates = new double[5];
        long bytes = 0, total = 0;
        for (int w = 0; w < rates.Length; w++)
        {
            long a0 = GC.GetAllocatedBytesForCurrentThread();
            var sw = Stopwatch.StartNew();
            long s = 0;
            while (sw.Elapsed.TotalSeconds < 0.3)
            {
                for (int i = 0; i < 16; i++) Trainer.Step(net, x, y, ws, g.Span, opt, ref state, buffers, options, 0f);
                s += 16;
            }
            rates[w] = s / sw.Elapsed.TotalSeconds;
            bytes += GC.GetAllocatedBytesForCurrentThread() - a0;
            total += s;
        }
        Array.Sort(rates);
        return (rates[2], bytes / (double)total);
    }

    /// <summary>One GEMM shape and transposition with its operands, timed a window at a time.</summary>
    private sealed class GemmCell(int m, int n, int k, bool ta, bool tb)
    {
        private readonly float[] _a = Fill(m * k, m + n + k), _b = Fill(k * n, m + n + k + 1), _c = new float[m * n];

        public double Window(bool warmUp)
        {
            if (warmUp)
            {
                var warm = Stopwatch.StartNew();
                while (warm.Elapsed.TotalSeconds < 0.2) Gemm.Multiply<float>(_a, ta, _b, tb, _c, m, n, k, false);
            }
            var sw = Stopwatch.StartNew();
            long reps = 0;
            while (sw.Elapsed.TotalSeconds < 0.1)
            {
                Gemm.Multiply<float>(_a, ta, _b, tb, _c, m, n, k, false);
                reps++;
            }
            return 2.0 * m * n * k * reps / sw.Elapsed.TotalSeconds / 1e9;
        }

        private static float[] Fill(int length, int seed)
        {
            var random = new Random(seed);
            var x = new float[length];
            for (int i = 0; i < x.Length; i++) x[i] = random.NextSingle() - 0.5f;
            return x;
        }
    }
}
