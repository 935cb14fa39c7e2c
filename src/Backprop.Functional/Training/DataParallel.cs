using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using Backprop.Functional.Kernels;

namespace Backprop.Functional;

/// <summary>
/// Synchronous data parallelism on one machine: a batch of m rows is cut into k micro-shards (k from the options, never
/// from the thread count; shard s holds rows [⌊m·s/k⌋, ⌊m·(s+1)/k⌋)), the shards' forward and backward passes run on the
/// GEMM pool's threads, each shard on one thread with its own workspace (its GEMMs on that thread alone) and its own
/// gradient vector, and the shard gradients are combined as g = Σₛ (mₛ/m)·gₛ in one fixed tree order:
/// gₛ ← (mₛ/m)·gₛ, then pairs at distance 1, 2, 4 … (g₀ += g₁, g₂ += g₃; g₀ += g₂ …). Each element's sequence of
/// operations depends on k and m only, so θ after the step is the same bit for bit for any number of threads; which
/// thread computes which shard (taken from a shared counter) and how the sum is split by parameter range change nothing.
/// k is the one knob that changes the bits: a shard's δᴸ carries 1/mₛ (<see cref="Equations.OutputDelta{TLoss, TAct, T}"/>),
/// the weight mₛ/m turns its mean into its share of the batch mean, and the sums run in another order, so k shards equal
/// the unsharded step to rounding.
/// </summary>
/// <remarks>
/// <para><b>Threads: the rule.</b> The step's threads (<see cref="Workspace{T}.Threads"/>, the options' <c>Threads</c>)
/// go either to the shards or to the GEMMs, never both, so the cores are never oversubscribed. With k = 1 they split the
/// GEMMs and the update (intra-op). With k &gt; 1 and θ of at most <see cref="MaxParallelBytes"/> (2.5 MiB, measured)
/// min(threads, k, <see cref="Environment.ProcessorCount"/>) of them run shards at once, each shard's GEMMs on the thread
/// that runs it (its workspace has <c>Threads = 1</c>). With a larger θ the shards run one after another and the threads
/// split each shard's GEMMs, because a shard streams all the weights and writes a whole gradient, so two at once double
/// the memory traffic. Either way the sum and the update then split over the threads by parameter range, and the bits
/// are the same (the GEMMs give the same bits for any split).</para>
/// <para><b>Buffers.</b> Per main workspace (kept beside it in a weak table, so a step allocates nothing after the
/// first): one shard workspace per thread, of ⌈batch/k⌉ rows, and k − 1 gradient vectors (shard 0 writes the caller's
/// gradient vector) on the pinned-object heap, so that the pool's threads can address them. They are garbage collected
/// with the workspace.</para>
/// <para>Networks whose first layer reads sequences are refused (their per-row lengths live in the main workspace);
/// a one-row batch takes the unsharded step.</para>
/// </remarks>
internal sealed class DataParallel<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Most threads a sharded step uses, whatever it is given: the cores (tests raise it to run 8 workers).</summary>
    internal static int ProcessorLimit = Environment.ProcessorCount;

    /// <summary>θ of more bytes than this runs its shards one after another with the threads splitting each shard's
    /// GEMMs: every shard streams all of W and writes a whole gradient, so shards at once would double the memory traffic
    /// (784-1024-1024-10: 1.37× against 1.70× for split GEMMs). 2.5 MiB (was 1 MiB, a core's L2): on the untuned shapes
    /// (bench/RESULTS.md, "Fifth pass") shards at once were faster at θ = 1.4 and 2.2 MB (1.17–1.33× against 1.14–1.19×;
    /// 0.59–0.93× against 0.50–0.72×, five runs each) and slower at 3.1 and 3.6 MB (0.63–0.93× against 1.05–1.42×). The
    /// bits are the same either way (the GEMMs give the same bits for any split). Settable for tests.</summary>
    internal static long MaxParallelBytes = 5L << 19;

    private static readonly ConditionalWeakTable<Workspace<T>, DataParallel<T>> Sets = new();

    /// <summary>Set while an <see cref="MpiTraining"/> is open: this process computes only its shards and the exchange
    /// brings the other processes' before the sum (null: every shard here). The one hook distributed training needs.</summary>
    internal static ShardExchange<T>? Exchange;

    /// <summary>Sharded gradients that ran on more than one thread (for tests: the parallel path is really taken).</summary>
    internal static long ParallelRuns;

    /// <summary>Runs the sum as its own pool job before the update, as before the sum moved into the update (the bench
    /// sets it, by reflection, to compare the two in one process; the bits are the same).</summary>
    internal static bool SeparateSum;

    /// <summary>Sums handed to the split update as its prelude (for tests: that path is really taken).</summary>
    internal static long DeferredSums;

    private readonly Workspace<T>[] _workspaces;
    private readonly T[][] _gradients;
    private readonly T[] _costs;
    private readonly NetworkSpec _spec;
    private readonly SumJob _sum = new();
    private Gemm.Pool.Job? _shardJob;   // a ShardJob<TNet>, made on the first step: the jobs are the set's, never shared
                                        // between workspaces, so a step that runs alone (the pool busy) races with no one

    private DataParallel(NetworkSpec spec, Workspace<T> main, int shards)
    {
        _spec = spec;
        Shards = shards;
        Threads = WorkersFor(spec, main, shards);
        SplitGemms = Threads == 1 && main.Threads > 1;
        int rows = (main.Batch + shards - 1) / shards;
        _workspaces = new Workspace<T>[Threads];
        for (int t = 0; t < Threads; t++) _workspaces[t] = new Workspace<T>(spec.Layers, rows) { Threads = SplitGemms ? main.Threads : 1 };
        _gradients = new T[shards - 1][];
        for (int s = 0; s < _gradients.Length; s++) _gradients[s] = GC.AllocateArray<T>(spec.Layout.Count, pinned: true);
        _costs = new T[shards];
    }

    /// <summary>k, the shards per batch.</summary>
    internal int Shards { get; }

    /// <summary>Threads that run shards at once (1: one after another).</summary>
    internal int Threads { get; }

    /// <summary>The shards run one after another, each with the main workspace's threads for its GEMMs (θ larger than
    /// <see cref="MaxParallelBytes"/>).</summary>
    internal bool SplitGemms { get; }

    /// <summary>The rule: shards at once on min(threads, k, cores) threads when θ fits <see cref="MaxParallelBytes"/>,
    /// else one at a time (their GEMMs then take the threads).</summary>
    private static int WorkersFor(NetworkSpec spec, Workspace<T> main, int shards) =>
        (long)spec.Layout.Count * Unsafe.SizeOf<T>() > MaxParallelBytes ? 1
        : Math.Max(1, Math.Min(Math.Min(main.Threads, shards), ProcessorLimit));

    /// <summary>The shard buffers kept beside <paramref name="main"/> for <paramref name="shards"/> shards.</summary>
    internal static DataParallel<T> For(NetworkSpec spec, Workspace<T> main, int shards)
    {
        if (Sets.TryGetValue(main, out var set) && set.Shards == shards && ReferenceEquals(set._spec, spec)
            && set.Threads == WorkersFor(spec, main, shards))
            return set;
        set = new DataParallel<T>(spec, main, shards);
        Sets.AddOrUpdate(main, set);
        return set;
    }

    /// <summary>Whether a step of <paramref name="x"/> takes the sharded gradient: k &gt; 1, more than one row, a feature
    /// network and shapes that fit (anything else takes the unsharded path, whose checks name what is wrong).</summary>
    internal static bool Applies(NetworkSpec spec, int shards, ReadOnlySpan<T> x, ReadOnlySpan<T> y, Workspace<T> ws)
    {
        if (shards <= 1) return false;
        if (spec.Layers[0].Input.IsSequence)
            throw new ArgumentException($"micro-shards cut batches of feature rows; {spec} reads sequences (their lengths live in the workspace): train it with MicroShards = 1 and Threads for the GEMMs", nameof(shards));
        int rows = x.Length / spec.Inputs;
        return rows > 1 && x.Length == rows * spec.Inputs && y.Length == rows * spec.Outputs && rows <= ws.Batch;
    }

    /// <summary>C and ∂C/∂θ of the batch at <paramref name="at"/> into <paramref name="gradient"/>, from
    /// min(k, rows) shards summed in the fixed tree order. On a non-finite cost the main workspace gets the batch's
    /// forward pass (so that a message can say where), as the unsharded step leaves it.</summary>
    internal static T Gradient<TNet>(TNet net, ReadOnlySpan<T> at, ReadOnlySpan<T> x, ReadOnlySpan<T> y, Workspace<T> ws,
        Span<T> gradient, int shards) where TNet : struct, ITrainable<T> =>
        Gradient(net, at, x, y, ws, gradient, shards, deferSum: false, out _);

    /// <summary>The same; with <paramref name="deferSum"/> the shard gradients are left unsummed and
    /// <paramref name="sum"/> returns the sum as a prelude for <see cref="ParallelUpdate{T}"/>, which runs it on each
    /// thread's half just before that half's update (one hand-off and one pass over the half instead of two; the same
    /// bits). The caller must run it before anything reads the gradient. Null when the sum already ran.</summary>
    internal static T Gradient<TNet>(TNet net, ReadOnlySpan<T> at, ReadOnlySpan<T> x, ReadOnlySpan<T> y, Workspace<T> ws,
        Span<T> gradient, int shards, bool deferSum, out ParallelUpdate<T>.IPrelude? sum) where TNet : struct, ITrainable<T>
    {
        sum = null;
        var spec = net.Spec;
        if (gradient.Length != spec.Layout.Count) Shapes.ThrowLengths("gradient", gradient.Length, "θ", spec.Layout.Count);
        if (at.Length != spec.Layout.Count) Shapes.ThrowLengths("theta", at.Length, "θ", spec.Layout.Count);
        var set = For(spec, ws, shards);
        int rows = x.Length / spec.Inputs;
        int k = Math.Min(shards, rows);
        var exchange = Exchange;
        var (first, end) = exchange?.Mine(k) ?? (0, k);
        ShardJob<TNet>.Run(set, net, at, x, y, gradient, rows, k, first, end);
        exchange?.Share(k, new ShardGradients<T>(gradient, set._gradients), set._costs);
        T cost = T.Zero;
        for (int s = 0; s < k; s++)
            cost += Weight(s, rows, k) * set._costs[s];
        if (!T.IsFinite(cost))
        {
            net.Forward(at, x, ws);
            return cost;
        }
        if (deferSum && !SeparateSum)
        {
            sum = set._sum.Defer(set, rows, k);
            Interlocked.Increment(ref DeferredSums);
        }
        else
            SumJob.Run(set, gradient, rows, k);
        return cost;
    }

    private static int First(int s, int rows, int k) => (int)((long)rows * s / k);

    /// <summary>mₛ/m.</summary>
    private static T Weight(int s, int rows, int k) =>
        T.CreateChecked(First(s + 1, rows, k) - First(s, rows, k)) / T.CreateChecked(rows);

    private Span<T> GradientOf(int s, Span<T> gradient) => s == 0 ? gradient : _gradients[s - 1];

    /// <summary>Runs the shards on the pool: part p (the caller is part 0) takes shards from a shared counter into
    /// workspace p, until none is left.</summary>
    private sealed class ShardJob<TNet> : Gemm.Pool.Job where TNet : struct, ITrainable<T>
    {
        private DataParallel<T>? _set;
        private TNet _net;
        private nint _at, _x, _y, _g;
        private int _rows, _k, _next, _end;
        private ExceptionDispatchInfo? _error;

        internal static unsafe void Run(DataParallel<T> set, TNet net, ReadOnlySpan<T> at, ReadOnlySpan<T> x, ReadOnlySpan<T> y,
            Span<T> gradient, int rows, int k, int first, int end)
        {
            int workers = Math.Min(set.Threads, end - first) - 1;
            bool pooled = workers > 0 && Gemm.Pool.TryEnter(workers);
            if (!pooled) workers = 0;   // the pool is busy (or one thread): every shard on this thread, the same bits
            try
            {
                fixed (T* pat = at, px = x, py = y, pg = gradient)   // pinned until every worker has joined
                {
                    var job = set._shardJob as ShardJob<TNet> ?? (ShardJob<TNet>)(set._shardJob = new ShardJob<TNet>());
                    job._set = set;
                    job._net = net;
                    job._at = (nint)pat;
                    job._x = (nint)px;
                    job._y = (nint)py;
                    job._g = (nint)pg;
                    job._rows = rows;
                    job._k = k;
                    job._next = first;
                    job._end = end;
                    job._error = null;
                    if (workers > 0)
                    {
                        StepProbe.Mark(StepProbe.ShardsStart);
                        Gemm.Pool.Start(job, workers);
                        Interlocked.Increment(ref ParallelRuns);
                    }
                    try
                    {
                        job.Execute(0);
                    }
                    finally
                    {
                        if (workers > 0)
                        {
                            StepProbe.Mark(StepProbe.CallerShardsEnd);
                            Gemm.Pool.Join();
                            StepProbe.Mark(StepProbe.ShardsJoined);
                        }
                        job._set = null;
                        job._net = default;
                    }
                    job._error?.Throw();
                }
            }
            finally
            {
                if (pooled) Gemm.Pool.Exit();
            }
        }

        internal override unsafe void Execute(int part)
        {
            try
            {
                var set = _set!;
                var spec = _net.Spec;
                int inputs = spec.Inputs, outputs = spec.Outputs, n = spec.Layout.Count;
                var at = new ReadOnlySpan<T>((void*)_at, n);
                var ws = set._workspaces[part];
                if (part == 1) StepProbe.Mark(StepProbe.WorkerShardsStart);
                int s;
                while ((s = Interlocked.Increment(ref _next) - 1) < _end)
                {
                    int r0 = First(s, _rows, _k), r1 = First(s + 1, _rows, _k);
                    var x = new ReadOnlySpan<T>((T*)_x + (nint)r0 * inputs, (r1 - r0) * inputs);
                    var y = new ReadOnlySpan<T>((T*)_y + (nint)r0 * outputs, (r1 - r0) * outputs);
                    var g = s == 0 ? new Span<T>((void*)_g, n) : set._gradients[s - 1];
                    _net.Forward(at, x, ws);
                    set._costs[s] = _net.Backward(at, x, y, ws, g, parameterGradients: true);
                }
                if (part == 1) StepProbe.Mark(StepProbe.WorkerShardsEnd);
            }
#pragma warning disable CA1031 // a worker thread must not die: the error is rethrown on the calling thread as it was
            catch (Exception e)
#pragma warning restore CA1031
            {
                Interlocked.CompareExchange(ref _error, ExceptionDispatchInfo.Capture(e), null);
                Volatile.Write(ref _next, int.MaxValue / 2);   // the others stop taking shards
            }
        }
    }

    /// <summary>g = Σₛ (mₛ/m)·gₛ over parameter ranges (multiples of 64 elements) split between the threads, each range
    /// in blocks that stay in the core's cache: scale each leaf, then add pairs at distance 1, 2, 4 ….</summary>
    private sealed class SumJob : Gemm.Pool.Job, ParallelUpdate<T>.IPrelude
    {
        private const int Block = 2048;

        private DataParallel<T>? _set;
        private nint _g;
        private int _n, _rows, _k, _parts;

        internal static unsafe void Run(DataParallel<T> set, Span<T> gradient, int rows, int k)
        {
            int parts = gradient.Length >= ParallelUpdate<T>.MinimumLength ? (set.SplitGemms ? Math.Min(set._workspaces[0].Threads, ProcessorLimit) : set.Threads) : 1;
            bool pooled = parts > 1 && Gemm.Pool.TryEnter(parts - 1);
            if (!pooled) parts = 1;
            try
            {
                fixed (T* pg = gradient)
                {
                    var job = set._sum;
                    job._set = set;
                    job._g = (nint)pg;
                    job._n = gradient.Length;
                    job._rows = rows;
                    job._k = k;
                    job._parts = parts;
                    if (parts > 1) Gemm.Pool.Start(job, parts - 1);
                    try
                    {
                        job.Execute(0);
                    }
                    finally
                    {
                        if (parts > 1) Gemm.Pool.Join();
                        job._set = null;
                    }
                }
            }
            finally
            {
                if (pooled) Gemm.Pool.Exit();
            }
        }

        /// <summary>This job as the update's prelude (<see cref="Gradient{TNet}(TNet, ReadOnlySpan{T}, ReadOnlySpan{T}, ReadOnlySpan{T}, Workspace{T}, Span{T}, int, bool, out ParallelUpdate{T}.IPrelude?)"/>).</summary>
        internal SumJob Defer(DataParallel<T> set, int rows, int k)
        {
            _set = set;
            _rows = rows;
            _k = k;
            return this;
        }

        internal override unsafe void Execute(int part)
        {
            int lo = part == 0 ? 0 : (int)((long)_n * part / _parts) & ~63;
            int hi = part == _parts - 1 ? _n : (int)((long)_n * (part + 1) / _parts) & ~63;
            Sum(_set!, new Span<T>((void*)_g, _n), lo, hi);
        }

        void ParallelUpdate<T>.IPrelude.Run(Span<T> g, int lo, int hi) => Sum(_set!, g, lo, hi);

        bool ParallelUpdate<T>.IPrelude.SharedTheta => _set!.Threads > 1;

        private void Sum(DataParallel<T> set, Span<T> g, int lo, int hi)
        {
            for (int b = lo; b < hi; b += Block)
            {
                int len = Math.Min(Block, hi - b);
                for (int s = 0; s < _k; s++)
                {
                    T w = Weight(s, _rows, _k);
                    if (w != T.One)
                    {
                        var leaf = set.GradientOf(s, g).Slice(b, len);
                        TensorPrimitives.Multiply(leaf, w, leaf);
                    }
                }
                for (int stride = 1; stride < _k; stride *= 2)
                    for (int s = 0; s + stride < _k; s += 2 * stride)
                    {
                        var into = set.GradientOf(s, g).Slice(b, len);
                        TensorPrimitives.Add(into, set.GradientOf(s + stride, g).Slice(b, len), into);
                    }
            }
        }
    }
}

