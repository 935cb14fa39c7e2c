using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Backprop.Functional.Kernels;

public static partial class Gemm
{
    /// <summary>Products with m·n·k below this never leave the calling thread (was 2²¹; with the pool's workers awake a
    /// hand-off costs about a microsecond, and 2¹⁸ multiply-adds take 4–20 µs here: bench/RESULTS.md, "Third pass").</summary>
    private const long ParallelVolume = 1L << 18;

    /// <summary>Which kernel a <see cref="Team{T}"/> splits.</summary>
    internal enum Split
    {
        /// <summary>The packed <see cref="Blocked{T}"/> path, over tile-aligned column or row panels.</summary>
        Blocked,
        /// <summary><see cref="Tiles{T}.DotNT(ref T, ref T, ref T, int, int, int, bool)"/> (A·Bᵀ), over groups of four
        /// columns of C, i.e. rows of B: in a dense layer's forward pass each thread reads only its share of W.</summary>
        Dot,
        /// <summary><see cref="Tiles{T}.AxpyNN"/> (op(A)·B), over groups of four rows of C.</summary>
        Axpy,
    }

    /// <summary>
    /// Splits C = op(A)·op(B) into disjoint, tile-aligned rectangles (column panels, or row panels when C
    /// is tall and narrow, or groups of four columns / rows for the direct tiles) and runs the kernel on each from
    /// a persistent worker pool. Every rectangle reproduces the single-threaded bits (the tiles group rows and
    /// columns by four, so a split at a multiple of four keeps every group), so the result is independent of the split.
    /// </summary>
    /// <remarks>
    /// Spans cannot cross threads, so the caller pins the three operands with <c>fixed</c> for the whole product
    /// (it joins the workers before leaving the block) and publishes their addresses; workers turn them back into
    /// references. Pinned memory cannot move, so the workers' references stay valid whatever the GC does. The other
    /// <c>unsafe</c> sites (scratch alignment, the recurrent row split, the two-thread update, the micro-shard jobs) are
    /// listed in docs/ARCHITECTURE.md, "Unsafe code". Nothing is allocated per call.
    /// </remarks>
    internal sealed class Team<T> : Pool.Job
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        private static readonly Team<T> Shared = new();

        private nint _a, _b, _c, _rs, _ds, _seed, _relu;
        private bool _transposeA, _transposeB, _accumulate, _splitColumns;
        private int _m, _n, _k, _parts, _units, _callerUnits;
        private Split _split;
        private long _workerTicks;

        /// <summary>Two-thread splits balanced by measured time (<see cref="SplitBalance"/>); off (the default): halves, as
        /// before. The bits are the same either way (tests and the bench switch it). It allocated in a steady GRU step
        /// until the packing scratch was sized by the whole product rather than the thread's part (tenth pass); it stays
        /// off because the step rate showed no gain (balanced ÷ halves 0.98–1.04 on W3 and W2, bench/RESULTS.md).</summary>
        internal static bool Balanced;

        /// <summary>Tests: the caller's share of a two-thread split's units (clamped to [1, units − 1]) instead of the
        /// balanced one; negative: off.</summary>
        internal static double ForcedCallerShare = -1;

        /// <summary>The shapes seen (a fixed table: a shape past the last slot is split in halves).</summary>
        private static readonly SplitBalance[] Balances = new SplitBalance[48];
        private static int s_balances;

        /// <summary>Rows of C per unit of work of the direct tiles.</summary>
        private const int TileRows = 4;

        private Team()
        {
        }

        /// <summary>Products that ran on more than one thread (for tests: the parallel path is really taken).</summary>
        internal static long Runs;

        /// <summary>Packed products split by rows of C (for tests: the row split is really taken).</summary>
        internal static long RowSplits;

        internal static bool TryRun(ref T a, bool transposeA, ref T b, bool transposeB, ref T c,
            int m, int n, int k, bool accumulate, int threads) =>
            TryRun(ref a, transposeA, ref b, transposeB, ref c, m, n, k, accumulate, threads, ref Unsafe.NullRef<T>());

