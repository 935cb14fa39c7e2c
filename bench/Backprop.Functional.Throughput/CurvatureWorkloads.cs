using System.Diagnostics;

namespace Backprop.Functional.Throughput;

/// <summary>Issue 13's K1: the cost of one curvature-vector product against one gradient (forward + backward), same
/// network, batch and run: 784-128(Tanh)-10(Softmax), cross-entropy, batch 256, float, MNIST rows. The gradient is the
/// baseline; each product reuses one forward pass (as a conjugate-gradient solve does), so the theory is Gv and Fv ≈ one
/// backward pass plus a tangent pass, Hv ≈ twice the backward pass.</summary>
internal static class CurvatureWorkloads
{
    private const int Batch = 256, Repeats = 200;

    public static void Run(Dictionary<string, object> res, int threads, Dataset train)
    {
        var spec = NetworkSpec.Mlp([784, 128, 10], ActivationKind.Tanh, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy);
        using var net = Network<float>.Create(spec, 1);
        using var ws = new CurvatureWorkspace<float>(spec, Batch, threads);
        var x = train.X.AsSpan(0, Batch * 784).ToArray();
        var y = train.Y.AsSpan(0, Batch * 10).ToArray();
        var theta = net.Parameters.ToArray();
        var v = new float[theta.Length];
        var rng = new SeededRandom(2);
        for (int i = 0; i < v.Length; i++) v[i] = (float)rng.NextGaussian();
        var result = new float[theta.Length];
        Curvature.Forward<float>(spec, theta, x, ws);
        double gradient = Median(() => { Curvature.Forward<float>(spec, theta, x, ws); Curvature.Gradient<float>(spec, theta, x, y, ws, result); });
        double forward = Median(() => Curvature.Forward<float>(spec, theta, x, ws));
        double hv = Median(() => Curvature.HessianVector<float>(spec, theta, x, y, ws, v, result));
        double gv = Median(() => Curvature.GaussNewtonVector<float>(spec, theta, x, y, ws, v, result));
        double fv = Median(() => Curvature.FisherVector<float>(spec, theta, x, y, ws, v, result, FisherKind.True));
        double fe = Median(() => Curvature.FisherVector<float>(spec, theta, x, y, ws, v, result, FisherKind.Empirical));
        res["batch"] = Batch;
        res["gradient_us"] = gradient;
        res["forward_us"] = forward;
        res["hv_us"] = hv;
        res["gv_us"] = gv;
        res["fv_true_us"] = fv;
        res["fv_empirical_us"] = fe;
        res["hv_over_gradient"] = hv / gradient;
        res["gv_over_gradient"] = gv / gradient;
        res["fv_over_gradient"] = fv / gradient;
    }

    /// <summary>Median µs of <paramref name="work"/> over <paramref name="repeats"/> calls after <paramref name="warmup"/>
    /// warm-up calls (shared with the ODE workload).</summary>
    internal static double Median(Action work, int warmup = 20, int repeats = Repeats)
    {
        for (int i = 0; i < warmup; i++) work();
        var times = new double[repeats];
        var clock = new Stopwatch();
        for (int i = 0; i < repeats; i++)
        {
            clock.Restart();
            work();
            times[i] = clock.Elapsed.TotalMicroseconds;
        }
        Array.Sort(times);
        return times[repeats / 2];
    }
}
