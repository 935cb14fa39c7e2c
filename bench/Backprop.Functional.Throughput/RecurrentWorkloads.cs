using System.Diagnostics;

namespace Backprop.Functional.Throughput;

/// <summary>Issue 12's recurrent workloads (bench/peers/torchsharp/README.md): L1, sequential-MNIST LSTM-128 training
/// at batch 64 (L1_STEPS timed steps, default 200, after a warm-up; samples/s, managed bytes per step, test accuracy),
/// L2, one 28×28 sequence's inference latency (median µs), L3 and L4, L1 and L2 with a GRU-128, and L5 and L6 with a tanh RNN-128. Same RESULT fields and protocol as the peer's:
/// PyTorch's initialisation, Adam 1e-3, a shuffled permutation of the training set, warm-up on a throwaway model.</summary>
internal static class RecurrentWorkloads
{
    private const int Batch = 64, Time = 28, Hidden = 128;

    private static NetworkSpec Spec => SpecOf("L1");

    /// <summary>L1 and L2's LSTM-128 network; L3 and L4's GRU-128 and L5 and L6's tanh RNN-128 (the same training and latency
    /// with the peer's nn.GRU and nn.RNN).</summary>
    private static NetworkSpec SpecOf(string workload) =>
        new([workload switch { "L3" or "L4" => new Gru(Time, Hidden), "L5" or "L6" => new Rnn(Time, Hidden), _ => new Lstm(Time, Hidden) },
            new Dense(Hidden, 10, ActivationKind.Softmax)], LossKind.SoftmaxCrossEntropy);

    public static void Run(Dictionary<string, object> res, string workload, int threads, Dataset train, Dataset test, long seed)
    {
        int steps = int.TryParse(Environment.GetEnvironmentVariable("L1_STEPS"), out int n) && n >= 0 ? n : 200;
        if (steps == 0) steps = (train.Count + Batch - 1) / Batch;
        // warm-up on a throwaway model: at least 20 steps and 0.5 s, and until the runtime has compiled no method for 0.5 s
        // (at most 20 s), as the peer: after the 0.5 s alone, 700-900 methods were recompiled at tier 1 inside the timed
        // window (0.3-0.5 s of JIT on the step's cores, bench/RESULTS.md)
        int warmSteps = 0;
        // L1_CPU=n (Linux): the step thread pinned to vCPU n, the rest of the process left free (a diagnostic: which vCPU
        // runs the step was the whole of the per-process "modes", docs/ARCHITECTURE.md)
        if (OperatingSystem.IsLinux() && int.TryParse(Environment.GetEnvironmentVariable("L1_CPU"), out int cpu) && (uint)cpu < 64)
        {
            ulong mask = 1UL << cpu;
            if (SchedSetAffinity(0, sizeof(ulong), ref mask) != 0) throw new ArgumentException($"L1_CPU={cpu}: no such vCPU to pin the step thread to");
        }
        using (var warm = Network<float>.Create(SpecOf(workload), 99, Initialization.PyTorch))
        {
            var clock = Stopwatch.StartNew();
            var quiet = Stopwatch.StartNew();
            long methods = System.Runtime.JitInfo.GetCompiledMethodCount();
            while (warmSteps < 20 || clock.Elapsed.TotalSeconds < 0.5 || (quiet.Elapsed.TotalSeconds < 0.5 && clock.Elapsed.TotalSeconds < 20))
            {
                Train(warm, train, threads, 99, 10);
                warmSteps += 10;
                long now = System.Runtime.JitInfo.GetCompiledMethodCount();
                if (now != methods) { methods = now; quiet.Restart(); }
            }
        }
        GC.Collect();
        using var net = Network<float>.Create(SpecOf(workload), seed, Initialization.PyTorch);
        long jit0 = System.Runtime.JitInfo.GetCompiledMethodCount();
        var (secs, bytes) = Train(net, train, threads, seed, steps, res);
        res["warmup_steps"] = warmSteps;
        res["jit_methods_in_window"] = System.Runtime.JitInfo.GetCompiledMethodCount() - jit0;
        if (workload is "L1" or "L3" or "L5")
        {
            res["batch"] = Batch;
            res["steps"] = steps;
            res["seconds"] = secs;
            res["samples_per_s"] = steps * (double)Batch / secs;
            res["steps_per_s"] = steps / secs;
            res["gc_bytes_per_step"] = bytes / (double)steps;
            res["test_acc"] = Trainer.Evaluate(net, test).Accuracy;
            return;
        }
        res[workload switch { "L4" => "test_acc_of_trained_L3", "L6" => "test_acc_of_trained_L5", _ => "test_acc_of_trained_L1" }] = Trainer.Evaluate(net, test).Accuracy;
        using var predictor = net.CreatePredictor();
        var (median, p10, p90, p99, perCall) = Workloads.Latency(x => predictor.Predict(x), test);
        res["calls"] = 100_000;
        res["median_us"] = median;
        res["p10_us"] = p10;
        res["p90_us"] = p90;
        res["p99_us"] = p99;
        res["gc_bytes_per_call"] = perCall;
    }

