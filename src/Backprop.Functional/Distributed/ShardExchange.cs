using System.Numerics;

namespace Backprop.Functional;

/// <summary>
/// How a sharded step (<see cref="DataParallel{T}"/>) is split across processes: which of the k micro-shards this
/// process computes, and how the other processes' shard gradients and costs reach it before the fixed-order sum. Set
/// in <see cref="DataParallel{T}.Exchange"/> while an <see cref="MpiTraining"/> is open.
/// </summary>
/// <typeparam name="T">The element type.</typeparam>
internal abstract class ShardExchange<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>This process's shards of <paramref name="shards"/>: [First, End).</summary>
    internal abstract (int First, int End) Mine(int shards);

    /// <summary>After this process computed its shards: every shard's gradient and cost everywhere.</summary>
    /// <param name="shards">k.</param>
    /// <param name="gradientOf">Shard s's gradient vector (this process's shards filled; the others to be filled).</param>
    /// <param name="costs">The k shard costs (this process's filled; the others to be filled).</param>
    internal abstract void Share(int shards, ShardGradients<T> gradientOf, Span<T> costs);
}

/// <summary>The k shard gradient vectors of one sharded step, as <see cref="DataParallel{T}"/> keeps them (shard 0 in
/// the caller's vector, the others in the set's pinned arrays).</summary>
internal readonly ref struct ShardGradients<T>(Span<T> first, T[][] rest) where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Span<T> _first = first;

    /// <summary>Shard s's gradient.</summary>
    internal Span<T> this[int s] => s == 0 ? _first : rest[s - 1];
}
