using System.Diagnostics;
using System.Globalization;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Backprop.Functional.Kernels;

namespace Backprop.Functional;

/// <summary>
/// Asynchronous lock-free SGD on one machine (Hogwild!, Niu, Recht, Ré &amp; Wright, NIPS 2011): the workers take
/// mini-batches of a shuffled epoch from a shared counter, each takes ∂C/∂θ of its batch at the shared θ into its own
/// gradient vector, and writes θᵢ ← θᵢ − η·gᵢ straight into the shared θ for every i with gᵢ ≠ 0, with no lock and no
/// atomic operation. Coordinates a batch does not touch (a zero feature's weights: the first layer's ∂C/∂Wⱼᵢ = δⱼxᵢ)
/// are never written, so on sparse data two workers rarely write the same coordinate, which is the case the paper proves
/// converges at nearly the serial rate.
/// </summary>
/// <remarks>
/// <para><b>What is not deterministic, and why.</b> With more than one worker: which worker takes which batch, the θ a
/// gradient is taken at (it may hold some, all or none of another worker's concurrent update, even half of one: the
/// forward and backward passes read θ while it is written), and the order in which two updates of the same coordinate
/// land; when two workers read–modify–write one θᵢ at the same moment, one of the two updates is lost (the paper's model
/// allows it). So θ after an epoch, the epoch's mean loss and every later figure vary from run to run, even with the same
/// seed, within the band the convergence test checks. What stays fixed: the batches (the shuffle is the seed's), η, and
/// every value written is some θᵢ − η·gᵢ (no torn numbers: aligned float and double stores are atomic). With one worker
/// (<see cref="HogwildOptions.Threads"/> = 1, one core, or the GEMM pool held by another caller) the run is serial SGD,
/// the same bit for bit as θ ← θ − η∇C batch after batch in the shuffle's order.</para>
/// <para><b>Threads: the rule.</b> The workers are the GEMM pool's threads (the caller is worker 0), min(Threads, cores,
/// batches) of them, and each one's products run on its own thread alone (its workspace has <c>Threads = 1</c>), so the
/// cores are never oversubscribed: the threads go to the workers, never also to the GEMMs.</para>
/// <para><b>Buffers.</b> Per worker: a workspace, a gradient vector and x, y buffers of one batch, made at construction;
/// an epoch allocates nothing on any thread (tested). The update scans the whole gradient (vector compares skip
/// all-zero blocks) and the backward pass writes all of it, so a step still costs O(|θ|) reads and writes to the
/// worker's own memory; only the writes to the shared θ are sparse.</para>
/// <para>Only the gradient is asynchronous: plain SGD (no momentum or moments, whose shared state would race the same
/// way), feature networks only. Not for use by two threads at once; θ is the network's and must not be used elsewhere
/// during an epoch.</para>
/// </remarks>
/// <typeparam name="T">float or double.</typeparam>
public sealed class HogwildTrainer<T> : IDisposable where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Most workers an epoch uses, whatever it is given: the cores (tests raise it).</summary>
    internal static int ProcessorLimit = Environment.ProcessorCount;

    /// <summary>Epochs that ran on more than one thread (for tests: the parallel path is really taken).</summary>
    internal static long ParallelRuns;

    private readonly Network<T> _network;
    private readonly Dataset _train;
    private readonly Batcher _batcher;
    private readonly Worker[] _workers;
    private readonly EpochJob _job;
    private int _epoch;

    /// <summary>A trainer of <paramref name="network"/> on <paramref name="train"/>; buffers for
    /// min(<see cref="HogwildOptions.Threads"/>, cores) workers are made here.</summary>
    /// <exception cref="ArgumentException">The network reads sequences, or the data's widths do not match it.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    public HogwildTrainer(Network<T> network, Dataset train, HogwildOptions options)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.BatchSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.Threads);
        ArgumentOutOfRangeException.ThrowIfNegative(options.Epochs);
        if (!(options.LearningRate > 0) || !double.IsFinite(options.LearningRate))
            throw new ArgumentOutOfRangeException(nameof(options), options.LearningRate, "Hogwild's learning rate must be positive and finite");
        if (!(options.EpochDecay > 0) || !double.IsFinite(options.EpochDecay))
            throw new ArgumentOutOfRangeException(nameof(options), options.EpochDecay, "Hogwild's epoch decay must be positive and finite");
        var spec = network.Spec;
        if (spec.Layers[0].Input.IsSequence)
            throw new ArgumentException($"Hogwild trains feature networks; {spec} reads sequences", nameof(network));
        if (train.Count == 0) throw new ArgumentException($"{train.Name} has no samples", nameof(train));
        if (train.Features != spec.Inputs || train.Outputs != spec.Outputs)
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"{train.Name} has {train.Features} features and {train.Outputs} targets; the network takes {spec.Inputs} and gives {spec.Outputs}"), nameof(train));
        _network = network;
        _train = train;
        Options = options;
        _batcher = new Batcher(train, options.BatchSize, options.Seed);
        int workers = Math.Max(1, Math.Min(Math.Min(options.Threads, ProcessorLimit), _batcher.BatchCount));
        _workers = new Worker[workers];
        for (int w = 0; w < workers; w++) _workers[w] = new Worker(network, options.BatchSize);
        _job = new EpochJob(this);
    }

    /// <summary>The options.</summary>
    public HogwildOptions Options { get; }

    /// <summary>Workers an epoch runs at most.</summary>
    public int Threads => _workers.Length;

    /// <summary>Epochs run so far.</summary>
    public int Epoch => _epoch;

    /// <summary>η of the next epoch: LearningRate·EpochDecay^Epoch.</summary>
    public double LearningRate => Options.LearningRate * Math.Pow(Options.EpochDecay, _epoch);

    /// <summary>Updates each worker applied in the last epoch (for tests).</summary>
    internal int UpdatesOf(int worker) => _workers[worker].Updates;

    /// <summary>One epoch: reshuffles, then the workers apply one update per batch to θ, without locks. Allocates
    /// nothing.</summary>
    /// <returns>The epoch's mean batch cost, η, updates and workers.</returns>
    /// <exception cref="NonFiniteException">A batch cost was NaN or infinite; that worker did not update θ, but the
    /// others may have finished their batches. Or the epoch's updates left θ holding NaN or ±∞ (the message names the
    /// tensor and index).</exception>
    public HogwildEpoch RunEpoch()
    {
        double eta = LearningRate;
        _batcher.NextEpoch();
        int batches = _batcher.BatchCount;
        int workers = Math.Min(_workers.Length, batches);
        bool pooled = workers > 1 && !Gemm.Pool.HeldByCurrentThread && Gemm.Pool.TryEnter(workers - 1);
        if (!pooled) workers = 1;   // the pool is held by another caller: this thread alone, serial SGD
        try
        {
            _job.Run(T.CreateChecked(-eta), batches, workers);
        }
        finally
        {
            if (pooled) Gemm.Pool.Exit();
        }
        if (workers > 1) Interlocked.Increment(ref ParallelRuns);
        _epoch++;
        double cost = 0;
        int updates = 0;
        for (int w = 0; w < workers; w++)
        {
            cost += _workers[w].Cost;
            updates += _workers[w].Updates;
        }
        if (_job.NonFiniteBatch >= 0)
            throw new NonFiniteException(string.Create(CultureInfo.InvariantCulture,
                $"Hogwild epoch {_epoch}: the cost of batch {_job.NonFiniteBatch} is not finite (η = {eta}); that update was not applied"));
        // each cost is checked before its update: the epoch's last updates have no later cost that would see them blow up θ
        if (_network.Layout.FirstNonFinite<T>(_network.Parameters, out int layer) is { } bad)
            throw new NonFiniteException(string.Create(CultureInfo.InvariantCulture,
                $"Hogwild epoch {_epoch}: its updates left θ holding {bad}, though every batch's cost was finite (η = {eta})"))
            { Epoch = _epoch, Layer = layer };
        return new HogwildEpoch(_epoch, cost / updates, eta, updates, workers);
    }

    /// <summary>Runs <see cref="HogwildOptions.Epochs"/> epochs, evaluating on <paramref name="test"/> after each.</summary>
    /// <param name="test">Held-out data (null: none).</param>
    /// <param name="onEpoch">Called after each epoch (null: nothing).</param>
    /// <returns>One result per epoch, as <see cref="Trainer"/>'s Fit reports them.</returns>
    public IReadOnlyList<EpochResult> Fit(Dataset? test = null, Action<EpochResult>? onEpoch = null)
    {
        var results = new List<EpochResult>(Options.Epochs);
        for (int e = 0; e < Options.Epochs; e++)
        {
            long start = Stopwatch.GetTimestamp();
            var epoch = RunEpoch();
            var elapsed = Stopwatch.GetElapsedTime(start);
            var evaluation = test is null ? null : Trainer.Evaluate(_network, test);
            var result = new EpochResult(epoch.Epoch, epoch.TrainLoss, evaluation, _train.Count / Math.Max(elapsed.TotalSeconds, 1e-9), elapsed);
            results.Add(result);
            onEpoch?.Invoke(result);
        }
        return results;
    }

    /// <summary>Disposes the workers' workspaces and vectors (not the network).</summary>
    public void Dispose()
    {
        foreach (var worker in _workers) worker.Dispose();
    }

    /// <summary>θᵢ ← θᵢ + gᵢ·(−η) for every gᵢ ≠ 0 (unfused, as <see cref="Sgd"/> computes it), each a plain load and store
    /// of the shared θ; all-zero vector blocks of g are skipped with one compare.</summary>
    internal static void SparseUpdate(Span<T> theta, ReadOnlySpan<T> g, T negativeEta)
    {
        int n = g.Length, i = 0;
        ref T g0 = ref MemoryMarshal.GetReference(g);
        if (Vector256.IsHardwareAccelerated)
        {
            int width = Vector256<T>.Count;
            for (; i <= n - width; i += width)
            {
                if (Vector256.LoadUnsafe(ref g0, (nuint)i) == Vector256<T>.Zero) continue;
                for (int j = i; j < i + width; j++)
                {
                    T gj = Unsafe.Add(ref g0, j);
                    if (gj != T.Zero) theta[j] = theta[j] + gj * negativeEta;
                }
            }
        }
        for (; i < n; i++)
        {
            T gi = Unsafe.Add(ref g0, i);
            if (gi != T.Zero) theta[i] = theta[i] + gi * negativeEta;
        }
    }

    /// <summary>One worker's own buffers and its tallies of the current epoch.</summary>
    private sealed class Worker : IDisposable
    {
        internal readonly Workspace<T> Workspace;
        internal readonly T[] Gradient, X, Y;
        internal double Cost;
        internal int Updates;

        internal Worker(Network<T> network, int batch)
        {
            Workspace = network.CreateWorkspace(batch, threads: 1);
            Gradient = new T[network.Layout.Count];
            X = new T[checked(batch * network.Spec.Inputs)];
            Y = new T[checked(batch * network.Spec.Outputs)];
        }

        public void Dispose() => Workspace.Dispose();
    }

    /// <summary>An epoch on the pool: part p (the caller is part 0) takes batches from a shared counter until none is
    /// left, each a forward pass, a backward pass and a sparse update of the shared θ, which the caller keeps pinned.</summary>
    private sealed class EpochJob(HogwildTrainer<T> trainer) : Gemm.Pool.Job
    {
        private nint _theta;
        private T _negativeEta;
        private int _batches, _next;
        private ExceptionDispatchInfo? _error;

        /// <summary>The batch whose cost was not finite in the last run, or −1.</summary>
        internal int NonFiniteBatch;

        internal unsafe void Run(T negativeEta, int batches, int workers)
        {
            fixed (T* theta = trainer._network.Parameters)   // pinned until every worker has joined
            {
                _theta = (nint)theta;
                _negativeEta = negativeEta;
                _batches = batches;
                _next = 0;
                _error = null;
                NonFiniteBatch = -1;
                for (int w = 0; w < trainer._workers.Length; w++)
                {
                    trainer._workers[w].Cost = 0;
                    trainer._workers[w].Updates = 0;
                }
                if (workers > 1) Gemm.Pool.Start(this, workers - 1);
                try
                {
                    Execute(0);
                }
                finally
                {
                    if (workers > 1) Gemm.Pool.Join();
                    _theta = 0;
                }
                _error?.Throw();
            }
        }

        internal override unsafe void Execute(int part)
        {
            try
            {
                var spec = trainer._network.Spec;
                var theta = new Span<T>((void*)_theta, spec.Layout.Count);
                var worker = trainer._workers[part];
                double cost = 0;
                int updates = 0, b;
                while ((b = Interlocked.Increment(ref _next) - 1) < _batches)
                {
                    int rows = trainer._batcher.Copy<T>(b, worker.X, worker.Y);
                    var x = worker.X.AsSpan(0, rows * spec.Inputs);
                    var y = worker.Y.AsSpan(0, rows * spec.Outputs);
                    Equations.Forward(spec, theta, x, worker.Workspace);
                    T c = Equations.Backward(spec, theta, x, y, worker.Workspace, worker.Gradient);
                    if (!T.IsFinite(c))
                    {
                        Interlocked.CompareExchange(ref NonFiniteBatch, b, -1);
                        Volatile.Write(ref _next, int.MaxValue / 2);   // the others stop taking batches
                        break;
                    }
                    SparseUpdate(theta, worker.Gradient, _negativeEta);
                    cost += double.CreateChecked(c);
                    updates++;
                }
                worker.Cost = cost;
                worker.Updates = updates;
            }
#pragma warning disable CA1031 // a worker thread must not die: the error is rethrown on the calling thread as it was
            catch (Exception e)
#pragma warning restore CA1031
            {
                Interlocked.CompareExchange(ref _error, ExceptionDispatchInfo.Capture(e), null);
                Volatile.Write(ref _next, int.MaxValue / 2);
            }
        }
    }
}