    /// <summary>Where an L1 step's time goes (µs per training step): the whole step, the forward pass, forward + backward,
    /// and the GEMMs of the LSTM's shapes alone, as many as one step runs.</summary>
    public static void Profile(Dataset train, int threads)
    {
        using var net = Network<float>.Create(Spec, 1, Initialization.PyTorch);
        using var state = new TrainState<float>(net, new Adam(1e-3), Batch, threads, Time);
        var batcher = new Batcher(train, Batch, 1);
        var x = new float[Batch * train.Features];
        var y = new float[Batch * train.Outputs];
        batcher.Copy<float>(0, x, y);
        double Us(Action body, int reps = 300)
        {
            var warm = Stopwatch.StartNew();
            while (warm.Elapsed.TotalSeconds < 0.5) body();
            var sw = Stopwatch.StartNew();
            for (int i = 0; i < reps; i++) body();
            return sw.Elapsed.TotalMicroseconds / reps;
        }
        double Gemm(int m, int n, int k, bool ta, bool tb, int times)
        {
            var a = new float[m * k]; var b = new float[k * n]; var c = new float[m * n];
            for (int q = 0; q < a.Length; q++) a[q] = (q % 7) * 0.1f;
            for (int q = 0; q < b.Length; q++) b[q] = (q % 5) * 0.1f;
            return times * Us(() => Kernels.Gemm.Multiply<float>(a, ta, b, tb, c, m, n, k, true, threads));
        }
        double step0 = Us(() => Trainer.Step(net, x, y, state));
        double fwd = Us(() => net.Forward(x, state.Workspace));
        double fb = Us(() => net.ValueAndGradient(x, y, state.Workspace, state.Gradient.Span));
        double step = Math.Min(step0, Us(() => Trainer.Step(net, x, y, state)));
        int gh = 4 * Hidden;
        double proj = Gemm(Batch * Time, gh, Time, false, true, 1);
        double rec = Gemm(Batch, gh, Hidden, false, false, Time);
        double back = Gemm(Batch, Hidden, gh, false, false, Time);
        double wgrad = Gemm(gh, Time + Hidden, Batch * Time, true, false, 1);
        Console.WriteLine($"L1 profile, {threads} thread(s), µs: step {step:F0}; forward {fwd:F0}; forward+backward {fb:F0} (backward {fb - fwd:F0}); update+rest {step - fb:F0}");
        Console.WriteLine($"  GEMMs alone: x·W_ih {proj:F0}; 28 × h·W_hhᵀ {rec:F0}; 28 × δ·W_hh {back:F0}; ∂C/∂[W_ih|W_hh] {wgrad:F0}; sum {proj + rec + back + wgrad:F0}");
        Console.WriteLine($"  ∂C/∂[W_ih|W_hh]ᵀ = [x|h]ᵀ·δ {Gemm(Time + Hidden, gh, Batch * Time, true, false, 1):F0}");
        Console.WriteLine($"  forward other than GEMMs {fwd - proj - rec:F0}; backward other than GEMMs {fb - fwd - back - wgrad:F0}");
    }

