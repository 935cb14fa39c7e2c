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
        void Step()
        {
            mp.Forward(theta, x, z, a);
            a.CopyTo(dy);
            mp.Backward(theta, x, z, a, dy, dx, dTheta);
        }

        // Blocks go to whichever thread comes first, and a thread's GEMM scratch is sized on its first block of each
        // kind. On a loaded machine the caller can take every block for seconds, and the worker's first block then
        // allocated its scratch (about 300 KB) inside a measured window (CI, once). Steady state begins once the
        // worker has run a forward and a backward block.
        long forward = Interlocked.Read(ref ModelParallelDense<float>.WorkerForwardBlocks);
        long backward = Interlocked.Read(ref ModelParallelDense<float>.WorkerBackwardBlocks);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while ((Interlocked.Read(ref ModelParallelDense<float>.WorkerForwardBlocks) == forward
                || Interlocked.Read(ref ModelParallelDense<float>.WorkerBackwardBlocks) == backward)
               && clock.Elapsed < TimeSpan.FromSeconds(20))
            Step();
        Assert.True(Interlocked.Read(ref ModelParallelDense<float>.WorkerForwardBlocks) > forward
            && Interlocked.Read(ref ModelParallelDense<float>.WorkerBackwardBlocks) > backward,
            "in 20 s the pool's worker never took both a forward and a backward block");

        Assert.Equal(0L, SteadyState.AllocatedBytes(Step));
        Assert.True(Interlocked.Read(ref ModelParallelDense<float>.ParallelRuns) > runs, "the blocks never ran on two threads");
    }
}