/// <summary>Where a two-thread data-parallel step's time goes, measured inside the real step: the step marks the
/// moments below with <see cref="System.Diagnostics.Stopwatch.GetTimestamp"/> when <see cref="Enabled"/> (one static
/// read otherwise), and the split update's join adds the step's intervals to <see cref="Sums"/> (bench `dp` prints them:
/// bench/RESULTS.md). Only steps whose shards and update both ran on two threads count. Not thread-safe across
/// trainers; a measuring tool, not a statistic.</summary>
internal static class StepProbe
{
    internal const int ShardsStart = 0, WorkerShardsStart = 1, WorkerShardsEnd = 2, CallerShardsEnd = 3, ShardsJoined = 4,
        UpdateStart = 5, WorkerUpdateStart = 6, WorkerUpdateEnd = 7, CallerUpdateEnd = 8, UpdateJoined = 9;

    /// <summary>The intervals summed, in <see cref="Sums"/>' order.</summary>
    internal static readonly string[] Names =
    [
        "worker shard start after the caller's", "caller's shard (forward + backward)", "worker's shard", "caller waits for the worker's shard",
        "between the shards' join and the update", "worker update start after the caller's", "caller's sum + update half",
        "worker's sum + update half", "caller waits for the worker's update", "whole step from the shards' start",
    ];

