// Copy this file into your own project (it depends on nothing but the .NET base library) to check that a step of
// your own allocates nothing once warm, in a test or at the start of a program.
using System.Diagnostics;

namespace Allocation;

/// <summary>
/// Measures the bytes a step allocates once warm, window by window, so a step that allocates once in a thousand
/// calls shows up: <c>AllocationCheck.ThrowIfAllocates(() =&gt; Net.TrainStep(…))</c>.
/// </summary>
/// <remarks>
/// Warm-up: under the JIT the first calls run unoptimised code that may box, and tiered compilation replaces it in the
/// background during the first few hundred milliseconds; static constructors and pools fill on first use. So the step
/// runs for at least <c>warmUp</c> (0.5 s by default) and until one whole window allocated nothing (at most 5 s; a
/// NativeAOT binary is warm after its first call). Then every one of <c>windows</c> windows is measured.
/// <para>Which threads count: <see cref="AllocationScope.AllThreads"/> (the default) counts every thread of the process,
/// which includes the library's GEMM worker threads (a workspace with <c>Threads</c> &gt; 1) but also whatever else
/// the process does meanwhile: a test runner reports results on its own threads, so in an xunit test either run the
/// check in a collection with parallelisation off and accept an occasional retry, or, for a one-thread step, count
/// <see cref="AllocationScope.CurrentThread"/> only.</para>
/// </remarks>
public static class AllocationCheck
{
    /// <summary>The bytes allocated during each of <paramref name="windows"/> windows of
    /// <paramref name="callsPerWindow"/> calls of <paramref name="step"/>, after warm-up. All zero: the step allocates
    /// nothing in steady state.</summary>
    public static long[] SteadyState(Action step, AllocationScope scope = AllocationScope.AllThreads, int windows = 10,
        int callsPerWindow = 100, TimeSpan? warmUp = null)
    {
        ArgumentNullException.ThrowIfNull(step);
        ArgumentOutOfRangeException.ThrowIfLessThan(windows, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(callsPerWindow, 1);
        var minimum = warmUp ?? TimeSpan.FromSeconds(0.5);
        var maximum = minimum + TimeSpan.FromSeconds(5);
        var clock = Stopwatch.StartNew();
        long warm;
        do warm = Window(step, scope, callsPerWindow);
        while ((warm != 0 || clock.Elapsed < minimum) && clock.Elapsed < maximum);

        var bytes = new long[windows];   // allocated before the measurement starts
        for (int w = 0; w < windows; w++) bytes[w] = Window(step, scope, callsPerWindow);
        return bytes;
    }

    /// <summary>Throws <see cref="InvalidOperationException"/>, naming each window's bytes, unless
    /// <see cref="SteadyState"/> measures 0 bytes in every window.</summary>
    public static void ThrowIfAllocates(Action step, AllocationScope scope = AllocationScope.AllThreads, int windows = 10,
        int callsPerWindow = 100, TimeSpan? warmUp = null)
    {
        long[] bytes = SteadyState(step, scope, windows, callsPerWindow, warmUp);
        if (Array.Exists(bytes, b => b != 0))
            throw new InvalidOperationException(
                $"the step allocated after warm-up: [{string.Join(", ", bytes)}] bytes in {windows} windows of {callsPerWindow} calls ({scope})");
    }

    private static long Window(Action step, AllocationScope scope, int calls)
    {
        long before = Allocated(scope);
        for (int i = 0; i < calls; i++) step();
        return Allocated(scope) - before;
    }

    private static long Allocated(AllocationScope scope) => scope == AllocationScope.CurrentThread
        ? GC.GetAllocatedBytesForCurrentThread()
        : GC.GetTotalAllocatedBytes(precise: true);
}

/// <summary>Whose allocations <see cref="AllocationCheck"/> counts.</summary>
public enum AllocationScope
{
    /// <summary>Every thread of the process (<see cref="GC.GetTotalAllocatedBytes(bool)"/>, precise).</summary>
    AllThreads,

    /// <summary>The calling thread only (<see cref="GC.GetAllocatedBytesForCurrentThread"/>).</summary>
    CurrentThread,
}
