using System.Globalization;
using System.Numerics;
using System.Runtime.Intrinsics;
using Backprop.Functional.Kernels;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace Backprop.Functional.Tests.Kernels;

/// <summary>One random GEMM problem: op(A)[M × K] · op(B)[K × N], values drawn from <see cref="Seed"/>.</summary>
public sealed record GemmCase(int M, int N, int K, bool TA, bool TB, bool Acc, int Seed)
{
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"C[{M} × {N}] {(Acc ? "+=" : "=")} {(TA ? "Aᵀ" : "A")}·{(TB ? "Bᵀ" : "B")}, K = {K}, seed {Seed}");
}

[Collection(RunsAlone.Name)]
public sealed class GemmProperties
{
    private const int MaxDim = 67;

    private static readonly Gen<GemmCase> CaseGen =
        from m in Gen.Choose(1, MaxDim)
        from n in Gen.Choose(1, MaxDim)
        from k in Gen.Choose(1, MaxDim)
        from ta in Gen.Elements(false, true)
        from tb in Gen.Elements(false, true)
        from acc in Gen.Elements(false, true)
        from seed in Gen.Choose(0, 1_000_000)
        select new GemmCase(m, n, k, ta, tb, acc, seed);

    /// <summary>Shrinks dimensions toward 1 (halving, then by one), flags toward false, seed toward 0.</summary>
    private static IEnumerable<GemmCase> Shrink(GemmCase c)
    {
        foreach (int m in Smaller(c.M)) yield return c with { M = m };
        foreach (int n in Smaller(c.N)) yield return c with { N = n };
        foreach (int k in Smaller(c.K)) yield return c with { K = k };
        if (c.TA) yield return c with { TA = false };
        if (c.TB) yield return c with { TB = false };
        if (c.Acc) yield return c with { Acc = false };
        if (c.Seed != 0) yield return c with { Seed = 0 };
    }

    private static IEnumerable<int> Smaller(int x)
    {
        if (x > 1) yield return 1;
        if (x / 2 > 1) yield return x / 2;
        if (x - 1 > 1 && x - 1 != x / 2) yield return x - 1;
    }

    private static readonly Arbitrary<GemmCase> Cases = Arb.From(CaseGen, Shrink);

    [Property(MaxTest = 250)]
    public Property Multiply_RandomDoubleShapes_MatchesNaiveTripleLoop() =>
        Prop.ForAll(Cases, c => CheckAgainstNaive<double>(c, threads: 1));

    [Property(MaxTest = 250)]
    public Property Multiply_RandomFloatShapes_MatchesNaiveTripleLoop() =>
        Prop.ForAll(Cases, c => CheckAgainstNaive<float>(c, threads: 1));

    [Property(MaxTest = 100)]
    public Property Multiply_RandomShapesWithTwoThreads_MatchesNaiveTripleLoop() =>
        Prop.ForAll(Cases, c => CheckAgainstNaive<float>(c, threads: 2));