    /// <summary>Set to record (the bench sets it by reflection).</summary>
    internal static bool Enabled;

    /// <summary>Steps recorded.</summary>
    internal static long Count;

    /// <summary>Sums of each interval over <see cref="Count"/> steps, in Stopwatch ticks.</summary>
    internal static readonly long[] Sums = new long[10];

    private static readonly long[] Marks = new long[10];

    /// <summary>The unsharded step's parts (k = 1: forward, backward, update; whole step), summed over
    /// <see cref="PlainCount"/> steps in Stopwatch ticks, while <see cref="Enabled"/>.</summary>
    internal static readonly long[] PlainSums = new long[4];

    /// <summary>Unsharded steps recorded.</summary>
    internal static long PlainCount;

    /// <summary>A timestamp when the probe is on, else 0.</summary>
    internal static long Now() => Enabled ? System.Diagnostics.Stopwatch.GetTimestamp() : 0;

    /// <summary>Adds an unsharded step's parts from the four stamps (start, forward done, backward done, update done).</summary>
    internal static void Plain(long start, long forward, long backward)
    {
        if (!Enabled || start == 0) return;
        long end = System.Diagnostics.Stopwatch.GetTimestamp();
        PlainSums[0] += forward - start;
        PlainSums[1] += backward - forward;
        PlainSums[2] += end - backward;
        PlainSums[3] += end - start;
        PlainCount++;
    }