        /// <summary>The packed path's split with, when <paramref name="seed"/> is not a null reference, each row of C first
        /// set to seed[0, n) by the thread that computes it, on its own rectangle (a dense layer's bias: z ← b, then
        /// z += x·Wᵀ; the same bits as seeding all of C first, and no thread writes lines of C the other then accumulates
        /// into).</summary>
        internal static bool TryRun(ref T a, bool transposeA, ref T b, bool transposeB, ref T c,
            int m, int n, int k, bool accumulate, int threads, ref T seed) =>
            TryRun(ref a, transposeA, ref b, transposeB, ref c, m, n, k, accumulate, threads, ref seed, ref Unsafe.NullRef<T>());

        /// <summary>The same, and, when <paramref name="relu"/> is not a null reference, each thread then writes
        /// relu[i, j] = max(C[i, j], 0) over its own rectangle (a ReLU layer's σ, in the cache that computed z).</summary>
        internal static bool TryRun(ref T a, bool transposeA, ref T b, bool transposeB, ref T c,
            int m, int n, int k, bool accumulate, int threads, ref T seed, ref T relu)
        {
            int mr = MicroKernel<T>.MR, nr = MicroKernel<T>.NR;
            int rowUnits = (m + mr - 1) / mr, colUnits = (n + nr - 1) / nr;
            bool splitColumns = SplitCost(m, n, k, mr, nr, colUnits, threads, columns: true)
                <= SplitCost(m, n, k, mr, nr, rowUnits, threads, columns: false);
            if (!TryStart(Split.Blocked, ref a, transposeA, 0, 0, ref b, transposeB, ref c, m, n, k, accumulate, threads,
                    splitColumns, splitColumns ? colUnits : rowUnits, ref seed, ref relu))
                return false;
            if (!splitColumns)
                Interlocked.Increment(ref RowSplits);
            return true;
        }

        /// <summary>
        /// The busier thread's cost of splitting the packed path by columns or by rows of C: its multiply-adds (its
        /// share of tile-aligned panels, rounded up) plus <see cref="PackWeight"/> per element it packs. A column split
        /// packs all of op(A) (m·k) and its share of op(B); a row split its share of op(A) and all of op(B) (k·n).
        /// Splitting the longer side halves the larger operand's packing (300 × 96 × 96: each thread packed 28,800 values
        /// of A by columns, 23,616 by rows).
        /// </summary>
        internal static long SplitCost(int m, int n, int k, int mr, int nr, int units, int threads, bool columns)
        {
            int parts = Math.Min(threads, units);
            if (parts < 2)
                return long.MaxValue;
            int share = (units + parts - 1) / parts;
            long rows = columns ? m : Math.Min(m, share * mr), cols = columns ? Math.Min(n, share * nr) : n;
            return rows * cols * k + PackWeight * k * (rows + cols);
        }

        /// <summary>Multiply-adds one packed element costs in <see cref="SplitCost"/> (a load and a store, strided when
        /// transposed, against vector FMAs of 8 lanes on two pipes).</summary>
        private const long PackWeight = 8;

        /// <summary>Runs the direct A·Bᵀ (<see cref="Split.Dot"/>) or op(A)·B (<see cref="Split.Axpy"/>, op(A)ᵢₚ =
        /// a[i·rs + p·ds]) tiles over groups of four rows of C.</summary>
        internal static bool TryRunTiles(Split split, ref T a, nint rs, nint ds, ref T b, ref T c,
            int m, int n, int k, bool accumulate, int threads) =>
            TryStart(split, ref a, false, rs, ds, ref b, split == Split.Dot, ref c, m, n, k, accumulate, threads,
                splitColumns: split == Split.Dot, units: ((split == Split.Dot ? n : m) + TileRows - 1) / TileRows,
                ref Unsafe.NullRef<T>(), ref Unsafe.NullRef<T>());

        /// <summary>Bench: products with m·n·k below this run on the calling thread at run time whatever their plan (the
        /// same bits either way; 2²² was measured against 2¹⁸ in bench/RESULTS.md, "Tenth pass", and not kept).</summary>
        internal static long MinVolume;