    [Theory]
    [InlineData(false, false)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public void Multiply_LargeShapes_MatchesNaiveTripleLoop(bool ta, bool tb)
    {
        CheckAgainstNaive<float>(new GemmCase(300, 257, 511, ta, tb, Acc: true, Seed: 7), threads: 1);
        CheckAgainstNaive<double>(new GemmCase(300, 257, 511, ta, tb, Acc: false, Seed: 8), threads: 1);
    }

    [Theory]
    [InlineData(10, 30, 784, false, true)]    // W1 forward: direct dot tiles, Vector512 k loop
    [InlineData(7, 33, 790, false, true)]     // masked k tail, row and column remainders
    [InlineData(64, 128, 784, false, true)]   // largest direct dot shape
    [InlineData(65, 128, 784, false, true)]   // just above: packed
    [InlineData(30, 784, 10, true, false)]    // W1 weight gradient: direct axpy tiles
    [InlineData(131, 795, 64, true, false)]   // axpy with 512, 256 and scalar column tails
    [InlineData(61, 90, 23, false, false)]    // hidden error, NN axpy tiles
    [InlineData(5, 12, 9, false, true)]       // k below one 512-bit vector
    [InlineData(96, 80, 72, false, false)]    // axpy tiles for 64 < k ≤ 128 with a small C
    [InlineData(65, 65, 100, true, false)]
    [InlineData(65, 65, 65, false, false)]    // axpy tiles, the last column as the top lane of a masked vector
    [InlineData(65, 65, 65, false, true)]     // shallow A·Bᵀ: B transposed into scratch (8 × 8 blocks and edges), axpy tiles
    [InlineData(8, 16, 128, false, true)]     // the smallest such shape, deepest k
    [InlineData(67, 83, 129, false, true)]    // k just too deep: packed, 8 × 8 transposes of A and B, edge of 19 columns
    [InlineData(65, 65, 65, true, false)]     // axpy tiles reading A transposed
    [InlineData(67, 83, 300, true, true)]     // packed, transposed A (vector copies) and B, edge of 19 columns (full kernel)
    [InlineData(500, 70, 1000, true, false)]  // packed, edge of 6 columns (quarter-width kernel), partial row panel
    [InlineData(200, 76, 300, false, false)]  // packed, edge of 12 columns (half-width kernel)
    public void Multiply_DirectTileShapes_MatchNaiveTripleLoop(int m, int n, int k, bool ta, bool tb)
    {
        CheckAgainstNaive<float>(new GemmCase(m, n, k, ta, tb, Acc: true, Seed: 3), threads: 1);
        CheckAgainstNaive<float>(new GemmCase(m, n, k, ta, tb, Acc: false, Seed: 4), threads: 2);
        CheckAgainstNaive<double>(new GemmCase(m, n, k, ta, tb, Acc: false, Seed: 5), threads: 1);
        CheckAgainstNaive<double>(new GemmCase(m, n, k, ta, tb, Acc: true, Seed: 6), threads: 1);
    }

    [Theory]
    [InlineData(300, 257, 511, false, false)]
    [InlineData(300, 257, 511, false, true)]
    [InlineData(300, 257, 511, true, false)]
    [InlineData(300, 257, 511, true, true)]
    [InlineData(1000, 10, 512, false, true)]
    [InlineData(1024, 1024, 1024, false, false)]
    [InlineData(256, 4099, 64, true, false)]
    [InlineData(64, 128, 784, false, true)]    // direct A·Bᵀ tiles, split by rows (W2 forward)
    [InlineData(128, 784, 64, true, false)]    // direct op(A)·B tiles (W2 weight gradient)
    [InlineData(62, 130, 790, false, true)]    // row count not a multiple of four
    [InlineData(130, 700, 30, false, false)]
    [InlineData(99, 1000, 40, true, false)]
    public void Multiply_TwoThreads_BitIdenticalToOneThread(int m, int n, int k, bool ta, bool tb)
    {
        var c = new GemmCase(m, n, k, ta, tb, Acc: true, Seed: m + n + k);
        (float[] a, float[] b, float[] c0) = Operands<float>(c);
        float[] one = (float[])c0.Clone(), two = (float[])c0.Clone();
        Gemm.Multiply<float>(a, ta, b, tb, one, m, n, k, accumulate: true, threads: 1);
        Gemm.Multiply<float>(a, ta, b, tb, two, m, n, k, accumulate: true, threads: 2);
        for (int i = 0; i < one.Length; i++)
            Assert.Equal(BitConverter.SingleToInt32Bits(one[i]), BitConverter.SingleToInt32Bits(two[i]));

        (double[] ad, double[] bd, double[] cd) = Operands<double>(c);
        double[] oneD = (double[])cd.Clone(), twoD = (double[])cd.Clone();
        Gemm.Multiply<double>(ad, ta, bd, tb, oneD, m, n, k, accumulate: false, threads: 1);
        Gemm.Multiply<double>(ad, ta, bd, tb, twoD, m, n, k, accumulate: false, threads: 2);
        Assert.Equal(oneD, twoD);
    }

    /// <summary>The direct tiles (A·Bᵀ with few rows, op(A)·B with a shallow k) also split across threads when the
    /// product is large: the W2 step's two big GEMMs.</summary>
    [SkippableTheory]
    [InlineData(64, 128, 784, false, true)]
    [InlineData(128, 784, 64, true, false)]
    [InlineData(1, 128, 784, false, true)]   // one-sample inference: small volume, but 401 KB of B to stream
    [InlineData(512, 256, 64, false, true)]  // shallow A·Bᵀ: B transposed into the caller's scratch, axpy tiles split
    public void Multiply_TwoThreads_SplitsTheDirectTiles(int m, int n, int k, bool ta, bool tb)
    {
        SkipOnOneCore();
        Skip.If(m < 3 && !Vector256.IsHardwareAccelerated, "without 256-bit vectors there are no direct tiles: one row runs the direct path on one thread");
        (float[] a, float[] b, float[] cc) = Operands<float>(new GemmCase(m, n, k, ta, tb, Acc: false, Seed: 5));
        float[] one = (float[])cc.Clone();
        Gemm.Multiply<float>(a, ta, b, tb, one, m, n, k, accumulate: false, threads: 1);
        long before = Interlocked.Read(ref Gemm.Team<float>.Runs);
        Gemm.Multiply<float>(a, ta, b, tb, cc, m, n, k, accumulate: false, threads: 2);
        Assert.True(Interlocked.Read(ref Gemm.Team<float>.Runs) > before, "the product ran on one thread");
        Assert.Equal(one, cc);
    }

    /// <summary>
    /// The direct A·Bᵀ tiles skip the blocks of A that are zero in every row of a tile (one-sample inference, and
    /// MNIST batches, on images with blank borders). Skipping may not change a bit: each row of a product whose rows
    /// all have zero runs (four-row tiles and single rows) must equal that row computed in a four-row tile whose other
    /// rows are dense, where nothing is skipped; for zero runs of every length and alignment, with and without a
    /// k tail, in float and double.
    /// </summary>
    [SkippableFact]
    public void Multiply_RowsWithZeroBlocks_EqualTheDenseRowsBitForBit()
    {
        Skip.IfNot(Vector256.IsHardwareAccelerated,
            "the zero-block skip is part of the direct A·Bᵀ tiles, which need 256-bit vectors; without them a product of "
            + "3 rows and one of 4 take different routes (direct and packed), so a row's bits depend on its product's size");
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(150), RowsWithZeroBlocks());
    }

