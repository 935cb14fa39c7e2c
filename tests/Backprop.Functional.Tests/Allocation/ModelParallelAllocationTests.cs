using Xunit;

namespace Backprop.Functional.Tests.Allocation;

/// <summary>A model-parallel layer's forward and backward passes (row blocks on the GEMM pool's threads, the input
/// gradient's shares summed on the caller) allocate nothing in steady state, on any thread.</summary>
[Collection(RunsAlone.Name)]
public sealed class ModelParallelAllocationTests
{
    [SkippableFact]
    public void Forward_and_backward_in_two_blocks_on_two_threads_allocate_nothing()
    {
        Skip.If(Environment.ProcessorCount < 2, "one core: the blocks run in turn");
        var d = new Dense(256, 512, ActivationKind.ReLU);
        const int rows = 32;
        var mp = new ModelParallelDense<float>(d, blocks: 2, batch: rows, threads: 2);
        var rng = new SeededRandom(1);
        var theta = new float[d.Inputs * d.Outputs + d.Outputs];
        var x = new float[rows * d.Inputs];
        for (int i = 0; i < theta.Length; i++) theta[i] = (float)rng.NextGaussian() * 0.05f;
        for (int i = 0; i < x.Length; i++) x[i] = (float)rng.NextDouble();
        var z = new float[rows * d.Outputs];
        var a = new float[rows * d.Outputs];
        var dy = new float[rows * d.Outputs];
        var dx = new float[rows * d.Inputs];
        var dTheta = new float[theta.Length];
        long runs = Interlocked.Read(ref ModelParallelDense<float>.ParallelRuns);

        Assert.Equal(0L, SteadyState.AllocatedBytes(() =>
        {
            mp.Forward(theta, x, z, a);
            a.CopyTo(dy);
            mp.Backward(theta, x, z, a, dy, dx, dTheta);
        }));
        Assert.True(Interlocked.Read(ref ModelParallelDense<float>.ParallelRuns) > runs, "the blocks never ran on two threads");
    }
}
