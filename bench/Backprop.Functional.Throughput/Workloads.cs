using System.Diagnostics;
using Backprop.Functional;
using Backprop.Functional.Kernels;

namespace Backprop.Functional.Throughput;

/// <summary>The peer's workloads (bench/peers/torchsharp/README.md), run on this library with the same protocol: warm-up on a
/// throwaway model, then one timed epoch (or 20,000 online steps) on a fresh one, data loading excluded.</summary>
internal static class Workloads
{
    public sealed record Workload(string Id, NetworkSpec Spec, int Batch, Func<Optimizer> Optimizer, Initialization Init);

    public static Workload Get(string id) => id switch
    {
        "W1" => new("W1", NetworkSpec.Mlp([784, 30, 10], ActivationKind.Sigmoid, ActivationKind.Sigmoid, LossKind.Quadratic), 10, () => new Sgd(3.0), Initialization.Nielsen),
        "W2" or "I1" => new(id, NetworkSpec.Mlp([784, 128, 10], ActivationKind.ReLU, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy), 64, () => new Adam(1e-3), Initialization.PyTorch),
        "W3" => new("W3", NetworkSpec.Mlp([784, 1024, 1024, 10], ActivationKind.ReLU, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy), 256, () => new Adam(1e-3), Initialization.PyTorch),
        "W4" => new("W4", NetworkSpec.Mlp([784, 32, 10], ActivationKind.ReLU, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy), 1, () => new Sgd(0.01), Initialization.PyTorch),
        _ => throw new ArgumentException($"unknown workload {id}; expected W1 W2 W3 W4 I1 G1"),
    };

    /// <summary>Runs <paramref name="steps"/> training steps (null: one epoch) and returns (seconds, steps, bytes allocated).</summary>
    private static (double Seconds, long Steps, long Bytes) Train(Workload w, Network<float> net, Dataset train, int threads, long seed, long? steps, int microShards = 1)
    {
        var opt = w.Optimizer();
        var options = new TrainingOptions(BatchSize: w.Batch, Optimizer: opt, Threads: threads, MicroShards: microShards);
        var batcher = new Batcher(train, w.Batch, seed);
        using var ws = net.CreateWorkspace(w.Batch, threads);
        using var g = net.CreateGradient();
        using var buffers = opt.CreateBuffers<float>(net.Layout.Count);
        var x = new float[w.Batch * train.Features];
        var y = new float[w.Batch * train.Outputs];
        var state = new OptimizerState(0);
        long total = steps ?? batcher.BatchCount;
        batcher.NextEpoch();
        long alloc0 = GC.GetAllocatedBytesForCurrentThread();
        var sw = Stopwatch.StartNew();
        for (long s = 0; s < total; s++)
        {
            int b = (int)(s % batcher.BatchCount);
            if (b == 0 && s > 0) batcher.NextEpoch();
            int rows = batcher.Copy<float>(b, x, y);
            Trainer.Step(net, x.AsSpan(0, rows * train.Features), y.AsSpan(0, rows * train.Outputs), ws, g.Span, opt, ref state, buffers, options, 0f);
        }
        sw.Stop();
        return (sw.Elapsed.TotalSeconds, total, GC.GetAllocatedBytesForCurrentThread() - alloc0);
    }

    private static void WarmUp(Workload w, Dataset train, int threads, int minSteps, int microShards)
    {
        using var net = Network<float>.Create(w.Spec, 99, w.Init);
        // Tiered compilation promotes the hot generic kernels to tier 1 on a background thread, which on a loaded
        // machine can take well over half a second; time only once successive chunks stop getting faster.
        var clock = Stopwatch.StartNew();
        long done = 0;
        double previous = 0;
        while (true)
        {
            var chunk = Train(w, net, train, threads, 99, Math.Max(50, minSteps / 4), microShards);
            done += chunk.Steps;
            double rate = chunk.Steps / chunk.Seconds;
            bool settled = rate < previous * 1.03;
            previous = Math.Max(previous, rate);
            if (done >= minSteps && clock.Elapsed.TotalSeconds >= 1.5 && (settled || clock.Elapsed.TotalSeconds >= 5))
                break;
        }
    }

