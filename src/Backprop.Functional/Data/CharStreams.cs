using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Numerics;

namespace Backprop.Functional;

/// <summary>
/// A <see cref="CharCorpus"/> cut into <see cref="Batch"/> contiguous streams for truncated backpropagation through
/// time: stream s is the characters [s·L, (s+1)·L) of the text, L = <see cref="StreamLength"/> = ⌊length / batch⌋; the
/// last length − batch·L characters are dropped. Block k of <c>time</c> steps covers the positions
/// [k·time, (k+1)·time) of every stream: inputs are the characters there, targets the characters one position
/// later, so block k + 1 continues exactly where block k stopped and a hidden state carried from one block to the
/// next has read the whole stream before it. Row b of a block is stream b in every block.
/// <para>A stream of L characters holds L − 1 (input, target) pairs, so there are ⌊(L − 1) / time⌋ blocks
/// (<see cref="Blocks"/>); the last (L − 1) mod time pairs of each stream are not used at that <c>time</c>.</para>
/// <para>Threads: reads only; <see cref="Fill{T}"/> may run on several threads at once with different buffers.</para>
/// </summary>
public sealed class CharStreams
{
    /// <summary>Cuts <paramref name="corpus"/> into <paramref name="batch"/> streams of equal length.</summary>
    /// <param name="corpus">The text (e.g. the training part of <see cref="CharCorpus.Split"/>).</param>
    /// <param name="batch">The number of streams: the batch size of every block, ≥ 1.</param>
    /// <exception cref="ArgumentNullException"><paramref name="corpus"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> &lt; 1, or the corpus has fewer than
    /// 2 · <paramref name="batch"/> characters (each stream needs one input and its target).</exception>
    public CharStreams(CharCorpus corpus, int batch)
    {
        ArgumentNullException.ThrowIfNull(corpus);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batch);
        if (corpus.Length / batch < 2)
        {
            throw new ArgumentOutOfRangeException(nameof(batch), batch, string.Create(CultureInfo.InvariantCulture,
                $"{corpus.Length} characters cannot make {batch} streams of at least 2 characters (an input and its target); use a batch of at most {corpus.Length / 2}"));
        }

        Corpus = corpus;
        Batch = batch;
        StreamLength = corpus.Length / batch;
    }

    /// <summary>The text the streams are cut from.</summary>
    public CharCorpus Corpus { get; }

    /// <summary>The number of streams: the rows of every block.</summary>
    public int Batch { get; }

    /// <summary>L, the characters in each stream (⌊length / batch⌋, ≥ 2).</summary>
    public int StreamLength { get; }

    /// <summary>V, the width of a one-hot row.</summary>
    public int VocabularySize => Corpus.VocabularySize;

    /// <summary>The number of whole blocks of <paramref name="time"/> steps: ⌊(L − 1) / time⌋ (0 when time ≥ L).</summary>
    /// <param name="time">Steps per block (k₁ of truncated BPTT), ≥ 1.</param>
    /// <returns>How many blocks <see cref="Fill{T}"/> accepts at this <paramref name="time"/>.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="time"/> &lt; 1.</exception>
    public int Blocks(int time)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(time);
        return (StreamLength - 1) / time;
    }

    /// <summary>Writes block <paramref name="block"/> as one-hot rows: x[b, t, ·] = e(c_b(k·time + t)) and
    /// y[b, t, ·] = e(c_b(k·time + t + 1)), where c_b(p) is the character at position p of stream b and e(i) the
    /// one-hot row with a 1 at i. Allocates nothing.</summary>
    /// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
    /// <param name="block">k, 0 ≤ k &lt; <see cref="Blocks"/>(<paramref name="time"/>).</param>
    /// <param name="time">Steps per block, ≥ 1.</param>
    /// <param name="x">Inputs, written: [batch × time × V], batch first, row-major (length Batch · time · V).</param>
    /// <param name="y">Targets, written: [batch × time × V] like <paramref name="x"/>, not overlapping it.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="time"/> &lt; 1, or <paramref name="block"/> is not a whole block of this corpus.</exception>
    /// <exception cref="ArgumentException"><paramref name="x"/> or <paramref name="y"/> does not hold batch · time · V
    /// elements (the message gives the product), or they overlap.</exception>
    public void Fill<T>(int block, int time, Span<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int blocks = Blocks(time);
        if ((uint)block >= (uint)blocks) ThrowBlock(block, time, blocks);
        int v = VocabularySize;
        long elements = (long)Batch * time * v;
        if (x.Length != elements) ThrowLength(nameof(x), x.Length, time);
        if (y.Length != elements) ThrowLength(nameof(y), y.Length, time);
        if (x.Overlaps(y)) ThrowOverlap();

        x.Clear();
        y.Clear();
        ReadOnlySpan<int> text = Corpus.Indices;
        for (int b = 0; b < Batch; b++)
        {
            ReadOnlySpan<int> c = text.Slice((b * StreamLength) + (block * time), time + 1);
            int row = b * time * v;
            for (int t = 0; t < time; t++, row += v)
            {
                x[row + c[t]] = T.One;
                y[row + c[t + 1]] = T.One;
            }
        }
    }

    [DoesNotReturn]
    private void ThrowBlock(int block, int time, int blocks) =>
        throw new ArgumentOutOfRangeException(nameof(block), block, string.Create(CultureInfo.InvariantCulture,
            $"block {block} is not one of the {blocks} blocks of {time} steps in streams of {StreamLength} characters (0 … {blocks - 1})"));

    [DoesNotReturn]
    private void ThrowLength(string name, int length, int time) =>
        throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
            $"{name} has {length} elements but a block [batch × time × V] needs {Batch} × {time} × {VocabularySize} = {(long)Batch * time * VocabularySize}"), name);

    [DoesNotReturn]
    private static void ThrowOverlap() =>
        throw new ArgumentException("x and y overlap: the inputs and the targets need buffers of their own", "y");
}
