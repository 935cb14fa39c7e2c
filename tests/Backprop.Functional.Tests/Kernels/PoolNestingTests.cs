using Backprop.Functional.Kernels;
using Xunit;

namespace Backprop.Functional.Tests.Kernels;

/// <summary>The pool's gate is re-entrant, so a claim from the thread that holds it used to succeed even while that
/// thread's job was running; a product inside the caller's own part (a layer computing with two GEMM threads inside a
/// data-parallel shard, say) would then have restarted the busy workers and overwritten the pending count. Such a claim
/// is refused now (the nested work runs alone: the same bits), while the holder may still claim it between jobs.</summary>
[Collection(RunsAlone.Name)]   // nothing else may hold the pool while this one does
public sealed class PoolNestingTests
{
    private sealed class Nesting : Gemm.Pool.Job
    {
        internal bool NestedEntered;
        internal volatile bool WorkerRan;

        internal override void Execute(int part)
        {
            if (part != 0)
            {
                WorkerRan = true;
                return;
            }
            NestedEntered = Gemm.Pool.TryEnter(1);
            if (NestedEntered) Gemm.Pool.Exit();
        }
    }

    [Fact]
    public void A_caller_s_own_part_cannot_claim_the_pool_but_the_holder_can_between_jobs()
    {
        Assert.True(Gemm.Pool.TryEnter(1), "the pool is free inside this collection");
        try
        {
            var job = new Nesting();
            Gemm.Pool.Start(job, 1);
            job.Execute(0);
            Gemm.Pool.Join();
            Assert.True(job.WorkerRan);
            Assert.False(job.NestedEntered, "a claim from inside the running job's caller part was granted");

            Assert.True(Gemm.Pool.TryEnter(1), "the holder between jobs is refused");
            Gemm.Pool.Exit();
        }
        finally
        {
            Gemm.Pool.Exit();
        }
    }
}
