using System.Diagnostics;
using System.Numerics;

namespace Backprop.Functional;

/// <summary>
/// Synchronous data parallelism across the processes of an MPI job, on top of the micro-shards
/// (<see cref="TrainingOptions.MicroShards"/>): while open, every sharded step in this process computes only this rank's
/// micro-shards, rank r owning shards [⌊k·r/P⌋, ⌊k·(r+1)/P⌋) of k (P processes), and gets the others' shard gradients
/// from their owners; then every rank sums all k in the same fixed tree order the one-process step uses and takes the
/// same transform-chain step. So the model is the same bit for bit as one process with the same k (and any threads),
/// on every rank. <see cref="Begin{T}"/> broadcasts rank 0's θ first.
/// </summary>
/// <remarks>
/// <para><b>What moves.</b> Shard s's gradient vector is broadcast from its owner (<c>MPI_Bcast</c>, in place into the
/// buffer the sum reads: no copy, no arithmetic), k broadcasts of n values per step; the k shard costs go in one
/// <c>MPI_Allreduce</c> (sum) where each cost has exactly one non-zero contribution, so the reduction order, which is
/// MPI's, cannot change a bit. A reduction of the gradients (<c>MPI_Allreduce</c>) would move fewer bytes but adds in an
/// order the MPI library picks; an all-gather of the shards moves the same bytes as these broadcasts but needs one
/// contiguous buffer of k·n, i.e. a copy in and out, since shard 0 is the caller's gradient vector.</para>
/// <para>Every rank reads the whole batch (the shuffle is seeded, so it is the same batch) and computes only its rows;
/// evaluation, the divergence check and a last one-row batch run on every rank, identically. Batches of one row, and
/// k = 1, are not split. One open at a time per process; a step allocates nothing.</para>
/// <para>Threads: the steps that use it must run one at a time (MPI is serialized).</para>
/// </remarks>
public sealed class MpiTraining : IDisposable
{
    private static MpiTraining? _open;
    private static readonly object Gate = new();
    private readonly Exchange<float> _float;
    private readonly Exchange<double> _double;
    private bool _disposed;

    private MpiTraining(MpiWorld world)
    {
        World = world;
        _float = new Exchange<float>(this);
        _double = new Exchange<double>(this);
    }

    /// <summary>The job.</summary>
    public MpiWorld World { get; }

    /// <summary>Time this process spent in the exchange's MPI calls: <see cref="WaitingTime"/> plus the transfers.</summary>
    public TimeSpan CommunicationTime => Stopwatch.GetElapsedTime(0, _float.Ticks + _double.Ticks);

    /// <summary>With <see cref="SeparateWaiting"/>: the part of <see cref="CommunicationTime"/> spent in a barrier before
    /// the transfers, i.e. waiting for the slowest rank to finish its shards (zero otherwise).</summary>
    public TimeSpan WaitingTime => Stopwatch.GetElapsedTime(0, _float.WaitTicks + _double.WaitTicks);

    /// <summary>Enter a barrier before each exchange, so that <see cref="WaitingTime"/> (load imbalance, a rank
    /// descheduled) and the transfers are timed apart. Costs one barrier per step (microseconds on one machine, about
    /// 2·log₂P network latencies across machines). Default false.</summary>
    public bool SeparateWaiting { get; set; }

    /// <summary>Gradient bytes this process received: the shards it does not compute, n values each per step (it sends
    /// its own shards' as many times over, depending on MPI's broadcast tree).</summary>
    public long BytesExchanged => _float.Bytes + _double.Bytes;

    /// <summary>Sharded steps that went through the exchange.</summary>
    public long Steps => _float.Steps + _double.Steps;

    /// <summary>Broadcasts rank 0's θ into <paramref name="network"/> on every rank and opens the exchange: from here
    /// until <see cref="Dispose"/>, sharded steps in this process share their micro-shards with the other ranks.</summary>
    /// <typeparam name="T">The element type.</typeparam>
    /// <param name="world">The job.</param>
    /// <param name="network">The network every rank trains (the same spec everywhere).</param>
    /// <returns>The open exchange.</returns>
    /// <exception cref="InvalidOperationException">An exchange is already open in this process.</exception>
    public static MpiTraining Begin<T>(MpiWorld world, Network<T> network) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(world);
        ArgumentNullException.ThrowIfNull(network);
        world.Broadcast(network.Parameters, root: 0);
        lock (Gate)
        {
            if (_open is not null) throw new InvalidOperationException("an MpiTraining is already open in this process: dispose it first");
            var training = new MpiTraining(world);
            DataParallel<float>.Exchange = training._float;
            DataParallel<double>.Exchange = training._double;
            return _open = training;
        }
    }

    /// <summary>Closes the exchange: sharded steps compute every shard in this process again.</summary>
    public void Dispose()
    {
        lock (Gate)
        {
            if (_disposed) return;
            _disposed = true;
            if (ReferenceEquals(_open, this))
            {
                DataParallel<float>.Exchange = null;
                DataParallel<double>.Exchange = null;
                _open = null;
            }
        }
    }

    /// <summary>The rank that computes shard s of k: the r with ⌊k·r/P⌋ ≤ s &lt; ⌊k·(r+1)/P⌋.</summary>
    internal static int Owner(int s, int shards, int ranks)
    {
        int r = 0;
        while (s >= First(r + 1, shards, ranks)) r++;
        return r;
    }

    internal static int First(int rank, int shards, int ranks) => (int)((long)shards * rank / ranks);

    private sealed class Exchange<T>(MpiTraining training) : ShardExchange<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        private readonly MpiWorld _world = training.World;
        internal long Ticks, WaitTicks, Bytes, Steps;

        internal override (int First, int End) Mine(int shards) =>
            (First(_world.Rank, shards, _world.Size), First(_world.Rank + 1, shards, _world.Size));

        internal override unsafe void Share(int shards, ShardGradients<T> gradientOf, Span<T> costs)
        {
            long start = Stopwatch.GetTimestamp();
            if (training.SeparateWaiting)
            {
                _world.Barrier();
                WaitTicks += Stopwatch.GetTimestamp() - start;
            }
            var (first, end) = Mine(shards);
            for (int s = 0; s < shards; s++)
            {
                var g = gradientOf[s];
                _world.Broadcast(g, Owner(s, shards, _world.Size));
                if (s < first || s >= end) Bytes += (long)g.Length * sizeof(T);
            }
            for (int s = 0; s < shards; s++)
                if (s < first || s >= end) costs[s] = T.Zero;
            _world.AllreduceSum(costs[..shards]);   // one non-zero term per cost: exact whatever MPI's order
            Ticks += Stopwatch.GetTimestamp() - start;
            Steps++;
        }
    }
}