    // ---- the phase probe (bench only): every phase of the unsharded step on the calling thread, and every pool job's
    // caller and worker stamps, summed by position in the step (the bench prints them with PhaseTable) ----

    /// <summary>Phase kinds (a phase's code is kind · 16 + layer).</summary>
    internal const int Seed = 0, Product = 1, Sigma = 2, InputCheck = 3, Loss = 4, SigmaPrime = 5, WeightGradient = 6,
        BiasGradient = 7, InputGradient = 8, Update = 9, Other = 10;

    private static readonly string[] KindNames =
        ["bias seed", "x·Wᵀ", "σ", "input check", "loss + δᴸ", "σ′ ⊙", "∂C/∂W = δᵀ·a", "∂C/∂b", "δ·W", "update", "other"];

    private const int MaxMarks = 64;

    /// <summary>Set by <see cref="Begin"/> while <see cref="Enabled"/>, for the rest of one unsharded step.</summary>
    internal static bool Recording;

    private static int s_marks, s_jobs;
    private static readonly long[] MarkStamps = new long[MaxMarks + 1];
    private static readonly int[] MarkCodes = new int[MaxMarks + 1];
    private static readonly long[] JobStamps = new long[MaxMarks * 5];   // start, worker begin, worker end, join begin, join end
    private static readonly int[] JobPhase = new int[MaxMarks];

