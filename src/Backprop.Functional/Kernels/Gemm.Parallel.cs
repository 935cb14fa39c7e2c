using System.Numerics;
using System.Runtime.CompilerServices;

namespace Backprop.Functional.Kernels;

public static partial class Gemm
{
    /// <summary>
    /// Splits C = op(A)·op(B) into disjoint, tile-aligned rectangles (column panels, or row panels when C
    /// is tall and narrow) and runs <see cref="Blocked{T}"/> on each from a persistent worker pool.
    /// Every rectangle reproduces the single-threaded bits, so the result is independent of the split.
    /// </summary>
    /// <remarks>
    /// Spans cannot cross threads, so the operands are published as addresses. A worker turns them back into
    /// GC-tracked references and reports; only if the caller's references still sit at the published
    /// addresses (no compacting GC moved an operand in between) are the workers released to compute,
    /// otherwise they stand down and the caller computes alone. Nothing is allocated per call.
    /// </remarks>
    internal sealed class Team<T> : Pool.Job
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        private static readonly Team<T> Shared = new();

        private nint _a, _b, _c;
        private bool _transposeA, _transposeB, _accumulate, _splitColumns;
        private int _m, _n, _k, _parts, _units;
        private int _acquired;
        private int _verdict; // 0 pending, 1 go, 2 stand down

        private Team()
        {
        }

        internal static bool TryRun(ref T a, bool transposeA, ref T b, bool transposeB, ref T c,
            int m, int n, int k, bool accumulate, int threads)
        {
            int mr = MicroKernel<T>.MR, nr = MicroKernel<T>.NR;
            int rowUnits = (m + mr - 1) / mr, colUnits = (n + nr - 1) / nr;
            bool splitColumns = colUnits >= rowUnits || colUnits >= threads;
            int units = splitColumns ? colUnits : rowUnits;
            int parts = Math.Min(threads, units);
            if (parts < 2 || !Pool.TryEnter(parts - 1))
                return false;
            try
            {
                Team<T> job = Shared;
                job._a = Address(ref a);
                job._b = Address(ref b);
                job._c = Address(ref c);
                job._transposeA = transposeA;
                job._transposeB = transposeB;
                job._accumulate = accumulate;
                job._splitColumns = splitColumns;
                job._m = m;
                job._n = n;
                job._k = k;
                job._parts = parts;
                job._units = units;
                job._acquired = 0;
                Volatile.Write(ref job._verdict, 0);

                Pool.Start(job, parts - 1);
                SpinWait spin = default;
                while (Volatile.Read(ref job._acquired) < parts - 1)
                    spin.SpinOnce(sleep1Threshold: -1);
                bool unmoved = job._a == Address(ref a) && job._b == Address(ref b) && job._c == Address(ref c);
                Volatile.Write(ref job._verdict, unmoved ? 1 : 2);
                try
                {
                    if (unmoved)
                        job.Compute(ref a, ref b, ref c, 0);
                }
                finally
                {
                    Pool.Join();
                }
                if (!unmoved)
                    Blocked<T>.Run(ref a, transposeA, ref b, transposeB, ref c, m, n, k, accumulate, 0, m, 0, n);
                return true;
            }
            finally
            {
                Pool.Exit();
            }
        }

        /// <summary>Worker side: part ∈ [1, parts).</summary>
        internal override void Execute(int part)
        {
            ref T a = ref FromAddress(_a);
            ref T b = ref FromAddress(_b);
            ref T c = ref FromAddress(_c);
            Interlocked.Increment(ref _acquired);
            SpinWait spin = default;
            int verdict;
            while ((verdict = Volatile.Read(ref _verdict)) == 0)
                spin.SpinOnce(sleep1Threshold: -1);
            if (verdict == 1)
                Compute(ref a, ref b, ref c, part);
        }

        private void Compute(ref T a, ref T b, ref T c, int part)
        {
            int u0 = (int)((long)_units * part / _parts), u1 = (int)((long)_units * (part + 1) / _parts);
            if (_splitColumns)
            {
                int nr = MicroKernel<T>.NR;
                Blocked<T>.Run(ref a, _transposeA, ref b, _transposeB, ref c, _m, _n, _k, _accumulate,
                    0, _m, u0 * nr, Math.Min(_n, u1 * nr));
            }
            else
            {
                int mr = MicroKernel<T>.MR;
                Blocked<T>.Run(ref a, _transposeA, ref b, _transposeB, ref c, _m, _n, _k, _accumulate,
                    u0 * mr, Math.Min(_m, u1 * mr), 0, _n);
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static nint Address(ref T x) => Unsafe.ByteOffset(ref Unsafe.NullRef<T>(), ref x);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static ref T FromAddress(nint address) => ref Unsafe.AddByteOffset(ref Unsafe.NullRef<T>(), address);
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
        private static Worker[] s_workers = [];
        private static int s_pending;
        private static int s_started;

        /// <summary>Claims the pool for the calling thread, creating workers up to <paramref name="workers"/>.</summary>
        internal static bool TryEnter(int workers)
        {
            if (!Gate.TryEnter())
                return false;
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

        /// <summary>Releases <paramref name="workers"/> workers on <paramref name="job"/>.</summary>
        internal static void Start(Job job, int workers)
        {
            s_started = workers;
            Volatile.Write(ref s_pending, workers);
            for (int w = 0; w < workers; w++)
                s_workers[w].Start(job);
        }

        /// <summary>Waits for every worker released by <see cref="Start"/>.</summary>
        internal static void Join()
        {
            if (s_started > 0)
            {
                SpinWait spin = default;
                while (Volatile.Read(ref s_pending) > 0 && !spin.NextSpinWillYield)
                    spin.SpinOnce(sleep1Threshold: -1);
                if (Volatile.Read(ref s_pending) > 0)
                {
                    lock (DoneGate)
                    {
                        while (Volatile.Read(ref s_pending) > 0)
                            Monitor.Wait(DoneGate);
                    }
                }
            }
            s_started = 0;
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
            private readonly ManualResetEventSlim _wake = new(false, spinCount: 2000);
            private readonly int _part;
            private Job? _job;
            private volatile bool _disposed;

            internal Worker(int part)
            {
                _part = part;
                var thread = new Thread(Loop)
                {
                    IsBackground = true,
                    Name = "Gemm worker " + part.ToString(System.Globalization.CultureInfo.InvariantCulture),
                };
                thread.Start();
            }

            internal void Start(Job job)
            {
                _job = job;
                _wake.Set();
            }

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
                    _wake.Wait();
                    _wake.Reset();
                    if (_disposed)
                    {
                        _wake.Dispose();
                        return;
                    }
                    Job? job = _job;
                    _job = null;
                    try
                    {
                        job?.Execute(_part);
                    }
                    finally
                    {
                        Finished();
                    }
                }
            }
        }
    }
}
