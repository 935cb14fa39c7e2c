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

    /// <summary>Runs a <see cref="Nesting"/> job on the claimed pool (one worker): the worker's part runs, and the
    /// caller's part is refused the pool.</summary>
    private static void RunNesting(string granted)
    {
        var job = new Nesting();
        Gemm.Pool.Start(job, 1);
        job.Execute(0);
        Gemm.Pool.Join();
        Assert.True(job.WorkerRan);
        Assert.False(job.NestedEntered, granted);
    }

    [Fact]
    public void A_caller_s_own_part_cannot_claim_the_pool_but_the_holder_can_between_jobs()
    {
        Assert.True(Gemm.Pool.TryEnter(1), "the pool is free inside this collection");
        try
        {
            RunNesting("a claim from inside the running job's caller part was granted");
            Assert.True(Gemm.Pool.TryEnter(1), "the holder between jobs is refused");
            Gemm.Pool.Exit();
        }
        finally
        {
            Gemm.Pool.Exit();
        }
    }

    private sealed class Throwing : Gemm.Pool.Job
    {
        internal override void Execute(int part)
        {
            if (part != 0) throw new InvalidOperationException("part " + part.ToString(System.Globalization.CultureInfo.InvariantCulture) + " failed");
        }
    }

    /// <summary>A worker part the caller took back and that threw: Join rethrows it after the wait, leaves the pool
    /// with no job running, and the next claim and job work as before.</summary>
    [Fact]
    public void A_part_taken_back_that_throws_reaches_the_caller_and_the_pool_stays_usable()
    {
        Gemm.Pool.TestHoldWorkers = true;   // the worker does not take its part: the caller takes it back
        Assert.True(Gemm.Pool.TryEnter(1), "the pool is free inside this collection");
        try
        {
            long taken = Interlocked.Read(ref Gemm.Pool.TakenBack);
            Gemm.Pool.Start(new Throwing(), 1);
            var e = Assert.Throws<InvalidOperationException>(Gemm.Pool.Join);
            Assert.Equal("part 1 failed", e.Message);
            Assert.True(Interlocked.Read(ref Gemm.Pool.TakenBack) > taken, "the worker ran its part: nothing was taken back");
            Assert.True(Gemm.Pool.TryEnter(1), "after the throw the pool still counted a job running");   // between jobs
            Gemm.Pool.Exit();
        }
        finally
        {
            Gemm.Pool.TestHoldWorkers = false;
            Gemm.Pool.Exit();
        }
        Assert.True(Gemm.Pool.TryEnter(1), "the pool stayed claimed after the throw");
        try
        {
            RunNesting("a job was still marked running after the throw");
        }
        finally
        {
            Gemm.Pool.Exit();
        }
    }
}
