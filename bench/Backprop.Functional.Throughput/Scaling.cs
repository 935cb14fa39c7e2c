using System.Diagnostics;
using System.Globalization;

namespace Backprop.Functional.Throughput;

/// <summary>`scaling [--rounds R] [--only NAME]`: training steps of 50 MFLOP or more on shapes nobody tuned for (odd
/// widths, deep and narrow, wide and shallow, batches 17 / 100 / 300), one thread against two, in one process: rounds of
/// about 0.15 s alternate among one thread, two GEMM threads (k = 1) and two threads with two micro-shards (the rule then
/// runs the shards at once or in turn), so all see the same load; medians of steps/s per configuration and the median of
/// the per-round ratios. Synthetic data, Adam.</summary>
internal static class Scaling
{
    private sealed record Shape(string Name, int[] Widths, int Batch, ActivationKind Output, LossKind Loss);

    private static readonly Shape[] Shapes =
    [
        new("odd widths 1000-333-77-10", [1000, 333, 77, 10], 100, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy),
        new("deep narrow 100-96×8-10", [100, 96, 96, 96, 96, 96, 96, 96, 96, 10], 300, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy),
        new("wide shallow 300-3001-7", [300, 3001, 7], 17, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy),
        new("tapering 513-257-129-65-3", [513, 257, 129, 65, 3], 100, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy),
        new("784-1000-10, batch 33", [784, 1000, 10], 33, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy),
        new("bottleneck 2000-50-2000 (sigmoid, quadratic)", [2000, 50, 2000], 64, ActivationKind.Sigmoid, LossKind.Quadratic),
        new("64-500-500-500-64, batch 17 (quadratic)", [64, 500, 500, 500, 64], 17, ActivationKind.Identity, LossKind.Quadratic),
    ];

    private sealed class Config(string name, Network<float> net, TrainState<float> state) : IDisposable
    {
        public string Name { get; } = name;
        public Network<float> Net { get; } = net;
        public TrainState<float> State { get; } = state;
        public List<double> Rates { get; } = [];

        public void Dispose()
        {
            State.Dispose();
            Net.Dispose();
        }
    }

