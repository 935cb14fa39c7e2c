using System.Text;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace Backprop.Functional.Tests.Data;

/// <summary>A character corpus: the text survives the round trip through indices, the vocabulary is the sorted set of
/// its characters, a split keeps the text and the vocabulary, and sizes past the limits are refused by name.</summary>
public sealed class CharCorpusTests
{
    [Property(MaxTest = 300)]
    public Property Decode_of_Indices_is_the_text(NonEmptyString s)
    {
        string text = s.Get;
        var corpus = new CharCorpus(text);
        string sorted = new([.. text.Distinct().Order()]);
        bool indexOfInverts = Enumerable.Range(0, corpus.VocabularySize).All(i => corpus.IndexOf(corpus.Vocabulary[i]) == i);
        return (corpus.Decode(corpus.Indices) == text).Label("Decode(Indices) == text")
            .And((corpus.Length == text.Length).Label("Length"))
            .And((corpus.Vocabulary == sorted).Label($"Vocabulary {Escape(corpus.Vocabulary)} == sorted distinct {Escape(sorted)}"))
            .And(indexOfInverts.Label("IndexOf(Vocabulary[i]) == i"));
    }

    /// <summary>Pieces of a text: ASCII, a two-byte character, a surrogate pair (four bytes of UTF-8).</summary>
    private static readonly string[] Pieces = ["a", "b", "\n", "é", "😀"];

    [Property(MaxTest = 100)]
    public Property Load_with_a_maximum_is_the_corpus_of_that_many_first_characters(PositiveInt seed, PositiveInt cut, bool bom)
    {
        var rng = new SeededRandom(seed.Get);
        string text = string.Concat(Enumerable.Range(0, 1 + rng.Next(40)).Select(_ => Pieces[rng.Next(Pieces.Length)]));
        int max = 1 + cut.Get % (text.Length + 3);
        string path = Path.Combine(Path.GetTempPath(), $"charcorpus-{Guid.NewGuid():N}.txt");
        try
        {
            File.WriteAllText(path, text, new UTF8Encoding(encoderShouldEmitUTF8Identifier: bom));
            int keep = Math.Min(max, text.Length);
            if (char.IsHighSurrogate(text[keep - 1])) keep--;   // a pair is never cut in two
            if (keep == 0)
            {
                bool refused = false;
                try { CharCorpus.Load(path, max); } catch (InvalidDataException) { refused = true; }
                return refused.Label("only half a pair: empty, refused");
            }
            var corpus = CharCorpus.Load(path, max);
            var expected = new CharCorpus(text[..keep]);
            return (corpus.Decode(corpus.Indices) == text[..keep]).Label($"the first {keep} characters of {text.Length} (max {max})")
                .And((corpus.Vocabulary == expected.Vocabulary).Label("their vocabulary"))
                .And((CharCorpus.Load(path).Decode(CharCorpus.Load(path).Indices) == text).Label("without a maximum: all of it"));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(CharCorpus.MaxLength + 1)]
    public void Load_refuses_a_maximum_out_of_range(int max) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => CharCorpus.Load("whatever.txt", max));

    [Property(MaxTest = 200)]
    public Property Split_keeps_the_text_in_order_and_the_vocabulary(NonEmptyString s, PositiveInt permille)
    {
        string text = s.Get + "xy";   // at least two characters, so that both parts can be non-empty
        double f = Math.Clamp((permille.Get % 1000) / 1000.0, 1.0 / text.Length, 1 - (1.0 / text.Length));
        var corpus = new CharCorpus(text);

        var (train, validation) = corpus.Split(f);

        int expected = (int)Math.Round(f * text.Length, MidpointRounding.AwayFromZero);
        return (train.Decode(train.Indices) + validation.Decode(validation.Indices) == text).Label("train + validation == text")
            .And((validation.Length == expected).Label($"validation has {validation.Length} characters, round({f} · {text.Length}) = {expected}"))
            .And((train.Vocabulary == corpus.Vocabulary && validation.Vocabulary == corpus.Vocabulary).Label("both keep the vocabulary"));
    }

    [Fact]
    public void Vocabulary_is_sorted_by_code_point_and_IndexOf_is_minus_one_for_an_absent_character()
    {
        var corpus = new CharCorpus("ba\né a");

        Assert.Equal("\n abé", corpus.Vocabulary);
        Assert.Equal([3, 2, 0, 4, 1, 2], corpus.Indices.ToArray());
        Assert.Equal(-1, corpus.IndexOf('z'));
        Assert.Equal(-1, corpus.IndexOf('\0'));
    }