    public static void Epoch(Dictionary<string, object> res, string id, int threads, Dataset train, Dataset test, long seed, int microShards = 1)
    {
        var w = Get(id);
        WarmUp(w, train, threads, id == "W3" ? 10 : 2000, microShards);
        GC.Collect();
        using var net = Network<float>.Create(w.Spec, seed, w.Init);
        var (secs, steps, bytes) = Train(w, net, train, threads, seed, id == "W4" ? 20_000 : null, microShards);
        res["micro_shards"] = microShards;
        res["batch"] = w.Batch;
        res["steps"] = steps;
        res["seconds"] = secs;
        res["samples_per_s"] = (id == "W4" ? steps : train.Count) / secs;
        res["steps_per_s"] = steps / secs;
        res["gc_bytes_per_step"] = bytes / (double)steps;
        res[id == "W4" ? "test_acc_after_20k_steps" : "test_acc"] = Trainer.Evaluate(net, test).Accuracy;
    }

    public static void Inference(Dictionary<string, object> res, Dataset train, Dataset test, long seed, int threads)
    {
        var w = Get("I1");
        using var net = Network<float>.Create(w.Spec, seed, w.Init);
        Train(w, net, train, 1, seed, null);
        res["test_acc_of_trained_W2"] = Trainer.Evaluate(net, test).Accuracy;
        using var ws = net.CreateWorkspace(1, threads);
        using var predictor = net.CreatePredictor();
        // median_us: the one-sample API (Predictor, one thread: the zero pixels' weights are never read);
        // forward_median_us: Network.Forward on a one-row workspace with the given threads.
        var (median, p10, p90, p99, bytes) = Latency(x => predictor.Predict(x), test);
        res["calls"] = 100_000;
        res["median_us"] = median;
        res["p10_us"] = p10;
        res["p90_us"] = p90;
        res["p99_us"] = p99;
        res["gc_bytes_per_call"] = bytes;
        var forward = Latency(x => net.Forward(x, ws), test);
        res["forward_median_us"] = forward.Median;
        res["forward_p90_us"] = forward.P90;
        res["forward_gc_bytes_per_call"] = forward.Bytes;
    }

    internal delegate ReadOnlySpan<float> Infer(ReadOnlySpan<float> x);

    /// <summary>The peer's protocol: 5,000 warm-up calls (and at least 1.5 s), then 100,000 timed calls cycling over
    /// the first 256 test images; latency percentiles in µs and managed bytes per call.</summary>
    internal static (double Median, double P10, double P90, double P99, double Bytes) Latency(Infer infer, Dataset test)
    {
        const int warm = 5000, calls = 100_000;
        var lat = new double[calls];
        double tickUs = 1e6 / Stopwatch.Frequency;
        var warmClock = Stopwatch.StartNew();
        for (int i = 0; i < warm || warmClock.Elapsed.TotalSeconds < 1.5; i++) infer(test.X.AsSpan((i & 255) * 784, 784));
        GC.Collect();
        long alloc0 = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < calls; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            infer(test.X.AsSpan((i & 255) * 784, 784));
            lat[i] = (Stopwatch.GetTimestamp() - t0) * tickUs;
        }
        long alloc1 = GC.GetAllocatedBytesForCurrentThread();
        Array.Sort(lat);
        return (lat[calls / 2], lat[calls / 10], lat[calls * 9 / 10], lat[calls * 99 / 100], (alloc1 - alloc0) / (double)calls);
    }

    public static void Gemm(Dictionary<string, object> res, int threads)
    {
        foreach (int n in new[] { 1024, 2048 })
        {
            var rng = new SeededRandom(n);
            var a = new float[n * n];
            var b = new float[n * n];
            var c = new float[n * n];
            for (int i = 0; i < a.Length; i++) { a[i] = (float)rng.NextGaussian(); b[i] = (float)rng.NextGaussian(); }
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < 5 || clock.Elapsed.TotalSeconds < 1.0; i++)
                Kernels.Gemm.Multiply<float>(a, false, b, false, c, n, n, n, false, threads);
            var g = new double[10];
            for (int i = 0; i < g.Length; i++)
            {
                long t0 = Stopwatch.GetTimestamp();
                Kernels.Gemm.Multiply<float>(a, false, b, false, c, n, n, n, false, threads);
                g[i] = 2.0 * n * n * n / ((Stopwatch.GetTimestamp() - t0) / (double)Stopwatch.Frequency) / 1e9;
            }
            Array.Sort(g);
            res[$"gflops_{n}_median"] = (g[4] + g[5]) / 2;
            res[$"gflops_{n}_min"] = g[0];
            res[$"gflops_{n}_max"] = g[9];
        }
    }
}
