using System.Globalization;
using System.Text;

namespace Backprop.Functional;

/// <summary>
/// A text for a character-level language model: its vocabulary (the distinct characters, sorted by code point) and
/// the text as indices into it. <see cref="CharStreams"/> cuts it into the one-hot blocks that truncated
/// backpropagation through time trains on; <see cref="Split"/> keeps the end of the text for validation.
/// <para>Characters are UTF-16 code units (.NET <see cref="char"/>s): a character outside the Basic Multilingual
/// Plane counts as its two surrogates, and the vocabulary is sorted by code unit, which for every other character
/// is its code point. At most <see cref="MaxVocabulary"/> distinct characters: one-hot rows are that wide.</para>
/// <para>Threads: immutable; safe to read from any number of threads.</para>
/// </summary>
/// <remarks>Memory: 4 bytes per character (the index array; <see cref="Split"/> shares it rather than copying).</remarks>
public sealed class CharCorpus
{
    /// <summary>The most distinct characters a corpus may hold (the width of its one-hot rows).</summary>
    public const int MaxVocabulary = 256;

    /// <summary>The most characters a corpus may hold: the longest .NET string.</summary>
    public const int MaxLength = 0x3FFF_FFDF;

    private readonly ReadOnlyMemory<int> _indices;

    /// <summary>Builds the vocabulary of <paramref name="text"/> and the text as indices into it.</summary>
    /// <param name="text">The whole text, at least one character.</param>
    /// <exception cref="ArgumentNullException"><paramref name="text"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="text"/> is empty, or holds more than
    /// <see cref="MaxVocabulary"/> distinct characters (counted before the index array is allocated; the message
    /// gives the count and the first characters past the limit).</exception>
    public CharCorpus(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length == 0)
            throw new ArgumentException("the text is empty: a character corpus needs at least one character", nameof(text));

