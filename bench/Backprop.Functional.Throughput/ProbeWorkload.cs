using System.Diagnostics;
using Backprop.Functional;

namespace Backprop.Functional.Throughput;

/// <summary>D2: W2 (784-128-10 ReLU, softmax + CE, Adam 1e-3, batch 64) with a <see cref="LayerProbe{T}"/> observing
/// every step, against W2 without it in the same process: rounds of 400 steps alternate (plain; probed with the
/// defaults, every step read and the update ratio on one in 4; every step read with the ratio every step
/// (RatioEvery = 1); one step in 4 read (Every = 4)) so that the shared machine's load hits all alike; medians over
/// the rounds. Also the probe's own time, clocked around each Observe, and the bytes the probed steps allocate.</summary>
internal static class ProbeWorkload
{
    public static void Run(Dictionary<string, object> res, int threads, Dataset train, long seed, int rounds = 15, int steps = 400)
    {
        var w = Workloads.Get("W2");
        using var net = Network<float>.Create(w.Spec, seed, w.Init);
        using var every = new LayerProbe<float>(w.Spec);
        using var full = new LayerProbe<float>(w.Spec, new LayerProbeOptions(RatioEvery: 1));
        using var tenth = new LayerProbe<float>(w.Spec, new LayerProbeOptions(Every: 4));
        var opt = w.Optimizer();
        var options = new TrainingOptions(BatchSize: w.Batch, Optimizer: opt, Threads: threads);
        var batcher = new Batcher(train, w.Batch, seed);
        using var ws = net.CreateWorkspace(w.Batch, threads);
        using var g = net.CreateGradient();
        using var buffers = opt.CreateBuffers<float>(net.Layout.Count);
        var x = new float[w.Batch * train.Features];
        var y = new float[w.Batch * train.Outputs];
        var state = new OptimizerState(0);
        long b = 0;
        batcher.NextEpoch();

        (double Seconds, double ObserveSeconds, long Bytes) Chunk(LayerProbe<float>? probe)
        {
            probe?.Begin(net.Parameters);   // θ moved since this probe last looked
            long observeTicks = 0, alloc0 = GC.GetAllocatedBytesForCurrentThread();
            var sw = Stopwatch.StartNew();
            for (int s = 0; s < steps; s++, b++)
            {
                int i = (int)(b % batcher.BatchCount);
                if (i == 0 && b > 0) batcher.NextEpoch();
                int rows = batcher.Copy<float>(i, x, y);
                var xs = x.AsSpan(0, rows * train.Features);
                Trainer.Step(net, xs, y.AsSpan(0, rows * train.Outputs), ws, g.Span, opt, ref state, buffers, options, 0f);
                if (probe is null) continue;
                long t0 = Stopwatch.GetTimestamp();
                probe.Observe(net.Parameters, xs, ws, g.Span);
                observeTicks += Stopwatch.GetTimestamp() - t0;
            }
            sw.Stop();
            return (sw.Elapsed.TotalSeconds, observeTicks / (double)Stopwatch.Frequency, GC.GetAllocatedBytesForCurrentThread() - alloc0);
        }

        var warm = Stopwatch.StartNew();
        while (warm.Elapsed.TotalSeconds < 3) { Chunk(null); Chunk(every); Chunk(full); Chunk(tenth); }
        List<double> plain = [], probed = [], observe = [], probedFull = [], observeFull = [], probed10 = [], observe10 = [];
        long bytes = 0;
        for (int r = 0; r < rounds; r++)
        {
            plain.Add(Chunk(null).Seconds / steps);
            var p = Chunk(every);
            probed.Add(p.Seconds / steps);
            observe.Add(p.ObserveSeconds / steps);
            var f = Chunk(full);
            probedFull.Add(f.Seconds / steps);
            observeFull.Add(f.ObserveSeconds / steps);
            var q = Chunk(tenth);
            probed10.Add(q.Seconds / steps);
            observe10.Add(q.ObserveSeconds / steps);
            bytes += p.Bytes + f.Bytes + q.Bytes;
        }
        double Median(List<double> v) { v.Sort(); return v[v.Count / 2]; }
        double w2 = Median(plain), d2 = Median(probed), obs = Median(observe), d2k = Median(probed10), obsk = Median(observe10);
        double d2f = Median(probedFull), obsf = Median(observeFull);
        res["batch"] = w.Batch;
        res["rounds"] = rounds;
        res["steps_per_round"] = steps;
        res["w2_us_per_step"] = w2 * 1e6;
        res["d2_us_per_step"] = d2 * 1e6;
        res["observe_us_per_step"] = obs * 1e6;
        res["overhead_percent_d2_vs_w2"] = 100 * (d2 / w2 - 1);
        res["observe_percent_of_w2_step"] = 100 * obs / w2;
        res["d2_ratio_every_step_us_per_step"] = d2f * 1e6;
        res["observe_ratio_every_step_us_per_step"] = obsf * 1e6;
        res["overhead_percent_ratio_every_step"] = 100 * (d2f / w2 - 1);
        res["observe_percent_ratio_every_step"] = 100 * obsf / w2;
        res["d2_every_4_us_per_step"] = d2k * 1e6;
        res["observe_every_4_us_per_step"] = obsk * 1e6;
        res["overhead_percent_every_4"] = 100 * (d2k / w2 - 1);
        res["observe_percent_every_4"] = 100 * obsk / w2;
        res["gc_bytes_per_probed_step"] = bytes / (double)(3 * rounds * steps);
        var layers = every.Report().Layers;
        res["probe_update_ratio_layer0"] = layers[0].UpdateRatio ?? double.NaN;
        res["probe_dead_fraction_layer0"] = layers[0].DeadFraction ?? double.NaN;
    }
}
