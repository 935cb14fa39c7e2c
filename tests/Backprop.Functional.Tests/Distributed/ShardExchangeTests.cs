using Xunit;

namespace Backprop.Functional.Tests.Distributed;

/// <summary>The hook MPI training uses (<see cref="DataParallel{T}.Exchange"/>), exercised without MPI: two "ranks" are
/// two threads of this process that exchange shard gradients through memory, as <see cref="MpiTraining"/>'s exchange
/// does through MPI_Bcast. Each rank computes only its shards, yet both end with the one-process model bit for bit,
/// and a rank's steady-state step allocates nothing. (The real 2-process run is Backprop.Cli.Tests' MpiTrainTests.)
/// Runs alone: the hook is process-wide while set.</summary>
[Collection(RunsAlone.Name)]
public sealed class ShardExchangeTests
{
    private static readonly NetworkSpec Spec = NetworkSpec.Mlp([12, 16, 4], ActivationKind.Tanh, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy);

    [Theory]
    [InlineData(2, 64)]
    [InlineData(3, 37)]   // uneven: rank 0 shard 0, rank 1 shards 1 and 2
    [InlineData(5, 40)]
    public void Two_ranks_on_threads_end_with_the_one_process_model_bit_for_bit(int shards, int rows)
    {
        var batches = Batches(rows, count: 6);
        float[] alone = Train(shards, rows, batches, steady: null);
        using var exchange = new ThreadRanks(2, Spec.Layout.Count, shards);
        float[][] ranks = OnRanks(exchange, r => Train(shards, rows, batches, steady: null));
        Assert.Equal(alone, ranks[0]);
        Assert.Equal(alone, ranks[1]);
        Assert.Equal(2 * batches.Length, exchange.Calls);
    }

    [Fact]
    public void A_rank_step_allocates_nothing_in_steady_state()
    {
        var batches = Batches(64, count: 2);
        using var exchange = new ThreadRanks(2, Spec.Layout.Count, 2);
        var allocated = new long[2];
        OnRanks(exchange, r => Train(2, 64, batches, steady: bytes => allocated[r] = bytes));
        Assert.Equal([0L, 0L], allocated);
    }

    /// <summary>Steps over <paramref name="batches"/> once; with <paramref name="steady"/>, then 60 warm-up steps and 20
    /// more steps whose allocated bytes on this thread it receives.</summary>
    private static float[] Train(int shards, int rows, (float[] X, float[] Y)[] batches, Action<long>? steady)
    {
        using var net = Network<float>.Create(Spec, seed: 7);
        using var train = new TrainState<float>(net, new Adam(1e-2), rows) { MicroShards = shards };
        foreach (var (x, y) in batches) Trainer.Step(net, x, y, train);
        if (steady is not null)
        {
            // Warm-up as SteadyState's: well past tiered compilation's first rejit (30 calls) and any lazily created
            // split-update views; both ranks take the same number of steps, since every step exchanges. Two steps
            // were not enough once in a full-suite run.
            for (int i = 0; i < 60; i++) Trainer.Step(net, batches[i % batches.Length].X, batches[i % batches.Length].Y, train);
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 20; i++) Trainer.Step(net, batches[i % batches.Length].X, batches[i % batches.Length].Y, train);
            steady(GC.GetAllocatedBytesForCurrentThread() - before);
        }
        return net.Parameters.ToArray();
    }

    private static (float[] X, float[] Y)[] Batches(int rows, int count)
    {
        var rng = new SeededRandom(3);
        var batches = new (float[], float[])[count];
        for (int b = 0; b < count; b++)
        {
            var x = new float[rows * 12];
            var y = new float[rows * 4];
            for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
            for (int r = 0; r < rows; r++) y[r * 4 + rng.Next(4)] = 1;
            batches[b] = (x, y);
        }
        return batches;
    }

    /// <summary>Runs <paramref name="body"/> on one thread per rank with the exchange set, and returns their results.</summary>
    private static float[][] OnRanks(ThreadRanks exchange, Func<int, float[]> body)
    {
        var results = new float[exchange.Size][];
        var errors = new Exception?[exchange.Size];
        DataParallel<float>.Exchange = exchange;
        try
        {
            var threads = new Thread[exchange.Size];
            for (int r = 0; r < threads.Length; r++)
            {
                int rank = r;
                threads[r] = new Thread(() =>
                {
                    ThreadRanks.Rank = rank;
                    try { results[rank] = body(rank); }
                    catch (Exception e) { errors[rank] = e; exchange.Break(); }
                });
                threads[r].Start();
            }
            foreach (var t in threads) t.Join();
        }
        finally
        {
            DataParallel<float>.Exchange = null;
        }
        foreach (var e in errors) if (e is not null) throw new InvalidOperationException("a rank failed", e);
        return results;
    }

    /// <summary>P ranks as P threads: rank r owns MpiTraining's shard block; shared buffers and a barrier stand in for
    /// the broadcasts. The barrier spins (<see cref="SpinBarrier"/>): System.Threading.Barrier's events create their lock
    /// object (24 bytes) the first time a thread really blocks, which a loaded machine once made happen inside the
    /// measured steps of <see cref="A_rank_step_allocates_nothing_in_steady_state"/>.</summary>
    private sealed class ThreadRanks(int size, int n, int maxShards) : ShardExchange<float>, IDisposable
    {
        public void Dispose() { }

        [ThreadStatic] internal static int Rank;
        private readonly SpinBarrier _barrier = new(size);
        private readonly float[][] _staged = [.. Enumerable.Range(0, maxShards).Select(_ => new float[n])];
        private readonly float[] _costs = new float[maxShards];
        private int _calls;

        internal int Size => size;

        internal int Calls => Volatile.Read(ref _calls);

        internal void Break() => _barrier.Break();

        internal override (int First, int End) Mine(int shards) =>
            (MpiTraining.First(Rank, shards, size), MpiTraining.First(Rank + 1, shards, size));

        internal override void Share(int shards, ShardGradients<float> gradientOf, Span<float> costs)
        {
            var (first, end) = Mine(shards);
            for (int s = first; s < end; s++)
            {
                gradientOf[s].CopyTo(_staged[s]);
                _costs[s] = costs[s];
            }
            _barrier.SignalAndWait();
            for (int s = 0; s < shards; s++)
            {
                if (s >= first && s < end) continue;
                _staged[s].CopyTo(gradientOf[s]);
                costs[s] = _costs[s];
            }
            Interlocked.Increment(ref _calls);
            _barrier.SignalAndWait();
        }
    }

    /// <summary>A sense-counting barrier that never allocates: the last of <paramref name="size"/> arrivals resets the
    /// count and advances the phase; the others spin (yielding, then sleeping, as <see cref="SpinWait"/> does) until it
    /// moves. <see cref="Break"/> releases every waiter with an exception (a rank failed).</summary>
    private sealed class SpinBarrier(int size)
    {
        private int _arrived, _phase;
        private volatile bool _broken;

        internal void Break() => _broken = true;

        internal void SignalAndWait()
        {
            int phase = Volatile.Read(ref _phase);
            if (Interlocked.Increment(ref _arrived) == size)
            {
                Volatile.Write(ref _arrived, 0);
                Volatile.Write(ref _phase, phase + 1);
                return;
            }
            var spin = new SpinWait();
            while (Volatile.Read(ref _phase) == phase)
            {
                if (_broken) throw new InvalidOperationException("another rank failed");
                spin.SpinOnce();
            }
        }
    }
}