        private static unsafe bool TryStart(Split split, ref T a, bool transposeA, nint rs, nint ds, ref T b, bool transposeB,
            ref T c, int m, int n, int k, bool accumulate, int threads, bool splitColumns, int units, ref T seed, ref T relu)
        {
            int parts = Math.Min(threads, units);
            if (parts < 2 || (long)m * n * k < MinVolume || !Pool.TryEnter(parts - 1))
                return false;
            try
            {
                fixed (T* pa = &a, pb = &b, pc = &c, ps = &seed, pr = &relu)   // pinned until every worker has joined
                {
                    Team<T> job = Shared;
                    job._seed = (nint)ps;
                    job._relu = (nint)pr;
                    job._a = (nint)pa;
                    job._b = (nint)pb;
                    job._c = (nint)pc;
                    job._transposeA = transposeA;
                    job._transposeB = transposeB;
                    job._accumulate = accumulate;
                    job._splitColumns = splitColumns;
                    job._split = split;
                    job._rs = rs;
                    job._ds = ds;
                    job._m = m;
                    job._n = n;
                    job._k = k;
                    job._parts = parts;
                    job._units = units;
                    int flags = (int)split | (splitColumns ? 4 : 0) | (transposeA ? 8 : 0) | (transposeB ? 16 : 0);
                    int slot = parts == 2 && Balanced ? FindBalance(m, n, k, units, flags) : -1;
                    job._callerUnits = ForcedCallerShare >= 0 && parts == 2
                        ? Math.Clamp((int)Math.Round(units * ForcedCallerShare), 1, units - 1)
                        : slot >= 0 ? Balances[slot].CallerUnits : units / parts;
                    Pool.Start(job, parts - 1);
                    Interlocked.Increment(ref Runs);
                    long callerTicks;
                    try
                    {
                        long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
                        job.Compute(ref a, ref b, ref c, 0);
                        callerTicks = System.Diagnostics.Stopwatch.GetTimestamp() - t0;
                    }
                    finally
                    {
                        Pool.Join();
                    }
                    if (slot >= 0)
                        Balances[slot].Rebalance(callerTicks, job._workerTicks);
                }
                return true;
            }
            finally
            {
                Pool.Exit();
            }
        }

        /// <summary>Worker side: part ∈ [1, parts), on operands the caller keeps pinned.</summary>
        internal override unsafe void Execute(int part)
        {
            long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
            Compute(ref Unsafe.AsRef<T>((void*)_a), ref Unsafe.AsRef<T>((void*)_b), ref Unsafe.AsRef<T>((void*)_c), part);
            if (part == 1) _workerTicks = System.Diagnostics.Stopwatch.GetTimestamp() - t0;
        }

        /// <summary>The balance slot of a shape, added (halves first) when it is new; −1 when the table is full.</summary>
        private static int FindBalance(int m, int n, int k, int units, int flags)
        {
            for (int i = 0; i < s_balances; i++)
            {
                ref SplitBalance e = ref Balances[i];
                if (e.M == m && e.N == n && e.K == k && e.Units == units && e.Flags == flags)
                    return i;
            }
            if (s_balances == Balances.Length)
                return -1;
            Balances[s_balances] = new SplitBalance { M = m, N = n, K = k, Units = units, Flags = flags, CallerUnits = units / 2 };
            return s_balances++;
        }

        /// <summary>C[i0..i1, j0..j1) ← seed[j0..j1) per row, when the product is seeded.</summary>
        private unsafe void SeedRows(ref T c, int i0, int i1, int j0, int j1)
        {
            if (_seed == 0 || j0 >= j1)
                return;
            var seed = new ReadOnlySpan<T>((T*)_seed + j0, j1 - j0);
            for (int i = i0; i < i1; i++)
                seed.CopyTo(MemoryMarshal.CreateSpan(ref Unsafe.Add(ref c, (nint)i * _n + j0), j1 - j0));
        }

        /// <summary>relu[i, j0..j1) ← max(C[i, j0..j1), 0) for rows [i0, i1), when the product carries a ReLU (ReLU.Apply
        /// itself, on the rectangle's rows: an element-wise max is exact, so any rectangle gives the whole batch's bits).</summary>
        private unsafe void ReLURows(ref T c, int i0, int i1, int j0, int j1)
        {
            if (_relu == 0 || j0 >= j1)
                return;
            for (int i = i0; i < i1; i++)
            {
                nint at = (nint)i * _n + j0;
                ReLU.Apply<T>(MemoryMarshal.CreateReadOnlySpan(ref Unsafe.Add(ref c, at), j1 - j0),
                    new Span<T>((T*)_relu + at, j1 - j0), j1 - j0);   // the activation's own code, one row of the rectangle
            }
        }

