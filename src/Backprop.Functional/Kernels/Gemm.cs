using System.Globalization;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Backprop.Functional.Kernels;

/// <summary>
/// Row-major general matrix multiply, C ← (accumulate ? C : 0) + op(A)·op(B),
/// where op(X) = Xᵀ when the matching transpose flag is set and X otherwise.
/// op(A) is [m × k], op(B) is [k × n] and C is [m × n]; every operand is a contiguous row-major span.
/// <para>Threads: safe to call from several threads at once. Products share one pool of worker threads; a call that
/// finds the pool busy runs on its own thread alone, with the same bits.</para>
/// </summary>
/// <remarks>
/// Large products run a packed, cache-blocked, register-blocked kernel (GotoBLAS/BLIS layout);
/// small products (and single-row ones) run a direct vectorised loop with no packing.
/// After the first call on a thread no call allocates. Results are bit-identical for every
/// <c>threads</c> value: each element of C is always summed in the same order.
/// <para>Process-wide state (docs/ARCHITECTURE.md, "Process-wide state"). <b>The worker pool</b>: dedicated
/// background threads ("Gemm worker n"), created the first time a product (or <c>Trainer.Step</c>'s split optimizer
/// update) asks for them, as many as the largest request (min(threads, <see cref="Environment.ProcessorCount"/>) − 1
/// for a product, one for the update), never stopped: background threads do not keep the process alive, and idle ones
/// spin 2 ms, then sleep. It serves one caller at a time: a call that finds it held by another thread does not wait,
/// it computes on its own thread alone, with the same bits, so two trainers with <c>threads: 2</c> share the extra
/// core rather than getting one each. The one job object per element type that hands a product to the workers is
/// written only by the pool's holder. <b>Packing scratch</b>: per thread and element type (<c>[ThreadStatic]</c>),
/// pinned, grown to the largest product the thread has run and never shrunk (packed B̃ up to 6.3 MB, reached only by
/// products at least 4096 columns wide, packed Ã up to 0.3 MB, a transposed B of at most 2¹⁸ values, a column of A
/// for thin doubly-transposed products), freed with its thread, so the pool's workers keep theirs for the process's life.
/// Neither can be disposed: there is no handle to pass around.</para>
/// </remarks>
public static partial class Gemm
{
    /// <summary>Products with m·n·k at or below this run the direct (unpacked) path.</summary>
    private const long DirectVolume = 1L << 15;

    /// <summary>A product of at most <see cref="StreamRowsMax"/> rows of A against a B of at least this many elements is
    /// bound by streaming B from cache (one-sample inference: 784 × 128 weights, 401 KB), not by arithmetic: split over
    /// threads, each core streams its own part of B from its own L2, so it pays despite the small volume.</summary>
    private const long StreamOperandMin = 1L << 16;

    /// <summary>See <see cref="StreamOperandMin"/>.</summary>
    private const int StreamRowsMax = 4;

    /// <summary>A·Bᵀ with at most this many rows runs the direct dot-product tiles (B is re-read per 6 rows of A on 512-bit
    /// vectors, per 4 on 256-bit; above 64 rows the packed path is level or ahead: bench/RESULTS.md, "Ninth pass, W2").</summary>
    private const int DotRowsMax = 64;

    /// <summary>op(A)·B with at most this depth runs the direct axpy tiles (C stays in registers over k): up to 80 they
    /// beat packing, at 90 the packed path is ahead again (bench/RESULTS.md, "GEMM thresholds and compilation").</summary>
    private const int AxpyDepthMax = 80;

    /// <summary>Up to this depth, op(A)·B with a small C ([m × n] ≤ <see cref="AxpyAreaMax"/>) also runs the axpy tiles.</summary>
    private const int AxpyDepthSmallC = 128;

    /// <summary>See <see cref="AxpyDepthSmallC"/>: C small enough that packing does not pay for itself.</summary>
    private const long AxpyAreaMax = 16384;

    /// <summary>The direct tiles re-read B from cache; above this many elements of B the packed path is used.</summary>
    private const long DirectOperandMax = 1L << 18;

