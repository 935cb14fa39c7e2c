using Xunit;
using Xunit.Abstractions;

namespace Backprop.Functional.Tests.Fuzzing;

/// <summary>The harness can fail: a loader that hangs, throws another type, writes a two-line or anonymous message,
/// or allocates past the bound makes the run fail with the input saved; a known bug is counted, not failed.</summary>
public sealed class FuzzerSelfTests(ITestOutputHelper output)
{
    private sealed class FakeTarget(Func<int, Func<long>> behaviour, Func<Exception, string?>? known = null) : IFuzzTarget
    {
        public string Format => "selftest";

        public FuzzCase Make(ref SeededRandom rng, int index) => new([(byte)index, (byte)rng.Next(256)], "fake", $"case {index}") { Kind = index };

        public Func<long> Prepare(FuzzCase c, string directory) => behaviour(c.Kind);

        public string? KnownAfterRun(FuzzCase c, Exception e) => known?.Invoke(e);
    }

    private static InvalidDataException Good() => new($"/tmp/{Fuzzer.FileStem}: bad");

    private FuzzReport Run(Func<int, Func<long>> behaviour, Func<Exception, string?>? known = null, TimeSpan? timeout = null) =>
        Fuzzer.Run(new FakeTarget(behaviour, known), output, cases: 8, caseTimeout: timeout);

    [Fact]
    public void Run_ofLoaderThatThrowsDocumentedType_passes()
    {
        var report = Run(i => () => i % 2 == 0 ? 0 : throw Good());

        Assert.Empty(report.Failures);
        Assert.Contains("InvalidDataException 4, loaded 4", report.Summary(), StringComparison.Ordinal);
    }

    [Fact]
    public void Run_ofLoaderThatHangs_failsWithTheInputSaved()
    {
        using var gate = new ManualResetEventSlim();
        try
        {
            var report = Run(i => () => { if (i == 3) gate.Wait(); return 0; }, timeout: TimeSpan.FromMilliseconds(300));

            var failure = Assert.Single(report.Failures);
            Assert.Contains("case 3", failure, StringComparison.Ordinal);
            Assert.Contains("(hang)", failure, StringComparison.Ordinal);
            var rng = Fuzzer.CaseRandom(Fuzzer.Seed, "selftest", 3);
            Assert.Contains("base64: " + Convert.ToBase64String([3, (byte)rng.Next(256)]), failure, StringComparison.Ordinal);
        }
        finally
        {
            gate.Set();   // let the abandoned worker finish
        }
    }

    [Theory]
    [InlineData("other type", "System.ArgumentOutOfRangeException")]
    [InlineData("two lines", "not one line")]
    [InlineData("no file", "does not name the file")]
    [InlineData("allocates", "allocated")]
    public void Run_ofMisbehavingLoader_fails(string how, string expected)
    {
        var report = Run(i => () => i != 5 ? 0 : how switch
        {
            "other type" => throw new ArgumentOutOfRangeException(nameof(i)),
            "two lines" => throw new InvalidDataException($"{Fuzzer.FileStem}: a\nb"),
            "no file" => throw new InvalidDataException("bad"),
            _ => AllocatePastTheBound(),
        });

        var failure = Assert.Single(report.Failures);
        Assert.Contains("case 5", failure, StringComparison.Ordinal);
        Assert.Contains(expected, failure, StringComparison.Ordinal);
        Assert.Contains("input saved to ", failure, StringComparison.Ordinal);
    }

    private static long AllocatePastTheBound()
    {
        var array = new byte[Fuzzer.AllocationBound(2) + 1];
        GC.KeepAlive(array);
        return 0;
    }

    [Fact]
    public void Run_ofKnownBug_countsItWithoutFailing()
    {
        var report = Run(i => () => i == 1 ? throw new OverflowException() : 0, e => e is OverflowException ? "known elsewhere" : null);

        Assert.Empty(report.Failures);
        Assert.Contains("known (known elsewhere) 1", report.Summary(), StringComparison.Ordinal);
    }
}