    [Fact]
    public void A_text_with_256_distinct_characters_is_accepted_and_257_is_refused_with_the_count()
    {
        string latin1 = new([.. Enumerable.Range(0, 256).Select(i => (char)i)]);
        Assert.Equal(256, new CharCorpus(latin1 + latin1).VocabularySize);

        var e = Assert.Throws<ArgumentException>(() => new CharCorpus(latin1 + "€"));

        Assert.Equal("text", e.ParamName);
        Assert.Contains("the text has 257 distinct characters; a character corpus holds at most 256", e.Message, StringComparison.Ordinal);
        Assert.Contains("U+20AC", e.Message, StringComparison.Ordinal);
    }

    /// <summary>The count comes first: a long text over the limit costs the message, not its 4-byte-per-character index array.</summary>
    [Fact]
    public void Too_many_characters_are_refused_before_the_index_array_is_allocated()
    {
        string text = string.Concat(Enumerable.Repeat(new string([.. Enumerable.Range(0x100, 300).Select(i => (char)i)]), 4000));   // 1.2 M characters
        long before = GC.GetAllocatedBytesForCurrentThread();

        Assert.Throws<ArgumentException>(() => new CharCorpus(text));

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < 100_000, $"refusing allocated {allocated} bytes (the index array would be {4L * text.Length})");
    }

    [Fact]
    public void An_empty_text_is_refused()
    {
        var e = Assert.Throws<ArgumentException>(() => new CharCorpus(""));
        Assert.Contains("the text is empty", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Decode_refuses_an_index_outside_the_vocabulary_naming_its_position()
    {
        var corpus = new CharCorpus("abc");

        var high = Assert.Throws<ArgumentOutOfRangeException>(() => corpus.Decode([0, 1, 3]));
        var low = Assert.Throws<ArgumentOutOfRangeException>(() => corpus.Decode([-1]));

        Assert.Contains("index 3 at position 2 is outside the vocabulary's 0 … 2", high.Message, StringComparison.Ordinal);
        Assert.Contains("index -1 at position 0", low.Message, StringComparison.Ordinal);
        Assert.Equal("cab", corpus.Decode([2, 0, 1]));
        Assert.Equal(new string('b', 1000), corpus.Decode(Enumerable.Repeat(1, 1000).ToArray()));   // past the stack buffer
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(1.0)]
    [InlineData(-0.1)]
    [InlineData(double.NaN)]
    public void Split_refuses_a_fraction_outside_zero_to_one(double f)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new CharCorpus("abcdef").Split(f));
        Assert.Contains("strictly between 0 and 1", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Split_refuses_a_fraction_that_leaves_a_part_empty()
    {
        var corpus = new CharCorpus("abcdefghij");

        var empty = Assert.Throws<ArgumentOutOfRangeException>(() => corpus.Split(0.01));
        var all = Assert.Throws<ArgumentOutOfRangeException>(() => corpus.Split(0.99));

        Assert.Contains("of 10 characters leaves the validation part empty", empty.Message, StringComparison.Ordinal);
        Assert.Contains("leaves the training part empty", all.Message, StringComparison.Ordinal);
        var (train, validation) = corpus.Split(0.1);
        Assert.Equal(("abcdefghi", "j"), (train.Decode(train.Indices), validation.Decode(validation.Indices)));
    }

    [Fact]
    public void BitsPerCharacter_is_nats_over_ln_2()
    {
        Assert.Equal(1.0, CharCorpus.BitsPerCharacter(Math.Log(2)), 15);
        Assert.Equal(Math.Log2(73), CharCorpus.BitsPerCharacter(Math.Log(73)), 14);
        Assert.Equal(0.0, CharCorpus.BitsPerCharacter(0));
    }

    [Fact]
    public void Load_reads_utf8_and_names_the_file_of_a_bad_one()
    {
        string dir = Directory.CreateTempSubdirectory("backprop-charcorpus-").FullName;
        try
        {
            string good = Path.Combine(dir, "good.txt"), bad = Path.Combine(dir, "bad.txt"), empty = Path.Combine(dir, "empty.txt");
            File.WriteAllText(good, "In the beginning\n", new UTF8Encoding(encoderShouldEmitUTF8Identifier: true));
            File.WriteAllBytes(bad, [0x61, 0xFF, 0x62]);
            File.WriteAllBytes(empty, []);

            Assert.Equal("In the beginning\n", CharCorpus.Load(good).Decode(CharCorpus.Load(good).Indices));
            var e = Assert.Throws<InvalidDataException>(() => CharCorpus.Load(bad));
            Assert.StartsWith(bad + ": not valid UTF-8", e.Message, StringComparison.Ordinal);
            var e2 = Assert.Throws<InvalidDataException>(() => CharCorpus.Load(empty));
            Assert.StartsWith(empty + ": the text is empty", e2.Message, StringComparison.Ordinal);
            Assert.DoesNotContain("(Parameter", e2.Message, StringComparison.Ordinal);   // the file is named; no C# parameter name
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static string Escape(string s) => string.Concat(s.Select(c => c < 0x20 || c > 0x7E ? $"\\u{(int)c:X4}" : c.ToString()));
}