    /// <summary>Which of <see cref="Banks"/> sets of sums the steps add to (the bench alternates configurations).</summary>
    internal static int Bank;

    private const int Banks = 4, Stats = 7;

    /// <summary>Per bank and position: the caller's time in the phase ending at that mark.</summary>
    private static readonly long[] PhaseSums = new long[Banks * (MaxMarks + 1)];
    private static readonly int[] PhaseCodes = new int[Banks * (MaxMarks + 1)];
    private static readonly int[] PhaseCount = new int[Banks], JobCount = new int[Banks];
    private static readonly long[] PhaseSteps = new long[Banks];
    private static readonly bool[] Consistent = new bool[Banks];

    /// <summary>Per bank and pool job: worker start after the caller's Start, the caller's own part, the worker's part,
    /// the caller's wait at the join, and the join's exit after the later of the two ends (the hand-back itself).</summary>
    private static readonly long[] JobSums = new long[Banks * MaxMarks * Stats];
    private static readonly int[] JobPhases = new int[Banks * MaxMarks];

    internal static void Begin()
    {
        if (!Enabled) return;
        s_marks = 0;
        s_jobs = 0;
        MarkStamps[0] = System.Diagnostics.Stopwatch.GetTimestamp();
        Recording = true;
    }

    /// <summary>The layer the passes are in (set by the network's passes while recording).</summary>
    internal static int CurrentLayer;

