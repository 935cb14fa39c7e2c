using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace Backprop.Functional.Tests.Data;

/// <summary>A text, a batch and a block length that fit it (at least one block), small enough to read when a property fails.</summary>
public sealed record StreamCase(string Text, int Batch, int Time)
{
    public override string ToString() => $"\"{Escape(Text)}\" ({Text.Length} chars), batch {Batch}, time {Time}";

    /// <summary>Control and non-ASCII characters as \uXXXX, so a lone surrogate in a failure message stays readable.</summary>
    public static string Escape(string s) => string.Concat(s.Select(c => c < 0x20 || c > 0x7E ? $"\\u{(int)c:X4}" : c.ToString()));
}

/// <summary>Texts over a few characters, one of them outside the Basic Multilingual Plane (two code units); batch 1–6
/// and time 1–10 cut to what the text allows. Shrinks toward a shorter text, batch 1 and time 1.</summary>
public static class StreamArbitraries
{
    private static readonly string[] Pieces = ["a", "b", "c", " ", "\n", "é", "\U0001F600"];

    public static Gen<StreamCase> Gen() =>
        from n in FsCheck.Fluent.Gen.Choose(2, 300)
        from pieces in FsCheck.Fluent.Gen.ArrayOf(FsCheck.Fluent.Gen.Elements(Pieces), n)
        let text = string.Concat(pieces)
        from batch in FsCheck.Fluent.Gen.Choose(1, Math.Min(6, text.Length / 2))
        from time in FsCheck.Fluent.Gen.Choose(1, Math.Min(10, (text.Length / batch) - 1))
        select new StreamCase(text, batch, time);

    public static IEnumerable<StreamCase> Shrink(StreamCase c)
    {
        if (c.Batch > 1) yield return c with { Batch = 1 };
        if (c.Time > 1) yield return c with { Time = 1 };
        int shorter = Math.Max(c.Batch * (c.Time + 1), 2);   // still one block
        if (shorter < c.Text.Length) yield return c with { Text = c.Text[..shorter] };
        if (c.Text.Length > shorter + 1) yield return c with { Text = c.Text[..^1] };
    }

    public static Arbitrary<StreamCase> StreamCase() => Arb.From(Gen(), Shrink);
}

/// <summary>Truncated-BPTT blocks: every row is one-hot, the inputs decode to the streams' characters block after
/// block, the targets are the inputs shifted by one across block boundaries, and bad sizes are refused by name.</summary>
public sealed class CharStreamsTests
{
    [Property(MaxTest = 300, Arbitrary = [typeof(StreamArbitraries)])]
    public Property Blocks_decode_to_the_streams_and_targets_are_inputs_shifted_by_one(StreamCase c)
    {
        var corpus = new CharCorpus(c.Text);
        var streams = new CharStreams(corpus, c.Batch);
        int v = corpus.VocabularySize, l = c.Text.Length / c.Batch, blocks = streams.Blocks(c.Time);
        var x = new double[c.Batch * c.Time * v];
        var y = new double[x.Length];
        var inputs = new string[c.Batch];
        var targets = new string[c.Batch];
        string? oneHot = null, blockBoundary = null;
        var lastTargets = new int[c.Batch];

        for (int k = 0; k < blocks; k++)
        {
            streams.Fill<double>(k, c.Time, x, y);
            oneHot ??= NotOneHot(x, v, "x", k) ?? NotOneHot(y, v, "y", k);
            for (int b = 0; b < c.Batch; b++)
            {
                int[] xi = Rows(x, b, c.Time, v), yi = Rows(y, b, c.Time, v);
                inputs[b] += corpus.Decode(xi);
                targets[b] += corpus.Decode(yi);
                if (k > 0 && lastTargets[b] != xi[0])
                    blockBoundary ??= $"stream {b}: the last target of block {k - 1} is {lastTargets[b]}, the first input of block {k} is {xi[0]}";
                lastTargets[b] = yi[^1];
            }
        }

        Property p = (blocks == (l - 1) / c.Time).Label($"Blocks({c.Time}) = {blocks}, streams of {l}")
            .And((oneHot is null).Label(oneHot ?? "one-hot"))
            .And((blockBoundary is null).Label(blockBoundary ?? "boundaries"));
        for (int b = 0; b < c.Batch; b++)
        {
            string stream = c.Text.Substring(b * l, l), used = stream[..((blocks * c.Time) + 1)];
            p = p.And((inputs[b] == used[..^1]).Label($"stream {b}: inputs \"{StreamCase.Escape(inputs[b])}\" == \"{StreamCase.Escape(used[..^1])}\""))
                 .And((targets[b] == used[1..]).Label($"stream {b}: targets \"{StreamCase.Escape(targets[b])}\" == \"{StreamCase.Escape(used[1..])}\""));
        }

        return p;
    }

    [Property(MaxTest = 100, Arbitrary = [typeof(StreamArbitraries)])]
    public Property Float_and_double_blocks_hold_the_same_ones(StreamCase c)
    {
        var streams = new CharStreams(new CharCorpus(c.Text), c.Batch);
        int n = c.Batch * c.Time * streams.VocabularySize, last = streams.Blocks(c.Time) - 1;
        float[] xf = new float[n], yf = new float[n];
        double[] xd = new double[n], yd = new double[n];
        Array.Fill(xf, 7f);   // stale values from a previous block must go
        Array.Fill(yd, -3.0);

        streams.Fill<float>(last, c.Time, xf, yf);
        streams.Fill<double>(last, c.Time, xd, yd);

        return (xf.Select(f => (double)f).SequenceEqual(xd) && yf.Select(f => (double)f).SequenceEqual(yd)).Label("float == double")
            .And((xf.Sum() == c.Batch * c.Time).Label($"x holds {xf.Sum()} ones, batch · time = {c.Batch * c.Time}"));
    }

