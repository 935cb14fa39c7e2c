using Backprop.Functional.Kernels;
using Xunit;

namespace Backprop.Functional.Tests.Kernels;

/// <summary>
/// The two-thread split of products that stayed on one thread before, or that split by columns before: products from
/// m·n·k = 2¹⁸ up split, and the packed path splits whichever side of C makes each thread pack less. Each must give the
/// one-thread bits, with C accumulated into, edge tiles in both directions and several k blocks.
/// </summary>
[Collection(RunsAlone.Name)]
public sealed class GemmSplitTests
{
    /// <summary>The packed path's row split: tall products of every transpose pair, row counts not a multiple of the
    /// micro-tile's, and depths past one k block (float: 384) so the full and the edge tiles sum differently.</summary>
    [SkippableTheory]
    [InlineData(300, 96, 96, false, false)]    // deep, narrow: each thread packs half of A rather than all of it
    [InlineData(300, 96, 96, false, true)]
    [InlineData(120, 96, 300, true, false)]
    [InlineData(301, 40, 800, false, false)]   // three k blocks, a 1-row edge micro-tile
    [InlineData(301, 40, 800, true, true)]
    [InlineData(1000, 50, 129, true, false)]
    public void Multiply_TallProduct_SplitsByRowsWithTheOneThreadBits(int m, int n, int k, bool ta, bool tb)
    {
        GemmProperties.SkipOnOneCore();
        int mr = Gemm.MicroKernel<float>.MR, nr = Gemm.MicroKernel<float>.NR;
        Skip.If(Gemm.Team<float>.SplitCost(m, n, k, mr, nr, (n + nr - 1) / nr, 2, columns: true)
            <= Gemm.Team<float>.SplitCost(m, n, k, mr, nr, (m + mr - 1) / mr, 2, columns: false),
            $"with {mr} × {nr} micro-tiles this product splits by columns");
        long rows = Interlocked.Read(ref Gemm.Team<float>.RowSplits);
        Same<float>(m, n, k, ta, tb);
        Same<double>(m, n, k, ta, tb);
        Assert.True(Interlocked.Read(ref Gemm.Team<float>.RowSplits) > rows, "the product did not split by rows");
    }

    /// <summary>Products between 2¹⁸ and 2²¹ multiply-adds now split: a tapering network's 129 → 65 layer and a deep
    /// one's 96 → 10 output layer (the direct tiles and the packed path).</summary>
    [SkippableTheory]
    [InlineData(100, 65, 129, false, true)]
    [InlineData(100, 129, 65, false, false)]
    [InlineData(65, 129, 100, true, false)]
    [InlineData(300, 10, 96, false, true)]
    [InlineData(300, 96, 10, false, false)]
    [InlineData(90, 90, 40, false, false)]
    public void Multiply_SmallProduct_SplitsWithTheOneThreadBits(int m, int n, int k, bool ta, bool tb)
    {
        GemmProperties.SkipOnOneCore();
        Assert.InRange((long)m * n * k, 1L << 18, (1L << 21) - 1);
        long runs = Interlocked.Read(ref Gemm.Team<float>.Runs);
        Same<float>(m, n, k, ta, tb);
        Same<double>(m, n, k, ta, tb);
        Assert.True(Interlocked.Read(ref Gemm.Team<float>.Runs) > runs, "the product ran on one thread");
    }

    /// <summary>Below 2¹⁸ a product stays on the calling thread.</summary>
    [Fact]
    public void Multiply_BelowTheSplitVolume_RunsOnOneThread()
    {
        long runs = Interlocked.Read(ref Gemm.Team<float>.Runs);
        Same<float>(60, 60, 60, false, false);
        Assert.Equal(runs, Interlocked.Read(ref Gemm.Team<float>.Runs));
    }

    /// <summary>The cost model picks the side whose split packs less: rows of a tall C, columns of a wide one.</summary>
    [Theory]
    [InlineData(300, 96, 96, false)]
    [InlineData(96, 320, 96, true)]
    [InlineData(256, 1024, 784, true)]
    [InlineData(1024, 784, 256, false)]
    public void SplitCost_PrefersTheSideThatPacksLess(int m, int n, int k, bool columns)
    {
        const int mr = 6, nr = 16;
        long byColumns = Gemm.Team<float>.SplitCost(m, n, k, mr, nr, (n + nr - 1) / nr, 2, columns: true);
        long byRows = Gemm.Team<float>.SplitCost(m, n, k, mr, nr, (m + mr - 1) / mr, 2, columns: false);
        Assert.Equal(columns, byColumns <= byRows);
    }

    private static void Same<T>(int m, int n, int k, bool ta, bool tb)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        (T[] a, T[] b, T[] c0) = GemmProperties.Operands<T>(new GemmCase(m, n, k, ta, tb, Acc: true, Seed: m * 7 + n + k));
        T[] one = (T[])c0.Clone(), two = (T[])c0.Clone();
        Gemm.Multiply<T>(a, ta, b, tb, one, m, n, k, accumulate: true, threads: 1);
        Gemm.Multiply<T>(a, ta, b, tb, two, m, n, k, accumulate: true, threads: 2);
        Assert.Equal(one, two);
    }
}