    /// <summary>The end of a phase of <see cref="CurrentLayer"/> on the calling thread.</summary>
    internal static void Phase(int kind) => Phase(kind, CurrentLayer);

    /// <summary>The end of a phase on the calling thread.</summary>
    internal static void Phase(int kind, int layer)
    {
        if (!Recording || s_marks >= MaxMarks) return;
        s_marks++;
        MarkStamps[s_marks] = System.Diagnostics.Stopwatch.GetTimestamp();
        MarkCodes[s_marks] = kind * 16 + layer;
    }

    /// <summary>Pool.Start: a job released (its index, or −1 when not recording).</summary>
    internal static int JobStart()
    {
        if (!Recording || s_jobs >= MaxMarks) return -1;
        int j = s_jobs;
        JobStamps[j * 5] = System.Diagnostics.Stopwatch.GetTimestamp();
        JobPhase[j] = s_marks + 1;
        return j;
    }

    /// <summary>A worker's stamp for job <paramref name="j"/> (1: begin, 2: end).</summary>
    internal static void JobWorker(int j, int which)
    {
        if (j >= 0) JobStamps[j * 5 + which] = System.Diagnostics.Stopwatch.GetTimestamp();
    }

    /// <summary>Pool.Join's entry (3) and exit (4) for job <paramref name="j"/>.</summary>
    internal static void JobJoin(int j, int which)
    {
        if (j < 0) return;
        JobStamps[j * 5 + which] = System.Diagnostics.Stopwatch.GetTimestamp();
        if (which == 4) s_jobs = j + 1;
    }

