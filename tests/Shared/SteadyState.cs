using Xunit;

namespace Backprop.Functional.Tests;

/// <summary>Measures what a step allocates once warm. "Steady state" means after warm-up, and warm-up is more than
/// one call: the runtime may finish lazy work (tier-1 code, a static, a pool bucket) a few calls in. So the step
/// runs a few times, then in several windows of calls; the smallest window is the steady-state figure. A step that
/// allocates every time makes every window positive and fails.</summary>
internal static class SteadyState
{
    public static long AllocatedBytes(Action step, int warmup = 5, int windows = 4, int callsPerWindow = 10)
    {
        for (int i = 0; i < warmup; i++) step();
        long smallest = long.MaxValue;
        for (int w = 0; w < windows && smallest > 0; w++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < callsPerWindow; i++) step();
            smallest = Math.Min(smallest, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        return smallest;
    }
}

/// <summary>Allocation tests run alone: a test in parallel can hold the GEMM thread pool or load the machine
/// enough to shift lazy runtime work into the measured window.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class RunsAlone
{
    public const string Name = "Allocation (not parallel)";
}
