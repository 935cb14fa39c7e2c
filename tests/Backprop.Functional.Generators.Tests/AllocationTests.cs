using Backprop.Functional.Generators.Tests.Networks;
using Xunit;

namespace Backprop.Functional.Generators.Tests;

/// <summary>A generated TrainStep allocates nothing once warmed up (JIT, statics, pool buckets).</summary>
public sealed class AllocationTests
{
    [Fact]
    public void TrainStep_Tiny_float_batch1_Adam_allocates_nothing_after_warmup() => Assert.Equal(0L, MeasureTiny<float>());

    [Fact]
    public void TrainStep_Tiny_double_batch1_Adam_allocates_nothing_after_warmup() => Assert.Equal(0L, MeasureTiny<double>());

    [Fact]
    public void TrainStep_MnistMlp_float_batch8_Adam_allocates_nothing_after_warmup()
    {
        using var net = Network<float>.Create(MnistMlp.Spec, seed: 1);
        using var ws = MnistMlp.CreateWorkspace<float>(8);
        var optimizer = new Adam();
        using var buffers = optimizer.CreateBuffers<float>(MnistMlp.ParameterCount);
        var gradient = new float[MnistMlp.ParameterCount];
        var x = new float[8 * MnistMlp.InputSize];
        var y = new float[8 * MnistMlp.OutputSize];
        for (int r = 0; r < 8; r++) { y[r * 10 + r] = 1; x[r * 784 + 100 * r] = 1; }
        var state = default(OptimizerState);
        MnistMlp.TrainStep(net.Parameters, x, y, ws, gradient, optimizer, ref state, buffers);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10; i++) MnistMlp.TrainStep(net.Parameters, x, y, ws, gradient, optimizer, ref state, buffers);
        Assert.Equal(0L, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(11L, state.Step);
    }

    private static long MeasureTiny<T>() where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        using var net = Network<T>.Create(Tiny.Spec, seed: 1);
        using var ws = Tiny.CreateWorkspace<T>(1);
        var optimizer = new Adam();
        using var buffers = optimizer.CreateBuffers<T>(Tiny.ParameterCount);
        var gradient = new T[Tiny.ParameterCount];
        var x = new T[Tiny.InputSize];
        var y = new T[] { T.One };
        for (int i = 0; i < x.Length; i++) x[i] = T.CreateChecked(i) / T.CreateChecked(16);
        var state = default(OptimizerState);
        var theta = net.Parameters;
        Tiny.TrainStep(theta, x, y, ws, gradient, optimizer, ref state, buffers);   // warm-up
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10; i++) Tiny.TrainStep(theta, x, y, ws, gradient, optimizer, ref state, buffers);
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }
}