    /// <summary>The end of the step: add its phases if the step had the same sequence of phases and jobs as the bank's first.</summary>
    internal static void End()
    {
        if (!Recording) return;
        Recording = false;
        int bank = Bank, p0 = bank * (MaxMarks + 1);
        if (PhaseSteps[bank] == 0)
        {
            PhaseCount[bank] = s_marks;
            JobCount[bank] = s_jobs;
            Array.Copy(MarkCodes, 0, PhaseCodes, p0, s_marks + 1);
            Array.Copy(JobPhase, 0, JobPhases, bank * MaxMarks, s_jobs);
            Consistent[bank] = true;
        }
        else if (PhaseCount[bank] != s_marks || JobCount[bank] != s_jobs
            || !MarkCodes.AsSpan(1, s_marks).SequenceEqual(PhaseCodes.AsSpan(p0 + 1, s_marks)))
        {
            Consistent[bank] = false;
            return;
        }
        for (int i = 1; i <= s_marks; i++)
            PhaseSums[p0 + i] += MarkStamps[i] - MarkStamps[i - 1];
        for (int j = 0; j < s_jobs; j++)
        {
            var t = JobStamps.AsSpan(j * 5, 5);
            var sums = JobSums.AsSpan((bank * MaxMarks + j) * Stats, Stats);
            sums[0] += t[1] - t[0];
            sums[1] += t[3] - t[0];
            sums[2] += t[2] - t[1];
            sums[3] += t[4] - t[3];
            sums[4] += t[4] - Math.Max(t[2], t[3]);
            long late = t[1] - t[0];
            if (late * 50_000 > System.Diagnostics.Stopwatch.Frequency) sums[5]++;   // the worker started over 20 µs late
            sums[6] = Math.Max(sums[6], late);
        }
        PhaseSteps[bank]++;
    }

