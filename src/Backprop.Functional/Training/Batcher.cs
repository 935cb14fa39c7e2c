using System.Numerics;

namespace Backprop.Functional;

/// <summary>Mini-batches of a <see cref="Dataset"/>: a seeded shuffle per epoch, then each batch's rows copied into
/// caller-given buffers. The same seed gives the same order on every machine and thread count. A new batcher holds the
/// rows in the data set's own order until <see cref="NextEpoch"/> starts an epoch: call it before every epoch, the
/// first included (<see cref="Trainer"/> does), or the first epoch is unshuffled whatever the seed.
/// <para>Threads: one thread at a time (it holds the shuffled order and the position).</para></summary>
public sealed class Batcher
{
    private readonly Dataset _data;
    private readonly int[] _order;
    private SeededRandom _rng;

    /// <summary>Batches of <paramref name="batchSize"/> rows (the last may be smaller) of <paramref name="data"/>.</summary>
    public Batcher(Dataset data, int batchSize, long seed, bool shuffle = true)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        _data = data;
        BatchSize = batchSize;
        Shuffle = shuffle;
        _order = new int[data.Count];
        for (int i = 0; i < _order.Length; i++) _order[i] = i;
        _rng = new SeededRandom(seed);
    }

    /// <summary>Rows per batch.</summary>
    public int BatchSize { get; }

    /// <summary>Whether each epoch reshuffles.</summary>
    public bool Shuffle { get; }

    /// <summary>Batches per epoch, ⌈count / batch⌉.</summary>
    public int BatchCount => (int)(((long)_data.Count + BatchSize - 1) / BatchSize);

    /// <summary>Starts an epoch, the first included: reshuffles the order (Fisher–Yates from the seeded stream).</summary>
    public void NextEpoch()
    {
        if (Shuffle) _rng.Shuffle(_order);
    }

    /// <summary>The shuffle generator's state (after this epoch's shuffle).</summary>
    internal ulong ShuffleState => _rng.State;

    /// <summary>This epoch's order of the rows.</summary>
    internal ReadOnlySpan<int> Order => _order;

    /// <summary>Continues from a saved order and generator state (a checkpoint); <paramref name="order"/> must be a
    /// permutation of the rows (the caller checks).</summary>
    internal void Restore(ulong shuffleState, ReadOnlySpan<int> order)
    {
        if (order.Length != _order.Length) Shapes.ThrowLengths("order", order.Length, "the dataset", _order.Length);
        order.CopyTo(_order);
        _rng = SeededRandom.FromState(shuffleState);
    }

    /// <summary>Copies batch <paramref name="index"/> of this epoch into x ([rows × features]) and y
    /// ([rows × outputs]); returns its row count.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is outside 0 … <see cref="BatchCount"/> − 1.</exception>
    /// <exception cref="ArgumentException">x or y is too short for the batch's rows (the message gives both lengths).</exception>
    public int Copy<T>(int index, Span<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, BatchCount);
        int start = index * BatchSize;
        int rows = Math.Min(BatchSize, _data.Count - start);
        int d = _data.Features, k = _data.Outputs;
        if (x.Length < rows * d) throw new ArgumentException($"x has {x.Length} elements, fewer than batch {index}'s {rows} rows × {d} features = {rows * d}", nameof(x));
        if (y.Length < rows * k) throw new ArgumentException($"y has {y.Length} elements, fewer than batch {index}'s {rows} rows × {k} outputs = {rows * k}", nameof(y));
        for (int r = 0; r < rows; r++)
        {
            int s = _order[start + r];
            Convert<T>(_data.X.AsSpan(s * d, d), x.Slice(r * d, d));
            Convert<T>(_data.Y.AsSpan(s * k, k), y.Slice(r * k, k));
        }
        return rows;
    }

    internal static void Convert<T>(ReadOnlySpan<float> source, Span<T> destination) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float))
            source.CopyTo(System.Runtime.InteropServices.MemoryMarshal.Cast<T, float>(destination));
        else
            for (int i = 0; i < source.Length; i++) destination[i] = T.CreateChecked(source[i]);
    }
}
