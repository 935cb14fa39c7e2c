using System.Diagnostics;
using Xunit;

namespace Backprop.Functional.Tests;

/// <summary>
/// Measures what a step allocates once warm, on every thread of the process (GEMM pool workers included), so a test
/// that uses it must run in the <see cref="RunsAlone"/> collection: nothing else of the test run allocates then.
/// </summary>
/// <remarks>
/// Warm-up: the runtime finishes lazy work (tier-0 code that boxes, tier-1 and PGO recompilation in the background,
/// statics, pool buckets, a worker's thread-static scratch) during the first calls and the first few hundred
/// milliseconds. So the step runs, in windows of calls, for at least <see cref="MinWarmup"/> (and until the test host
/// is past <see cref="HostStartup"/>) and until a whole window allocated nothing (or <see cref="MaxWarmup"/> has passed, as it does for a step that allocates every time). Then
/// every one of <c>windows</c> windows must allocate 0 bytes: the figure returned is their sum, so a step that
/// allocates even once in <c>windows × callsPerWindow</c> calls (100 by default), on any thread, fails. The one thing
/// discounted is the test host's: a window that allocated while a .NET thread-pool work item ran (the library runs
/// nothing on the .NET thread pool), or in which the step's own threads — the caller and the GEMM workers, counted
/// exactly — allocated nothing while another thread did (the test runner reporting a result), is measured again, at
/// most <see cref="MaxRetries"/> times plus two per window; a step allocating on a thread of its own does so in every
/// window and fails once they run out.
/// </remarks>
internal static class SteadyState
{
    /// <summary>Warm-up lasts at least this long: past the tier-up delay (100 ms) and the background recompilation.</summary>
    public static readonly TimeSpan MinWarmup = TimeSpan.FromMilliseconds(250);

    /// <summary>Warm-up gives up waiting for a quiet window after this long and measures anyway.</summary>
    public static readonly TimeSpan MaxWarmup = TimeSpan.FromSeconds(3);

    /// <summary>The test host allocates on its own threads (hundreds of KB) while it reports the discovered tests in
    /// its first seconds; warm-up lasts until the process is this old.</summary>
    public static readonly TimeSpan HostStartup = TimeSpan.FromSeconds(4);

    private static TimeSpan HostUptime()
    {
        using var self = Process.GetCurrentProcess();
        return DateTime.Now - self.StartTime;
    }

    /// <summary>Bytes allocated by all threads over <paramref name="windows"/> windows of
    /// <paramref name="callsPerWindow"/> calls after warm-up; 0 only if every window allocated nothing.</summary>
    public static long AllocatedBytes(Action step, int windows = 10, int callsPerWindow = 10) =>
        Measure(step, windows, callsPerWindow).Sum();

    /// <summary>The bytes allocated by all threads in each measured window, after warm-up.</summary>
    public static long[] Measure(Action step, int windows = 10, int callsPerWindow = 10)
    {
        ArgumentNullException.ThrowIfNull(step);
        var clock = Stopwatch.StartNew();
        bool quiet = false;
        int calls = 0;
        long windowTicks = 0;
        while (clock.Elapsed < MaxWarmup + HostStartup
            && !(quiet && clock.Elapsed >= MinWarmup && calls >= 3 * callsPerWindow && HostUptime() >= HostStartup))
        {
            long start = Stopwatch.GetTimestamp();
            (long bytes, bool host, _) = Window(step, callsPerWindow);
            windowTicks = Stopwatch.GetTimestamp() - start;
            quiet = bytes == 0 || (host && quiet);
            calls += callsPerWindow;
        }
        // A slow step (a scalar GEMM) gets shorter windows, so most of them fall between the host's timer ticks; the
        // same windows × callsPerWindow calls are measured.
        int per = (int)Math.Clamp(callsPerWindow * (double)WindowTarget.Ticks * Stopwatch.Frequency / TimeSpan.TicksPerSecond
            / Math.Max(windowTicks, 1), 1, callsPerWindow);
        var perWindow = new long[(windows * callsPerWindow + per - 1) / per];   // allocated before anything is measured
        int retries = 0, maxRetries = MaxRetries + 2 * perWindow.Length;
        for (int w = 0; w < perWindow.Length;)
        {
            (long bytes, bool host, long library) = Window(step, per);
            // Another thread allocated while the step's own threads (the caller and the GEMM workers) allocated
            // nothing, or a thread-pool item ran: the test host's reporting, most likely; measure the window again. A
            // step that allocates on a thread of its own does so in every window and fails once the retries run out.
            if (bytes != 0 && (host || library == 0) && ++retries <= maxRetries)
                continue;
            perWindow[w++] = bytes;
        }
        if (perWindow.Any(b => b != 0))   // for the log of a failing run: what was seen, and when
            Console.Error.WriteLine($"SteadyState: {calls} warm-up calls in {clock.ElapsedMilliseconds} ms, {retries} windows measured again, windows of {per} calls [{string.Join(", ", perWindow)}] bytes, process up {HostUptime().TotalMilliseconds:F0} ms");
        return perWindow;
    }

    /// <summary>How long a measured window should last at most: well below the host timer's 100 ms period.</summary>
    private static readonly TimeSpan WindowTarget = TimeSpan.FromMilliseconds(20);

    /// <summary>Windows measured again because the test host's own thread-pool work (a timer of the test runner ticks
    /// every 100 ms and allocates 168 bytes) ran in them (plus two per window); past that, a window counts whatever ran
    /// in it.</summary>
    private const int MaxRetries = 50;

    /// <summary>One window: the bytes all threads allocated during <paramref name="calls"/> calls, and whether a .NET
    /// thread-pool work item completed meanwhile. The library never uses the .NET thread pool (its GEMM workers are
    /// dedicated threads, counted like the caller), so such a window may hold the test host's allocations.</summary>
    private static (long Bytes, bool Host, long Library) Window(Action step, int calls)
    {
        long items = ThreadPool.CompletedWorkItemCount;
        long before = GC.GetTotalAllocatedBytes(precise: true);
        long libraryBefore = GC.GetAllocatedBytesForCurrentThread() + Backprop.Functional.Kernels.Gemm.Pool.WorkerAllocatedBytes();
        for (int i = 0; i < calls; i++) step();
        long library = GC.GetAllocatedBytesForCurrentThread() + Backprop.Functional.Kernels.Gemm.Pool.WorkerAllocatedBytes() - libraryBefore;
        long bytes = GC.GetTotalAllocatedBytes(precise: true) - before;
        // a work item that allocated in the window may complete just after it: look a little later
        long settle = Stopwatch.GetTimestamp() + (Stopwatch.Frequency / 5000);
        while (Stopwatch.GetTimestamp() < settle) Thread.SpinWait(10);
        return (bytes, ThreadPool.CompletedWorkItemCount != items, library);
    }
}

/// <summary>Allocation tests run alone: <see cref="SteadyState"/> counts every thread's allocations, and a test in
/// parallel can also hold the GEMM thread pool or load the machine enough to shift lazy runtime work into the
/// measured windows.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class RunsAlone
{
    public const string Name = "Allocation (not parallel)";
}
