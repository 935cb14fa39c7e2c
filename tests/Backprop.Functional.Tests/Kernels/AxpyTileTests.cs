using System.Numerics;
using System.Runtime.Intrinsics;
using Backprop.Functional.Kernels;
using Xunit;

namespace Backprop.Functional.Tests.Kernels;

/// <summary>The direct op(A)·B (axpy) tiles: every element of C is one FMA chain over p in increasing order, from 0 or
/// from C, whatever tile computed it (4 × 4 vectors, eight- or four-row single vectors, the overlapping last vector of
/// a row that ends between vector boundaries, or scalar chains), so the result equals that chain bit for bit.</summary>
public sealed class AxpyTileTests
{
    /// <summary>Shapes that take the axpy tiles (k ≤ 80) with every kind of column remainder: n = 50 (2000 × 50 × 64
    /// is δᵀ·a into a 50-unit layer, whose last two columns were scalar chains), n below one vector, between one and
    /// four vectors, rows not a multiple of eight or four; A stored transposed (a weight gradient δᵀ·a) or not.</summary>
    [SkippableTheory]
    [InlineData(200, 50, 64, true, false)]
    [InlineData(200, 50, 64, true, true)]
    [InlineData(37, 50, 33, true, true)]
    [InlineData(12, 13, 20, false, false)]
    [InlineData(20, 9, 17, true, true)]
    [InlineData(9, 31, 40, false, true)]
    [InlineData(16, 5, 40, true, false)]
    [InlineData(44, 70, 25, true, false)]
    public void Multiply_AxpyTiles_EqualTheFmaChainBitForBit(int m, int n, int k, bool transposeA, bool accumulate)
    {
        // The axpy tiles are 256- and 512-bit code (Tiles.CanAxpy); with 128-bit vectors only (CI's DOTNET_EnableAVX2=0
        // run) Gemm.Multiply takes another kernel, which need not sum C in this chain's order (it failed there by an ulp).
        Skip.IfNot(Vector256.IsHardwareAccelerated || Vector512.IsHardwareAccelerated,
            "the axpy tiles run on 256- or 512-bit vectors only; this machine (or run) accelerates 128-bit vectors at most");
        Check<float>(m, n, k, transposeA, accumulate);
        Check<double>(m, n, k, transposeA, accumulate);
    }

    private static void Check<T>(int m, int n, int k, bool transposeA, bool accumulate)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var random = new Random(m * 1000 + n * 10 + k);
        T Next() => T.CreateChecked(random.NextDouble() * 2 - 1);
        var a = new T[m * k];
        var b = new T[k * n];
        var c = new T[m * n];
        for (int i = 0; i < a.Length; i++) a[i] = Next();
        for (int i = 0; i < b.Length; i++) b[i] = Next();
        for (int i = 0; i < c.Length; i++) c[i] = Next();
        var expected = new T[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                T v = accumulate ? c[i * n + j] : T.Zero;
                for (int p = 0; p < k; p++)
                    v = T.FusedMultiplyAdd(transposeA ? a[p * m + i] : a[i * k + p], b[p * n + j], v);
                expected[i * n + j] = v;
            }
        Gemm.Multiply<T>(a, transposeA, b, false, c, m, n, k, accumulate);
        for (int i = 0; i < c.Length; i++)
            Assert.True(c[i] == expected[i], $"{typeof(T).Name} {m} × {n} × {k}: C[{i / n}, {i % n}] = {c[i]}, the FMA chain gives {expected[i]}");
    }
}
