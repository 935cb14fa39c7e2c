using Xunit;

namespace Backprop.Functional.Tests.Data;

/// <summary>Filling a block is part of every truncated-BPTT step, so it allocates nothing once warm.</summary>
[Collection(RunsAlone.Name)]
public sealed class CharStreamsAllocationTests
{
    private static readonly CharStreams Streams = new(new CharCorpus(Text()), batch: 8);

    private static string Text()
    {
        var rng = new SeededRandom(12);
        const string letters = "abcdefghijklmnopqrstuvwxyz ,.;:\n";
        return string.Concat(Enumerable.Range(0, 20_000).Select(_ => letters[rng.Next(letters.Length)]));
    }

    [Fact]
    public void Fill_float_steady_state_allocates_nothing() => AllocatesNothing<float>(time: 25);

    [Fact]
    public void Fill_double_steady_state_allocates_nothing() => AllocatesNothing<double>(time: 7);

    private static void AllocatesNothing<T>(int time) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var x = new T[Streams.Batch * time * Streams.VocabularySize];
        var y = new T[x.Length];
        int blocks = Streams.Blocks(time), k = 0;

        long bytes = SteadyState.AllocatedBytes(() =>
        {
            Streams.Fill<T>(k, time, x, y);
            k = (k + 1) % blocks;
        });

        Assert.Equal(0L, bytes);
        Assert.True(k >= 0 && blocks > 1);
    }
}