    /// <summary>
    /// C ← (accumulate ? C : 0) + op(A)·op(B), i.e. Cᵢⱼ ← (accumulate ? Cᵢⱼ : 0) + Σₚ op(A)ᵢₚ·op(B)ₚⱼ.
    /// </summary>
    /// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
    /// <param name="a">A, stored [m × k] row-major, or [k × m] if <paramref name="transposeA"/>.</param>
    /// <param name="transposeA">Whether op(A) = Aᵀ.</param>
    /// <param name="b">B, stored [k × n] row-major, or [n × k] if <paramref name="transposeB"/>.</param>
    /// <param name="transposeB">Whether op(B) = Bᵀ.</param>
    /// <param name="c">C, [m × n] row-major; read only when <paramref name="accumulate"/>.</param>
    /// <param name="m">Rows of op(A) and C.</param>
    /// <param name="n">Columns of op(B) and C.</param>
    /// <param name="k">Columns of op(A) and rows of op(B).</param>
    /// <param name="accumulate">If true C ← C + op(A)·op(B); otherwise C ← op(A)·op(B).</param>
    /// <param name="threads">Maximum threads for large products (≥ 1); the result does not depend on it.</param>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is neither float nor double.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A dimension is negative or <paramref name="threads"/> &lt; 1.</exception>
    /// <exception cref="ArgumentException">A span length does not match its shape.</exception>
    public static void Multiply<T>(ReadOnlySpan<T> a, bool transposeA, ReadOnlySpan<T> b, bool transposeB,
        Span<T> c, int m, int n, int k, bool accumulate, int threads = 1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var plan = Plan<T>(m, n, k, transposeA, transposeB, threads);
        Run(in plan, a, b, c, accumulate);
    }