    /// <summary>Where one sequence's inference (L2) goes, µs per call (medians of 2,000 calls after a warm-up): the whole
    /// <c>Predictor.Predict</c>, and the products of its shapes alone: the input projection for all 28 steps, the 28
    /// recurrent products h·W_hhᵀ of one row, and the head.</summary>
    public static void ProfileInference(Dataset test)
    {
        using var net = Network<float>.Create(Spec, 1, Initialization.PyTorch);
        using var predictor = net.CreatePredictor();
        double Median(Action body)
        {
            var warm = Stopwatch.StartNew();
            while (warm.Elapsed.TotalSeconds < 0.5) body();
            var lat = new double[2000];
            for (int i = 0; i < lat.Length; i++)
            {
                long t0 = Stopwatch.GetTimestamp();
                body();
                lat[i] = (Stopwatch.GetTimestamp() - t0) * 1e6 / Stopwatch.Frequency;
            }
            Array.Sort(lat);
            return lat[lat.Length / 2];
        }
        int gh = 4 * Hidden, image = 0;
        var rng = new Random(1);
        float[] Fill(int n) { var v = new float[n]; for (int q = 0; q < n; q++) v[q] = (float)(rng.NextDouble() - 0.5) * 0.2f; return v; }
        float[] whh = Fill(gh * Hidden), wih = Fill(gh * Time), h = Fill(Hidden), z = new float[gh], xt = Fill(Time * Time), g = new float[Time * gh];
        float[] head = Fill(10 * Hidden), o = new float[10];
        double predict = Median(() => { predictor.Predict(test.X.AsSpan((image++ & 255) * test.Features, test.Features)); });
        using var ws = net.CreateWorkspace(1, 1, Time);
        double forward = Median(() => { net.Forward(test.X.AsSpan((image++ & 255) * test.Features, test.Features), ws); });
        using var ws1 = net.CreateWorkspace(1, 1, 1);
        double single = Median(() => { net.Forward(test.X.AsSpan((image++ & 255) * test.Features, Time), ws1); });
        using var ws1k = net.CreateWorkspace(1, 1, 1);
        ws1k.KeepWeights();
        double singleKept = Median(() => { net.Forward(test.X.AsSpan((image++ & 255) * test.Features, Time), ws1k); });
        Console.WriteLine($"  Network.Forward of one sequence (nothing kept between calls) {forward:F1}; of one step {single:F2}, with KeepWeights {singleKept:F2}");
        double proj = Median(() => Kernels.Gemm.Multiply<float>(xt, false, wih, true, g, Time, gh, Time, true));
        double rec = Median(() => { for (int t = 0; t < Time; t++) Kernels.Gemm.Multiply<float>(h, false, whh, true, z, 1, gh, Hidden, true); });
        double recT = Median(() => { for (int t = 0; t < Time; t++) Kernels.Gemm.Multiply<float>(h, false, whh, false, z, 1, gh, Hidden, true); });
        Console.WriteLine($"  28 × h·W_hhᵀ with W_hhᵀ stored [128 × 512] (axpy): {recT:F1} ({recT / Time * 1000:F0} ns a step)");
        double dense = Median(() => Kernels.Gemm.Multiply<float>(h, false, head, true, o, 1, 10, Hidden, true));
        Console.WriteLine($"L2 profile, µs a call: Predict {predict:F1}; x·W_ihᵀ (28 × 512 × 28) {proj:F1}; 28 × h·W_hhᵀ (1 × 512 × 128) {rec:F1} " +
            $"({rec / Time * 1000:F0} ns a step, {2.0 * gh * Hidden * Time / rec / 1e3:F1} GFLOP/s, {4.0 * gh * Hidden * Time / rec / 1e3:F0} GB/s of W_hh); head {dense:F2}; " +
            $"the rest (cells, copies, dispatch) {predict - proj - rec - dense:F1}");
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "sched_setaffinity")]
    private static extern int SchedSetAffinity(int pid, nint size, ref ulong mask);

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "sched_getcpu")]
    private static extern int SchedGetCpu();

    private static int Cpu() => OperatingSystem.IsLinux() ? SchedGetCpu() : -1;

    private static (double Seconds, long Bytes) Train(Network<float> net, Dataset train, int threads, long seed, int steps,
        Dictionary<string, object>? res = null)
    {
        using var state = new TrainState<float>(net, new Adam(1e-3), Batch, threads, Time);
        var batcher = new Batcher(train, Batch, seed);
        batcher.NextEpoch();   // a new Batcher holds the rows in file order until its first epoch is started
        var x = new float[Batch * train.Features];
        var y = new float[Batch * train.Outputs];
        // L1_WINDOW=n: samples/s of every n steps and the vCPU that ran them ("rate@cpu …" in RESULT's windows; the
        // window's text allocates)
        int window = res is not null && int.TryParse(Environment.GetEnvironmentVariable("L1_WINDOW"), out int wn) ? wn : 0;
        var windows = new System.Text.StringBuilder(window > 0 ? 16 * (steps / window + 1) : 0);
        double last = 0;
        long alloc0 = GC.GetAllocatedBytesForCurrentThread();
        var sw = Stopwatch.StartNew();
        for (int s = 0; s < steps; s++)
        {
            if (window > 0 && s > 0 && s % window == 0)
            {
                double now = sw.Elapsed.TotalSeconds;
                windows.Append(Math.Round(window * Batch / (now - last))).Append('@').Append(Cpu()).Append(' ');
                last = now;
            }
            int b = s % batcher.BatchCount;
            if (b == 0 && s > 0) batcher.NextEpoch();
            int rows = batcher.Copy<float>(b, x, y);
            Trainer.Step(net, x.AsSpan(0, rows * train.Features), y.AsSpan(0, rows * train.Outputs), state);
        }
        sw.Stop();
        long bytes = GC.GetAllocatedBytesForCurrentThread() - alloc0;
        if (window > 0) res!["windows"] = windows.ToString().TrimEnd();
        if (res is not null) res["cpu"] = Cpu();   // the vCPU the step thread ended the timed window on (-1 off Linux)
        return (sw.Elapsed.TotalSeconds, bytes);
    }
}
