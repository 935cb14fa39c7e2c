namespace Backprop.Functional.Throughput;

/// <summary>Issue 14's O1: one Adam training step of an ODE-Net, 784-64(Tanh) → Ode(64; 64:Tanh-64:Identity; RK4, 4
/// steps over [0, 1]) → 64-10(Softmax), batch 128, float, MNIST rows, with each gradient, against the same network
/// with the block replaced by one Dense 64-64(Tanh) layer (a ResNet-like single step), measured in the same run.
/// RK4 with 4 steps evaluates f 16 times forward; backward the adjoint runs 16 evaluations and 16 vector–Jacobian
/// products, discretise recomputes 16 evaluations and runs 16 products.</summary>
internal static class OdeWorkloads
{
    private const int Batch = 128, Repeats = 100;

    public static void Run(Dictionary<string, object> res, int threads, Dataset train)
    {
        var x = train.X.AsSpan(0, Batch * 784).ToArray();
        var y = train.Y.AsSpan(0, Batch * 10).ToArray();
        NetworkSpec Spec(Layer middle) => new([new Dense(784, 64, ActivationKind.Tanh), middle, new Dense(64, 10, ActivationKind.Softmax)], LossKind.SoftmaxCrossEntropy);
        var f = OdeFunction.Create(64, false, (64, ActivationKind.Tanh), (64, ActivationKind.Identity));
        double dense = Step(Spec(new Dense(64, 64, ActivationKind.Tanh)), x, y, threads, out _);
        double adjoint = Step(Spec(new OdeBlock(f, new RungeKutta4(4), 0, 1, OdeGradient.Adjoint)), x, y, threads, out var adjointStats);
        double discretise = Step(Spec(new OdeBlock(f, new RungeKutta4(4), 0, 1, OdeGradient.Discretise)), x, y, threads, out var discretiseStats);
        res["batch"] = Batch;
        res["dense_step_us"] = dense;
        res["adjoint_step_us"] = adjoint;
        res["discretise_step_us"] = discretise;
        res["adjoint_over_dense"] = adjoint / dense;
        res["discretise_over_dense"] = discretise / dense;
        res["adjoint_nfe_forward"] = adjointStats.ForwardEvaluations;
        res["adjoint_nfe_backward"] = adjointStats.BackwardEvaluations;
        res["discretise_nfe_backward"] = discretiseStats.BackwardEvaluations;
        res["adjoint_scratch_values_per_sample"] = OdeBlockKernel.ScratchPerSample(new OdeBlock(f, new RungeKutta4(4), 0, 1, OdeGradient.Adjoint), 1);
        res["discretise_scratch_values_per_sample"] = OdeBlockKernel.ScratchPerSample(new OdeBlock(f, new RungeKutta4(4), 0, 1, OdeGradient.Discretise), 1);
        res["samples_per_s"] = Batch / (adjoint * 1e-6);
    }

    private static double Step(NetworkSpec spec, float[] x, float[] y, int threads, out OdeStatistics stats)
    {
        using var net = Network<float>.Create(spec, 1);
        using var ws = net.CreateWorkspace(Batch, threads);
        using var g = net.CreateGradient();
        var optimizer = new Adam(1e-3);
        using var buffers = optimizer.CreateBuffers<float>(net.Layout.Count);
        var options = new TrainingOptions { Optimizer = optimizer };
        var state = new OptimizerState(0);
        // 60 warm-up steps: past tiered JIT.
        double median = CurvatureWorkloads.Median(() => Trainer.Step(net, x, y, ws, g.Span, optimizer, ref state, buffers, options, 0f), warmup: 60, repeats: Repeats);
        stats = spec.Layers[1] is OdeBlock ? OdeBlock.Statistics(spec, ws, 1) : default;
        return median;
    }
}
