using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Backprop.Functional.Throughput;

/// <summary>The machine's fp32 FMA ceiling, measured rather than taken from a data sheet: a loop of nothing but
/// independent FMAs (12 accumulators, enough to cover the FMA latency on two pipes), on one thread and on every core,
/// with 256- and 512-bit vectors. A core that runs AVX-512 on 256-bit units (AMD Zen 4) shows the same rate for both.</summary>
internal static class Peak
{
    private const int Accumulators = 12;

    /// <summary>Best GFLOP/s over a few windows of about 0.2 s each.</summary>
    public static double Measure(int threads, bool wide)
    {
        long iterations = 2_000_000;
        Run(threads, wide, iterations / 10);   // JIT and warm-up
        double best = 0;
        for (int window = 0; window < 5; window++)
        {
            double seconds = Run(threads, wide, iterations);
            double flops = (double)iterations * threads * Accumulators * (wide ? Vector512<float>.Count : Vector256<float>.Count) * 2;
            best = Math.Max(best, flops / seconds / 1e9);
            if (seconds < 0.1) iterations *= 2;
        }
        return best;
    }

    /// <summary>The best one-core and all-core rates over both widths (those a GEMM could reach).</summary>
    public static (double OneCore, double AllCores) Ceiling()
    {
        bool wide = Vector512.IsHardwareAccelerated;
        double one = Math.Max(Measure(1, false), wide ? Measure(1, true) : 0);
        int cores = Environment.ProcessorCount;
        double all = Math.Max(Measure(cores, false), wide ? Measure(cores, true) : 0);
        return (one, all);
    }

    /// <summary>The `peak` subcommand: a markdown table of the four rates and the CPU's identity.</summary>
    public static void Report()
    {
        var info = File.Exists("/proc/cpuinfo") ? File.ReadAllLines("/proc/cpuinfo") : [];
        string Field(string name) => info.FirstOrDefault(l => l.StartsWith(name, StringComparison.Ordinal))?.Split(':')[1].Trim() ?? "?";
        int cores = Environment.ProcessorCount;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"CPU {Field("model name")} (family {Field("cpu family")}, model {Field("model")}), {cores} cores; fp32 FMA loop, GFLOP/s (best of 5 windows):"));
        Console.WriteLine();
        Console.WriteLine("| vectors | 1 thread | " + cores + " threads |");
        Console.WriteLine("|---|---|---|");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| 256-bit | {Measure(1, false):F1} | {Measure(cores, false):F1} |"));
        if (Vector512.IsHardwareAccelerated)
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| 512-bit | {Measure(1, true):F1} | {Measure(cores, true):F1} |"));
    }

    /// <summary>Seconds from the first worker's start to the last worker's end, each taken on the worker itself: timed
    /// from the caller, a caller descheduled after the barrier (three threads on two cores) started the clock late
    /// and the two-thread figure came out above twice the one-thread one (270–358 "GFLOP/s" on a 117 GFLOP/s core).</summary>
    private static double Run(int threads, bool wide, long iterations)
    {
        using var start = new Barrier(threads);
        var workers = new Thread[threads];
        var begin = new long[threads];
        var end = new long[threads];
        float sink = 0;
        for (int t = 0; t < threads; t++)
        {
            int id = t;
            workers[t] = new Thread(() =>
            {
                start.SignalAndWait();
                begin[id] = Stopwatch.GetTimestamp();
                float r = wide ? Loop512(iterations) : Loop256(iterations);
                end[id] = Stopwatch.GetTimestamp();
                Interlocked.Exchange(ref sink, r);
            });
            workers[t].Start();
        }
        foreach (var w in workers) w.Join();
        GC.KeepAlive(sink);
        return (end.Max() - begin.Min()) / (double)Stopwatch.Frequency;
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float Loop512(long n)
    {
        var a = Vector512.Create(0.9999999f);
        var b = Vector512.Create(1e-7f);
        Vector512<float> x0 = Vector512.Create(1f), x1 = x0, x2 = x0, x3 = x0, x4 = x0, x5 = x0, x6 = x0, x7 = x0, x8 = x0, x9 = x0, x10 = x0, x11 = x0;
        for (long i = 0; i < n; i++)
        {
            x0 = Vector512.FusedMultiplyAdd(x0, a, b); x1 = Vector512.FusedMultiplyAdd(x1, a, b); x2 = Vector512.FusedMultiplyAdd(x2, a, b);
            x3 = Vector512.FusedMultiplyAdd(x3, a, b); x4 = Vector512.FusedMultiplyAdd(x4, a, b); x5 = Vector512.FusedMultiplyAdd(x5, a, b);
            x6 = Vector512.FusedMultiplyAdd(x6, a, b); x7 = Vector512.FusedMultiplyAdd(x7, a, b); x8 = Vector512.FusedMultiplyAdd(x8, a, b);
            x9 = Vector512.FusedMultiplyAdd(x9, a, b); x10 = Vector512.FusedMultiplyAdd(x10, a, b); x11 = Vector512.FusedMultiplyAdd(x11, a, b);
        }
        return Vector512.Sum(x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8 + x9 + x10 + x11);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float Loop256(long n)
    {
        var a = Vector256.Create(0.9999999f);
        var b = Vector256.Create(1e-7f);
        Vector256<float> x0 = Vector256.Create(1f), x1 = x0, x2 = x0, x3 = x0, x4 = x0, x5 = x0, x6 = x0, x7 = x0, x8 = x0, x9 = x0, x10 = x0, x11 = x0;
        for (long i = 0; i < n; i++)
        {
            x0 = Vector256.FusedMultiplyAdd(x0, a, b); x1 = Vector256.FusedMultiplyAdd(x1, a, b); x2 = Vector256.FusedMultiplyAdd(x2, a, b);
            x3 = Vector256.FusedMultiplyAdd(x3, a, b); x4 = Vector256.FusedMultiplyAdd(x4, a, b); x5 = Vector256.FusedMultiplyAdd(x5, a, b);
            x6 = Vector256.FusedMultiplyAdd(x6, a, b); x7 = Vector256.FusedMultiplyAdd(x7, a, b); x8 = Vector256.FusedMultiplyAdd(x8, a, b);
            x9 = Vector256.FusedMultiplyAdd(x9, a, b); x10 = Vector256.FusedMultiplyAdd(x10, a, b); x11 = Vector256.FusedMultiplyAdd(x11, a, b);
        }
        return Vector256.Sum(x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8 + x9 + x10 + x11);
    }
}
