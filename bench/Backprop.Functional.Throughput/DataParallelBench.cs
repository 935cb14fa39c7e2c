using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;

namespace Backprop.Functional.Throughput;

/// <summary>`dp W [--micro-shards K] [--rounds R]`: one thread against two data-parallel workers (K micro-shards) and
/// against two intra-op GEMM threads, in one process, alternating rounds of steps so that all three see the same load;
/// medians of samples/s per configuration (also: two GEMM threads with owner-computes dense passes, and with x checked
/// before the forward pass as before the sixth pass). Then where a step's time goes: the library's probe inside the
/// sharded step and inside the unsharded one (forward, backward, update), and each part timed alone.</summary>
internal static class DataParallelBench
{
    private const string Why = "DataParallel<float> is compiled anyway (the trainer uses it) and DynamicDependency keeps its field";

    /// <summary>DataParallel&lt;float&gt;.SeparateSum is internal: the library's switch for this comparison, set by
    /// reflection. The trimmer keeps the field, so the runner still publishes with NativeAOT without a warning
    /// (scripts/aot-bench.sh).</summary>
    [DynamicDependency(DynamicallyAccessedMemberTypes.NonPublicFields, "Backprop.Functional.DataParallel`1", "Backprop.Functional")]
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = Why)]
    [UnconditionalSuppressMessage("Trimming", "IL2055", Justification = Why)]
    [UnconditionalSuppressMessage("Trimming", "IL2075", Justification = Why)]
    [UnconditionalSuppressMessage("AOT", "IL3050", Justification = Why)]
    private static System.Reflection.FieldInfo SeparateSumField() => DataParallelField("SeparateSum");

    [DynamicDependency(DynamicallyAccessedMemberTypes.NonPublicFields, "Backprop.Functional.DataParallel`1", "Backprop.Functional")]
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = Why)]
    [UnconditionalSuppressMessage("Trimming", "IL2055", Justification = Why)]
    [UnconditionalSuppressMessage("Trimming", "IL2075", Justification = Why)]
    [UnconditionalSuppressMessage("AOT", "IL3050", Justification = Why)]
    internal static System.Reflection.FieldInfo DataParallelField(string name) =>
        typeof(Network<float>).Assembly.GetType("Backprop.Functional.DataParallel`1")!.MakeGenericType(typeof(float))
            .GetField(name, System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!;

    /// <summary>The library's StepProbe (internal), by reflection as <see cref="SeparateSumField"/>.</summary>
    [DynamicDependency(DynamicallyAccessedMemberTypes.NonPublicFields, "Backprop.Functional.StepProbe", "Backprop.Functional")]
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = Why)]
    [UnconditionalSuppressMessage("Trimming", "IL2075", Justification = Why)]
    internal static System.Reflection.FieldInfo ProbeField(string name) =>
        typeof(Network<float>).Assembly.GetType("Backprop.Functional.StepProbe")!
            .GetField(name, System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!;

    /// <summary>OwnedDense.Enabled (internal): the owner-computes dense passes on or off, by reflection as
    /// <see cref="SeparateSumField"/>.</summary>
    [DynamicDependency(DynamicallyAccessedMemberTypes.NonPublicFields, "Backprop.Functional.OwnedDense", "Backprop.Functional")]
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = Why)]
    [UnconditionalSuppressMessage("Trimming", "IL2075", Justification = Why)]
    internal static System.Reflection.FieldInfo OwnedField() =>
        typeof(Network<float>).Assembly.GetType("Backprop.Functional.OwnedDense")!
            .GetField("Enabled", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!;

    /// <summary>LayerwiseUpdate.Enabled (internal): each layer updated after its backward pass, or the whole update after
    /// the backward pass, by reflection as <see cref="SeparateSumField"/>.</summary>
    [DynamicDependency(DynamicallyAccessedMemberTypes.NonPublicFields, "Backprop.Functional.LayerwiseUpdate", "Backprop.Functional")]
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = Why)]
    [UnconditionalSuppressMessage("Trimming", "IL2075", Justification = Why)]
    internal static System.Reflection.FieldInfo LayerwiseField(string name = "Enabled") =>
        typeof(Network<float>).Assembly.GetType("Backprop.Functional.LayerwiseUpdate")!
            .GetField(name, System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!;

    [DynamicDependency(DynamicallyAccessedMemberTypes.NonPublicFields, "Backprop.Functional.Equations", "Backprop.Functional")]
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = Why)]
    [UnconditionalSuppressMessage("Trimming", "IL2075", Justification = Why)]
    internal static System.Reflection.FieldInfo CheckAfterField() =>
        typeof(Equations).GetField("InputCheckAfter", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!;

    [DynamicDependency(DynamicallyAccessedMemberTypes.NonPublicFields, "Backprop.Functional.AdamKernel", "Backprop.Functional")]
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = Why)]
    [UnconditionalSuppressMessage("Trimming", "IL2075", Justification = Why)]
    internal static System.Reflection.FieldInfo AdamStreamField() => AdamField("StreamInShardedSteps");

    /// <summary>An internal static field of AdamKernel (the streamed stores' switches), by reflection.</summary>
    [DynamicDependency(DynamicallyAccessedMemberTypes.NonPublicFields, "Backprop.Functional.AdamKernel", "Backprop.Functional")]
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = Why)]
    [UnconditionalSuppressMessage("Trimming", "IL2075", Justification = Why)]
    private static System.Reflection.FieldInfo AdamField(string name) =>
        typeof(Network<float>).Assembly.GetType("Backprop.Functional.AdamKernel")!
            .GetField(name, System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!;

    /// <summary>A static field of a nested class of Gemm (Team&lt;float&gt; when <paramref name="generic"/>), by reflection.</summary>
    [DynamicDependency(DynamicallyAccessedMemberTypes.NonPublicFields, "Backprop.Functional.Kernels.Gemm+Team`1", "Backprop.Functional")]
    [DynamicDependency(DynamicallyAccessedMemberTypes.NonPublicFields, "Backprop.Functional.Kernels.Gemm+Pool", "Backprop.Functional")]
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = Why)]
    [UnconditionalSuppressMessage("Trimming", "IL2055", Justification = Why)]
    [UnconditionalSuppressMessage("Trimming", "IL2075", Justification = Why)]
    [UnconditionalSuppressMessage("AOT", "IL3050", Justification = Why)]
    internal static System.Reflection.FieldInfo GemmField(string type, string name, bool generic)
    {
        var t = typeof(Network<float>).Assembly.GetType("Backprop.Functional.Kernels.Gemm+" + type)!;
        if (generic) t = t.MakeGenericType(typeof(float));
        return t.GetField(name, System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!;
    }

    private sealed class Config : IDisposable
    {
        public required string Name;
        public required Network<float> Net;
        public required TrainState<float> State;
        public readonly List<double> Rates = [];
        public bool SeparateSum;
        public bool Owned;
        public bool CheckFirst;
        public bool NoStream;
        public bool NoLargeStream;
        public bool WholeUpdate;
        public bool EveryRange;
        public bool Halves;
        public bool CallerSeeds;
        public bool CallerReLU;
        public void Dispose()
        {
            State.Dispose();
            Net.Dispose();
        }
    }

    /// <summary>A static method of StepProbe (internal), by reflection.</summary>
    [DynamicDependency(DynamicallyAccessedMemberTypes.NonPublicMethods, "Backprop.Functional.StepProbe", "Backprop.Functional")]
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = Why)]
    [UnconditionalSuppressMessage("Trimming", "IL2075", Justification = Why)]
    internal static string ProbeCall(string name, params object[] arguments) =>
        (string?)typeof(Network<float>).Assembly.GetType("Backprop.Functional.StepProbe")!
            .GetMethod(name, System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!.Invoke(null, arguments) ?? "";

    public static void Run(Dictionary<string, object> res, string id, int shards, int rounds, Dataset train, bool phasesOnly = false,
        bool untimedFirst = true)
    {
        var w = Workloads.Get(id);
        var batcher = new Batcher(train, w.Batch, 1);
        batcher.NextEpoch();
        int batches = Math.Min(batcher.BatchCount, 64);
        var xs = new float[batches][];
        var ys = new float[batches][];
        for (int b = 0; b < batches; b++)
        {
            xs[b] = new float[w.Batch * train.Features];
            ys[b] = new float[w.Batch * train.Outputs];
            batcher.Copy<float>(b, xs[b], ys[b]);
        }
        Config Make(string name, int threads, int k)
        {
            var net = Network<float>.Create(w.Spec, 7, w.Init);
            return new Config { Name = name, Net = net, State = new TrainState<float>(net, w.Optimizer(), w.Batch, threads) { MicroShards = k } };
        }
        using var one = Make("1 thread", 1, 1);
        using var dp = Make($"2 workers, {shards} micro-shards", 2, shards);
        using var gemm = Make("2 GEMM threads", 2, 1);
        using var apart = Make($"2 workers, {shards} micro-shards, the sum apart from the update", 2, shards);
        apart.SeparateSum = true;
        using var ownedConfig = Make("2 GEMM threads, owner-computes dense passes", 2, 1);
        ownedConfig.Owned = true;
        using var checkFirst = Make("2 GEMM threads, x checked before the forward pass", 2, 1);
        checkFirst.CheckFirst = true;
        using var noStream = Make($"2 workers, {shards} micro-shards, θ written with plain stores", 2, shards);
        noStream.NoStream = true;
        var streamField = AdamStreamField();
        using var noLarge = Make("2 GEMM threads, a large θ written with plain stores", 2, 1);
        noLarge.NoLargeStream = true;
        var largeField = AdamField("StreamLarge");
        int large = (int)largeField.GetValue(null)!;
        using var whole = Make("2 GEMM threads, the whole update after the backward pass", 2, 1);
        whole.WholeUpdate = true;
        using var wholeOne = Make("1 thread, the whole update after the backward pass", 1, 1);
        wholeOne.WholeUpdate = true;
        using var every = Make("2 GEMM threads, every layer's range updated during the backward pass", 2, 1);
        every.EveryRange = true;
        var layerwise = LayerwiseField();
        var maxBytes = LayerwiseField("MaxBytes");
        long maxDefault = (long)maxBytes.GetValue(null)!;
        var checkAfter = CheckAfterField();
        var separate = SeparateSumField();
        var owned = OwnedField();
        using var halves = Make("2 GEMM threads, halves, z seeded by the caller (before the ninth pass)", 2, 1);
        halves.Halves = true;
        using var callerSeeds = Make("2 GEMM threads, balanced, z seeded by the caller", 2, 1);
        callerSeeds.CallerSeeds = true;
        var seedField = typeof(Network<float>).Assembly.GetType("Backprop.Functional.Kernels.Gemm")!
            .GetField("SeedInTeam", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!;
        using var callerReLU = Make("2 GEMM threads, ReLU by the caller after the product (before the tenth pass)", 2, 1);
        callerReLU.CallerReLU = true;
        var reluField = typeof(Network<float>).Assembly.GetType("Backprop.Functional.Kernels.Gemm")!
            .GetField("ReLUInTeam", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!;
        var balancedField = GemmField("Team`1", "Balanced", generic: true);
        var spinField = GemmField("Pool", "JoinSpinTicks", generic: false);
        long spin = (long)spinField.GetValue(null)!;
        Config[] configs = phasesOnly ? [one, gemm, halves, callerReLU] : [one, wholeOne, gemm, whole, every, dp, apart, ownedConfig, checkFirst, noStream, noLarge, halves, callerSeeds, callerReLU];   // pairs compared side by side (rounds alternate the order)
        int stepsPerRound = id == "W3" ? 6 : 100;
        long step = 0;
        double Round(Config c)
        {
            separate.SetValue(null, c.SeparateSum);
            owned.SetValue(null, c.Owned);
            checkAfter.SetValue(null, !c.CheckFirst);
            streamField.SetValue(null, !c.NoStream);
            largeField.SetValue(null, c.NoLargeStream ? 0 : large);
            layerwise.SetValue(null, !c.WholeUpdate);
            maxBytes.SetValue(null, c.EveryRange ? long.MaxValue : maxDefault);
            balancedField.SetValue(null, !c.Halves);
            seedField.SetValue(null, !(c.Halves || c.CallerSeeds));
            reluField.SetValue(null, !(c.Halves || c.CallerSeeds || c.CallerReLU));
            spinField.SetValue(null, c.Halves ? Stopwatch.Frequency / 5000 : spin);
            // one untimed step first: the pool's worker went to sleep during the one-thread configuration's round, and
            // waking it cost the first timed step of whichever two-thread configuration came next (ninth pass: ~0.9 ms
            // on W3, always the same configuration's, since the order alternates)
            if (untimedFirst)
            {
                Trainer.Step(c.Net, xs[step % batches], ys[step % batches], c.State);
                step++;
            }
            long t0 = Stopwatch.GetTimestamp();
            for (int s = 0; s < stepsPerRound; s++, step++)
                Trainer.Step(c.Net, xs[step % batches], ys[step % batches], c.State);
            return stepsPerRound * w.Batch / Stopwatch.GetElapsedTime(t0).TotalSeconds;
        }
        var warm = Stopwatch.StartNew();
        while (warm.Elapsed.TotalSeconds < 3) foreach (var c in configs) Round(c);
        for (int r = 0; r < rounds; r++)
            foreach (var c in (r & 1) == 0 ? configs : configs.Reverse())
                c.Rates.Add(Round(c));
        double Median(List<double> v)
        {
            var s = v.Order().ToArray();
            return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
        }
        res["rounds"] = rounds;
        if (phasesOnly)
        {
            res["one_thread_samples_per_s"] = Median(one.Rates);
            res["gemm_threads_speedup"] = Median(gemm.Rates) / Median(one.Rates);
            res["gemm_threads_speedup_median_of_rounds"] = Median([.. one.Rates.Zip(gemm.Rates, (a, b) => b / a)]);
            res["halves_speedup"] = Median(halves.Rates) / Median(one.Rates);
            res["balanced_over_halves_median_of_rounds"] = Median([.. halves.Rates.Zip(gemm.Rates, (a, b) => b / a)]);
            res["caller_relu_speedup"] = Median(callerReLU.Rates) / Median(one.Rates);
            res["relu_in_team_over_caller_relu_median_of_rounds"] = Median([.. callerReLU.Rates.Zip(gemm.Rates, (a, b) => b / a)]);
            Phases(res, rounds, [one, gemm, halves, callerReLU], Round);
            res["load_average_1min"] = File.Exists("/proc/loadavg") ? double.Parse(File.ReadAllText("/proc/loadavg").Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) : -1;
            return;
        }
        res["steps_per_round"] = stepsPerRound;
        res["micro_shards"] = shards;
        res["one_thread_samples_per_s"] = Median(one.Rates);
        res["data_parallel_samples_per_s"] = Median(dp.Rates);
        res["gemm_threads_samples_per_s"] = Median(gemm.Rates);
        res["data_parallel_speedup"] = Median(dp.Rates) / Median(one.Rates);
        res["gemm_threads_speedup"] = Median(gemm.Rates) / Median(one.Rates);
        res["check_first_speedup"] = Median(checkFirst.Rates) / Median(one.Rates);
        res["check_after_over_first_median_of_rounds"] = Median([.. checkFirst.Rates.Zip(gemm.Rates, (a, b) => b / a)]);
        res["owned_samples_per_s"] = Median(ownedConfig.Rates);
        res["owned_speedup"] = Median(ownedConfig.Rates) / Median(one.Rates);
        res["owned_over_plain_median_of_rounds"] = Median([.. gemm.Rates.Zip(ownedConfig.Rates, (a, b) => b / a)]);
        res["sum_apart_samples_per_s"] = Median(apart.Rates);
        res["sum_apart_speedup"] = Median(apart.Rates) / Median(one.Rates);
        res["sum_in_update_over_sum_apart_median_of_rounds"] = Median([.. apart.Rates.Zip(dp.Rates, (a, b) => b / a)]);
        res["data_parallel_speedup_median_of_rounds"] = Median([.. one.Rates.Zip(dp.Rates, (a, b) => b / a)]);
        res["no_large_stream_speedup"] = Median(noLarge.Rates) / Median(one.Rates);
        res["halves_speedup"] = Median(halves.Rates) / Median(one.Rates);
        res["balanced_over_halves_median_of_rounds"] = Median([.. halves.Rates.Zip(gemm.Rates, (a, b) => b / a)]);
        res["caller_seeds_speedup"] = Median(callerSeeds.Rates) / Median(one.Rates);
        res["seeded_in_team_over_caller_seeds_median_of_rounds"] = Median([.. callerSeeds.Rates.Zip(gemm.Rates, (a, b) => b / a)]);
        res["large_stream_over_plain_median_of_rounds"] = Median([.. noLarge.Rates.Zip(gemm.Rates, (a, b) => b / a)]);
        res["caller_relu_speedup"] = Median(callerReLU.Rates) / Median(one.Rates);
        res["relu_in_team_over_caller_relu_median_of_rounds"] = Median([.. callerReLU.Rates.Zip(gemm.Rates, (a, b) => b / a)]);
        res["whole_update_speedup"] = Median(whole.Rates) / Median(one.Rates);
        res["layerwise_over_whole_median_of_rounds"] = Median([.. whole.Rates.Zip(gemm.Rates, (a, b) => b / a)]);
        res["one_thread_layerwise_over_whole_median_of_rounds"] = Median([.. wholeOne.Rates.Zip(one.Rates, (a, b) => b / a)]);
        res["every_range_over_rule_median_of_rounds"] = Median([.. gemm.Rates.Zip(every.Rates, (a, b) => b / a)]);
        res["every_range_over_whole_median_of_rounds"] = Median([.. whole.Rates.Zip(every.Rates, (a, b) => b / a)]);
        res["whole_update_speedup_both_whole"] = Median(whole.Rates) / Median(wholeOne.Rates);
        res["no_stream_speedup"] = Median(noStream.Rates) / Median(one.Rates);
        res["stream_over_no_stream_median_of_rounds"] = Median([.. noStream.Rates.Zip(dp.Rates, (a, b) => b / a)]);

        // inside the real step: the data-parallel configuration again, with the library's probe on
        separate.SetValue(null, false);
        owned.SetValue(null, false);
        var enabled = ProbeField("Enabled");
        var sums = (long[])ProbeField("Sums").GetValue(null)!;
        var names = (string[])ProbeField("Names").GetValue(null)!;
        foreach (var c in new[] { dp, noStream })
        {
            Array.Clear(sums);
            ProbeField("Count").SetValue(null, 0L);
            enabled.SetValue(null, true);
            for (int r = 0; r < rounds; r++) Round(c);
            enabled.SetValue(null, false);
            long count = (long)ProbeField("Count").GetValue(null)!;
            streamField.SetValue(null, !c.NoStream);
            string tag = c == dp ? "" : " (θ plain stores)";
            res["probe_steps" + tag] = count;
            for (int i = 0; i < names.Length && count > 0; i++)
                res["probe_us" + tag + ": " + names[i]] = Math.Round(sums[i] * 1e6 / Stopwatch.Frequency / count, 1);
        }
        streamField.SetValue(null, true);
        // the unsharded step's parts (forward, backward, update), 1 thread, 2 GEMM threads owned and plain
        var plainSums = (long[])ProbeField("PlainSums").GetValue(null)!;
        string[] parts = ["forward", "backward", "update", "whole step"];
        foreach (var c in new[] { one, gemm, ownedConfig, checkFirst, noLarge, whole, wholeOne, every })
        {
            layerwise.SetValue(null, !c.WholeUpdate);
            maxBytes.SetValue(null, c.EveryRange ? long.MaxValue : maxDefault);
            largeField.SetValue(null, c.NoLargeStream ? 0 : large);
            owned.SetValue(null, c.Owned);
            checkAfter.SetValue(null, !c.CheckFirst);
            Array.Clear(plainSums);
            ProbeField("PlainCount").SetValue(null, 0L);
            enabled.SetValue(null, true);
            for (int r = 0; r < rounds; r++) Round(c);
            enabled.SetValue(null, false);
            long pc = (long)ProbeField("PlainCount").GetValue(null)!;
            for (int i = 0; i < parts.Length && pc > 0; i++)
                res[$"k1_probe_us ({c.Name}): {parts[i]}"] = Math.Round(plainSums[i] * 1e6 / Stopwatch.Frequency / pc, 1);
        }
        owned.SetValue(null, false);
        checkAfter.SetValue(null, true);
        largeField.SetValue(null, large);
        layerwise.SetValue(null, true);
        maxBytes.SetValue(null, maxDefault);
        Phases(res, rounds, [one, gemm, halves, callerReLU], Round);
        seedField.SetValue(null, true);
        reluField.SetValue(null, true);
        balancedField.SetValue(null, true);
        spinField.SetValue(null, spin);
        res["load_average_1min"] = File.Exists("/proc/loadavg") ? double.Parse(File.ReadAllText("/proc/loadavg").Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) : -1;
        Breakdown(res, w, shards, xs[0], ys[0], xs);
    }

    /// <summary>Every phase of the unsharded step (the caller's time in each, each pool job's worker and caller parts),
    /// the configurations alternating round by round with the probe on, each into its own bank of sums.</summary>
    private static void Phases(Dictionary<string, object> res, int rounds, Config[] configs, Func<Config, double> round)
    {
        var enabled = ProbeField("Enabled");
        var bank = ProbeField("Bank");
        ProbeCall("ResetPhases");
        enabled.SetValue(null, true);
        for (int r = 0; r < rounds; r++)
            for (int c = 0; c < configs.Length; c++)
            {
                int i = (r & 1) == 0 ? c : configs.Length - 1 - c;
                bank.SetValue(null, i);
                round(configs[i]);
            }
        enabled.SetValue(null, false);
        bank.SetValue(null, 0);
        for (int c = 0; c < configs.Length; c++)
            res[$"phases_us ({configs[c].Name})"] = "\n" + ProbeCall("PhaseTable", c);
    }

    /// <summary>The parts of a sharded step, each timed alone (µs): one shard's forward + backward on one thread, two
    /// shards at once on two threads (what the cores lose to each other: memory bandwidth, the shared L3), the whole
    /// batch on one thread, the sum's memory traffic (a k-way add over θ-sized vectors) and the update.</summary>
    private static void Breakdown(Dictionary<string, object> res, Workloads.Workload w, int shards, float[] x, float[] y, float[][] xs)
    {
        int rows = w.Batch / shards;
        using var net = Network<float>.Create(w.Spec, 7, w.Init);
        int n = net.Layout.Count;
        using var wsFull = net.CreateWorkspace(w.Batch);
        using var gFull = net.CreateGradient();
        using var wsA = net.CreateWorkspace(rows);
        using var wsB = net.CreateWorkspace(rows);
        using var gA = net.CreateGradient();
        using var gB = net.CreateGradient();
        var xa = x.AsSpan(0, rows * w.Spec.Inputs).ToArray();
        var ya = y.AsSpan(0, rows * w.Spec.Outputs).ToArray();
        var xb = x.AsSpan(rows * w.Spec.Inputs, rows * w.Spec.Inputs).ToArray();
        var yb = y.AsSpan(rows * w.Spec.Outputs, rows * w.Spec.Outputs).ToArray();
        int reps = w.Id == "W3" ? 20 : 400;
        double Time(Action body)
        {
            for (int i = 0; i < reps / 4 + 1; i++) body();
            var t = new double[5];
            for (int k = 0; k < t.Length; k++)
            {
                long t0 = Stopwatch.GetTimestamp();
                for (int i = 0; i < reps; i++) body();
                t[k] = Stopwatch.GetElapsedTime(t0).TotalMicroseconds / reps;
            }
            Array.Sort(t);
            return t[2];
        }
        res["us_full_batch_fwd_bwd_1_thread"] = Time(() => net.ValueAndGradient(x, y, wsFull, gFull.Span));
        res["us_one_shard_fwd_bwd"] = Time(() => net.ValueAndGradient(xa, ya, wsA, gA.Span));
        // two shards at once, on this thread and a plain second thread released per repetition by a spin flag
        int go = 0, done = 0;
        bool stop = false;
        var other = new Thread(() =>
        {
            int seen = 0;
            while (!Volatile.Read(ref stop))
            {
                if (Volatile.Read(ref go) == seen) { Thread.SpinWait(1); continue; }
                seen++;
                net.ValueAndGradient(xb, yb, wsB, gB.Span);
                Interlocked.Increment(ref done);
            }
        }) { IsBackground = true };
        other.Start();
        int issued = 0;
        res["us_two_shards_at_once"] = Time(() =>
        {
            Interlocked.Increment(ref go);
            issued++;
            net.ValueAndGradient(xa, ya, wsA, gA.Span);
            while (Volatile.Read(ref done) < issued) Thread.SpinWait(1);
        });
        Volatile.Write(ref stop, true);
        other.Join();
        // the k = 1 configuration's parts, each timed alone on 1 and then 2 threads (the GEMM split): the whole forward
        // pass and forward + backward on one batch and on a new batch each call, the first layer's two products
        using var ws2 = net.CreateWorkspace(w.Batch, threads: 2);
        var wW1 = net.Parameters[..(w.Spec.Layers[0].Outputs * w.Spec.Inputs)].ToArray();
        var z1 = new float[w.Batch * w.Spec.Layers[0].Outputs];
        var d1 = new float[w.Batch * w.Spec.Layers[0].Outputs];
        var gW1 = new float[wW1.Length];
        for (int t = 1; t <= 2; t++)
        {
            var wsT = t == 1 ? wsFull : ws2;
            int threads = t;
            res[$"k1_us_forward_{t}t"] = Time(() => net.Forward(x, wsT));
            int cycle = 0;
            res[$"k1_us_forward_{t}t_new_batch_each_call"] = Time(() => net.Forward(xs[cycle++ % xs.Length], wsT));
            res[$"k1_us_gemm_forward_layer0_{t}t_new_batch_each_call"] = Time(() => Backprop.Functional.Kernels.Gemm.Multiply<float>(xs[cycle++ % xs.Length], false, wW1, true, z1, w.Batch, w.Spec.Layers[0].Outputs, w.Spec.Inputs, true, threads));
            res[$"k1_us_fwd_bwd_{t}t"] = Time(() => net.ValueAndGradient(x, y, wsT, gFull.Span));
            res[$"k1_us_gemm_forward_layer0_{t}t"] = Time(() => Backprop.Functional.Kernels.Gemm.Multiply<float>(x, false, wW1, true, z1, w.Batch, w.Spec.Layers[0].Outputs, w.Spec.Inputs, true, threads));
            res[$"k1_us_gemm_weightgrad_layer0_{t}t"] = Time(() => Backprop.Functional.Kernels.Gemm.Multiply<float>(d1, true, x, false, gW1, w.Spec.Layers[0].Outputs, w.Spec.Inputs, w.Batch, false, threads));
            // every layer's forward product alone (x·Wᵀ into z, the step's shapes), so that the forward pass's time beyond
            // its products (bias seeds, σ, the loss: the calling thread's) can be read off
            double products = 0;
            for (int l = 0; l < w.Spec.Layers.Count; l++)
            {
                int inputs = w.Spec.Layers[l].Inputs, outputs = w.Spec.Layers[l].Outputs;
                var al = new float[w.Batch * inputs];
                var wl = new float[outputs * inputs];
                var zl = new float[w.Batch * outputs];
                al.AsSpan().Fill(0.5f);
                wl.AsSpan().Fill(0.01f);
                double us = Time(() => Backprop.Functional.Kernels.Gemm.Multiply<float>(al, false, wl, true, zl, w.Batch, outputs, inputs, true, threads));
                res[$"k1_us_forward_product_layer{l}_{t}t"] = us;
                products += us;
            }
            res[$"k1_us_forward_products_sum_{t}t"] = products;
        }
        var sum = new float[n];
        res["us_sum_two_gradients"] = Time(() => System.Numerics.Tensors.TensorPrimitives.Add(gA.Span, gB.Span, sum));
        var opt = w.Optimizer();
        using var buffers = opt.CreateBuffers<float>(n);
        var state = new OptimizerState(0);
        var theta = new float[n];
        res["us_update_1_thread"] = Time(() => state = opt.Update(state, theta, gFull.Span, buffers, 1e-9));
    }
}
