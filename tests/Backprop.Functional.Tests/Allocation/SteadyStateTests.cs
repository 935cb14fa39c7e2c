using Xunit;

namespace Backprop.Functional.Tests.Allocation;

/// <summary>The allocation helper itself can fail: a step that allocates now and then, or only on another thread,
/// is reported, and a step that allocates nothing is not.</summary>
[Collection(RunsAlone.Name)]
public sealed class SteadyStateTests
{
    private static object? s_kept;

    [Fact]
    public void A_step_that_allocates_every_20th_call_is_reported()
    {
        int calls = 0;
        long[] windows = SteadyState.Measure(() =>
        {
            if (++calls % 20 == 0) s_kept = new byte[100];
        });
        // 100 measured calls, 5 allocations, each in its own window; the smallest window is 0.
        Assert.Equal(5, windows.Count(b => b > 0));
        Assert.Equal(0L, windows.Min());
        Assert.True(windows.Sum() >= 5 * 100, $"windows: {string.Join(", ", windows)}");
    }

    [Fact]
    public void A_step_that_allocates_only_on_a_worker_thread_is_reported()
    {
        using var work = new SemaphoreSlim(0);
        using var done = new SemaphoreSlim(0);
        bool stop = false;
        var worker = new Thread(() =>
        {
            while (true)
            {
                work.Wait();
                if (Volatile.Read(ref stop)) return;
                s_kept = new byte[100];
                done.Release();
            }
        }) { IsBackground = true };
        worker.Start();
        try
        {
            void Step()
            {
                work.Release();
                done.Wait();
            }
            long allocated = SteadyState.AllocatedBytes(Step);
            Assert.True(allocated >= 100 * 100, $"all threads: {allocated} bytes in 100 calls");
            // The calling thread allocates nothing: counting it alone would pass this step.
            long callerBefore = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 100; i++) Step();
            Assert.Equal(0L, GC.GetAllocatedBytesForCurrentThread() - callerBefore);
        }
        finally
        {
            Volatile.Write(ref stop, true);
            work.Release();
            worker.Join();
        }
    }

    [Fact]
    public void A_step_that_allocates_nothing_passes()
    {
        var buffer = new double[64];
        long[] windows = SteadyState.Measure(() =>
        {
            for (int i = 0; i < buffer.Length; i++) buffer[i] = Math.Sqrt(i + buffer[i]);
        });
        Assert.All(windows, b => Assert.Equal(0L, b));
    }
}