    [Fact]
    public void Streams_of_a_known_text_in_two_blocks()
    {
        // 11 characters, batch 2: streams "abcde" and "fghij", "k" dropped; time 2: blocks "ab"→"bc", "cd"→"de".
        var corpus = new CharCorpus("abcdefghijk");
        var streams = new CharStreams(corpus, batch: 2);
        int v = corpus.VocabularySize;
        var x = new float[2 * 2 * v];
        var y = new float[x.Length];

        Assert.Equal(5, streams.StreamLength);
        Assert.Equal(2, streams.Blocks(2));
        Assert.Equal(4, streams.Blocks(1));
        Assert.Equal(0, streams.Blocks(5));
        streams.Fill<float>(1, 2, x, y);
        Assert.Equal("cd", corpus.Decode(Rows(x, 0, 2, v)));
        Assert.Equal("de", corpus.Decode(Rows(y, 0, 2, v)));
        Assert.Equal("hi", corpus.Decode(Rows(x, 1, 2, v)));
        Assert.Equal("ij", corpus.Decode(Rows(y, 1, 2, v)));
        Assert.Equal(1f, x[(1 * 2 * v) + (0 * v) + corpus.IndexOf('h')]);   // batch first: x[b = 1, t = 0, 'h']
    }

    [Fact]
    public void A_batch_too_large_for_the_text_is_refused_with_the_largest_that_fits()
    {
        var corpus = new CharCorpus("abcdefg");

        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new CharStreams(corpus, 4));

        Assert.Contains("7 characters cannot make 4 streams of at least 2 characters", e.Message, StringComparison.Ordinal);
        Assert.Contains("use a batch of at most 3", e.Message, StringComparison.Ordinal);
        Assert.Equal(2, new CharStreams(corpus, 3).StreamLength);
        Assert.Throws<ArgumentOutOfRangeException>(() => new CharStreams(corpus, 0));
    }

    [Fact]
    public void Fill_refuses_a_block_past_the_end_or_a_time_below_one()
    {
        var streams = new CharStreams(new CharCorpus("abcdefghijk"), batch: 2);
        var x = new float[2 * 2 * 11];
        var y = new float[x.Length];

        var past = Assert.Throws<ArgumentOutOfRangeException>(() => streams.Fill<float>(2, 2, x, y));
        var negative = Assert.Throws<ArgumentOutOfRangeException>(() => streams.Fill<float>(-1, 2, x, y));
        Assert.Throws<ArgumentOutOfRangeException>(() => streams.Fill<float>(0, 0, x, y));
        Assert.Throws<ArgumentOutOfRangeException>(() => streams.Blocks(0));

        Assert.Contains("block 2 is not one of the 2 blocks of 2 steps in streams of 5 characters (0 … 1)", past.Message, StringComparison.Ordinal);
        Assert.Contains("block -1", negative.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Fill_refuses_buffers_of_the_wrong_length_naming_the_product()
    {
        var streams = new CharStreams(new CharCorpus("abcdefghijk"), batch: 2);
        var right = new double[2 * 3 * 11];

        var shortX = Assert.Throws<ArgumentException>(() => streams.Fill<double>(0, 3, new double[10], right));
        var longY = Assert.Throws<ArgumentException>(() => streams.Fill<double>(0, 3, right, new double[67]));

        Assert.Equal("x", shortX.ParamName);
        Assert.Contains("x has 10 elements but a block [batch × time × V] needs 2 × 3 × 11 = 66", shortX.Message, StringComparison.Ordinal);
        Assert.Equal("y", longY.ParamName);
        Assert.Contains("y has 67 elements", longY.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Fill_refuses_overlapping_inputs_and_targets()
    {
        var streams = new CharStreams(new CharCorpus("abcdefghijk"), batch: 2);
        var both = new double[(2 * 1 * 11) + 1];

        var e = Assert.Throws<ArgumentException>(() => streams.Fill<double>(0, 1, both.AsSpan(0, 22), both.AsSpan(1, 22)));

        Assert.Contains("x and y overlap", e.Message, StringComparison.Ordinal);
    }

    /// <summary>The index of the 1 in each row of stream <paramref name="b"/>'s [time × v] slab.</summary>
    private static int[] Rows<T>(T[] block, int b, int time, int v) where T : IEquatable<T>, System.Numerics.INumberBase<T> =>
        [.. Enumerable.Range(0, time).Select(t => Array.IndexOf(block, T.One, ((b * time) + t) * v, v) - (((b * time) + t) * v))];

    private static string? NotOneHot(double[] block, int v, string name, int k)
    {
        for (int r = 0; r < block.Length / v; r++)
        {
            var row = block.AsSpan(r * v, v);
            int ones = 0, zeros = 0;
            foreach (double e in row)
            {
                if (e == 1) ones++;
                else if (e == 0) zeros++;
            }

            if (ones != 1 || zeros != v - 1)
                return $"block {k}: {name} row {r} is [{string.Join(", ", row.ToArray())}], not one-hot";
        }

        return null;
    }
}
