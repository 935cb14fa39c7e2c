using System.Diagnostics;
using System.Globalization;

namespace Backprop.Functional.Benchmarks;

/// <summary>The one-sample Adam cases of <see cref="GeneratedVsRuntimeBench"/>, alternated in one process: runtime
/// <c>Trainer.Step</c>, generated <c>TrainOnline</c> with the optimizer passed, and with it declared, one block of steps
/// each, <c>alternations</c> times; per case the median of the per-alternation ratios (generated ÷ runtime time), so a
/// load change on the shared machine lands on both sides of a ratio. Also checks that every block allocated 0 bytes.
/// Run: <c>dotnet run -c Release --project bench/Backprop.Functional.Benchmarks -- alternate [alternations]</c>.</summary>
internal static class GeneratedAlternation
{
    private delegate float Step(StepCase c);

    public static void Run(int alternations)
    {
        var adam = new Adam(LearningRate: 0);   // η = 0: every step does the same work
        Case("16-16-1", Tiny16.Spec, 200_000, adam, alternations,
            c => Tiny16.TrainOnline<float>(c.Theta, c.X, c.Y, c.GeneratedWorkspace, c.Optimizer, ref c.GeneratedState, c.GeneratedBuffers),
            c => Tiny16Adam.TrainOnline<float>(c.Theta, c.X, c.Y, c.GeneratedWorkspace, ref c.GeneratedState, c.GeneratedBuffers));
        Case("2-16-1", Sine2.Spec, 200_000, adam, alternations,
            c => Sine2.TrainOnline<float>(c.Theta, c.X, c.Y, c.GeneratedWorkspace, c.Optimizer, ref c.GeneratedState, c.GeneratedBuffers),
            c => Sine2Adam.TrainOnline<float>(c.Theta, c.X, c.Y, c.GeneratedWorkspace, ref c.GeneratedState, c.GeneratedBuffers));
        Case("64-32-10", Mid64.Spec, 50_000, adam, alternations,
            c => Mid64.TrainOnline<float>(c.Theta, c.X, c.Y, c.GeneratedWorkspace, c.Optimizer, ref c.GeneratedState, c.GeneratedBuffers),
            c => Mid64Adam.TrainOnline<float>(c.Theta, c.X, c.Y, c.GeneratedWorkspace, ref c.GeneratedState, c.GeneratedBuffers));
        Case("784-32-10", Mnist32.Spec, 10_000, adam, alternations,
            c => Mnist32.TrainOnline<float>(c.Theta, c.X, c.Y, c.GeneratedWorkspace, c.Optimizer, ref c.GeneratedState, c.GeneratedBuffers),
            c => Mnist32Adam.TrainOnline<float>(c.Theta, c.X, c.Y, c.GeneratedWorkspace, ref c.GeneratedState, c.GeneratedBuffers));
    }

    private static void Case(string name, NetworkSpec spec, int steps, Optimizer optimizer, int alternations, Step passed, Step declared)
    {
        using var c = new StepCase(spec, 1, optimizer);
        Step runtime = s => s.RuntimeStep();
        Step[] steps3 = [runtime, passed, declared];
        // JIT, tiering, statics: each step runs for at least half a second before the first timed block. A fixed count
        // (steps / 10, 5 ms of 64-32-10) ended inside the tiered JIT's 100 ms delay, and the first alternation timed
        // tier-0 code (ratios of 1.1–2.9 where the others read 0.5).
        foreach (var s in steps3)
        {
            long warm = Stopwatch.GetTimestamp();
            while (Stopwatch.GetElapsedTime(warm).TotalMilliseconds < 500) Time(s, c, steps / 10, out _);
        }
        var ns = new double[3][];
        for (int k = 0; k < 3; k++) ns[k] = new double[alternations];
        long bytes = 0;
        for (int a = 0; a < alternations; a++)
        {
            for (int k = 0; k < 3; k++)
            {
                ns[k][a] = Time(steps3[k], c, steps, out long allocated);
                bytes += allocated;
            }
        }
        double Median(Func<int, double> f) => Enumerable.Range(0, alternations).Select(f).Order().ElementAt(alternations / 2);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{name,-10} runtime {Median(a => ns[0][a]),9:N1} ns  passed {Median(a => ns[1][a]),9:N1} ns ({Median(a => ns[1][a] / ns[0][a]):F3})  "
            + $"declared {Median(a => ns[2][a]),9:N1} ns ({Median(a => ns[2][a] / ns[0][a]):F3})  ratios passed [{string.Join(' ', Enumerable.Range(0, alternations).Select(a => (ns[1][a] / ns[0][a]).ToString("F2", CultureInfo.InvariantCulture)))}]"
            + $" declared [{string.Join(' ', Enumerable.Range(0, alternations).Select(a => (ns[2][a] / ns[0][a]).ToString("F2", CultureInfo.InvariantCulture)))}]  {bytes} B"));
    }

    /// <summary>ns per step over <paramref name="steps"/> steps, and the bytes those steps allocated.</summary>
    private static double Time(Step step, StepCase c, int steps, out long allocated)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        long start = Stopwatch.GetTimestamp();
        float sink = 0;
        for (int i = 0; i < steps; i++) sink += step(c);
        long ticks = Stopwatch.GetTimestamp() - start;
        allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        GC.KeepAlive(sink);
        return ticks * 1e9 / Stopwatch.Frequency / steps;
    }
}