    private static Property RowsWithZeroBlocks() =>
        Prop.ForAll(
            Arb.From(from rows in Gen.Choose(1, 9)
                     from n in Gen.Choose(1, 40)
                     from k in Gen.Choose(129, 1100)   // deeper than the shallow A·Bᵀ route: every product here runs the dot tiles
                     from run in Gen.Choose(1, 40)
                     from seed in Gen.Choose(0, 1_000_000)
                     select (rows, n, k, run, seed)),
            t =>
            {
                SkipMatchesDense<float>(t.rows, t.n, t.k, t.run, t.seed);
                SkipMatchesDense<double>(t.rows, t.n, t.k, t.run, t.seed);
            });

    private static void SkipMatchesDense<T>(int rows, int n, int k, int run, int seed)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        (T[] a, T[] b, T[] c) = Operands<T>(new GemmCase(rows + 3, n, k, false, true, Acc: true, seed));
        var random = new Random(seed);
        for (int p = 0; p < k; p += run)   // a run is blank in most of the first rows or in none; the last 3 rows stay dense
            if (random.Next(4) > 0)
                for (int i = 0; i < rows; i++)
                    if (random.Next(6) > 0)
                        a.AsSpan(i * k + p, Math.Min(run, k - p)).Clear();
        T[] sparse = c[..(rows * n)];
        Gemm.Multiply<T>(a.AsSpan(0, rows * k), false, b, true, sparse, rows, n, k, accumulate: true);
        for (int i = 0; i < rows; i++)
        {
            T[] block = [.. a.AsSpan(i * k, k), .. a.AsSpan(rows * k, 3 * k)];   // row i, then three dense rows
            T[] dense = [.. c.AsSpan(i * n, n), .. new T[3 * n]];
            Gemm.Multiply<T>(block, false, b, true, dense, 4, n, k, accumulate: true);
            for (int j = 0; j < n; j++)
                if (!sparse[i * n + j].Equals(dense[j]))
                    throw new Xunit.Sdk.XunitException(string.Create(CultureInfo.InvariantCulture,
                        $"{typeof(T).Name} C[{i},{j}] of A[{rows} × {k}]·Bᵀ[{k} × {n}] (zero runs of {run}): {sparse[i * n + j]:R} with the skip, {dense[j]:R} without"));
        }
    }

    /// <summary>A NaN inside an otherwise zero block still reaches C: the skip tests for zero, not for "small".</summary>
    [Fact]
    public void Multiply_SingleRowWithNaNAmongZeros_PropagatesNaN()
    {
        var a = new float[784];
        a[403] = float.NaN;
        var b = new float[128 * 784];
        b.AsSpan().Fill(0.5f);
        var c = new float[128];
        Gemm.Multiply<float>(a, false, b, true, c, 1, 128, 784, accumulate: false);
        Assert.All(c, v => Assert.True(float.IsNaN(v)));
    }

    [Fact]
    public void Multiply_ThrowsForMismatchedShapes()
    {
        // op(A) = [3 × 5], op(B) = [5 × 4], C = [3 × 4].
        var ex = Assert.Throws<ArgumentException>(() =>
            Gemm.Multiply<double>(new double[12], false, new double[20], false, new double[12], 3, 4, 5, false));
        Assert.Contains("A has 12 elements", ex.Message, StringComparison.Ordinal);
        Assert.Contains("[3 × 5] = 15", ex.Message, StringComparison.Ordinal);
        Assert.Contains("op(B)[5 × 4]", ex.Message, StringComparison.Ordinal);

        ex = Assert.Throws<ArgumentException>(() =>
            Gemm.Multiply<float>(new float[15], false, new float[21], true, new float[12], 3, 4, 5, false));
        Assert.Contains("B has 21 elements", ex.Message, StringComparison.Ordinal);
        Assert.Contains("[5 × 4] = 20", ex.Message, StringComparison.Ordinal);
        Assert.Contains("op(A)[3 × 5]", ex.Message, StringComparison.Ordinal);

        ex = Assert.Throws<ArgumentException>(() =>
            Gemm.Multiply<float>(new float[15], true, new float[20], false, new float[11], 3, 4, 5, false));
        Assert.Contains("C has 11 elements", ex.Message, StringComparison.Ordinal);
        Assert.Contains("[3 × 4] = 12", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Multiply_NegativeDimensionOrZeroThreads_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            Gemm.Multiply<float>([], false, [], false, [], -1, 0, 0, false));
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            Gemm.Multiply<float>([], false, [], false, [], 0, 0, 0, false, threads: 0));
    }

    [Fact]
    public void Multiply_UnsupportedElementType_ThrowsNotSupported() =>
        Assert.Throws<NotSupportedException>(() =>
            Gemm.Multiply<Half>(new Half[1], false, new Half[1], false, new Half[1], 1, 1, 1, false));

    [Fact]
    public void Multiply_ZeroDepth_ClearsOrKeepsC()
    {
        float[] c = [1, 2, 3, 4, 5, 6];
        Gemm.Multiply<float>([], false, [], false, c, 2, 3, 0, accumulate: true);
        Assert.Equal([1f, 2, 3, 4, 5, 6], c);
        Gemm.Multiply<float>([], false, [], false, c, 2, 3, 0, accumulate: false);
        Assert.Equal(new float[6], c);
        Gemm.Multiply<float>([], false, new float[5], false, [], 0, 5, 1, accumulate: false);
    }

    [Fact]
    public void Multiply_NotAccumulating_OverwritesNaN()
    {
        double[] c = [double.NaN, double.NaN];
        Gemm.Multiply<double>([2.0], false, [3.0, 4.0], false, c, 1, 2, 1, accumulate: false);
        Assert.Equal([6.0, 8.0], c);
    }

    [Theory]
    [InlineData(1, 32, 784, false, true, 1)]     // online learning forward: direct path
    [InlineData(64, 128, 784, false, true, 1)]   // batched forward: packed path
    [InlineData(128, 784, 64, true, false, 1)]   // weight gradient
    [InlineData(64, 784, 128, false, false, 1)]  // input gradient
    [InlineData(256, 256, 256, false, false, 2)] // threaded
    [InlineData(512, 10, 1024, false, true, 2)]  // threaded, row split
    public void Multiply_SteadyState_AllocatesNothing(int m, int n, int k, bool ta, bool tb, int threads)
    {
        var c = new GemmCase(m, n, k, ta, tb, Acc: false, Seed: 1);
        (float[] a, float[] b, float[] cf) = Operands<float>(c);
        (double[] ad, double[] bd, double[] cd) = Operands<double>(c);
        long allocated = SteadyState.AllocatedBytes(() =>
        {
            Gemm.Multiply<float>(a, ta, b, tb, cf, m, n, k, accumulate: false, threads);
            Gemm.Multiply<double>(ad, ta, bd, tb, cd, m, n, k, accumulate: true, threads);
        });
        Assert.Equal(0, allocated);
    }

    /// <summary>The threaded path really runs, and stays exact while a compacting GC moves small-object-heap
    /// arrays around: the operands are 64 KB (below the large-object threshold), so only pinning keeps them put.</summary>
    [SkippableFact]
    public void Multiply_TwoThreads_RunsInParallelAndSurvivesCompactingGCs()
    {
        SkipOnOneCore();
        const int n = 128;
        var c = new GemmCase(n, n, n, false, true, Acc: false, Seed: 3);
        (float[] a, float[] b, float[] expected) = Operands<float>(c);
        Gemm.Multiply<float>(a, false, b, true, expected, n, n, n, accumulate: false, threads: 1);
        long runsBefore = Interlocked.Read(ref Gemm.Team<float>.Runs);
        using var stop = new CancellationTokenSource();
        var collector = new Thread(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                _ = new byte[1000];   // something to compact away
                GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
                Thread.Sleep(1);
            }
        });
        int collections = GC.CollectionCount(2);
        collector.Start();
        try
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            for (int i = 0; i < 200 && clock.Elapsed.TotalSeconds < 2; i++)
            {
                var cc = new float[n * n];
                Gemm.Multiply<float>(a, false, b, true, cc, n, n, n, accumulate: false, threads: 2);
                Assert.Equal(expected, cc);
            }
        }
        finally
        {
            stop.Cancel();
            collector.Join();
        }
        Assert.True(Interlocked.Read(ref Gemm.Team<float>.Runs) > runsBefore, "the parallel path never ran");
        Assert.True(GC.CollectionCount(2) > collections, "no compacting collection ran during the products");
    }

    /// <summary>A one-core machine never takes the parallel path: the test reports a skip instead of passing.</summary>
    internal static void SkipOnOneCore() =>
        Skip.If(Environment.ProcessorCount < 2,
            $"the parallel GEMM path needs 2 cores; this machine has {Environment.ProcessorCount}");

    internal static (T[] A, T[] B, T[] C) Operands<T>(GemmCase c)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var random = new Random(c.Seed);
        T[] Fill(int length)
        {
            var x = new T[length];
            for (int i = 0; i < length; i++)
                x[i] = T.CreateTruncating(random.NextDouble() * 2 - 1);
            return x;
        }
        return (Fill(c.M * c.K), Fill(c.K * c.N), Fill(c.M * c.N));
    }

    /// <summary>
    /// Compares against a double-precision triple loop, per element within the forward error bound
    /// |ĉ − c| ≤ 2(k + 2)·u·Σ|terms| (u the unit roundoff of T).
    /// </summary>
    private static void CheckAgainstNaive<T>(GemmCase c, int threads)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        (T[] a, T[] b, T[] c0) = Operands<T>(c);
        T[] got = (T[])c0.Clone();
        Gemm.Multiply<T>(a, c.TA, b, c.TB, got, c.M, c.N, c.K, c.Acc, threads);

        double u = typeof(T) == typeof(float) ? Math.ScaleB(1, -24) : Math.ScaleB(1, -53);
        for (int i = 0; i < c.M; i++)
        {
            for (int j = 0; j < c.N; j++)
            {
                double sum = c.Acc ? double.CreateTruncating(c0[i * c.N + j]) : 0;
                double magnitude = Math.Abs(sum);
                for (int p = 0; p < c.K; p++)
                {
                    double x = double.CreateTruncating(c.TA ? a[p * c.M + i] : a[i * c.K + p]);
                    double y = double.CreateTruncating(c.TB ? b[j * c.K + p] : b[p * c.N + j]);
                    sum += x * y;
                    magnitude += Math.Abs(x * y);
                }
                double actual = double.CreateTruncating(got[i * c.N + j]);
                double tolerance = 2 * (c.K + 2) * u * magnitude + 1e-300;
                if (!(Math.Abs(actual - sum) <= tolerance))
                {
                    throw new Xunit.Sdk.XunitException(string.Create(CultureInfo.InvariantCulture,
                        $"{c} ({typeof(T).Name}, threads {threads}): C[{i},{j}] = {actual:R}, expected {sum:R} ± {tolerance:G3}"));
                }
            }
        }
    }
}