    public static void Run(int rounds, string? only, bool gemms)
    {
        if (gemms)
        {
            foreach (var shape in Shapes)
                if (only is null || shape.Name.Contains(only, StringComparison.OrdinalIgnoreCase)) GemmBreakdown(shape);
            return;
        }
        Console.WriteLine("| shape | batch | MFLOP/step | θ KB | 1 thread steps/s | 2 GEMM threads | ratio | 2 threads, k = 2 | ratio | rule with k = 2 | k = 2, shards at once whatever θ | 2 GEMM threads, halves (before the ninth pass) | balanced ÷ halves (rounds) | load |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (var shape in Shapes)
        {
            if (only is not null && !shape.Name.Contains(only, StringComparison.OrdinalIgnoreCase)) continue;
            Measure(shape, rounds);
        }
    }

    private static void Measure(Shape shape, int rounds)
    {
        var spec = NetworkSpec.Mlp(shape.Widths, ActivationKind.ReLU, shape.Output, shape.Loss);
        long weights = 0;
        for (int l = 1; l < shape.Widths.Length; l++) weights += (long)shape.Widths[l - 1] * shape.Widths[l];
        double mflop = 6.0 * shape.Batch * weights / 1e6;   // forward 2mnk, backward δ and ∂W 4mnk per layer
        var random = new Random(11);
        int inputs = shape.Widths[0], outputs = shape.Widths[^1];
        var xs = new float[8][];
        var ys = new float[8][];
        for (int b = 0; b < xs.Length; b++)
        {
            xs[b] = new float[shape.Batch * inputs];
            ys[b] = new float[shape.Batch * outputs];
            for (int i = 0; i < xs[b].Length; i++) xs[b][i] = random.NextSingle() - 0.5f;
            for (int r = 0; r < shape.Batch; r++)
            {
                if (shape.Loss == LossKind.SoftmaxCrossEntropy) ys[b][r * outputs + random.Next(outputs)] = 1;
                else for (int o = 0; o < outputs; o++) ys[b][r * outputs + o] = random.NextSingle();
            }
        }
        Config Make(string name, int threads, int k)
        {
            var net = Network<float>.Create(spec, 7);
            return new Config(name, net, new TrainState<float>(net, new Adam(1e-4), shape.Batch, threads) { MicroShards = k });
        }
        using var one = Make("1", 1, 1);
        using var gemm = Make("2 GEMM", 2, 1);
        using var shards = Make("2, k = 2", 2, 2);
        using var atOnce = Make("2, k = 2, at once whatever θ", 2, 2);
        using var halves = Make("2 GEMM, halves", 2, 1);
        Config[] configs = [one, gemm, shards, atOnce, halves];
        var balanced = DataParallelBench.GemmField("Team`1", "Balanced", generic: true);
        var spinField = DataParallelBench.GemmField("Pool", "JoinSpinTicks", generic: false);
        var seedField = typeof(Network<float>).Assembly.GetType("Backprop.Functional.Kernels.Gemm")!
            .GetField("SeedInTeam", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!;
        long spin = (long)spinField.GetValue(null)!;
        long step = 0;
        int perRound = Math.Max(2, (int)(0.15e3 * 20 / mflop));   // ~0.15 s at ~20 GFLOP/s
        long rule = (long)MaxParallelBytesField.GetValue(null)!;
        double Round(Config c)
        {
            MaxParallelBytesField.SetValue(null, c == atOnce ? long.MaxValue : rule);
            balanced.SetValue(null, c != halves);
            seedField.SetValue(null, c != halves);
            spinField.SetValue(null, c == halves ? Stopwatch.Frequency / 5000 : spin);
            long t0 = Stopwatch.GetTimestamp();
            for (int s = 0; s < perRound; s++, step++)
                Trainer.Step(c.Net, xs[step % xs.Length], ys[step % ys.Length], c.State);
            return perRound / Stopwatch.GetElapsedTime(t0).TotalSeconds;
        }
        var warm = Stopwatch.StartNew();
        while (warm.Elapsed.TotalSeconds < 1.5) foreach (var c in configs) Round(c);
        for (int r = 0; r < rounds; r++)
            foreach (var c in (r & 1) == 0 ? configs : configs.Reverse())
                c.Rates.Add(Round(c));
        static double Median(IEnumerable<double> values)
        {
            var s = values.Order().ToArray();
            return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
        }
        MaxParallelBytesField.SetValue(null, rule);
        balanced.SetValue(null, true);
        seedField.SetValue(null, true);
        spinField.SetValue(null, spin);
        double rh = Median(halves.Rates), ph = Median(halves.Rates.Zip(gemm.Rates, (a, b) => b / a));
        double r1 = Median(one.Rates), rg = Median(gemm.Rates), rs = Median(shards.Rates), ro = Median(atOnce.Rates);
        double pg = Median(one.Rates.Zip(gemm.Rates, (a, b) => b / a)), ps = Median(one.Rates.Zip(shards.Rates, (a, b) => b / a));
        string picked = one.Net.Layout.Count * 4L > rule ? "in turn, split GEMMs" : "at once";   // DataParallel.MaxParallelBytes
        string load = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "?";
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {shape.Name} | {shape.Batch} | {mflop:F0} | {one.Net.Layout.Count * 4L / 1024} | {r1:F1} | {rg:F1} | {rg / r1:F2}× (rounds {pg:F2}×) | {rs:F1} | {rs / r1:F2}× (rounds {ps:F2}×) | {picked} | {ro / r1:F2}× | {rh / r1:F2}× | {ph:F3} | {load} |"));
    }

    private const string Why = "DataParallel<float> is compiled anyway (the trainer uses it) and DynamicDependency keeps its field";

    /// <summary>DataParallel&lt;float&gt;.MaxParallelBytes (internal, the rule's θ threshold), by reflection as
    /// DataParallelBench's switches: one more configuration runs k = 2 with the shards at once whatever θ.</summary>
    [System.Diagnostics.CodeAnalysis.DynamicDependency(System.Diagnostics.CodeAnalysis.DynamicallyAccessedMemberTypes.NonPublicFields, "Backprop.Functional.DataParallel`1", "Backprop.Functional")]
    [System.Diagnostics.CodeAnalysis.UnconditionalSuppressMessage("Trimming", "IL2026", Justification = Why)]
    [System.Diagnostics.CodeAnalysis.UnconditionalSuppressMessage("Trimming", "IL2055", Justification = Why)]
    [System.Diagnostics.CodeAnalysis.UnconditionalSuppressMessage("Trimming", "IL2075", Justification = Why)]
    [System.Diagnostics.CodeAnalysis.UnconditionalSuppressMessage("AOT", "IL3050", Justification = Why)]
    private static System.Reflection.FieldInfo MaxParallelBytesFieldOf() =>
        typeof(Network<float>).Assembly.GetType("Backprop.Functional.DataParallel`1")!.MakeGenericType(typeof(float))
            .GetField("MaxParallelBytes", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!;

    private static readonly System.Reflection.FieldInfo MaxParallelBytesField = MaxParallelBytesFieldOf();

    /// <summary>Each layer's three products (forward x·Wᵀ, δ·W, δᵀ·a) on one and two threads, alternating; medians of
    /// 7 windows: which products lose the second core.</summary>
    private static void GemmBreakdown(Shape shape)
    {
        Console.WriteLine($"{shape.Name}, batch {shape.Batch}: product m × n × k, µs on 1 thread, on 2, ratio");
        int b = shape.Batch;
        for (int l = 1; l < shape.Widths.Length; l++)
        {
            int i = shape.Widths[l - 1], o = shape.Widths[l];
            foreach (var (name, m, n, k, ta, tb) in new[] { ("x·Wᵀ", b, o, i, false, true), ("δ·W", b, i, o, false, false), ("δᵀ·a", o, i, b, true, false) })
            {
                if (l == 1 && name == "δ·W") continue;
                var a = new float[m * k];
                var bb = new float[k * n];
                var c = new float[m * n];
                new Random(l).NextBytes(System.Runtime.InteropServices.MemoryMarshal.AsBytes(a.AsSpan()));
                for (int q = 0; q < a.Length; q++) a[q] = (q % 7) * 0.1f;
                for (int q = 0; q < bb.Length; q++) bb[q] = (q % 5) * 0.1f;
                long reps = Math.Max(1, (long)(2e7 / ((double)m * n * k)));
                double Window(int threads)
                {
                    long t0 = Stopwatch.GetTimestamp();
                    for (long r = 0; r < reps; r++) Kernels.Gemm.Multiply<float>(a, ta, bb, tb, c, m, n, k, false, threads);
                    return Stopwatch.GetElapsedTime(t0).TotalMicroseconds / reps;
                }
                Window(1); Window(2);
                var one = new List<double>();
                var two = new List<double>();
                for (int w = 0; w < 7; w++) { one.Add(Window(1)); two.Add(Window(2)); }
                double t1 = one.Order().ElementAt(3), t2 = two.Order().ElementAt(3);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  layer {l} {name} {m} × {n} × {k}: {t1:F1} / {t2:F1} µs, {t1 / t2:F2}×"));
            }
        }
    }
}
