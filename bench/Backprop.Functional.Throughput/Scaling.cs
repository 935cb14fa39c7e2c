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

    /// <summary>`--pool`: the pool's hand-off probe on during the timed rounds, one bank per configuration.</summary>
    private static bool s_pool, s_phases;

    public static void Run(int rounds, string? only, bool gemms, bool pool = false, bool phases = false)
    {
        s_pool = pool;
        s_phases = phases;
        if (gemms)
        {
            foreach (var shape in Shapes)
                if (only is null || shape.Name.Contains(only, StringComparison.OrdinalIgnoreCase)) GemmBreakdown(shape);
            return;
        }
        Console.WriteLine("| shape | batch | MFLOP/step | θ KB | 1 thread steps/s | 2 GEMM threads | ratio | 2 threads, k = 2 | ratio | rule with k = 2 | k = 2, shards at once whatever θ | 2 GEMM threads, halves (before the ninth pass) | balanced ÷ halves (rounds) | load | 2 GEMM, no take-back | 2 GEMM, split only m·n·k ≥ 2²² |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
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
        using var noTake = Make("2 GEMM, no take-back", 2, 1);
        using var big = Make("2 GEMM, volume ≥ 2²²", 2, 1);
        Config[] configs = [one, gemm, shards, atOnce, halves, noTake, big];
        var takeBack = DataParallelBench.GemmField("Pool", "TakeBack", generic: false);
        var minVolume = DataParallelBench.GemmField("Team`1", "MinVolume", generic: true);
        var balanced = DataParallelBench.GemmField("Team`1", "Balanced", generic: true);
        var spinField = DataParallelBench.GemmField("Pool", "JoinSpinTicks", generic: false);
        var seedField = typeof(Network<float>).Assembly.GetType("Backprop.Functional.Kernels.Gemm")!
            .GetField("SeedInTeam", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!;
        long spin = (long)spinField.GetValue(null)!;
        long step = 0;
        int perRound = Math.Max(2, (int)(0.15e3 * 20 / mflop));   // ~0.15 s at ~20 GFLOP/s
        long rule = (long)MaxParallelBytesField.GetValue(null)!;
        var probeOn = DataParallelBench.GemmField("Pool", "HandOffProbe", generic: false);
        var probeBank = DataParallelBench.GemmField("Pool", "HandOffBank", generic: false);
        var probeSums = (long[])DataParallelBench.GemmField("Pool", "HandOffSums", generic: false).GetValue(null)!;
        bool probing = false;
        double Round(Config c)
        {
            probeOn.SetValue(null, probing);
            takeBack.SetValue(null, c != noTake);
            minVolume.SetValue(null, c == big ? 1L << 22 : 0L);
            probeBank.SetValue(null, Array.IndexOf(configs, c));
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
        Array.Clear(probeSums);
        probing = s_pool;
        var trips = new List<double>();
        for (int r = 0; r < rounds; r++)
        {
            trips.Add(CrossCore.RoundTripNs());
            foreach (var c in (r & 1) == 0 ? configs : configs.Reverse())
                c.Rates.Add(Round(c));
        }
        probing = false;
        probeOn.SetValue(null, false);
        if (s_phases)
        {
            // every phase of the step (the phase probe records only the whole-update step): one thread and two GEMM threads
            var layerwise = DataParallelBench.LayerwiseField();
            var enabled = DataParallelBench.ProbeField("Enabled");
            var bank = DataParallelBench.ProbeField("Bank");
            layerwise.SetValue(null, false);
            DataParallelBench.ProbeCall("ResetPhases");
            Round(one); Round(gemm);
            enabled.SetValue(null, true);
            for (int r = 0; r < 3; r++)
            {
                bank.SetValue(null, 0); Round(one);
                bank.SetValue(null, 1); Round(gemm);
            }
            enabled.SetValue(null, false);
            layerwise.SetValue(null, true);
            Console.WriteLine("phases, 1 thread (whole update after the backward pass):\n" + DataParallelBench.ProbeCall("PhaseTable", 0));
            Console.WriteLine("phases, 2 GEMM threads:\n" + DataParallelBench.ProbeCall("PhaseTable", 1));
        }
        static double Median(IEnumerable<double> values)
        {
            var s = values.Order().ToArray();
            return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
        }
        MaxParallelBytesField.SetValue(null, rule);
        takeBack.SetValue(null, true);
        minVolume.SetValue(null, 0L);
        balanced.SetValue(null, true);
        seedField.SetValue(null, true);
        spinField.SetValue(null, spin);
        double rh = Median(halves.Rates), ph = Median(halves.Rates.Zip(gemm.Rates, (a, b) => b / a));
        double r1 = Median(one.Rates), rg = Median(gemm.Rates), rs = Median(shards.Rates), ro = Median(atOnce.Rates);
        double pg = Median(one.Rates.Zip(gemm.Rates, (a, b) => b / a)), ps = Median(one.Rates.Zip(shards.Rates, (a, b) => b / a));
        string picked = one.Net.Layout.Count * 4L > rule ? "in turn, split GEMMs" : "at once";   // DataParallel.MaxParallelBytes
        string load = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "?";
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {shape.Name} | {shape.Batch} | {mflop:F0} | {one.Net.Layout.Count * 4L / 1024} | {r1:F1} | {rg:F1} | {rg / r1:F2}× (rounds {pg:F2}×) | {rs:F1} | {rs / r1:F2}× (rounds {ps:F2}×) | {picked} | {ro / r1:F2}× | {rh / r1:F2}× | {ph:F3} | {load} | {Median(noTake.Rates) / r1:F2}× | {Median(big.Rates) / r1:F2}× |"));
        {
            // the same rounds by where the host had put the two vCPUs: near (a cache line crosses in < 250 ns both ways)
            // or far (another CCD); the round trip is measured before each round's configurations
            var near = Enumerable.Range(0, rounds).Where(r => trips[r] < 250).ToArray();
            var far = Enumerable.Range(0, rounds).Where(r => trips[r] >= 250).ToArray();
            string By(Config c, int[] rs) => rs.Length == 0 ? "–" : string.Create(CultureInfo.InvariantCulture,
                $"{Median(rs.Select(r => c.Rates[r] / one.Rates[r])):F2}×");
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"|   by placement | round trip {string.Join(" ", trips.Select(t => t.ToString("F0", CultureInfo.InvariantCulture)))} ns | near rounds {near.Length}: 2 GEMM {By(gemm, near)}, k = 2 {By(shards, near)}, at once {By(atOnce, near)}, vol ≥ 2²² {By(big, near)}, no take-back {By(noTake, near)} | far rounds {far.Length}: 2 GEMM {By(gemm, far)}, k = 2 {By(shards, far)}, at once {By(atOnce, far)}, vol ≥ 2²² {By(big, far)}, no take-back {By(noTake, far)} |"));
        }
        if (s_pool)
        {
            long steps = (long)rounds * perRound;
            double us = 1e6 / Stopwatch.Frequency;
            foreach (var c in configs)
            {
                var h = probeSums.AsSpan(Array.IndexOf(configs, c) * 9, 9);
                if (h[0] == 0) continue;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"|   pool, {c.Name} | jobs/step {h[0] / (double)steps:F1} | start {h[1] * us / h[0]:F2} µs/job | caller part {h[2] * us / steps:F1} µs/step | worker part {h[3] * us / steps:F1} | wait {h[4] * us / steps:F1} | hand-back {h[5] * us / h[0]:F2} µs/job | worker asleep {h[6]} of {h[0]} | joins blocked {h[7]} | taken back {h[8]} | step {1e6 / Median(c.Rates):F1} µs |"));
            }
        }
    }

    /// <summary>A cache line's round trip between two threads (ns): ~80 ns when the host runs the two vCPUs on one CCX,
    /// 450–750 ns when on two CCDs (this VM, 2026-11-27). After a 3 ms sleep, so the pool's worker has stopped spinning.</summary>
    internal static class CrossCore
    {
        public static double RoundTripNs(int trips = 4000)
        {
            Thread.Sleep(3);
            var line = new long[32];   // the value in the middle: a line of its own
            var other = new Thread(() =>
            {
                for (long i = 0; i < trips; i++)
                {
                    while (Volatile.Read(ref line[16]) != 2 * i + 1) { }
                    Volatile.Write(ref line[16], 2 * i + 2);
                }
            });
            other.Start();
            while (other.ThreadState == System.Threading.ThreadState.Unstarted) { }
            for (long i = 0; i < 200; i++)   // warm: both threads running
            {
                Volatile.Write(ref line[16], 2 * i + 1);
                while (Volatile.Read(ref line[16]) != 2 * i + 2) { }
            }
            long t0 = Stopwatch.GetTimestamp();
            for (long i = 200; i < trips; i++)
            {
                Volatile.Write(ref line[16], 2 * i + 1);
                while (Volatile.Read(ref line[16]) != 2 * i + 2) { }
            }
            double ns = Stopwatch.GetElapsedTime(t0).TotalNanoseconds / (trips - 200);
            other.Join();
            return ns;
        }
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