    /// <summary>Clears the phase sums of every bank.</summary>
    internal static void ResetPhases()
    {
        Array.Clear(PhaseSums);
        Array.Clear(JobSums);
        Array.Clear(PhaseSteps);
    }

    /// <summary>A bank's phase sums as a table (µs per step): position, phase, the caller's time in it, and for each pool
    /// job in it the worker's start delay, the caller's part, the worker's part, the caller's wait at the join and the
    /// join's exit after the later end.</summary>
    internal static string PhaseTable(int bank)
    {
        var text = new System.Text.StringBuilder();
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        long steps = PhaseSteps[bank];
        double us = 1e6 / System.Diagnostics.Stopwatch.Frequency / Math.Max(steps, 1);
        text.Append(inv, $"steps {steps}{(Consistent[bank] ? "" : " (some steps skipped: another sequence)")}\n");
        double total = 0, elementWise = 0;
        int p0 = bank * (MaxMarks + 1);
        for (int i = 1; i <= PhaseCount[bank]; i++)
        {
            int code = PhaseCodes[p0 + i];
            double t = PhaseSums[p0 + i] * us;
            total += t;
            bool job = false;
            var line = new System.Text.StringBuilder();
            for (int j = 0; j < JobCount[bank]; j++)
            {
                if (JobPhases[bank * MaxMarks + j] != i) continue;
                job = true;
                var s = JobSums.AsSpan((bank * MaxMarks + j) * Stats, Stats);
                line.Append(inv, $"  [worker +{s[0] * us:F1} (late > 20 µs in {s[5]}, at most {s[6] * 1e6 / System.Diagnostics.Stopwatch.Frequency:F0}), caller {s[1] * us:F1}, worker {s[2] * us:F1}, wait {s[3] * us:F1}, hand-back {s[4] * us:F1}]");
            }
            int kind = code / 16;
            if (!job && kind is not (Product or WeightGradient or InputGradient)) elementWise += t;
            text.Append(inv, $"  {i,2} {KindNames[kind]}{(code % 16 == 15 ? "" : " " + (code % 16).ToString(inv))}: {t:F1}{line}\n");
        }
        text.Append(inv, $"  total {total:F1}, of which serial element-wise (no pool job) {elementWise:F1}\n");
        return text.ToString();
    }

    internal static void Mark(int what)
    {
        if (Enabled) Marks[what] = System.Diagnostics.Stopwatch.GetTimestamp();
    }

    /// <summary>At the update's join: add this step's intervals, if its shards ran on two threads.</summary>
    internal static void Close()
    {
        if (!Enabled) return;
        Mark(UpdateJoined);
        var m = Marks;
        if (m[ShardsStart] == 0 || m[WorkerShardsStart] < m[ShardsStart] || m[WorkerUpdateStart] < m[UpdateStart]) return;
        Sums[0] += m[WorkerShardsStart] - m[ShardsStart];
        Sums[1] += m[CallerShardsEnd] - m[ShardsStart];
        Sums[2] += m[WorkerShardsEnd] - m[WorkerShardsStart];
        Sums[3] += m[ShardsJoined] - m[CallerShardsEnd];
        Sums[4] += m[UpdateStart] - m[ShardsJoined];
        Sums[5] += m[WorkerUpdateStart] - m[UpdateStart];
        Sums[6] += m[CallerUpdateEnd] - m[UpdateStart];
        Sums[7] += m[WorkerUpdateEnd] - m[WorkerUpdateStart];
        Sums[8] += m[UpdateJoined] - m[CallerUpdateEnd];
        Sums[9] += m[UpdateJoined] - m[ShardsStart];
        Count++;
        Array.Clear(m);
    }
}