        Vocabulary = VocabularyOf(text);
        var indices = new int[text.Length];
        ReadOnlySpan<char> vocabulary = Vocabulary;
        for (int i = 0; i < text.Length; i++)
            indices[i] = vocabulary.BinarySearch(text[i]);
        _indices = indices;
    }

    private CharCorpus(string vocabulary, ReadOnlyMemory<int> indices)
    {
        Vocabulary = vocabulary;
        _indices = indices;
    }

    /// <summary>Reads a UTF-8 text file (a byte-order mark is skipped) into a corpus.</summary>
    /// <param name="path">The file.</param>
    /// <returns>The corpus of the whole file.</returns>
    /// <exception cref="InvalidDataException">The file is longer than <see cref="MaxLength"/> bytes (checked before
    /// reading), is not valid UTF-8, is empty, or holds more than <see cref="MaxVocabulary"/> distinct characters;
    /// the message names the file.</exception>
    public static CharCorpus Load(string path) => Load(path, MaxLength, cut: false);

    /// <summary>Reads the first <paramref name="maxLength"/> characters (UTF-16 code units; a surrogate pair is never cut
    /// in two) of a UTF-8 text file (a byte-order mark is skipped) into a corpus, in one pass over the file, so a pipe
    /// works too; the vocabulary is that of those characters.</summary>
    /// <param name="path">The file.</param>
    /// <param name="maxLength">Characters to keep, 1 … <see cref="MaxLength"/>.</param>
    /// <returns>The corpus of the file's first <paramref name="maxLength"/> characters (all of it when shorter).</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxLength"/> is outside 1 … <see cref="MaxLength"/>.</exception>
    /// <exception cref="InvalidDataException">Those characters are not valid UTF-8, are empty, or hold more than
    /// <see cref="MaxVocabulary"/> distinct characters; the message names the file.</exception>
    public static CharCorpus Load(string path, int maxLength)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLength, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxLength, MaxLength);
        return Load(path, maxLength, cut: true);
    }

    private static CharCorpus Load(string path, int limit, bool cut)
    {
        ArgumentNullException.ThrowIfNull(path);
        long bytes = new FileInfo(path).Length;   // 0 for a pipe: the read below is bounded as well
        if (!cut && bytes > MaxLength) throw TooLong(path, $"{bytes} bytes");

        string text;
        try
        {
            using var reader = new StreamReader(path, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true));
            var read = new StringBuilder();
            var chunk = new char[1 << 16];
            int n;
            while (read.Length <= limit && (n = reader.Read(chunk, 0, (int)Math.Min(chunk.Length, limit + 1L - read.Length))) > 0)
                read.Append(chunk, 0, n);
            if (read.Length > limit)
            {
                if (!cut) throw TooLong(path, $"more than {MaxLength} characters");
                int keep = char.IsHighSurrogate(read[limit - 1]) ? limit - 1 : limit;
                read.Length = keep;
            }
            text = read.ToString();
        }
        catch (DecoderFallbackException e)
        {
            throw new InvalidDataException($"{path}: not valid UTF-8 ({e.Message})", e);
        }

        try
        {
            return new CharCorpus(text);
        }
        catch (ArgumentException e)
        {
            // The file is the culprit here, not the constructor's parameter: leave out " (Parameter 'text')".
            string reason = e.ParamName is { } name ? e.Message.Replace($" (Parameter '{name}')", "", StringComparison.Ordinal) : e.Message;
            throw new InvalidDataException($"{path}: {reason}", e);
        }
    }

    private static InvalidDataException TooLong(string path, string size) =>
        new(string.Create(CultureInfo.InvariantCulture, $"{path}: {size}; a character corpus holds at most {MaxLength} characters"));

    /// <summary>The distinct characters of the text, sorted by code point; a character's index is its position here.</summary>
    public string Vocabulary { get; }

    /// <summary>V, the number of distinct characters: the width of a one-hot row (1 ≤ V ≤ <see cref="MaxVocabulary"/>).</summary>
    public int VocabularySize => Vocabulary.Length;

    /// <summary>The number of characters in the text.</summary>
    public int Length => _indices.Length;

    /// <summary>The text as indices into <see cref="Vocabulary"/>, one per character, in order.</summary>
    public ReadOnlySpan<int> Indices => _indices.Span;

    /// <summary>The index of <paramref name="c"/> in <see cref="Vocabulary"/>, or −1 if the text never holds it
    /// (as <see cref="string.IndexOf(char)"/>).</summary>
    /// <param name="c">A character.</param>
    /// <returns>0 ≤ index &lt; <see cref="VocabularySize"/>, or −1.</returns>
    public int IndexOf(char c)
    {
        int i = Vocabulary.AsSpan().BinarySearch(c);
        return i >= 0 ? i : -1;
    }

    /// <summary>The characters that <paramref name="indices"/> stand for: <c>Decode(Indices)</c> is the text.</summary>
    /// <param name="indices">Indices into <see cref="Vocabulary"/> (from <see cref="Indices"/>, or a model's samples).</param>
    /// <returns>The string of their characters.</returns>
    /// <exception cref="ArgumentOutOfRangeException">An index is outside 0 … V − 1; the message names its position.</exception>
    public string Decode(ReadOnlySpan<int> indices)
    {
        if (indices.Length > MaxLength)
            throw new ArgumentOutOfRangeException(nameof(indices), indices.Length, $"at most {MaxLength} characters fit a string");
        Span<char> chars = indices.Length <= 256 ? stackalloc char[indices.Length] : new char[indices.Length];
        ReadOnlySpan<char> vocabulary = Vocabulary;
        for (int i = 0; i < indices.Length; i++)
        {
            int index = indices[i];
            if ((uint)index >= (uint)vocabulary.Length)
            {
                throw new ArgumentOutOfRangeException(nameof(indices), index, string.Create(CultureInfo.InvariantCulture,
                    $"index {index} at position {i} is outside the vocabulary's 0 … {vocabulary.Length - 1}"));
            }

            chars[i] = vocabulary[index];
        }

        return new string(chars);
    }

    /// <summary>Cuts the text in two contiguous parts: the first 1 − f for training, the last f for validation.
    /// Both keep this corpus's <see cref="Vocabulary"/> (a character may be missing from one part) and share its
    /// index array.</summary>
    /// <param name="validationFraction">f, in (0, 1): the validation part has round(f · <see cref="Length"/>) characters.</param>
    /// <returns>(train, validation), each at least one character.</returns>
    /// <exception cref="ArgumentOutOfRangeException">f is not in (0, 1), or leaves one part empty.</exception>
    public (CharCorpus Train, CharCorpus Validation) Split(double validationFraction)
    {
        if (!(validationFraction > 0 && validationFraction < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(validationFraction), validationFraction,
                "the validation fraction must lie strictly between 0 and 1");
        }

        int validation = (int)Math.Round(validationFraction * Length, MidpointRounding.AwayFromZero);
        if (validation < 1 || validation > Length - 1)
        {
            throw new ArgumentOutOfRangeException(nameof(validationFraction), validationFraction, string.Create(CultureInfo.InvariantCulture,
                $"a validation fraction of {validationFraction} of {Length} characters leaves {(validation < 1 ? "the validation" : "the training")} part empty"));
        }

        int train = Length - validation;
        return (new CharCorpus(Vocabulary, _indices[..train]), new CharCorpus(Vocabulary, _indices[train..]));
    }

    /// <summary>Bits per character from a mean cross-entropy in nats: nats / ln 2.</summary>
    /// <param name="meanCrossEntropyNats">The mean over predicted characters of −ln p(next character).</param>
    /// <returns>The same quantity in bits (log₂): what a character costs under the model, 0 … log₂ V for a useful one.</returns>
    public static double BitsPerCharacter(double meanCrossEntropyNats) => meanCrossEntropyNats / Math.Log(2);

    /// <summary>The distinct characters of <paramref name="text"/> in code-unit order, counted in a 64 Ki-bit set on
    /// the stack so a text over the limit is refused before anything of its size is allocated.</summary>
    private static string VocabularyOf(string text)
    {
        Span<ulong> seen = stackalloc ulong[65536 / 64];
        seen.Clear();
        int distinct = 0;
        foreach (char c in text)
        {
            ref ulong word = ref seen[c >> 6];
            ulong bit = 1UL << (c & 63);
            if ((word & bit) == 0)
            {
                word |= bit;
                distinct++;
            }
        }

        if (distinct > MaxVocabulary)
            throw new ArgumentException(TooManyCharacters(seen, distinct), nameof(text));

        Span<char> vocabulary = stackalloc char[distinct];
        int n = 0;
        for (int w = 0; w < seen.Length; w++)
        {
            for (ulong bits = seen[w]; bits != 0; bits &= bits - 1)
                vocabulary[n++] = (char)((w << 6) + System.Numerics.BitOperations.TrailingZeroCount(bits));
        }

        return new string(vocabulary);
    }

    private static string TooManyCharacters(ReadOnlySpan<ulong> seen, int distinct)
    {
        var past = new StringBuilder();
        int n = 0;
        for (int w = 0; w < seen.Length && past.Length < 40; w++)
        {
            for (ulong bits = seen[w]; bits != 0 && past.Length < 40; bits &= bits - 1)
            {
                if (++n > MaxVocabulary)
                    past.Append(CultureInfo.InvariantCulture, $"U+{(w << 6) + System.Numerics.BitOperations.TrailingZeroCount(bits):X4} ");
            }
        }

        return string.Create(CultureInfo.InvariantCulture,
            $"the text has {distinct} distinct characters; a character corpus holds at most {MaxVocabulary} (one-hot rows are that wide). " +
            $"The first past the limit, in code-point order: {past}… Restrict the text to fewer characters (e.g. map it to ASCII).");
    }
}
