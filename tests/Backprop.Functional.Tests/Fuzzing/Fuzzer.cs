using System.Diagnostics;
using System.Globalization;
using System.Text;
using Xunit.Abstractions;

namespace Backprop.Functional.Tests.Fuzzing;

/// <summary>One mutated input: its bytes, how it was made (for the failure message), and how many bytes the loader
/// may allocate on it beyond what the loaded value itself holds.</summary>
internal sealed record FuzzCase(byte[] Bytes, string Entry, string Recipe)
{
    /// <summary>The input length the allocation bound is derived from (a gzip case sets its decompressed length).</summary>
    public long BoundLength { get; init; } = Bytes.Length;

    /// <summary>Which entry point or mode the target runs (the target's own numbering).</summary>
    public int Kind { get; init; }

    /// <summary>The target's own number: the valid seed a case started from (IDX, model) or the class count (CSV).</summary>
    public int Argument { get; init; }

    /// <summary>Set when the case is, before it runs, an instance of a known bug fixed on another branch (the reason).</summary>
    public string? KnownBeforeRun { get; init; }
}

/// <summary>A format under fuzz: builds cases from valid seeds, and loads one.</summary>
internal interface IFuzzTarget
{
    /// <summary>Name used in the report and in failure file names.</summary>
    string Format { get; }

    /// <summary>Makes case <paramref name="index"/> from its own generator (so a case is reproducible alone).</summary>
    FuzzCase Make(ref SeededRandom rng, int index);

    /// <summary>Writes the case's file(s) into <paramref name="directory"/> and returns the load to measure: it
    /// returns the loaded value's size in bytes (after checking the value is consistent) or throws.</summary>
    Func<long> Prepare(FuzzCase c, string directory);

    /// <summary>Why an outcome is a known bug fixed elsewhere, or null.</summary>
    string? KnownAfterRun(FuzzCase c, Exception e);
}

/// <summary>
/// Runs a target's cases on a worker thread: each case ends in a loaded value or <see cref="InvalidDataException"/>
/// (one line of at most <see cref="MaxMessage"/> characters, naming the file), allocates at most <see cref="AllocationBound"/> beyond twice the loaded value's size,
/// and finishes before <see cref="CaseTimeout"/> (a hang detector, not a speed assertion). Any other outcome is a
/// failure: its input is written to a file and shown in base64 in the message.
/// </summary>
/// <remarks>Environment: <c>BPF_FUZZ_SEED</c> (default <see cref="DefaultSeed"/>) picks the run's seed,
/// <c>BPF_FUZZ_CASES</c> (default 10 000) the cases per format, <c>BPF_FUZZ_OUT</c> the folder for failing inputs
/// (default: the temporary folder's <c>backprop-fuzz-failures</c>).</remarks>
internal static class Fuzzer
{
    public const long DefaultSeed = 20261126;
    public static readonly TimeSpan CaseTimeout = TimeSpan.FromSeconds(20);

    /// <summary>Longest error message accepted: quoted input (a field, a header, a layer list) must be cut.</summary>
    public const int MaxMessage = 1024;

    /// <summary>A marker the file names of fuzzed inputs carry, so a message can be checked for naming its file.</summary>
    public const string FileStem = "fuzzinput";

    public static long Seed => long.TryParse(Environment.GetEnvironmentVariable("BPF_FUZZ_SEED"), NumberStyles.Integer,
        CultureInfo.InvariantCulture, out long s) ? s : DefaultSeed;

    public static int Cases => int.TryParse(Environment.GetEnvironmentVariable("BPF_FUZZ_CASES"), NumberStyles.Integer,
        CultureInfo.InvariantCulture, out int n) && n > 0 ? n : 10_000;

    /// <summary>Bytes a case may allocate: a fixed 2 MiB (stream buffers, the gzip path's first 1 MiB read buffer)
    /// plus 64 bytes per input byte (strings per CSV field, JSON document, list growth).</summary>
    public static long AllocationBound(long inputLength) => (2L << 20) + (64 * inputLength);

    /// <summary>The generator of case <paramref name="index"/> of <paramref name="format"/> in the run <paramref name="seed"/>.</summary>
    public static SeededRandom CaseRandom(long seed, string format, int index)
    {
        long h = seed;
        foreach (char ch in format) h = (h * 31) + ch;
        return new SeededRandom((h * 1_000_003) + index);
    }