    /// <summary>C ← (accumulate ? C : 0) + op(A)·op(B) on the kernel <paramref name="plan"/> chose: the same bits as
    /// the unplanned <see cref="Multiply{T}(ReadOnlySpan{T}, bool, ReadOnlySpan{T}, bool, Span{T}, int, int, int, bool, int)"/>
    /// with the plan's shape and threads, without its per-call decision.</summary>
    /// <typeparam name="T">The type the plan was made for.</typeparam>
    /// <param name="plan">From <see cref="Plan{T}"/>.</param>
    /// <param name="a">A, [m × k] row-major, or [k × m] if the plan transposes A.</param>
    /// <param name="b">B, [k × n] row-major, or [n × k] if the plan transposes B.</param>
    /// <param name="c">C, [m × n] row-major; read only when <paramref name="accumulate"/>.</param>
    /// <param name="accumulate">If true C ← C + op(A)·op(B); otherwise C ← op(A)·op(B).</param>
    /// <exception cref="ArgumentException">The plan was not made by <see cref="Plan{T}"/> for <typeparamref name="T"/>,
    /// or a span length does not match the plan's shape.</exception>
    public static void Multiply<T>(in GemmPlan plan, ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> c, bool accumulate)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (plan.ElementSize != Unsafe.SizeOf<T>())
            throw new ArgumentException(plan.ElementSize == 0
                ? "the plan was not made by Gemm.Plan (a default GemmPlan has no kernel)"
                : $"the plan was made for {plan.ElementSize}-byte elements, not {typeof(T).Name}", nameof(plan));
        Run(in plan, a, b, c, accumulate);
    }

    /// <summary>Chooses the kernel for op(A)[m × k]·op(B)[k × n] on at most <paramref name="threads"/> threads: the one
    /// decision every product makes (thresholds above), made once so a caller with a fixed shape can keep it.</summary>
    /// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
    /// <param name="m">Rows of op(A) and C.</param>
    /// <param name="n">Columns of op(B) and C.</param>
    /// <param name="k">Columns of op(A) and rows of op(B).</param>
    /// <param name="transposeA">Whether op(A) = Aᵀ.</param>
    /// <param name="transposeB">Whether op(B) = Bᵀ.</param>
    /// <param name="threads">Maximum threads for large products (≥ 1); the result does not depend on it.</param>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is neither float nor double.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A dimension is negative or <paramref name="threads"/> &lt; 1.</exception>
    public static GemmPlan Plan<T>(int m, int n, int k, bool transposeA, bool transposeB, int threads = 1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) != typeof(float) && typeof(T) != typeof(double))
            throw new NotSupportedException($"Gemm supports float and double, not {typeof(T).Name}.");
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        int size = Unsafe.SizeOf<T>();
        if (m == 0 || n == 0)
            return new GemmPlan(m, n, k, transposeA, transposeB, threads, GemmKernel.Empty, 1, size);
        if (k == 0)
            return new GemmPlan(m, n, k, transposeA, transposeB, threads, GemmKernel.Zero, 1, size);

        long volume = (long)m * n * k;
        bool small = volume <= DirectVolume || m <= 2 || n <= 2;
        bool streaming = m <= StreamRowsMax && (long)n * k >= StreamOperandMin;
        int team = threads > 1 && (volume >= ParallelVolume || streaming) ? Math.Min(threads, Environment.ProcessorCount) : 1;
        GemmKernel kernel;
        if (transposeB && !transposeA && Tiles<T>.CanAxpy && m >= 8 && n >= 16
            && ((k <= AxpyDepthMax && (long)k * n <= DirectOperandMax) || (k <= AxpyDepthSmallC && (long)m * n <= AxpyAreaMax)))
            // A·Bᵀ with a shallow k: dot products of length k pay a horizontal sum per element and the packed path
            // pays for packing, so transpose B (k·n values, 1/m of the work) and run the axpy tiles (65³: 63 → 85 GFLOP/s).
            kernel = GemmKernel.TransposeThenAxpy;
        else if (transposeB && !transposeA)
        {
            small |= n < MicroKernel<T>.NR / 2;
            kernel = Tiles<T>.CanDot(k) && (small || (m <= DotRowsMax && (long)n * k <= DirectOperandMax)) ? GemmKernel.DotTiles
                : small ? GemmKernel.Direct : GemmKernel.Packed;
        }
        else if (!transposeB && Tiles<T>.CanAxpy && (small || (k <= AxpyDepthMax && (long)k * n <= DirectOperandMax)
                || (k <= AxpyDepthSmallC && (long)m * n <= AxpyAreaMax)))
            kernel = GemmKernel.AxpyTiles;
        else
            kernel = small ? GemmKernel.Direct : GemmKernel.Packed;
        return new GemmPlan(m, n, k, transposeA, transposeB, threads, kernel, kernel == GemmKernel.Direct ? 1 : team, size);
    }

    /// <summary>Which of a dense layer's three products a plan slot of <see cref="Workspace{T}.Plans"/> holds.</summary>
    internal const int ForwardSlot = 0, WeightGradientSlot = 1, InputGradientSlot = 2, SlotsPerLayer = 3;

    /// <summary>The unplanned <see cref="Multiply{T}(ReadOnlySpan{T}, bool, ReadOnlySpan{T}, bool, Span{T}, int, int, int, bool, int)"/>
    /// through a layer's kept plan: <c>plans[slot]</c> is reused while the shape and threads are the same and re-planned
    /// (and kept) when they change, e.g. for a last, shorter batch. Empty <paramref name="plans"/>: planned per call.</summary>
    internal static void Multiply<T>(Span<GemmPlan> plans, int slot, ReadOnlySpan<T> a, bool transposeA, ReadOnlySpan<T> b,
        bool transposeB, Span<T> c, int m, int n, int k, bool accumulate, int threads)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (plans.IsEmpty)
        {
            Multiply(a, transposeA, b, transposeB, c, m, n, k, accumulate, threads);
            return;
        }
        ref GemmPlan plan = ref plans[slot];
        if (!plan.Fits(m, n, k, transposeA, transposeB, threads, Unsafe.SizeOf<T>()))
            plan = Plan<T>(m, n, k, transposeA, transposeB, threads);
        Run(in plan, a, b, c, accumulate);
    }

    /// <summary>C ← seed per row, then C += op(A)·op(B), through a layer's kept plan (a dense layer's z = b + x·Wᵀ). On the
    /// packed path split over threads, each thread seeds the rows or columns of C it computes (<see cref="Team{T}"/>),
    /// so the calling thread no longer writes all of C before the worker accumulates into its half; otherwise C is
    /// seeded first, as before. The same bits either way.</summary>
    internal static void MultiplySeeded<T>(Span<GemmPlan> plans, int slot, ReadOnlySpan<T> a, bool transposeA, ReadOnlySpan<T> b,
        bool transposeB, Span<T> c, ReadOnlySpan<T> seed, int m, int n, int k, int threads)
        where T : unmanaged, IFloatingPointIeee754<T> =>
        MultiplySeeded(plans, slot, a, transposeA, b, transposeB, c, seed, m, n, k, threads, relu: default);

    /// <summary><see cref="MultiplySeeded{T}(Span{GemmPlan}, int, ReadOnlySpan{T}, bool, ReadOnlySpan{T}, bool, Span{T}, ReadOnlySpan{T}, int, int, int, int)"/>,
    /// and, when <paramref name="relu"/> is not empty ([m × n]) and the product runs on the packed two-thread split, each
    /// thread then writes relu = max(C, 0) over its own rectangle of C while it is in its cache (a ReLU layer's
    /// a = σ(z); max is exact, so the bits are those of the whole-batch pass). Returns whether relu was written (false:
    /// the caller applies σ itself, as before).</summary>
    internal static bool MultiplySeeded<T>(Span<GemmPlan> plans, int slot, ReadOnlySpan<T> a, bool transposeA, ReadOnlySpan<T> b,
        bool transposeB, Span<T> c, ReadOnlySpan<T> seed, int m, int n, int k, int threads, Span<T> relu)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (seed.Length != n)
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"the seed has {seed.Length} elements but C has {n} columns"), nameof(seed));
        if (!relu.IsEmpty && relu.Length != (long)m * n)
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"the activation has {relu.Length} elements but C is [{m} × {n}]"), nameof(relu));
        if (!plans.IsEmpty && SeedInTeam)
        {
            ref GemmPlan plan = ref plans[slot];
            if (!plan.Fits(m, n, k, transposeA, transposeB, threads, Unsafe.SizeOf<T>()))
                plan = Plan<T>(m, n, k, transposeA, transposeB, threads);
            if (plan.Kernel == GemmKernel.Packed && plan.Team > 1 && a.Length == (long)m * k && b.Length == (long)k * n
                && c.Length == (long)m * n
                && Team<T>.TryRun(ref MemoryMarshal.GetReference(a), transposeA, ref MemoryMarshal.GetReference(b), transposeB,
                    ref MemoryMarshal.GetReference(c), m, n, k, accumulate: true, plan.Team, ref MemoryMarshal.GetReference(seed),
                    ref ReLUInTeam && !relu.IsEmpty ? ref MemoryMarshal.GetReference(relu) : ref Unsafe.NullRef<T>()))
                return ReLUInTeam && !relu.IsEmpty;
        }
        for (int r = 0; r < m; r++) seed.CopyTo(c.Slice(r * n, n));
        Multiply(plans, slot, a, transposeA, b, transposeB, c, m, n, k, accumulate: true, threads);
        return false;
    }

    /// <summary>Whether a ReLU layer's σ runs inside the packed split's job (<see cref="MultiplySeeded{T}(Span{GemmPlan}, int, ReadOnlySpan{T}, bool, ReadOnlySpan{T}, bool, Span{T}, ReadOnlySpan{T}, int, int, int, int, Span{T})"/>;
    /// the bench switches it to compare).</summary>
    internal static bool ReLUInTeam = true;

    /// <summary>Whether MultiplySeeded seeds inside the split (the bench switches it to compare).</summary>
    internal static bool SeedInTeam = true;

    /// <summary>Checks the spans against the plan's shape and runs its kernel.</summary>
    private static void Run<T>(in GemmPlan plan, ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> c, bool accumulate)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int m = plan.M, n = plan.N, k = plan.K, team = plan.Team;
        bool transposeA = plan.TransposeA, transposeB = plan.TransposeB;
        if (a.Length != (long)m * k)
            throw new ArgumentException(Mismatch("A", a.Length, "op(A)", m, k, transposeA, m, n, k), nameof(a));
        if (b.Length != (long)k * n)
            throw new ArgumentException(Mismatch("B", b.Length, "op(B)", k, n, transposeB, m, n, k), nameof(b));
        if (c.Length != (long)m * n)
            throw new ArgumentException(Mismatch("C", c.Length, "C", m, n, false, m, n, k), nameof(c));

        ref T ra = ref MemoryMarshal.GetReference(a);
        ref T rb = ref MemoryMarshal.GetReference(b);
        ref T rc = ref MemoryMarshal.GetReference(c);
        switch (plan.Kernel)
        {
            case GemmKernel.Empty:
                return;
            case GemmKernel.Zero:
                if (!accumulate)
                    c.Clear();
                return;
            case GemmKernel.TransposeThenAxpy:
            {
                ref T rbt = ref Scratch<T>.Transposed(k * n);
                Packing<T>.Transpose(ref rb, n, k, ref rbt);
                if (team < 2 || !Team<T>.TryRunTiles(Split.Axpy, ref ra, k, 1, ref rbt, ref rc, m, n, k, accumulate, team))
                    Tiles<T>.AxpyNN(ref ra, k, 1, ref rbt, ref rc, m, n, k, accumulate);
                return;
            }
            case GemmKernel.DotTiles:
                if (team < 2 || !Team<T>.TryRunTiles(Split.Dot, ref ra, k, 1, ref rb, ref rc, m, n, k, accumulate, team))
                    Tiles<T>.DotNT(ref ra, ref rb, ref rc, m, n, k, accumulate);
                return;
            case GemmKernel.AxpyTiles:
            {
                nint rs = transposeA ? 1 : k, ds = transposeA ? m : 1;
                if (team < 2 || !Team<T>.TryRunTiles(Split.Axpy, ref ra, rs, ds, ref rb, ref rc, m, n, k, accumulate, team))
                    Tiles<T>.AxpyNN(ref ra, rs, ds, ref rb, ref rc, m, n, k, accumulate);
                return;
            }
            case GemmKernel.Direct:
                Direct<T>.Run(ref ra, transposeA, ref rb, transposeB, ref rc, m, n, k, accumulate);
                return;
            default:
                if (team > 1 && Team<T>.TryRun(ref ra, transposeA, ref rb, transposeB, ref rc, m, n, k, accumulate, team))
                    return;
                Blocked<T>.Run(ref ra, transposeA, ref rb, transposeB, ref rc, m, n, k, accumulate, 0, m, 0, n);
                return;
        }
    }

    private static string Mismatch(string name, int length, string op, int rows, int cols, bool transposed, int m, int n, int k)
    {
        string stored = transposed
            ? string.Create(CultureInfo.InvariantCulture, $" (stored transposed as [{cols} × {rows}])")
            : "";
        return string.Create(CultureInfo.InvariantCulture,
            $"{name} has {length} elements but {op} must be [{rows} × {cols}] = {(long)rows * cols}{stored}, for op(A)[{m} × {k}] · op(B)[{k} × {n}] = C[{m} × {n}].");
    }

    /// <summary>Per-thread scratch buffers, grown on first use and then reused (no steady-state allocation). Each starts
    /// on a 64-byte boundary: a 512-bit load from a packed panel then never straddles two cache lines. Plain arrays
    /// start wherever the allocator put them, so a buffer's speed depended on where it landed (65³ A·Bᵀ: 74–87
    /// GFLOP/s by the address alone); these are pinned, so the boundary holds for the buffer's life.</summary>
    internal static class Scratch<T>
        where T : unmanaged
    {
        [ThreadStatic] private static Aligned? t_packedA;
        [ThreadStatic] private static Aligned? t_packedB;
        [ThreadStatic] private static Aligned? t_tile;
        [ThreadStatic] private static Aligned? t_column;
        [ThreadStatic] private static Aligned? t_transposed;

        internal static ref T PackedA(int length) => ref Ensure(ref t_packedA, length);

        internal static ref T PackedB(int length) => ref Ensure(ref t_packedB, length);

        internal static ref T Tile(int length) => ref Ensure(ref t_tile, length);

        internal static ref T Column(int length) => ref Ensure(ref t_column, length);

        internal static ref T Transposed(int length) => ref Ensure(ref t_transposed, length);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static ref T Ensure(ref Aligned? buffer, int length)
        {
            Aligned? current = buffer;
            if (current is null || current.Length < length)
                current = buffer = new Aligned(length);
            return ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(current.Array), current.Offset);
        }

        /// <summary>A pinned array with room to start <see cref="Length"/> elements at the first 64-byte boundary.</summary>
        private sealed class Aligned
        {
            internal readonly T[] Array;
            internal readonly int Offset;
            internal readonly int Length;

            internal unsafe Aligned(int length)
            {
                int size = Unsafe.SizeOf<T>();
                Array = GC.AllocateArray<T>(length + 64 / size, pinned: true);
                nint address = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(Array));
                Offset = (int)((64 - (address & 63)) & 63) / size;
                Length = length;
            }
        }
    }

    /// <summary>
    /// The cache-blocked driver: for each k block (KC) pack op(B) for the column range, for each row
    /// block (MC) pack op(A), then sweep MR × NR micro-tiles over L2-sized column chunks (NC).
    /// Computes C[i₀..i₁, j₀..j₁) only; any rectangle gives the same bits as the full product.
    /// </summary>
    internal static class Blocked<T>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        /// <summary>Depth of one k block: Ã micro-panel (MR·KC) stays in L1.</summary>
        internal static int KC => 1536 / Unsafe.SizeOf<T>();

        /// <summary>Rows per packed Ã block (MC·KC stays in L2 next to a B̃ chunk).</summary>
        internal static int MC => 768 / Unsafe.SizeOf<T>();

        /// <summary>Columns per L2-resident B̃ chunk.</summary>
        internal static int NC => 1280 / Unsafe.SizeOf<T>();

        /// <summary>Columns per packed B̃ block (bounds scratch for very wide C).</summary>
        internal const int NCOuter = 4096;

        /// <summary>The k-block length used for depth k: ⌈k / ⌈k/KC⌉⌉, so blocks are balanced; depends on k only.</summary>
        internal static int BlockDepth(int k)
        {
            int blocks = (k + KC - 1) / KC;
            return (k + blocks - 1) / blocks;
        }

        /// <summary>Sizes this thread's packing scratch for an m × n × k product now, as <see cref="Run"/> would: for a
        /// caller that may later run a product it has not run before (another thread's part, taken over), so that the
        /// growth happens while warming up and not in a steady-state step.</summary>
        internal static void Reserve(int m, int n, int k)
        {
            if (m <= 0 || n <= 0 || k <= 0) return;
            int mr = MicroKernel<T>.MR, nr = MicroKernel<T>.NR;
            int kcMax = BlockDepth(k);
            _ = ref Scratch<T>.PackedA(RoundUp(Math.Min(MC, RoundUp(m, mr)), mr) * kcMax);
            _ = ref Scratch<T>.PackedB(Math.Min(NCOuter, RoundUp(n, nr)) * kcMax);
            _ = ref Scratch<T>.Tile(mr * nr);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        internal static void Run(ref T a, bool transposeA, ref T b, bool transposeB, ref T c,
            int m, int n, int k, bool accumulate, int i0, int i1, int j0, int j1)
        {
            if (i0 >= i1 || j0 >= j1)
                return;
            int mr = MicroKernel<T>.MR, nr = MicroKernel<T>.NR;
            int kcMax = BlockDepth(k);
            int mcMax = Math.Min(MC, RoundUp(i1 - i0, mr));
            int ncOuter = Math.Min(NCOuter, RoundUp(j1 - j0, nr));
            // The scratch is sized for the whole product, not this rectangle: a two-thread split's parts move with the
            // balance (Team.Balanced), and a part larger than any before on its thread would otherwise grow (allocate) it
            // in a steady-state step. A rectangle never needs more than the whole product's blocks.
            ref T packedA = ref Scratch<T>.PackedA(RoundUp(Math.Min(MC, RoundUp(m, mr)), mr) * kcMax);
            ref T packedB = ref Scratch<T>.PackedB(Math.Min(NCOuter, RoundUp(n, nr)) * kcMax);
            ref T tile = ref Scratch<T>.Tile(mr * nr);
            int chunk = NC;

            for (int jo = j0; jo < j1; jo += ncOuter)
            {
                int no = Math.Min(ncOuter, j1 - jo);
                for (int pc = 0; pc < k; pc += kcMax)
                {
                    int kc = Math.Min(kcMax, k - pc);
                    bool add = accumulate || pc > 0;
                    Packing<T>.PackB(ref b, transposeB, n, k, jo, no, pc, kc, ref packedB);
                    for (int ic = i0; ic < i1; ic += mcMax)
                    {
                        int mc = Math.Min(mcMax, i1 - ic);
                        Packing<T>.PackA(ref a, transposeA, m, k, ic, mc, pc, kc, ref packedA);
                        for (int jc = 0; jc < no; jc += chunk)
                        {
                            int nc = Math.Min(chunk, no - jc);
                            for (int ir = 0; ir < mc; ir += mr)
                            {
                                int rows = Math.Min(mr, mc - ir);
                                ref T ap = ref Unsafe.Add(ref packedA, (nint)ir * kc);
                                ref T cRow = ref Unsafe.Add(ref c, (nint)(ic + ir) * n + jo + jc);
                                for (int jr = 0; jr < nc; jr += nr)
                                {
                                    int cols = Math.Min(nr, nc - jr);
                                    ref T bp = ref Unsafe.Add(ref packedB, (nint)(jc + jr) * kc);
                                    ref T ct = ref Unsafe.Add(ref cRow, jr);
                                    if (rows == mr && cols == nr)
                                    {
                                        MicroKernel<T>.Run(ref ap, ref bp, kc, ref ct, n, add);
                                    }
                                    else if (MicroKernel<T>.HasHalf && cols <= nr / 4)
                                    {
                                        MicroKernel<T>.RunQuarter(ref ap, ref bp, kc, ref tile, nr, add: false);
                                        MergeTile(ref tile, nr, ref ct, n, rows, cols, add);
                                    }
                                    else if (MicroKernel<T>.HasHalf && cols <= nr / 2)
                                    {
                                        // a narrow edge (n mod NR ≤ W): a one-vector-wide kernel, half the wasted work
                                        MicroKernel<T>.RunHalf(ref ap, ref bp, kc, ref tile, nr, add: false);
                                        MergeTile(ref tile, nr, ref ct, n, rows, cols, add);
                                    }
                                    else
                                    {
                                        MicroKernel<T>.Run(ref ap, ref bp, kc, ref tile, nr, add: false);
                                        MergeTile(ref tile, nr, ref ct, n, rows, cols, add);
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }

        /// <summary>C[0..rows, 0..cols) ← (add ? C : 0) + tile[0..rows, 0..cols).</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void MergeTile(ref T tile, int ldt, ref T c, int ldc, int rows, int cols, bool add)
        {
            for (int i = 0; i < rows; i++)
            {
                ref T t = ref Unsafe.Add(ref tile, (nint)i * ldt);
                ref T d = ref Unsafe.Add(ref c, (nint)i * ldc);
                if (add)
                {
                    for (int j = 0; j < cols; j++)
                        Unsafe.Add(ref d, j) = Unsafe.Add(ref d, j) + Unsafe.Add(ref t, j);
                }
                else
                {
                    for (int j = 0; j < cols; j++)
                        Unsafe.Add(ref d, j) = Unsafe.Add(ref t, j);
                }
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static int RoundUp(int x, int multiple) => (x + multiple - 1) / multiple * multiple;
    }

    /// <summary>
    /// Direct, unpacked path for small or thin products. When op(B) = B (rows of B contiguous) each
    /// C row is a register-blocked sum of scaled B rows, Cᵢ,· ← Σₚ op(A)ᵢₚ·Bₚ,·; when op(B) = Bᵀ each
    /// element is a dot product of an A row (gathered if A is transposed) with a B row.
    /// </summary>
    internal static class Direct<T>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        internal static void Run(ref T a, bool transposeA, ref T b, bool transposeB, ref T c,
            int m, int n, int k, bool accumulate)
        {
            if (!transposeB)
            {
                nint rowStride = transposeA ? 1 : k, depthStride = transposeA ? m : 1;
                for (int i = 0; i < m; i++)
                    RowTimesMatrix(ref Unsafe.Add(ref a, i * rowStride), depthStride, ref b,
                        ref Unsafe.Add(ref c, (nint)i * n), n, k, accumulate);
            }
            else
            {
                if (!transposeA)
                {
                    for (int i = 0; i < m; i++)
                        RowTimesRows(ref Unsafe.Add(ref a, (nint)i * k), ref b, ref Unsafe.Add(ref c, (nint)i * n), n, k, accumulate);
                }
                else
                {
                    ref T column = ref Scratch<T>.Column(k);
                    for (int i = 0; i < m; i++)
                    {
                        for (int p = 0; p < k; p++)
                            Unsafe.Add(ref column, p) = Unsafe.Add(ref a, (nint)p * m + i);
                        RowTimesRows(ref column, ref b, ref Unsafe.Add(ref c, (nint)i * n), n, k, accumulate);
                    }
                }
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector<T> Fma(Vector<T> x, Vector<T> y, Vector<T> z)
        {
            if (typeof(T) == typeof(float))
                return Vector.FusedMultiplyAdd(x.As<T, float>(), y.As<T, float>(), z.As<T, float>()).As<float, T>();
            return Vector.FusedMultiplyAdd(x.As<T, double>(), y.As<T, double>(), z.As<T, double>()).As<double, T>();
        }

        /// <summary>c[0..n) ← (accumulate ? c : 0) + Σₚ a[p·s]·B[p, 0..n), B being [k × n].</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void RowTimesMatrix(ref T a, nint s, ref T b, ref T c, int n, int k, bool accumulate)
        {
            int w = Vector<T>.Count;
            int j = 0;
            if (Vector.IsHardwareAccelerated)
            {
                for (; j + 4 * w <= n; j += 4 * w)
                {
                    ref T cj = ref Unsafe.Add(ref c, j);
                    Vector<T> v0 = default, v1 = default, v2 = default, v3 = default;
                    if (accumulate)
                    {
                        v0 = Vector.LoadUnsafe(ref cj);
                        v1 = Vector.LoadUnsafe(ref cj, (nuint)w);
                        v2 = Vector.LoadUnsafe(ref cj, (nuint)(2 * w));
                        v3 = Vector.LoadUnsafe(ref cj, (nuint)(3 * w));
                    }
                    ref T bp = ref Unsafe.Add(ref b, j);
                    for (int p = 0; p < k; p++)
                    {
                        Vector<T> x = new(Unsafe.Add(ref a, p * s));
                        v0 = Fma(x, Vector.LoadUnsafe(ref bp), v0);
                        v1 = Fma(x, Vector.LoadUnsafe(ref bp, (nuint)w), v1);
                        v2 = Fma(x, Vector.LoadUnsafe(ref bp, (nuint)(2 * w)), v2);
                        v3 = Fma(x, Vector.LoadUnsafe(ref bp, (nuint)(3 * w)), v3);
                        bp = ref Unsafe.Add(ref bp, n);
                    }
                    v0.StoreUnsafe(ref cj);
                    v1.StoreUnsafe(ref cj, (nuint)w);
                    v2.StoreUnsafe(ref cj, (nuint)(2 * w));
                    v3.StoreUnsafe(ref cj, (nuint)(3 * w));
                }
                for (; j + w <= n; j += w)
                {
                    ref T cj = ref Unsafe.Add(ref c, j);
                    Vector<T> v0 = accumulate ? Vector.LoadUnsafe(ref cj) : default;
                    ref T bp = ref Unsafe.Add(ref b, j);
                    for (int p = 0; p < k; p++)
                    {
                        v0 = Fma(new Vector<T>(Unsafe.Add(ref a, p * s)), Vector.LoadUnsafe(ref bp), v0);
                        bp = ref Unsafe.Add(ref bp, n);
                    }
                    v0.StoreUnsafe(ref cj);
                }
            }
            for (; j < n; j++)
            {
                T v = accumulate ? Unsafe.Add(ref c, j) : T.Zero;
                ref T bp = ref Unsafe.Add(ref b, j);
                for (int p = 0; p < k; p++)
                {
                    v = T.FusedMultiplyAdd(Unsafe.Add(ref a, p * s), bp, v);
                    bp = ref Unsafe.Add(ref bp, n);
                }
                Unsafe.Add(ref c, j) = v;
            }
        }

        /// <summary>c[j] ← (accumulate ? c[j] : 0) + a[0..k)·B[j, 0..k) for j &lt; n, B being [n × k].</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void RowTimesRows(ref T a, ref T b, ref T c, int n, int k, bool accumulate)
        {
            int j = 0;
            for (; j + 4 <= n; j += 4)
            {
                ref T b0 = ref Unsafe.Add(ref b, (nint)j * k);
                ref T b1 = ref Unsafe.Add(ref b0, k);
                ref T b2 = ref Unsafe.Add(ref b1, k);
                ref T b3 = ref Unsafe.Add(ref b2, k);
                Dot4(ref a, ref b0, ref b1, ref b2, ref b3, k, out T s0, out T s1, out T s2, out T s3);
                ref T cj = ref Unsafe.Add(ref c, j);
                if (accumulate)
                {
                    s0 = cj + s0;
                    s1 = Unsafe.Add(ref cj, 1) + s1;
                    s2 = Unsafe.Add(ref cj, 2) + s2;
                    s3 = Unsafe.Add(ref cj, 3) + s3;
                }
                cj = s0;
                Unsafe.Add(ref cj, 1) = s1;
                Unsafe.Add(ref cj, 2) = s2;
                Unsafe.Add(ref cj, 3) = s3;
            }
            for (; j < n; j++)
            {
                T s = Dot(ref a, ref Unsafe.Add(ref b, (nint)j * k), k);
                ref T cj = ref Unsafe.Add(ref c, j);
                cj = accumulate ? cj + s : s;
            }
        }

        private static void Dot4(ref T a, ref T b0, ref T b1, ref T b2, ref T b3, int k,
            out T s0, out T s1, out T s2, out T s3)
        {
            int p = 0;
            s0 = s1 = s2 = s3 = T.Zero;
            if (Vector512.IsHardwareAccelerated)
            {
                int w = Vector512<T>.Count;
                Vector512<T> v0 = default, v1 = default, v2 = default, v3 = default;
                for (; p + w <= k; p += w)
                {
                    Vector512<T> x = Vector512.LoadUnsafe(ref a, (nuint)p);
                    v0 = MicroKernel<T>.Fma(x, Vector512.LoadUnsafe(ref b0, (nuint)p), v0);
                    v1 = MicroKernel<T>.Fma(x, Vector512.LoadUnsafe(ref b1, (nuint)p), v1);
                    v2 = MicroKernel<T>.Fma(x, Vector512.LoadUnsafe(ref b2, (nuint)p), v2);
                    v3 = MicroKernel<T>.Fma(x, Vector512.LoadUnsafe(ref b3, (nuint)p), v3);
                }
                s0 = Vector512.Sum(v0);
                s1 = Vector512.Sum(v1);
                s2 = Vector512.Sum(v2);
                s3 = Vector512.Sum(v3);
            }
            else if (Vector.IsHardwareAccelerated)
            {
                int w = Vector<T>.Count;
                Vector<T> v0 = default, v1 = default, v2 = default, v3 = default;
                for (; p + w <= k; p += w)
                {
                    Vector<T> x = Vector.LoadUnsafe(ref a, (nuint)p);
                    v0 = Fma(x, Vector.LoadUnsafe(ref b0, (nuint)p), v0);
                    v1 = Fma(x, Vector.LoadUnsafe(ref b1, (nuint)p), v1);
                    v2 = Fma(x, Vector.LoadUnsafe(ref b2, (nuint)p), v2);
                    v3 = Fma(x, Vector.LoadUnsafe(ref b3, (nuint)p), v3);
                }
                s0 = Vector.Sum(v0);
                s1 = Vector.Sum(v1);
                s2 = Vector.Sum(v2);
                s3 = Vector.Sum(v3);
            }
            for (; p < k; p++)
            {
                T x = Unsafe.Add(ref a, p);
                s0 = T.FusedMultiplyAdd(x, Unsafe.Add(ref b0, p), s0);
                s1 = T.FusedMultiplyAdd(x, Unsafe.Add(ref b1, p), s1);
                s2 = T.FusedMultiplyAdd(x, Unsafe.Add(ref b2, p), s2);
                s3 = T.FusedMultiplyAdd(x, Unsafe.Add(ref b3, p), s3);
            }
        }

        private static T Dot(ref T a, ref T b, int k)
        {
            int p = 0;
            T s = T.Zero;
            if (Vector.IsHardwareAccelerated)
            {
                int w = Vector<T>.Count;
                Vector<T> v = default;
                for (; p + w <= k; p += w)
                    v = Fma(Vector.LoadUnsafe(ref a, (nuint)p), Vector.LoadUnsafe(ref b, (nuint)p), v);
                s = Vector.Sum(v);
            }
            for (; p < k; p++)
                s = T.FusedMultiplyAdd(Unsafe.Add(ref a, p), Unsafe.Add(ref b, p), s);
            return s;
        }
    }
}