        private void Compute(ref T a, ref T b, ref T c, int part)
        {
            int u0 = (int)((long)_units * part / _parts), u1 = (int)((long)_units * (part + 1) / _parts);
            if (_parts == 2)
            {
                u0 = part == 0 ? 0 : _callerUnits;
                u1 = part == 0 ? _callerUnits : _units;
            }
            if (_split == Split.Dot)
            {
                int j0 = u0 * TileRows, j1 = Math.Min(_n, u1 * TileRows);
                Tiles<T>.DotNT(ref a, ref Unsafe.Add(ref b, (nint)j0 * _k), ref Unsafe.Add(ref c, j0), _m, j1 - j0, _k, _n, _accumulate);
            }
            else if (_split == Split.Axpy)
            {
                int r0 = u0 * TileRows, r1 = Math.Min(_m, u1 * TileRows);
                Tiles<T>.AxpyNN(ref Unsafe.Add(ref a, r0 * _rs), _rs, _ds, ref b, ref Unsafe.Add(ref c, (nint)r0 * _n), r1 - r0, _n, _k, _accumulate);
            }
            else if (_splitColumns)
            {
                int nr = MicroKernel<T>.NR, j0 = Math.Min(_n, u0 * nr), j1 = Math.Min(_n, u1 * nr);
                SeedRows(ref c, 0, _m, j0, j1);
                Blocked<T>.Run(ref a, _transposeA, ref b, _transposeB, ref c, _m, _n, _k, _accumulate, 0, _m, j0, j1);
                ReLURows(ref c, 0, _m, j0, j1);
            }
            else
            {
                int mr = MicroKernel<T>.MR, i0 = Math.Min(_m, u0 * mr), i1 = Math.Min(_m, u1 * mr);
                SeedRows(ref c, i0, i1, 0, _n);
                Blocked<T>.Run(ref a, _transposeA, ref b, _transposeB, ref c, _m, _n, _k, _accumulate, i0, i1, 0, _n);
                ReLURows(ref c, i0, i1, 0, _n);
            }
        }
    }

    /// <summary>
    /// A two-thread split's state for one shape of work (a product, an update of a given length): the caller's share of
    /// the units and the smoothed time per unit on each thread. The two cores do not run a unit equally fast (the one that
    /// did not write an operand reads it across the cores; bench/RESULTS.md, "Ninth pass"), so halves leave the faster
    /// thread waiting at the join. After each run <see cref="Rebalance"/> moves the caller's share toward the split that
    /// would end both parts together, by at most 1/64 of the units (at least one) and within [¼, ¾] of them. Only for
    /// work whose bits do not depend on who computes which unit (tile-aligned panels; an element-wise update).
    /// </summary>
    internal struct SplitBalance
    {
        /// <summary>The shape this entry is for (the caller's key).</summary>
        public int M, N, K, Units, Flags;

        /// <summary>Units the calling thread runs: [0, CallerUnits); the worker the rest.</summary>
        public int CallerUnits;

        private double _callerPerUnit, _workerPerUnit;

        /// <summary>Adds one run's times (Stopwatch ticks of each thread's own part) and moves the split.</summary>
        public void Rebalance(long callerTicks, long workerTicks)
        {
            int cu = CallerUnits, wu = Units - cu;
            if (cu <= 0 || wu <= 0 || callerTicks <= 0 || workerTicks <= 0)
                return;
            double pc = (double)callerTicks / cu, pw = (double)workerTicks / wu;
            _callerPerUnit = _callerPerUnit == 0 ? pc : 0.75 * _callerPerUnit + 0.25 * pc;
            _workerPerUnit = _workerPerUnit == 0 ? pw : 0.75 * _workerPerUnit + 0.25 * pw;
            double target = Units * _workerPerUnit / (_callerPerUnit + _workerPerUnit);
            int lo = Math.Max(1, Units / 4), hi = Math.Min(Units - 1, Units - Units / 4), step = Math.Max(1, Units / 64);
            int next = cu;
            if (target > cu + 0.5)
                next = Math.Min(cu + step, (int)Math.Round(target));
            else if (target < cu - 0.5)
                next = Math.Max(cu - step, (int)Math.Round(target));
            CallerUnits = Math.Clamp(next, lo, hi);
        }
    }

    /// <summary>
    /// A lazily created pool of dedicated background threads; one caller at a time (others run alone).
    /// Worker w runs part w + 1 of the current job; the caller runs part 0 and then joins.
    /// </summary>
    internal static class Pool
    {
        /// <summary>A unit of parallel work; <see cref="Execute"/> runs part ∈ [1, parts) on a worker.</summary>
        internal abstract class Job
        {
            internal abstract void Execute(int part);
        }

        private static readonly Lock Gate = new();
        // The caller waits on a plain monitor, not a ManualResetEventSlim: the latter creates its lock object on
        // the first wait that has to block, which shows up as a one-off 24-byte allocation in a steady-state step.
        private static readonly object DoneGate = new();

        /// <summary>How long <see cref="Join"/> polls before it blocks: 200 µs. (2 ms was measured in the ninth pass: a
        /// blocked caller pays 10–60 µs to be woken, but on W3 the hand-backs then saved ~15 µs a step, within the noise,
        /// while a caller spinning longer takes a core from the other processes; the bench still switches it.)</summary>
        internal static long JoinSpinTicks = System.Diagnostics.Stopwatch.Frequency / 5000;
        private static Worker[] s_workers = [];
        private static int s_pending;
        private static int s_started;

        /// <summary>The step probe's index of the running job (−1 when the probe is off; bench only).</summary>
        private static int s_probeJob = -1;

        /// <summary>Times a caller found the pool busy and ran alone (for tests: two callers really overlapped).</summary>
        internal static long Refused;

        // ---- the hand-off probe (bench only; one static test per job when off) ----

        /// <summary>Set to time every job's hand-off into <see cref="HandOffSums"/>[<see cref="HandOffBank"/>] (the bench sets
        /// it by reflection).</summary>
        internal static bool HandOffProbe;

        /// <summary>Which row of <see cref="HandOffSums"/> the jobs add to (the bench alternates configurations).</summary>
        internal static int HandOffBank;

        /// <summary>Per bank (8 rows of <see cref="HandOffStats"/>): jobs; Σ ticks from Start to the first worker's begin;
        /// Σ the caller's part (Start to Join); Σ the worker's part; Σ the caller's wait in Join; Σ the join's exit after the
        /// later of the two ends (the hand-back); jobs whose worker was asleep when released; joins that blocked; parts the
        /// caller took back.</summary>
        internal static readonly long[] HandOffSums = new long[8 * HandOffStats];

        internal const int HandOffStats = 9;

        /// <summary>Whether <see cref="Join"/> runs a part no worker has started yet on the calling thread (on; the bench
        /// switches it).</summary>
        internal static bool TakeBack = true;

        /// <summary>How long <see cref="Join"/> polls before it takes parts back: 20 µs (a worker that started on time
        /// ends within microseconds of the caller; one descheduled by another process starts 100–300 µs late).</summary>
        internal static long TakeBackAfterTicks = System.Diagnostics.Stopwatch.Frequency / 50_000;

        /// <summary>Parts the calling thread took back from a worker that had not started them (for tests).</summary>
        internal static long TakenBack;

        /// <summary>Tests: while set, a worker that has seen a job does not take it, so the caller takes every part back
        /// (a hold, not a delay: a delay that outlasted one job let the worker take the next one).</summary>
        internal static volatile bool TestHoldWorkers;

        private static long s_startStamp, s_workerBegin, s_workerEnd;
        private static bool s_probing, s_blocked;

        /// <summary>Claims the pool for the calling thread, creating workers up to <paramref name="workers"/>; false,
        /// at once, when another thread holds it (the caller then computes alone: same bits, no waiting), and false when
        /// the calling thread holds it with a job running (between <see cref="Start"/> and <see cref="Join"/>: a caller's
        /// own part asking for the pool would overwrite the running job's workers and count). A holder between jobs may
        /// enter again (the gate is re-entrant): a data-parallel step runs its shards and then its sum on the pool.</summary>
        internal static bool TryEnter(int workers)
        {
            if (s_started > 0 && Gate.IsHeldByCurrentThread) return false;   // not counted in Refused: no other caller
            if (!Gate.TryEnter())
            {
                Interlocked.Increment(ref Refused);
                return false;
            }
            if (s_workers.Length < workers)
            {
                Worker[] grown = new Worker[workers];
                Array.Copy(s_workers, grown, s_workers.Length);
                for (int w = s_workers.Length; w < workers; w++)
                    grown[w] = new Worker(w + 1);
                s_workers = grown;
            }
            return true;
        }

        internal static void Exit() => Gate.Exit();

        /// <summary>Whether the calling thread holds the pool (its gate is re-entrant; <see cref="TryEnter"/> refuses a
        /// nested claim while a job runs).</summary>
        internal static bool HeldByCurrentThread => Gate.IsHeldByCurrentThread;

        /// <summary>Bytes the pool's worker threads have allocated since they started, as each recorded it at the end
        /// of its last job (so it covers everything up to that job, waits included). Tests add it to the calling
        /// thread's count to see every allocation a step makes on the library's threads, and none of the test host's.</summary>
        internal static long WorkerAllocatedBytes()
        {
            long sum = 0;
            foreach (var worker in Volatile.Read(ref s_workers))
                sum += worker.AllocatedBytes;
            return sum;
        }

        /// <summary>Releases <paramref name="workers"/> workers on <paramref name="job"/>.</summary>
        internal static void Start(Job job, int workers)
        {
            if (HandOffProbe)   // written only when on: a store per job would move the line to this core and back
            {
                s_probing = true;
                s_blocked = false;
                s_startStamp = System.Diagnostics.Stopwatch.GetTimestamp();
            }
            s_probeJob = StepProbe.JobStart();
            s_started = workers;
            Volatile.Write(ref s_pending, workers);
            for (int w = 0; w < workers; w++)
                s_workers[w].Start(job);
        }

        /// <summary>Waits for every worker released by <see cref="Start"/>.</summary>
        internal static void Join()
        {
            int probe = s_probeJob;
            long joinStamp = s_probing ? System.Diagnostics.Stopwatch.GetTimestamp() : 0;
            StepProbe.JobJoin(probe, 3);
            System.Runtime.ExceptionServices.ExceptionDispatchInfo? thrown = null;   // from a part taken back
            if (s_started > 0)
            {
                // The parts are balanced, so the workers finish within microseconds of the caller: poll (a read of one
                // shared line) for up to JoinSpinTicks before blocking; a blocked caller costs an OS wake-up. A worker
                // that has not taken its part TakeBackAfterTicks after the caller finished its own is descheduled or
                // asleep (another process on its core, or a wake-up still on its way): its part is taken back and run
                // here. Not at once: reading each worker's slot is one more line from the other core (~0.5 µs when the
                // host puts the vCPUs far apart), which a one-row forward's products paid on every join.
                long since = System.Diagnostics.Stopwatch.GetTimestamp();
                bool offered = !TakeBack;
                while (Volatile.Read(ref s_pending) > 0)
                {
                    long waited = System.Diagnostics.Stopwatch.GetTimestamp() - since;
                    if (!offered && waited >= TakeBackAfterTicks)
                    {
                        offered = true;
                        TakeBackLate(joinStamp, ref thrown);
                        continue;
                    }
                    if (waited >= JoinSpinTicks)
                        break;
                    Thread.SpinWait(1);
                }
                if (Volatile.Read(ref s_pending) > 0)
                {
                    s_blocked = true;
                    lock (DoneGate)
                    {
                        while (Volatile.Read(ref s_pending) > 0)
                            Monitor.Wait(DoneGate);
                    }
                }
            }
            s_started = 0;
            StepProbe.JobJoin(probe, 4);
            s_probeJob = -1;
            if (s_probing)
            {
                long end = System.Diagnostics.Stopwatch.GetTimestamp();
                var sums = HandOffSums.AsSpan((HandOffBank & 7) * HandOffStats, HandOffStats);
                sums[0]++;
                sums[1] += s_workerBegin - s_startStamp;
                sums[2] += joinStamp - s_startStamp;
                sums[3] += s_workerEnd - s_workerBegin;
                sums[4] += end - joinStamp;
                sums[5] += end - Math.Max(s_workerEnd, joinStamp);
                if (s_blocked) sums[7]++;
                s_probing = false;
            }
            thrown?.Throw();
        }

        /// <summary>Takes back every released part no worker has taken yet and runs it on the calling thread. Exactly one
        /// of the two exchanges the job out of the slot, so a part runs once; every job's parts compute the same bits on
        /// any thread (tile-aligned rectangles, work queues, fixed halves). A part that throws is kept in
        /// <paramref name="thrown"/> and rethrown by <see cref="Join"/> once the other workers are done.</summary>
        private static void TakeBackLate(long joinStamp, ref System.Runtime.ExceptionServices.ExceptionDispatchInfo? thrown)
        {
            for (int w = 0; w < s_started; w++)
            {
                Job? late = s_workers[w].TakeBack();
                if (late is null)
                    continue;
                Interlocked.Increment(ref TakenBack);
                if (s_probing)
                {
                    HandOffSums[(HandOffBank & 7) * HandOffStats + 8]++;
                    s_workerBegin = s_workerEnd = joinStamp;
                }
                try
                {
                    late.Execute(w + 1);
                }
#pragma warning disable CA1031 // rethrown by Join, once every other worker has finished with the job's buffers
                catch (Exception e)
#pragma warning restore CA1031
                {
                    thrown ??= System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e);
                }
                finally
                {
                    Interlocked.Decrement(ref s_pending);
                }
            }
        }

        private static void Finished()
        {
            if (Interlocked.Decrement(ref s_pending) == 0)
            {
                lock (DoneGate)
                    Monitor.PulseAll(DoneGate);
            }
        }

        private sealed class Worker : IDisposable
        {
            /// <summary>How long an idle worker spins before it sleeps: 2 ms.</summary>
            private static readonly long SpinTicks = System.Diagnostics.Stopwatch.Frequency / 500;

            private readonly ManualResetEventSlim _wake = new(false, spinCount: 2000);
            private readonly int _part;
            private Job? _job;
            private volatile bool _disposed;
            private long _allocated;

            /// <summary>GC.GetAllocatedBytesForCurrentThread of this worker at the end of its last job.</summary>
            internal long AllocatedBytes => Volatile.Read(ref _allocated);

            internal Worker(int part)
            {
                _part = part;
                // ManualResetEventSlim allocates its lock object the first time a waiter blocks. A worker whose first
                // jobs come within its idle spin first blocks at some later product, which then allocates 24 bytes:
                // block once here (1 ms, once per worker) so the lock exists before the first product.
                _wake.Wait(1);
                var thread = new Thread(Loop)
                {
                    IsBackground = true,
                    Name = "Gemm worker " + part.ToString(System.Globalization.CultureInfo.InvariantCulture),
                };
                thread.Start();
            }

            internal void Start(Job job)
            {
                Volatile.Write(ref _job, job);
                _wake.Set();
            }

            /// <summary>Takes the released job (null if the caller took it back first); in tests, not before
            /// <see cref="TestHoldWorkers"/> is cleared.</summary>
            private Job? Exchange()
            {
                while (TestHoldWorkers)
                    Thread.SpinWait(1);
                return Interlocked.Exchange(ref _job, null);
            }

            /// <summary>The job, if this worker has not taken it yet (then it never will); else null.</summary>
            internal Job? TakeBack() => Volatile.Read(ref _job) is null ? null : Interlocked.Exchange(ref _job, null);

            /// <summary>Stops the worker thread after its current job (the pool itself never does).</summary>
            public void Dispose()
            {
                _disposed = true;
                _wake.Set();
            }

            private void Loop()
            {
                while (true)
                {
                    Job? job;
                    bool slept = false;
                    long idleSince = System.Diagnostics.Stopwatch.GetTimestamp();
                    // read before exchanging: an idle worker polls with plain reads, not a stream of locked writes
                    while ((job = Volatile.Read(ref _job) is null ? null : Exchange()) is null)
                    {
                        if (_disposed)
                        {
                            _wake.Dispose();
                            return;
                        }
                        // Spin a little before sleeping: a training step hands out its large GEMMs every few hundred
                        // microseconds, and waking a sleeping thread costs tens of microseconds on a VM.
                        if (System.Diagnostics.Stopwatch.GetTimestamp() - idleSince < SpinTicks)
                        {
                            Thread.SpinWait(1);   // one calibrated pause: a job is seen within tens of nanoseconds
                            continue;
                        }
                        _wake.Wait();
                        _wake.Reset();
                        slept = true;
                    }
                    int probe = _part == 1 ? s_probeJob : -1;
                    bool timing = _part == 1 && s_probing;
                    try
                    {
                        if (timing)
                        {
                            s_workerBegin = System.Diagnostics.Stopwatch.GetTimestamp();
                            if (slept) HandOffSums[(HandOffBank & 7) * HandOffStats + 6]++;
                        }
                        StepProbe.JobWorker(probe, 1);
                        job.Execute(_part);
                        StepProbe.JobWorker(probe, 2);
                        if (timing) s_workerEnd = System.Diagnostics.Stopwatch.GetTimestamp();
                    }
                    finally
                    {
                        Volatile.Write(ref _allocated, GC.GetAllocatedBytesForCurrentThread());   // before the caller can return
                        Finished();
                    }
                }
            }
        }
    }
}