    /// <summary>Runs <paramref name="cases"/> (default <see cref="Cases"/>) cases of <paramref name="target"/> and writes
    /// the counts to <paramref name="output"/>; <paramref name="caseTimeout"/> (default <see cref="CaseTimeout"/>) is
    /// how long one case may run before the run stops and reports it as a hang.</summary>
    public static FuzzReport Run(IFuzzTarget target, ITestOutputHelper output, int? cases = null, TimeSpan? caseTimeout = null)
    {
        long seed = Seed;
        int count = cases ?? Cases;
        var timeout = caseTimeout ?? CaseTimeout;
        string directory = Directory.CreateTempSubdirectory($"backprop-fuzz-{target.Format}-").FullName;
        var report = new FuzzReport(target.Format, seed, count);
        var state = new WorkerState();
        var watch = Stopwatch.StartNew();
        var worker = new Thread(() => Work(target, seed, count, directory, report, state))
        {
            IsBackground = true,   // a hung case must not keep the test host alive
            Name = $"fuzz {target.Format}",
        };
        try
        {
            worker.Start();
            while (!worker.Join(100))
            {
                long started = Volatile.Read(ref state.CaseStarted);
                if (started != 0 && Stopwatch.GetElapsedTime(started) > timeout)
                {
                    var hung = Volatile.Read(ref state.Current)!;
                    report.Fail(hung, state.Index, $"still running after {timeout.TotalSeconds:F1} s (hang)");
                    break;   // the worker is abandoned; it is a background thread
                }
            }
            if (state.Crash is not null) throw new InvalidOperationException("the fuzz harness itself failed", state.Crash);
        }
        finally
        {
            watch.Stop();
            if (!worker.IsAlive) Directory.Delete(directory, recursive: true);
        }
        report.Elapsed = watch.Elapsed;
        output.WriteLine(report.Summary());
        return report;
    }

    private sealed class WorkerState
    {
        public long CaseStarted;
        public FuzzCase? Current;
        public int Index;
        public Exception? Crash;
    }

    private static void Work(IFuzzTarget target, long seed, int cases, string directory, FuzzReport report, WorkerState state)
    {
        try
        {
            for (int i = 0; i < cases; i++)
            {
                var rng = CaseRandom(seed, target.Format, i);
                var c = target.Make(ref rng, i);
                if (c.KnownBeforeRun is { } known)
                {
                    report.Count("known (" + known + ")", c);
                    continue;
                }
                var load = target.Prepare(c, directory);
                Volatile.Write(ref state.Current, c);
                state.Index = i;
                Volatile.Write(ref state.CaseStarted, Stopwatch.GetTimestamp());
                long before = GC.GetAllocatedBytesForCurrentThread();
                long loadedBytes = 0;
                Exception? error = null;
                try
                {
                    loadedBytes = load();
                }
#pragma warning disable CA1031 // every exception is an outcome to classify
                catch (Exception e)
#pragma warning restore CA1031
                {
                    error = e;
                }
                long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
                Volatile.Write(ref state.CaseStarted, 0);
                Classify(target, c, i, error, allocated, loadedBytes, report);
                if (report.Failures.Count >= FuzzReport.MaxFailures) return;
            }
        }
#pragma warning disable CA1031 // reported on the test thread
        catch (Exception e)
#pragma warning restore CA1031
        {
            state.Crash = e;
        }
    }

    private static void Classify(IFuzzTarget target, FuzzCase c, int index, Exception? error, long allocated, long loadedBytes, FuzzReport report)
    {
        long bound = AllocationBound(c.BoundLength) + (2 * loadedBytes);
        if (error is null)
        {
            report.Count("loaded", c);
        }
        else if (target.KnownAfterRun(c, error) is { } known)
        {
            report.Count("known (" + known + ")", c);
            return;   // the known bugs allocate beyond the bound; their fix is elsewhere
        }
        else if (error.GetType() == typeof(InvalidDataException))
        {
            string message = error.Message;
            if (message.Contains('\n', StringComparison.Ordinal) || message.Contains('\r', StringComparison.Ordinal))
            {
                report.Fail(c, index, $"InvalidDataException message is not one line: {Escape(message)}");
                return;
            }
            if (message.Length > MaxMessage)
            {
                report.Fail(c, index, $"InvalidDataException message is {message.Length} characters long (more than {MaxMessage}): {message[..200]} …");
                return;
            }
            if (!message.Contains(FileStem, StringComparison.Ordinal))
            {
                report.Fail(c, index, $"InvalidDataException message does not name the file: {message}");
                return;
            }
            report.Count(nameof(InvalidDataException), c);
            if (message.Length > report.LongestMessage.Length) report.LongestMessage = message;
        }
        else
        {
            report.Fail(c, index, $"{error.GetType().FullName}: {error.Message}\n{error.StackTrace}");
            return;
        }
        if (allocated > bound)
        {
            report.Fail(c, index, string.Create(CultureInfo.InvariantCulture,
                $"allocated {allocated:N0} bytes for a {c.BoundLength:N0}-byte input (bound {bound:N0}); outcome {error?.GetType().Name ?? "loaded"}"));
        }
        report.MaxAllocated = Math.Max(report.MaxAllocated, allocated);
    }

