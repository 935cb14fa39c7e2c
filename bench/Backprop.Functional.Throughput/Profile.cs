using System.Diagnostics;

namespace Backprop.Functional.Throughput;

/// <summary>Where a workload's step time goes: forward, forward + backward, optimizer update, batch copy, each
/// timed alone over many repetitions (ns per call).</summary>
internal static class Profile
{
    public static void Run(string id, Dataset train)
    {
        var w = Workloads.Get(id);
        using var net = Network<float>.Create(w.Spec, 1, w.Init);
        using var ws = net.CreateWorkspace(w.Batch);
        using var g = net.CreateGradient();
        var opt = w.Optimizer();
        using var buf = opt.CreateBuffers<float>(net.Layout.Count);
        var batcher = new Batcher(train, w.Batch, 1);
        batcher.NextEpoch();
        var x = new float[w.Batch * 784];
        var y = new float[w.Batch * 10];
        batcher.Copy<float>(0, x, y);
        var state = new OptimizerState(0);
        double Time(Action body)
        {
            var warm = Stopwatch.StartNew();
            while (warm.Elapsed.TotalSeconds < 0.4) body();   // let tiered compilation reach tier 1
            int reps = 2000;
            var sw = Stopwatch.StartNew();
            for (int i = 0; i < reps; i++) body();
            return sw.Elapsed.TotalNanoseconds / reps;
        }
        for (int l = 0; l < w.Spec.Layers.Count; l++)
        {
            var d = (Dense)w.Spec.Layers[l];
            int bt = w.Batch, o = d.Outputs, i = d.Inputs;
            Shape($"L{l} forward  NT", bt, o, i, false, true);
            Shape($"L{l} wgrad    TN", o, i, bt, true, false);
            if (l > 0) Shape($"L{l} hidden   NN", bt, i, o, false, false);
        }
        void Shape(string name, int m, int n, int k, bool ta, bool tb)
        {
            var ga = new float[m * k]; var gb = new float[k * n]; var gc = new float[m * n];
            for (int q = 0; q < ga.Length; q++) ga[q] = (q % 7) * 0.1f;
            for (int q = 0; q < gb.Length; q++) gb[q] = (q % 5) * 0.1f;
            double ns = Time(() => Kernels.Gemm.Multiply<float>(ga, ta, gb, tb, gc, m, n, k, false));
            Console.WriteLine($"{id}: gemm {name} [{m}x{n}x{k}] {ns:F0} ns  {2.0 * m * n * k / ns:F1} GFLOP/s");
        }
        var layer0 = (Dense)w.Spec.Layers[0];
        var p0 = net.Parameters[net.Layout.LayerRange(0)].ToArray();
        var z0 = new float[w.Batch * layer0.Outputs];
        var a0 = new float[z0.Length];
        var w0 = p0.AsSpan(0, layer0.Outputs * 784).ToArray();
        Console.WriteLine($"{id}: gemm layer 0 {Time(() => Kernels.Gemm.Multiply<float>(x, false, w0, true, z0, w.Batch, layer0.Outputs, 784, true)):F0} ns");
        Console.WriteLine($"{id}: dense layer 0 {Time(() => DenseKernel.Forward<ReLU, float>(p0, x, z0, a0, 784, layer0.Outputs)):F0} ns");
        Console.WriteLine($"{id}: finite check {Time(() => System.Numerics.Tensors.TensorPrimitives.SumOfMagnitudes<float>(x)):F0} ns");
        Console.WriteLine($"{id}: copy {Time(() => batcher.Copy<float>(1, x, y)):F0} ns");
        Console.WriteLine($"{id}: forward {Time(() => net.Forward(x, ws)):F0} ns");
        Console.WriteLine($"{id}: forward+backward {Time(() => net.ValueAndGradient(x, y, ws, g.Span)):F0} ns");
        Console.WriteLine($"{id}: update {Time(() => state = opt.Update(state, net.Parameters, g.Span, buf, opt.LearningRate)):F0} ns");
    }
}
