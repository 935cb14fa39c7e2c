using System.Diagnostics;

namespace Backprop.Functional.Throughput;

/// <summary>`mp [--inputs I] [--outputs O] [--batch B] [--rounds R]`: one wide dense layer (ReLU), forward and backward
/// (∂C/∂W, ∂C/∂b, ∂C/∂x), float: the unsplit layer on one thread, the same layer in two row blocks run in turn on one
/// thread and on two workers (model parallelism), and the unsplit layer with two GEMM threads; alternating rounds in one
/// process, medians of the per-pass times, and the GFLOP/s of 3·2·B·I·O flops per pass.</summary>
internal static class ModelParallelBench
{
    public static void Run(int inputs, int outputs, int batch, int rounds)
    {
        var d = new Dense(inputs, outputs, ActivationKind.ReLU);
        var rng = new SeededRandom(1);
        var theta = new float[inputs * outputs + outputs];
        var x = new float[batch * inputs];
        for (int i = 0; i < theta.Length; i++) theta[i] = (float)rng.NextGaussian() * 0.03f;
        for (int i = 0; i < x.Length; i++) x[i] = (float)rng.NextDouble();
        var z = new float[batch * outputs];
        var a = new float[batch * outputs];
        var dy = new float[batch * outputs];
        var dx = new float[batch * inputs];
        var dTheta = new float[theta.Length];
        int weights = inputs * outputs;

        void Unsplit(int threads)
        {
            DenseKernel.Forward<ReLU, float>(theta, x, z, a, inputs, outputs, threads);
            a.CopyTo(dy);
            Equations.OutputError<ReLU, float>(dy, z, a, dy, outputs);
            Equations.WeightGradient<float>(dy, x, dTheta.AsSpan(0, weights), inputs, outputs, threads);
            Equations.BiasGradient<float>(dy, dTheta.AsSpan(weights, outputs));
            Equations.InputGradient<float>(theta.AsSpan(0, weights), dy, dx, inputs, outputs, threads);
        }
        var inTurn = new ModelParallelDense<float>(d, 2, batch, threads: 1);
        var atOnce = new ModelParallelDense<float>(d, 2, batch, threads: 2);
        void Split(ModelParallelDense<float> mp)
        {
            mp.Forward(theta, x, z, a);
            a.CopyTo(dy);
            mp.Backward(theta, x, z, a, dy, dx, dTheta);
        }
        (string Name, Action Pass)[] configs =
        [
            ("unsplit, 1 thread", () => Unsplit(1)),
            ("2 blocks in turn, 1 thread", () => Split(inTurn)),
            ("2 blocks, 2 workers (model parallel)", () => Split(atOnce)),
            ("unsplit, 2 GEMM threads", () => Unsplit(2)),
        ];
        var times = configs.Select(_ => new List<double>()).ToArray();
        int passes = Math.Max(1, (int)(2e9 / (6.0 * batch * inputs * outputs)));   // ~0.02 s a round at 100 GFLOP/s
        var warm = Stopwatch.StartNew();
        while (warm.Elapsed.TotalSeconds < 2) foreach (var c in configs) c.Pass();
        for (int r = 0; r < rounds; r++)
            for (int i = 0; i < configs.Length; i++)
            {
                int c = (r & 1) == 0 ? i : configs.Length - 1 - i;
                long t0 = Stopwatch.GetTimestamp();
                for (int p = 0; p < passes; p++) configs[c].Pass();
                times[c].Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds / passes);
            }
        double flops = 6.0 * batch * inputs * outputs;
        Console.WriteLine(FormattableString.Invariant($"layer {inputs}→{outputs} ReLU, batch {batch}, float, forward + backward ({flops / 1e6:F0} MFLOP a pass), {rounds} rounds × {passes} passes, load {File.ReadAllText("/proc/loadavg").Split(' ')[0]}"));
        Console.WriteLine("| configuration | ms / pass (median) | min–max of rounds | GFLOP/s | ÷ unsplit 1 thread |");
        Console.WriteLine("|---|---|---|---|---|");
        double baseMs = Median(times[0]);
        for (int c = 0; c < configs.Length; c++)
        {
            double ms = Median(times[c]);
            Console.WriteLine(FormattableString.Invariant($"| {configs[c].Name} | {ms:F3} | {times[c].Min():F3}–{times[c].Max():F3} | {flops / ms / 1e6:F1} | {baseMs / ms:F2}× |"));
        }
    }

    private static double Median(List<double> v)
    {
        var s = v.Order().ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }
}