    /// <summary>Control characters written as \n, \r, \uXXXX, so a message fits one line in the report.</summary>
    public static string Escape(string text)
    {
        var sb = new StringBuilder(text.Length);
        foreach (char ch in text)
        {
            if (ch == '\n') sb.Append("\\n");
            else if (ch == '\r') sb.Append("\\r");
            else if (char.IsControl(ch)) sb.Append(CultureInfo.InvariantCulture, $"\\u{(int)ch:X4}");
            else sb.Append(ch);
        }
        return sb.ToString();
    }
}

/// <summary>Counts per outcome and per entry point, and the failures with their saved inputs.</summary>
internal sealed class FuzzReport(string format, long seed, int cases)
{
    public const int MaxFailures = 5;

    private readonly SortedDictionary<string, int> _outcomes = new(StringComparer.Ordinal);
    private readonly SortedDictionary<string, SortedDictionary<string, int>> _byEntry = new(StringComparer.Ordinal);
    private readonly List<string> _failures = [];

    public IReadOnlyList<string> Failures
    {
        get { lock (_failures) return [.. _failures]; }
    }

    public TimeSpan Elapsed { get; set; }

    public long MaxAllocated { get; set; }

    public string LongestMessage { get; set; } = "";

    public void Count(string outcome, FuzzCase c)
    {
        _outcomes[outcome] = _outcomes.GetValueOrDefault(outcome) + 1;
        if (!_byEntry.TryGetValue(c.Entry, out var entry)) _byEntry[c.Entry] = entry = new(StringComparer.Ordinal);
        entry[outcome] = entry.GetValueOrDefault(outcome) + 1;
    }

    public void Fail(FuzzCase c, int index, string what)
    {
        string folder = Environment.GetEnvironmentVariable("BPF_FUZZ_OUT") is { Length: > 0 } o
            ? o : Path.Combine(Path.GetTempPath(), "backprop-fuzz-failures");
        Directory.CreateDirectory(folder);
        string file = Path.Combine(folder, string.Create(CultureInfo.InvariantCulture, $"{format}-seed{seed}-case{index}.bin"));
        File.WriteAllBytes(file, c.Bytes);
        string base64 = Convert.ToBase64String(c.Bytes);
        if (base64.Length > 8192) base64 = base64[..8192] + "… (truncated; the file has all of it)";
        string text = string.Create(CultureInfo.InvariantCulture,
            $"{format} case {index} (seed {seed}, entry {c.Entry}, {c.Bytes.Length} bytes, {c.Recipe}): {what}\n  input saved to {file}\n  base64: {base64}");
        lock (_failures) _failures.Add(text);
        _outcomes["FAILED"] = _outcomes.GetValueOrDefault("FAILED") + 1;
    }

    public string FailureMessage =>
        $"{Failures.Count} failing {format} case(s) (seed {seed}; set BPF_FUZZ_SEED to rerun another):\n" + string.Join("\n\n", Failures);

    public string Summary()
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture,
            $"fuzz {format}: seed {seed} (BPF_FUZZ_SEED), {cases} cases in {Elapsed.TotalSeconds:F1} s, largest allocation of a case {MaxAllocated:N0} bytes, longest message {LongestMessage.Length} chars\n");
        sb.Append("  outcomes: ").AppendJoin(", ", _outcomes.Select(o => $"{o.Key} {o.Value}")).Append('\n');
        if (LongestMessage.Length > 0) sb.Append("  longest message: ").Append(Fuzzer.Escape(LongestMessage)).Append('\n');
        foreach (var (entry, outcomes) in _byEntry)
            sb.Append(CultureInfo.InvariantCulture, $"  {entry}: ").AppendJoin(", ", outcomes.Select(o => $"{o.Key} {o.Value}")).Append('\n');
        return sb.ToString();
    }
}
