using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Backprop.Functional.Kernels;

public static partial class Gemm
{
    /// <summary>
    /// Register-blocked direct kernels for products that are too small or too thin to repay packing:
    /// A·Bᵀ (both operands k-contiguous: 6 × 4 blocks of dot products on 512-bit vectors, 4 × 4 on 256-bit) and op(A)·B (4 rows × 4 vectors of C
    /// accumulated in registers over k), each written once over the vector width (Vector512 or Vector256, see
    /// <see cref="IVectorWidth{TV, T}"/>); the drivers pick the width once per call. Each C element is always computed by the
    /// same sequence of operations whatever block it falls in.
    /// </summary>
    internal static class Tiles<T>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        /// <summary>Whether A·Bᵀ with depth <paramref name="k"/> can run here (k at least one vector).</summary>
        internal static bool CanDot(int k) =>
            (Vector512.IsHardwareAccelerated && k >= Vector512<T>.Count) || (Vector256.IsHardwareAccelerated && k >= Vector256<T>.Count);

        /// <summary>Whether op(A)·B can run here.</summary>
        internal static bool CanAxpy => Vector512.IsHardwareAccelerated || Vector256.IsHardwareAccelerated;

        /// <summary>C ← (accumulate ? C : 0) + A·Bᵀ, A [m × k], B [n × k]; requires <see cref="CanDot"/>.</summary>
        internal static void DotNT(ref T a, ref T b, ref T c, int m, int n, int k, bool accumulate) =>
            DotNT(ref a, ref b, ref c, m, n, k, n, accumulate);

        /// <summary>As <see cref="DotNT(ref T, ref T, ref T, int, int, int, bool)"/> with C's rows <paramref name="ldc"/>
        /// apart (a column panel of a wider C).</summary>
        internal static void DotNT(ref T a, ref T b, ref T c, int m, int n, int k, int ldc, bool accumulate)
        {
            if (Vector512.IsHardwareAccelerated && k >= Vector512<T>.Count)
                DotNT<Wide512<T>, Vector512<T>>(ref a, ref b, ref c, m, n, k, ldc, accumulate);
            else
                DotNT<Wide256<T>, Vector256<T>>(ref a, ref b, ref c, m, n, k, ldc, accumulate);
        }

        /// <summary>C ← (accumulate ? C : 0) + op(A)·B, B [k × n], op(A)ᵢₚ = a[i·rs + p·ds]; requires <see cref="CanAxpy"/>.</summary>
        internal static void AxpyNN(ref T a, nint rs, nint ds, ref T b, ref T c, int m, int n, int k, bool accumulate)
        {
            if (Vector512.IsHardwareAccelerated)
                AxpyNN512(ref a, rs, ds, ref b, ref c, m, n, k, accumulate);
            else
                AxpyNN256(ref a, rs, ds, ref b, ref c, m, n, k, accumulate);
        }

        /// <summary>C[0, j₀..n) ← (accumulate ? C : 0) + Σₚ a[p·ds]·B[p, j], scalar FMA chains.</summary>
        private static void AxpyScalar(ref T a, nint ds, ref T b, ref T c, int j0, int n, int k, bool accumulate)
        {
            for (int j = j0; j < n; j++)
            {
                T v = accumulate ? Unsafe.Add(ref c, j) : T.Zero;
                ref T bp = ref Unsafe.Add(ref b, j);
                for (int p = 0; p < k; p++)
                {
                    v = T.FusedMultiplyAdd(Unsafe.Add(ref a, p * ds), bp, v);
                    bp = ref Unsafe.Add(ref bp, n);
                }
                Unsafe.Add(ref c, j) = v;
            }
        }

        /// <summary>C[m × n] ← (accumulate ? C : 0) + A·Bᵀ with A [m × k], B [n × k] (k ≥ W): 6 × 4 (512-bit) and 4 × 4 blocks of dot
        /// products, one W-wide accumulator per C element, the k tail as one overlapping masked vector. One body for
        /// both widths (<typeparamref name="TW"/>: <see cref="Wide512{T}"/> or <see cref="Wide256{T}"/>).</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void DotNT<TW, TV>(ref T a, ref T b, ref T c, int m, int n, int k, int ldc, bool accumulate)
            where TW : struct, IVectorWidth<TV, T>
            where TV : struct
        {
            int w = TW.Count;
            int rem = k % w;
            TV mask = TW.TailMask(rem);
            int i = 0;
            Span<int> blocks = SkipsZeroBlocks(n, k, w) ? stackalloc int[k / w] : default;
            // Six rows of A at a time where the width has 32 registers (24 accumulators, four rows of B, one of A): B is
            // streamed from L2 once per six rows instead of four, and each vector load feeds 2.4 FMAs instead of 2.
            int sixEnd = typeof(TV) == typeof(Vector512<T>) ? SixRowEnd(m) : 0;
            for (; i < sixEnd; i += 6)
                RowBlock<TW, TV>(6, ref Unsafe.Add(ref a, (nint)i * k), ref b, ref Unsafe.Add(ref c, (nint)i * ldc), n, k, ldc, rem, mask, blocks, accumulate);
            for (; i + 4 <= m; i += 4)
                RowBlock<TW, TV>(4, ref Unsafe.Add(ref a, (nint)i * k), ref b, ref Unsafe.Add(ref c, (nint)i * ldc), n, k, ldc, rem, mask, blocks, accumulate);
            for (; i < m; i++)
            {
                ref T ai = ref Unsafe.Add(ref a, (nint)i * k);
                ref T ci = ref Unsafe.Add(ref c, (nint)i * ldc);
                int j = 0;
                int live = blocks.IsEmpty ? 0 : NonZeroBlocks(ref ai, 1, k, k - rem, w, blocks);
                if (live < blocks.Length)
                    for (; j + 4 <= n; j += 4)
                        Dot1x4<TW, TV, ListedBlocks>(ref ai, ref Unsafe.Add(ref b, (nint)j * k), k, new ListedBlocks(blocks[..live]), rem, mask, ref Unsafe.Add(ref ci, j), accumulate);
                for (; j + 4 <= n; j += 4)
                    Dot1x4<TW, TV, EveryBlock>(ref ai, ref Unsafe.Add(ref b, (nint)j * k), k, new EveryBlock(k / w, w), rem, mask, ref Unsafe.Add(ref ci, j), accumulate);
                for (; j < n; j++)
                    Dot1x1<TW, TV>(ref ai, ref Unsafe.Add(ref b, (nint)j * k), k, rem, mask, ref Unsafe.Add(ref ci, j), accumulate);
            }
        }

        /// <summary>One block of <paramref name="rows"/> (6 or 4) rows of A against every row of B: the rows' zero blocks
        /// listed once, then <see cref="Dot6x4{TW, TV, TBlocks}"/> or <see cref="Dot4x4{TW, TV, TBlocks}"/> over groups of four
        /// rows of B, the last rows of B one dot product at a time.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void RowBlock<TW, TV>(int rows, ref T ai, ref T b, ref T ci, int n, int k, int ldc, int rem, TV mask, Span<int> blocks, bool accumulate)
            where TW : struct, IVectorWidth<TV, T>
            where TV : struct
        {
            int w = TW.Count;
            int j = 0;
            int live = blocks.IsEmpty ? 0 : NonZeroBlocks(ref ai, rows, k, k - rem, w, blocks);
            if (live < blocks.Length)
            {
                for (; j + 4 <= n; j += 4)
                {
                    if (rows == 6) Dot6x4<TW, TV, ListedBlocks>(ref ai, ref Unsafe.Add(ref b, (nint)j * k), k, new ListedBlocks(blocks[..live]), rem, mask, ref Unsafe.Add(ref ci, j), ldc, accumulate);
                    else Dot4x4<TW, TV, ListedBlocks>(ref ai, ref Unsafe.Add(ref b, (nint)j * k), k, new ListedBlocks(blocks[..live]), rem, mask, ref Unsafe.Add(ref ci, j), ldc, accumulate);
                }
            }
            for (; j + 4 <= n; j += 4)
            {
                if (rows == 6) Dot6x4<TW, TV, EveryBlock>(ref ai, ref Unsafe.Add(ref b, (nint)j * k), k, new EveryBlock(k / w, w), rem, mask, ref Unsafe.Add(ref ci, j), ldc, accumulate);
                else Dot4x4<TW, TV, EveryBlock>(ref ai, ref Unsafe.Add(ref b, (nint)j * k), k, new EveryBlock(k / w, w), rem, mask, ref Unsafe.Add(ref ci, j), ldc, accumulate);
            }
            for (; j < n; j++)
                for (int r = 0; r < rows; r++)
                    Dot1x1<TW, TV>(ref Unsafe.Add(ref ai, (nint)r * k), ref Unsafe.Add(ref b, (nint)j * k), k, rem, mask, ref Unsafe.Add(ref ci, (nint)r * ldc + j), accumulate);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void Dot4x4<TW, TV, TBlocks>(ref T a, ref T b, int k, TBlocks blocks, int rem, TV mask, ref T c, int ldc, bool accumulate)
            where TW : struct, IVectorWidth<TV, T>
            where TV : struct
            where TBlocks : IBlockList, allows ref struct
        {
            int w = TW.Count;
            nint ka = k;
            TV c00 = default, c01 = default, c02 = default, c03 = default;
            TV c10 = default, c11 = default, c12 = default, c13 = default;
            TV c20 = default, c21 = default, c22 = default, c23 = default;
            TV c30 = default, c31 = default, c32 = default, c33 = default;
            ref T a1 = ref Unsafe.Add(ref a, ka);
            ref T a2 = ref Unsafe.Add(ref a1, ka);
            ref T a3 = ref Unsafe.Add(ref a2, ka);
            ref T b1 = ref Unsafe.Add(ref b, ka);
            ref T b2 = ref Unsafe.Add(ref b1, ka);
            ref T b3 = ref Unsafe.Add(ref b2, ka);
            int count = blocks.Count;
            for (int t = 0; t <= count; t++)
            {
                TV x0, x1, x2, x3;
                nuint q;
                if (t < count)
                {
                    q = (nuint)blocks.Offset(t);
                    x0 = TW.Load(ref a, q);
                    x1 = TW.Load(ref a1, q);
                    x2 = TW.Load(ref a2, q);
                    x3 = TW.Load(ref a3, q);
                }
                else
                {
                    if (rem == 0) break;
                    q = (nuint)(k - w);
                    x0 = TW.And(TW.Load(ref a, q), mask);
                    x1 = TW.And(TW.Load(ref a1, q), mask);
                    x2 = TW.And(TW.Load(ref a2, q), mask);
                    x3 = TW.And(TW.Load(ref a3, q), mask);
                }
                TV y = TW.Load(ref b, q);
                c00 = TW.Fma(x0, y, c00); c10 = TW.Fma(x1, y, c10);
                c20 = TW.Fma(x2, y, c20); c30 = TW.Fma(x3, y, c30);
                y = TW.Load(ref b1, q);
                c01 = TW.Fma(x0, y, c01); c11 = TW.Fma(x1, y, c11);
                c21 = TW.Fma(x2, y, c21); c31 = TW.Fma(x3, y, c31);
                y = TW.Load(ref b2, q);
                c02 = TW.Fma(x0, y, c02); c12 = TW.Fma(x1, y, c12);
                c22 = TW.Fma(x2, y, c22); c32 = TW.Fma(x3, y, c32);
                y = TW.Load(ref b3, q);
                c03 = TW.Fma(x0, y, c03); c13 = TW.Fma(x1, y, c13);
                c23 = TW.Fma(x2, y, c23); c33 = TW.Fma(x3, y, c33);
            }
            if (typeof(TV) == typeof(Vector512<float>) && Avx512F.IsSupported)
            {
                Sums512.Put4x4(ref Unsafe.As<T, float>(ref c), ldc, Unsafe.BitCast<TV, Vector512<float>>(c00), Unsafe.BitCast<TV, Vector512<float>>(c01),
                    Unsafe.BitCast<TV, Vector512<float>>(c02), Unsafe.BitCast<TV, Vector512<float>>(c03), Unsafe.BitCast<TV, Vector512<float>>(c10),
                    Unsafe.BitCast<TV, Vector512<float>>(c11), Unsafe.BitCast<TV, Vector512<float>>(c12), Unsafe.BitCast<TV, Vector512<float>>(c13),
                    Unsafe.BitCast<TV, Vector512<float>>(c20), Unsafe.BitCast<TV, Vector512<float>>(c21), Unsafe.BitCast<TV, Vector512<float>>(c22),
                    Unsafe.BitCast<TV, Vector512<float>>(c23), Unsafe.BitCast<TV, Vector512<float>>(c30), Unsafe.BitCast<TV, Vector512<float>>(c31),
                    Unsafe.BitCast<TV, Vector512<float>>(c32), Unsafe.BitCast<TV, Vector512<float>>(c33), accumulate);
                return;
            }
            nint ld = ldc;
            Put(ref c, TW.Sum(c00), accumulate); Put(ref Unsafe.Add(ref c, 1), TW.Sum(c01), accumulate);
            Put(ref Unsafe.Add(ref c, 2), TW.Sum(c02), accumulate); Put(ref Unsafe.Add(ref c, 3), TW.Sum(c03), accumulate);
            c = ref Unsafe.Add(ref c, ld);
            Put(ref c, TW.Sum(c10), accumulate); Put(ref Unsafe.Add(ref c, 1), TW.Sum(c11), accumulate);
            Put(ref Unsafe.Add(ref c, 2), TW.Sum(c12), accumulate); Put(ref Unsafe.Add(ref c, 3), TW.Sum(c13), accumulate);
            c = ref Unsafe.Add(ref c, ld);
            Put(ref c, TW.Sum(c20), accumulate); Put(ref Unsafe.Add(ref c, 1), TW.Sum(c21), accumulate);
            Put(ref Unsafe.Add(ref c, 2), TW.Sum(c22), accumulate); Put(ref Unsafe.Add(ref c, 3), TW.Sum(c23), accumulate);
            c = ref Unsafe.Add(ref c, ld);
            Put(ref c, TW.Sum(c30), accumulate); Put(ref Unsafe.Add(ref c, 1), TW.Sum(c31), accumulate);
            Put(ref Unsafe.Add(ref c, 2), TW.Sum(c32), accumulate); Put(ref Unsafe.Add(ref c, 3), TW.Sum(c33), accumulate);
        }

        /// <summary>Six rows of A against four rows of B: 24 accumulators, each C element the same chain (its W-wide
        /// accumulator over the blocks in order, the masked tail last, then <see cref="IVectorWidth{TV, T}.Sum"/>'s order) as in
        /// <see cref="Dot4x4{TW, TV, TBlocks}"/> and <see cref="Dot1x1{TW, TV}"/>, so the tile shape never changes a bit. Only
        /// for 512-bit vectors: 29 live vectors need AVX-512's 32 registers.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void Dot6x4<TW, TV, TBlocks>(ref T a, ref T b, int k, TBlocks blocks, int rem, TV mask, ref T c, int ldc, bool accumulate)
            where TW : struct, IVectorWidth<TV, T>
            where TV : struct
            where TBlocks : IBlockList, allows ref struct
        {
            int w = TW.Count;
            nint ka = k;
            TV c00 = default, c01 = default, c02 = default, c03 = default, c10 = default, c11 = default, c12 = default, c13 = default, c20 = default, c21 = default, c22 = default, c23 = default;
            TV c30 = default, c31 = default, c32 = default, c33 = default, c40 = default, c41 = default, c42 = default, c43 = default, c50 = default, c51 = default, c52 = default, c53 = default;
            ref T a1 = ref Unsafe.Add(ref a, ka);
            ref T a2 = ref Unsafe.Add(ref a1, ka);
            ref T a3 = ref Unsafe.Add(ref a2, ka);
            ref T a4 = ref Unsafe.Add(ref a3, ka);
            ref T a5 = ref Unsafe.Add(ref a4, ka);
            ref T b1 = ref Unsafe.Add(ref b, ka);
            ref T b2 = ref Unsafe.Add(ref b1, ka);
            ref T b3 = ref Unsafe.Add(ref b2, ka);
            int count = blocks.Count;
            for (int t = 0; t < count; t++)
            {
                nuint q = (nuint)blocks.Offset(t);
                TV y0 = TW.Load(ref b, q), y1 = TW.Load(ref b1, q), y2 = TW.Load(ref b2, q), y3 = TW.Load(ref b3, q);
                TV x = TW.Load(ref a, q);
                c00 = TW.Fma(x, y0, c00); c01 = TW.Fma(x, y1, c01); c02 = TW.Fma(x, y2, c02); c03 = TW.Fma(x, y3, c03);
                x = TW.Load(ref a1, q);
                c10 = TW.Fma(x, y0, c10); c11 = TW.Fma(x, y1, c11); c12 = TW.Fma(x, y2, c12); c13 = TW.Fma(x, y3, c13);
                x = TW.Load(ref a2, q);
                c20 = TW.Fma(x, y0, c20); c21 = TW.Fma(x, y1, c21); c22 = TW.Fma(x, y2, c22); c23 = TW.Fma(x, y3, c23);
                x = TW.Load(ref a3, q);
                c30 = TW.Fma(x, y0, c30); c31 = TW.Fma(x, y1, c31); c32 = TW.Fma(x, y2, c32); c33 = TW.Fma(x, y3, c33);
                x = TW.Load(ref a4, q);
                c40 = TW.Fma(x, y0, c40); c41 = TW.Fma(x, y1, c41); c42 = TW.Fma(x, y2, c42); c43 = TW.Fma(x, y3, c43);
                x = TW.Load(ref a5, q);
                c50 = TW.Fma(x, y0, c50); c51 = TW.Fma(x, y1, c51); c52 = TW.Fma(x, y2, c52); c53 = TW.Fma(x, y3, c53);
            }
            if (rem != 0)
            {
                nuint q = (nuint)(k - w);
                TV y0 = TW.Load(ref b, q), y1 = TW.Load(ref b1, q), y2 = TW.Load(ref b2, q), y3 = TW.Load(ref b3, q);
                TV x = TW.And(TW.Load(ref a, q), mask);
                c00 = TW.Fma(x, y0, c00); c01 = TW.Fma(x, y1, c01); c02 = TW.Fma(x, y2, c02); c03 = TW.Fma(x, y3, c03);
                x = TW.And(TW.Load(ref a1, q), mask);
                c10 = TW.Fma(x, y0, c10); c11 = TW.Fma(x, y1, c11); c12 = TW.Fma(x, y2, c12); c13 = TW.Fma(x, y3, c13);
                x = TW.And(TW.Load(ref a2, q), mask);
                c20 = TW.Fma(x, y0, c20); c21 = TW.Fma(x, y1, c21); c22 = TW.Fma(x, y2, c22); c23 = TW.Fma(x, y3, c23);
                x = TW.And(TW.Load(ref a3, q), mask);
                c30 = TW.Fma(x, y0, c30); c31 = TW.Fma(x, y1, c31); c32 = TW.Fma(x, y2, c32); c33 = TW.Fma(x, y3, c33);
                x = TW.And(TW.Load(ref a4, q), mask);
                c40 = TW.Fma(x, y0, c40); c41 = TW.Fma(x, y1, c41); c42 = TW.Fma(x, y2, c42); c43 = TW.Fma(x, y3, c43);
                x = TW.And(TW.Load(ref a5, q), mask);
                c50 = TW.Fma(x, y0, c50); c51 = TW.Fma(x, y1, c51); c52 = TW.Fma(x, y2, c52); c53 = TW.Fma(x, y3, c53);
            }
            if (typeof(TV) == typeof(Vector512<float>) && Avx512F.IsSupported)
            {
                ref float cf = ref Unsafe.As<T, float>(ref c);
                Sums512.Put4x4(ref cf, ldc, Unsafe.BitCast<TV, Vector512<float>>(c00), Unsafe.BitCast<TV, Vector512<float>>(c01), Unsafe.BitCast<TV, Vector512<float>>(c02), Unsafe.BitCast<TV, Vector512<float>>(c03), Unsafe.BitCast<TV, Vector512<float>>(c10), Unsafe.BitCast<TV, Vector512<float>>(c11), Unsafe.BitCast<TV, Vector512<float>>(c12), Unsafe.BitCast<TV, Vector512<float>>(c13), Unsafe.BitCast<TV, Vector512<float>>(c20), Unsafe.BitCast<TV, Vector512<float>>(c21), Unsafe.BitCast<TV, Vector512<float>>(c22), Unsafe.BitCast<TV, Vector512<float>>(c23), Unsafe.BitCast<TV, Vector512<float>>(c30), Unsafe.BitCast<TV, Vector512<float>>(c31), Unsafe.BitCast<TV, Vector512<float>>(c32), Unsafe.BitCast<TV, Vector512<float>>(c33), accumulate);
                Sums512.Put2x4(ref Unsafe.Add(ref cf, 4 * (nint)ldc), ldc, Unsafe.BitCast<TV, Vector512<float>>(c40), Unsafe.BitCast<TV, Vector512<float>>(c41), Unsafe.BitCast<TV, Vector512<float>>(c42), Unsafe.BitCast<TV, Vector512<float>>(c43), Unsafe.BitCast<TV, Vector512<float>>(c50), Unsafe.BitCast<TV, Vector512<float>>(c51), Unsafe.BitCast<TV, Vector512<float>>(c52), Unsafe.BitCast<TV, Vector512<float>>(c53), accumulate);
                return;
            }
            nint ld = ldc;
            Put(ref Unsafe.Add(ref c, 0 * ld + 0), TW.Sum(c00), accumulate); Put(ref Unsafe.Add(ref c, 0 * ld + 1), TW.Sum(c01), accumulate); Put(ref Unsafe.Add(ref c, 0 * ld + 2), TW.Sum(c02), accumulate); Put(ref Unsafe.Add(ref c, 0 * ld + 3), TW.Sum(c03), accumulate);
            Put(ref Unsafe.Add(ref c, 1 * ld + 0), TW.Sum(c10), accumulate); Put(ref Unsafe.Add(ref c, 1 * ld + 1), TW.Sum(c11), accumulate); Put(ref Unsafe.Add(ref c, 1 * ld + 2), TW.Sum(c12), accumulate); Put(ref Unsafe.Add(ref c, 1 * ld + 3), TW.Sum(c13), accumulate);
            Put(ref Unsafe.Add(ref c, 2 * ld + 0), TW.Sum(c20), accumulate); Put(ref Unsafe.Add(ref c, 2 * ld + 1), TW.Sum(c21), accumulate); Put(ref Unsafe.Add(ref c, 2 * ld + 2), TW.Sum(c22), accumulate); Put(ref Unsafe.Add(ref c, 2 * ld + 3), TW.Sum(c23), accumulate);
            Put(ref Unsafe.Add(ref c, 3 * ld + 0), TW.Sum(c30), accumulate); Put(ref Unsafe.Add(ref c, 3 * ld + 1), TW.Sum(c31), accumulate); Put(ref Unsafe.Add(ref c, 3 * ld + 2), TW.Sum(c32), accumulate); Put(ref Unsafe.Add(ref c, 3 * ld + 3), TW.Sum(c33), accumulate);
            Put(ref Unsafe.Add(ref c, 4 * ld + 0), TW.Sum(c40), accumulate); Put(ref Unsafe.Add(ref c, 4 * ld + 1), TW.Sum(c41), accumulate); Put(ref Unsafe.Add(ref c, 4 * ld + 2), TW.Sum(c42), accumulate); Put(ref Unsafe.Add(ref c, 4 * ld + 3), TW.Sum(c43), accumulate);
            Put(ref Unsafe.Add(ref c, 5 * ld + 0), TW.Sum(c50), accumulate); Put(ref Unsafe.Add(ref c, 5 * ld + 1), TW.Sum(c51), accumulate); Put(ref Unsafe.Add(ref c, 5 * ld + 2), TW.Sum(c52), accumulate); Put(ref Unsafe.Add(ref c, 5 * ld + 3), TW.Sum(c53), accumulate);
        }

        /// <summary>Rows [0, end) of an m-row A·Bᵀ go to six-row tiles, the rest to four-row tiles and single rows: m mod 6 of
        /// 2 or 3 gives the last six rows to two four-row tiles instead (8 = 4 + 4, 9 = 4 + 4 + 1), so fewer passes over B.</summary>
        internal static int SixRowEnd(int m)
        {
            int q = m / 6, r = m % 6;
            if ((r == 2 || r == 3) && q > 0)
                q--;
            return 6 * q;
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void Dot1x4<TW, TV, TBlocks>(ref T a, ref T b, int k, TBlocks blocks, int rem, TV mask, ref T c, bool accumulate)
            where TW : struct, IVectorWidth<TV, T>
            where TV : struct
            where TBlocks : IBlockList, allows ref struct
        {
            int w = TW.Count;
            nint ka = k;
            TV c0 = default, c1 = default, c2 = default, c3 = default;
            ref T b1 = ref Unsafe.Add(ref b, ka);
            ref T b2 = ref Unsafe.Add(ref b1, ka);
            ref T b3 = ref Unsafe.Add(ref b2, ka);
            int count = blocks.Count;
            for (int t = 0; t <= count; t++)
            {
                TV x;
                nuint q;
                if (t < count)
                {
                    q = (nuint)blocks.Offset(t);
                    x = TW.Load(ref a, q);
                }
                else
                {
                    if (rem == 0) break;
                    q = (nuint)(k - w);
                    x = TW.And(TW.Load(ref a, q), mask);
                }
                c0 = TW.Fma(x, TW.Load(ref b, q), c0);
                c1 = TW.Fma(x, TW.Load(ref b1, q), c1);
                c2 = TW.Fma(x, TW.Load(ref b2, q), c2);
                c3 = TW.Fma(x, TW.Load(ref b3, q), c3);
            }
            Put(ref c, TW.Sum(c0), accumulate); Put(ref Unsafe.Add(ref c, 1), TW.Sum(c1), accumulate);
            Put(ref Unsafe.Add(ref c, 2), TW.Sum(c2), accumulate); Put(ref Unsafe.Add(ref c, 3), TW.Sum(c3), accumulate);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.AggressiveInlining)]   // inlined into DotNT, as the twins were
        private static void Dot1x1<TW, TV>(ref T a, ref T b, int k, int rem, TV mask, ref T c, bool accumulate)
            where TW : struct, IVectorWidth<TV, T>
            where TV : struct
        {
            int w = TW.Count;
            TV c0 = default;
            int end = k - rem;
            for (int p = 0; p < end; p += w)
                c0 = TW.Fma(TW.Load(ref a, (nuint)p), TW.Load(ref b, (nuint)p), c0);
            if (rem != 0)
            {
                nuint q = (nuint)(k - w);
                c0 = TW.Fma(TW.And(TW.Load(ref a, q), mask), TW.Load(ref b, q), c0);
            }
            Put(ref c, TW.Sum(c0), accumulate);
        }

        /// <summary>Whether the dot tiles of A·Bᵀ (four rows, or one) skip the blocks of A that are zero in every row of the
        /// tile: B wide enough ([n × k], n ≥ 8) that one scan of the rows (k/W compares each) is repaid by the rows of B it
        /// spares, and the block list small enough for the stack. One-sample inference on MNIST skips about 42 % of the
        /// 784 × 128 first-layer weights this way (blank image borders). A zero block's FMAs could only change an
        /// accumulator through 0·∞ = NaN, so the result is the dense loop's, bit for bit, whenever B is finite.</summary>
        private static bool SkipsZeroBlocks(int n, int k, int w) => n >= 8 && k >= 8 * w && k <= SparseDepthMax;

        /// <summary>See <see cref="SkipsZeroBlocks"/>: at most 16,384 / W block offsets on the stack (4 KB for floats in
        /// 512-bit vectors, 16 KB for doubles in 256-bit ones).</summary>
        private const int SparseDepthMax = 16384;

        /// <summary>How many rows <see cref="AxpyHalf{TRows}"/> computes: a type parameter, so each count compiles to its
        /// own straight-line kernel.</summary>
        private interface IRowCount
        {
            static abstract bool Eight { get; }
        }

        private readonly struct FourRows : IRowCount
        {
            public static bool Eight => false;
        }

        private readonly struct EightRows : IRowCount
        {
            public static bool Eight => true;
        }

        /// <summary>The W-wide blocks of k a dot-product tile visits, in increasing order; the masked tail is separate.
        /// A type parameter, so each kind compiles to its own loop: <see cref="EveryBlock"/> to the plain dense loop.</summary>
        private interface IBlockList
        {
            int Count { get; }

            int Offset(int t);
        }

        /// <summary>Every block: 0, W, 2W, … (dense A).</summary>
        private readonly struct EveryBlock(int count, int width) : IBlockList
        {
            public int Count => count;

            public int Offset(int t) => t * width;
        }

        /// <summary>Only the listed blocks (the others are zero in every row of the tile; see <see cref="SkipsZeroBlocks"/>).</summary>
        private readonly ref struct ListedBlocks(ReadOnlySpan<int> offsets) : IBlockList
        {
            private readonly ReadOnlySpan<int> _offsets = offsets;

            public int Count => _offsets.Length;

            public int Offset(int t) => _offsets[t];
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Put(ref T c, T s, bool accumulate) => c = accumulate ? c + s : s;

        /// <summary>Writes the offsets of the <paramref name="width"/>-element blocks of a[0..<paramref name="end"/>) that
        /// hold a non-zero in any of <paramref name="rows"/> (1, 4 or 6) rows <paramref name="lda"/> apart (NaN counts as
        /// non-zero) to <paramref name="blocks"/> in increasing order; returns how many there are. The rows' bits are
        /// OR-ed, which is ±0 only when every value is. One body for both tile widths: a block is read as 256-bit vectors.</summary>
        private static int NonZeroBlocks(ref T a, int rows, nint lda, int end, int width, Span<int> blocks)
        {
            int v = Vector256<T>.Count, live = 0;
            for (int p = 0; p < end; p += width)
            {
                Vector256<T> x = Vector256<T>.Zero;
                for (int q = p; q < p + width; q += v)
                {
                    x |= Vector256.LoadUnsafe(ref a, (nuint)q);
                    if (rows >= 4)
                        x |= Vector256.LoadUnsafe(ref a, (nuint)(lda + q)) | Vector256.LoadUnsafe(ref a, (nuint)(2 * lda + q))
                            | Vector256.LoadUnsafe(ref a, (nuint)(3 * lda + q));
                    if (rows == 6)
                        x |= Vector256.LoadUnsafe(ref a, (nuint)(4 * lda + q)) | Vector256.LoadUnsafe(ref a, (nuint)(5 * lda + q));
                }
                blocks[live] = p;
                live += Vector256.EqualsAll(x, Vector256<T>.Zero) ? 0 : 1;
            }
            return live;
        }

        /// <summary>C[m × n] ← (accumulate ? C : 0) + op(A)·B with B [k × n] rows contiguous, op(A)ᵢₚ at
        /// a[i·rs + p·ds]: 4 rows × 4 vectors of C held in registers over the whole k loop (an FMA chain over p in
        /// increasing order per element, so every block shape gives the same bits).</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void AxpyNN512(ref T a, nint rs, nint ds, ref T b, ref T c, int m, int n, int k, bool accumulate)
        {
            int w = Vector512<T>.Count;
            int i = 0;
            int wide = n / w * w;                         // columns the 512-bit tiles cover
            bool half = n >= w / 2 && wide + w / 2 <= n;  // then one 256-bit vector of columns
            int tail = n >= w / 2 ? n - wide - (half ? w / 2 : 0) : 0;
            for (; i + 4 <= m; i += 4)
            {
                ref T ai = ref Unsafe.Add(ref a, i * rs);
                ref T ci = ref Unsafe.Add(ref c, (nint)i * n);
                int j = 0;
                for (; j + 4 * w <= n; j += 4 * w)
                    Axpy4x4<Wide512<T>, Vector512<T>>(ref ai, rs, ds, ref Unsafe.Add(ref b, j), n, k, ref Unsafe.Add(ref ci, j), accumulate);
                for (; j + w <= n; j += w)
                    Axpy4x1<Wide512<T>, Vector512<T>>(ref ai, rs, ds, ref Unsafe.Add(ref b, j), n, k, ref Unsafe.Add(ref ci, j), accumulate);
                if (n < w / 2)
                    for (int r = 0; r < 4; r++)
                        AxpyScalar(ref Unsafe.Add(ref ai, r * rs), ds, ref b, ref Unsafe.Add(ref ci, (nint)r * n), 0, n, k, accumulate);
            }
            // The last < W columns, 256 bits wide, eight rows at a time: four 256-bit FMA chains would keep only one of
            // the two FMA pipes busy (latency 4, two per cycle), eight keep both. The tail (< W/2 columns) is the top
            // lanes of one 256-bit vector ending at column n; scalar chains per column would be latency-bound.
            for (int i8 = 0; i8 < i && (half || tail > 0); i8 += 8)
            {
                ref T ai = ref Unsafe.Add(ref a, i8 * rs);
                ref T ci = ref Unsafe.Add(ref c, (nint)i8 * n);
                if (i8 + 8 <= i)
                {
                    if (half)
                        AxpyHalf<EightRows>(ref ai, rs, ds, ref Unsafe.Add(ref b, wide), n, k, ref Unsafe.Add(ref ci, wide), accumulate, 0);
                    if (tail > 0)
                        AxpyHalf<EightRows>(ref ai, rs, ds, ref Unsafe.Add(ref b, n - w / 2), n, k, ref Unsafe.Add(ref ci, n - w / 2), accumulate, w / 2 - tail);
                }
                else
                {
                    if (half)
                        AxpyHalf<FourRows>(ref ai, rs, ds, ref Unsafe.Add(ref b, wide), n, k, ref Unsafe.Add(ref ci, wide), accumulate, 0);
                    if (tail > 0)
                        AxpyHalf<FourRows>(ref ai, rs, ds, ref Unsafe.Add(ref b, n - w / 2), n, k, ref Unsafe.Add(ref ci, n - w / 2), accumulate, w / 2 - tail);
                }
            }
            for (; i < m; i++)
            {
                ref T ai = ref Unsafe.Add(ref a, i * rs);
                ref T ci = ref Unsafe.Add(ref c, (nint)i * n);
                int j = 0;
                for (; j + 4 * w <= n; j += 4 * w)
                    Axpy1x4<Wide512<T>, Vector512<T>>(ref ai, ds, ref Unsafe.Add(ref b, j), n, k, ref Unsafe.Add(ref ci, j), accumulate);
                for (; j + w <= n; j += w)
                    Axpy1x1<Wide512<T>, Vector512<T>>(ref ai, ds, ref Unsafe.Add(ref b, j), n, k, ref Unsafe.Add(ref ci, j), accumulate);
                if (j + w / 2 <= n)
                {
                    Axpy1x1<Wide256<T>, Vector256<T>>(ref ai, ds, ref Unsafe.Add(ref b, j), n, k, ref Unsafe.Add(ref ci, j), accumulate);
                    j += w / 2;
                }
                if (j < n && n >= w / 2)
                {
                    AxpyTail1x1(ref ai, ds, ref Unsafe.Add(ref b, n - w / 2), n, k, ref Unsafe.Add(ref ci, n - w / 2), accumulate, w / 2 - (n - j));
                    j = n;
                }
                AxpyScalar(ref ai, ds, ref b, ref ci, j, n, k, accumulate);
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void Axpy4x4<TW, TV>(ref T a, nint rs, nint ds, ref T b, int ldb, int k, ref T c, bool accumulate)
            where TW : struct, IVectorWidth<TV, T>
            where TV : struct
        {
            nuint w = (nuint)TW.Count;
            nint n = ldb;
            TV c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33;
            ref T c1 = ref Unsafe.Add(ref c, n);
            ref T c2 = ref Unsafe.Add(ref c1, n);
            ref T c3 = ref Unsafe.Add(ref c2, n);
            if (accumulate)
            {
                c00 = TW.Load(ref c, 0); c01 = TW.Load(ref c, w); c02 = TW.Load(ref c, 2 * w); c03 = TW.Load(ref c, 3 * w);
                c10 = TW.Load(ref c1, 0); c11 = TW.Load(ref c1, w); c12 = TW.Load(ref c1, 2 * w); c13 = TW.Load(ref c1, 3 * w);
                c20 = TW.Load(ref c2, 0); c21 = TW.Load(ref c2, w); c22 = TW.Load(ref c2, 2 * w); c23 = TW.Load(ref c2, 3 * w);
                c30 = TW.Load(ref c3, 0); c31 = TW.Load(ref c3, w); c32 = TW.Load(ref c3, 2 * w); c33 = TW.Load(ref c3, 3 * w);
            }
            else
            {
                c00 = c01 = c02 = c03 = c10 = c11 = c12 = c13 = c20 = c21 = c22 = c23 = c30 = c31 = c32 = c33 = default;
            }
            ref T a1 = ref Unsafe.Add(ref a, rs);
            ref T a2 = ref Unsafe.Add(ref a1, rs);
            ref T a3 = ref Unsafe.Add(ref a2, rs);
            for (int p = 0; p < k; p++)
            {
                nint o = p * ds;
                TV y0 = TW.Load(ref b, 0), y1 = TW.Load(ref b, w);
                TV y2 = TW.Load(ref b, 2 * w), y3 = TW.Load(ref b, 3 * w);
                TV x = TW.Broadcast(Unsafe.Add(ref a, o));
                c00 = TW.Fma(x, y0, c00); c01 = TW.Fma(x, y1, c01); c02 = TW.Fma(x, y2, c02); c03 = TW.Fma(x, y3, c03);
                x = TW.Broadcast(Unsafe.Add(ref a1, o));
                c10 = TW.Fma(x, y0, c10); c11 = TW.Fma(x, y1, c11); c12 = TW.Fma(x, y2, c12); c13 = TW.Fma(x, y3, c13);
                x = TW.Broadcast(Unsafe.Add(ref a2, o));
                c20 = TW.Fma(x, y0, c20); c21 = TW.Fma(x, y1, c21); c22 = TW.Fma(x, y2, c22); c23 = TW.Fma(x, y3, c23);
                x = TW.Broadcast(Unsafe.Add(ref a3, o));
                c30 = TW.Fma(x, y0, c30); c31 = TW.Fma(x, y1, c31); c32 = TW.Fma(x, y2, c32); c33 = TW.Fma(x, y3, c33);
                b = ref Unsafe.Add(ref b, n);
            }
            TW.Store(c00, ref c, 0); TW.Store(c01, ref c, w); TW.Store(c02, ref c, 2 * w); TW.Store(c03, ref c, 3 * w);
            TW.Store(c10, ref c1, 0); TW.Store(c11, ref c1, w); TW.Store(c12, ref c1, 2 * w); TW.Store(c13, ref c1, 3 * w);
            TW.Store(c20, ref c2, 0); TW.Store(c21, ref c2, w); TW.Store(c22, ref c2, 2 * w); TW.Store(c23, ref c2, 3 * w);
            TW.Store(c30, ref c3, 0); TW.Store(c31, ref c3, w); TW.Store(c32, ref c3, 2 * w); TW.Store(c33, ref c3, 3 * w);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void Axpy4x1<TW, TV>(ref T a, nint rs, nint ds, ref T b, int ldb, int k, ref T c, bool accumulate)
            where TW : struct, IVectorWidth<TV, T>
            where TV : struct
        {
            nint n = ldb;
            ref T c1 = ref Unsafe.Add(ref c, n);
            ref T c2 = ref Unsafe.Add(ref c1, n);
            ref T c3 = ref Unsafe.Add(ref c2, n);
            TV c0v = accumulate ? TW.Load(ref c, 0) : default;
            TV c1v = accumulate ? TW.Load(ref c1, 0) : default;
            TV c2v = accumulate ? TW.Load(ref c2, 0) : default;
            TV c3v = accumulate ? TW.Load(ref c3, 0) : default;
            ref T a1 = ref Unsafe.Add(ref a, rs);
            ref T a2 = ref Unsafe.Add(ref a1, rs);
            ref T a3 = ref Unsafe.Add(ref a2, rs);
            for (int p = 0; p < k; p++)
            {
                nint o = p * ds;
                TV y = TW.Load(ref b, 0);
                c0v = TW.Fma(TW.Broadcast(Unsafe.Add(ref a, o)), y, c0v);
                c1v = TW.Fma(TW.Broadcast(Unsafe.Add(ref a1, o)), y, c1v);
                c2v = TW.Fma(TW.Broadcast(Unsafe.Add(ref a2, o)), y, c2v);
                c3v = TW.Fma(TW.Broadcast(Unsafe.Add(ref a3, o)), y, c3v);
                b = ref Unsafe.Add(ref b, n);
            }
            TW.Store(c0v, ref c, 0); TW.Store(c1v, ref c1, 0); TW.Store(c2v, ref c2, 0); TW.Store(c3v, ref c3, 0);
        }

        /// <summary>One row of C, four vectors wide: four independent FMA chains where <see cref="Axpy1x1{TW, TV}"/> would run
        /// one latency-bound chain per vector (the rows left over after the 4-row blocks).</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void Axpy1x4<TW, TV>(ref T a, nint ds, ref T b, int ldb, int k, ref T c, bool accumulate)
            where TW : struct, IVectorWidth<TV, T>
            where TV : struct
        {
            nint n = ldb;
            nuint w = (nuint)TW.Count;
            TV v0 = accumulate ? TW.Load(ref c, 0) : default, v1 = accumulate ? TW.Load(ref c, w) : default;
            TV v2 = accumulate ? TW.Load(ref c, 2 * w) : default, v3 = accumulate ? TW.Load(ref c, 3 * w) : default;
            for (int p = 0; p < k; p++)
            {
                TV x = TW.Broadcast(Unsafe.Add(ref a, p * ds));
                v0 = TW.Fma(x, TW.Load(ref b, 0), v0);
                v1 = TW.Fma(x, TW.Load(ref b, w), v1);
                v2 = TW.Fma(x, TW.Load(ref b, 2 * w), v2);
                v3 = TW.Fma(x, TW.Load(ref b, 3 * w), v3);
                b = ref Unsafe.Add(ref b, n);
            }
            TW.Store(v0, ref c, 0); TW.Store(v1, ref c, w); TW.Store(v2, ref c, 2 * w); TW.Store(v3, ref c, 3 * w);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void Axpy1x1<TW, TV>(ref T a, nint ds, ref T b, int ldb, int k, ref T c, bool accumulate)
            where TW : struct, IVectorWidth<TV, T>
            where TV : struct
        {
            nint n = ldb;
            TV v = accumulate ? TW.Load(ref c, 0) : default;
            for (int p = 0; p < k; p++)
            {
                v = TW.Fma(TW.Broadcast(Unsafe.Add(ref a, p * ds)), TW.Load(ref b, 0), v);
                b = ref Unsafe.Add(ref b, n);
            }
            TW.Store(v, ref c, 0);
        }

        /// <summary>Four or eight rows (<typeparamref name="TRows"/>) × one 256-bit vector of C, lanes below
        /// <paramref name="skip"/> left as they were (0: the whole vector): the same FMA chain per element as the other
        /// axpy tiles. Eight rows are eight independent chains, enough to keep both 256-bit FMA pipes busy.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void AxpyHalf<TRows>(ref T a, nint rs, nint ds, ref T b, int ldb, int k, ref T c, bool accumulate, int skip)
            where TRows : struct, IRowCount
        {
            nint n = ldb;
            ref T c1 = ref Unsafe.Add(ref c, n); ref T c2 = ref Unsafe.Add(ref c1, n); ref T c3 = ref Unsafe.Add(ref c2, n);
            nint upper = TRows.Eight ? 4 * n : 0;   // four rows: the upper four alias the lower ones and go unused
            ref T c4 = ref Unsafe.Add(ref c, upper); ref T c5 = ref Unsafe.Add(ref c4, n); ref T c6 = ref Unsafe.Add(ref c5, n);
            ref T c7 = ref Unsafe.Add(ref c6, n);
            Vector256<T> o0 = Vector256.LoadUnsafe(ref c), o1 = Vector256.LoadUnsafe(ref c1), o2 = Vector256.LoadUnsafe(ref c2);
            Vector256<T> o3 = Vector256.LoadUnsafe(ref c3);
            Vector256<T> o4 = TRows.Eight ? Vector256.LoadUnsafe(ref c4) : default, o5 = TRows.Eight ? Vector256.LoadUnsafe(ref c5) : default;
            Vector256<T> o6 = TRows.Eight ? Vector256.LoadUnsafe(ref c6) : default, o7 = TRows.Eight ? Vector256.LoadUnsafe(ref c7) : default;
            Vector256<T> v0 = accumulate ? o0 : default, v1 = accumulate ? o1 : default, v2 = accumulate ? o2 : default;
            Vector256<T> v3 = accumulate ? o3 : default, v4 = accumulate ? o4 : default, v5 = accumulate ? o5 : default;
            Vector256<T> v6 = accumulate ? o6 : default, v7 = accumulate ? o7 : default;
            ref T a1 = ref Unsafe.Add(ref a, rs); ref T a2 = ref Unsafe.Add(ref a1, rs); ref T a3 = ref Unsafe.Add(ref a2, rs);
            ref T a4 = ref Unsafe.Add(ref a, TRows.Eight ? 4 * rs : 0); ref T a5 = ref Unsafe.Add(ref a4, rs); ref T a6 = ref Unsafe.Add(ref a5, rs);
            ref T a7 = ref Unsafe.Add(ref a6, rs);
            for (int p = 0; p < k; p++)
            {
                nint o = p * ds;
                Vector256<T> y = Vector256.LoadUnsafe(ref b);
                v0 = MicroKernel<T>.Fma(Vector256.Create(Unsafe.Add(ref a, o)), y, v0);
                v1 = MicroKernel<T>.Fma(Vector256.Create(Unsafe.Add(ref a1, o)), y, v1);
                v2 = MicroKernel<T>.Fma(Vector256.Create(Unsafe.Add(ref a2, o)), y, v2);
                v3 = MicroKernel<T>.Fma(Vector256.Create(Unsafe.Add(ref a3, o)), y, v3);
                if (TRows.Eight)
                {
                    v4 = MicroKernel<T>.Fma(Vector256.Create(Unsafe.Add(ref a4, o)), y, v4);
                    v5 = MicroKernel<T>.Fma(Vector256.Create(Unsafe.Add(ref a5, o)), y, v5);
                    v6 = MicroKernel<T>.Fma(Vector256.Create(Unsafe.Add(ref a6, o)), y, v6);
                    v7 = MicroKernel<T>.Fma(Vector256.Create(Unsafe.Add(ref a7, o)), y, v7);
                }
                b = ref Unsafe.Add(ref b, n);
            }
            Vector256<T> keep = Vector256.LessThan(Vector256<T>.Indices, Vector256.Create(T.CreateTruncating(skip)));
            Vector256.ConditionalSelect(keep, o0, v0).StoreUnsafe(ref c); Vector256.ConditionalSelect(keep, o1, v1).StoreUnsafe(ref c1);
            Vector256.ConditionalSelect(keep, o2, v2).StoreUnsafe(ref c2); Vector256.ConditionalSelect(keep, o3, v3).StoreUnsafe(ref c3);
            if (TRows.Eight)
            {
                Vector256.ConditionalSelect(keep, o4, v4).StoreUnsafe(ref c4); Vector256.ConditionalSelect(keep, o5, v5).StoreUnsafe(ref c5);
                Vector256.ConditionalSelect(keep, o6, v6).StoreUnsafe(ref c6); Vector256.ConditionalSelect(keep, o7, v7).StoreUnsafe(ref c7);
            }
        }

        /// <summary>Lanes [skip, W/2) of one row's 256-bit vector of C (the columns not yet done): the same FMA chain per
        /// element as the other axpy tiles; the lower lanes are computed but their old values are stored back.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void AxpyTail1x1(ref T a, nint ds, ref T b, int ldb, int k, ref T c, bool accumulate, int skip)
        {
            nint n = ldb;
            Vector256<T> old = Vector256.LoadUnsafe(ref c);
            Vector256<T> v = accumulate ? old : default;
            for (int p = 0; p < k; p++)
            {
                v = MicroKernel<T>.Fma(Vector256.Create(Unsafe.Add(ref a, p * ds)), Vector256.LoadUnsafe(ref b), v);
                b = ref Unsafe.Add(ref b, n);
            }
            Vector256<T> keep = Vector256.LessThan(Vector256<T>.Indices, Vector256.Create(T.CreateTruncating(skip)));
            Vector256.ConditionalSelect(keep, old, v).StoreUnsafe(ref c);
        }

        /// <summary>C[m × n] ← (accumulate ? C : 0) + op(A)·B with B [k × n] rows contiguous, op(A)ᵢₚ at
        /// a[i·rs + p·ds]: 4 rows × 4 vectors of C held in registers over the whole k loop (an FMA chain over p in
        /// increasing order per element, so every block shape gives the same bits).</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void AxpyNN256(ref T a, nint rs, nint ds, ref T b, ref T c, int m, int n, int k, bool accumulate)
        {
            int w = Vector256<T>.Count;
            int i = 0;
            int wide = n / (4 * w) * (4 * w);   // columns the 4 × 4 tiles cover
            for (; i + 4 <= m; i += 4)
            {
                ref T ai = ref Unsafe.Add(ref a, i * rs);
                ref T ci = ref Unsafe.Add(ref c, (nint)i * n);
                for (int j = 0; j < wide; j += 4 * w)
                    Axpy4x4<Wide256<T>, Vector256<T>>(ref ai, rs, ds, ref Unsafe.Add(ref b, j), n, k, ref Unsafe.Add(ref ci, j), accumulate);
                if (n < w)
                    for (int r = 0; r < 4; r++)
                        AxpyScalar(ref Unsafe.Add(ref ai, r * rs), ds, ref b, ref Unsafe.Add(ref ci, (nint)r * n), wide, n, k, accumulate);
            }
            // The last < 4W columns, eight rows at a time: one vector × four rows is four FMA chains, which keep only one of
            // the two FMA pipes busy (latency 4, two per cycle); eight rows keep both. The last < W columns are the top
            // lanes of one vector ending at column n: scalar chains per column were latency-bound and, at 2000 × 50 × 64
            // (δᵀ·a into 50 units), took two thirds of the product's time for 4 % of its columns.
            for (int i8 = 0; i8 < i && wide < n && n >= w; i8 += 8)
            {
                ref T ai = ref Unsafe.Add(ref a, i8 * rs);
                ref T ci = ref Unsafe.Add(ref c, (nint)i8 * n);
                bool eight = i8 + 8 <= i;
                int j = wide;
                for (; j + w <= n; j += w)
                    if (eight) AxpyHalf<EightRows>(ref ai, rs, ds, ref Unsafe.Add(ref b, j), n, k, ref Unsafe.Add(ref ci, j), accumulate, 0);
                    else AxpyHalf<FourRows>(ref ai, rs, ds, ref Unsafe.Add(ref b, j), n, k, ref Unsafe.Add(ref ci, j), accumulate, 0);
                if (j < n)
                {
                    if (eight) AxpyHalf<EightRows>(ref ai, rs, ds, ref Unsafe.Add(ref b, n - w), n, k, ref Unsafe.Add(ref ci, n - w), accumulate, w - (n - j));
                    else AxpyHalf<FourRows>(ref ai, rs, ds, ref Unsafe.Add(ref b, n - w), n, k, ref Unsafe.Add(ref ci, n - w), accumulate, w - (n - j));
                }
            }
            for (; i < m; i++)
            {
                ref T ai = ref Unsafe.Add(ref a, i * rs);
                ref T ci = ref Unsafe.Add(ref c, (nint)i * n);
                int j = 0;
                for (; j + w <= n; j += w)
                    Axpy1x1<Wide256<T>, Vector256<T>>(ref ai, ds, ref Unsafe.Add(ref b, j), n, k, ref Unsafe.Add(ref ci, j), accumulate);
                if (j < n && n >= w)
                {
                    AxpyTail1x1(ref ai, ds, ref Unsafe.Add(ref b, n - w), n, k, ref Unsafe.Add(ref ci, n - w), accumulate, w - (n - j));
                    j = n;
                }
                AxpyScalar(ref ai, ds, ref b, ref ci, j, n, k, accumulate);
            }
        }

    }
    /// <summary>The lane sums of several 512-bit float accumulators at once, each exactly <see cref="Vector512.Sum{T}(Vector512{T})"/>:
    /// the runtime sums a vector as Sum(lower half) + Sum(upper half) down to ((v₀ + v₁) + (v₂ + v₃)) per 128 bits (tested
    /// bit for bit), and so does this tree, but it takes sixteen vectors through it side by side: 30 shuffles and 15 adds
    /// for sixteen sums, where sixteen separate sums cost about four times as many instructions, each a chain of its own.
    /// The dot tiles' sums were about a tenth of a 64 × 128 × 784 product's time.</summary>
    internal static class Sums512
    {
        /// <summary>Lanes 4j..4j+3 of the result: lanes 2j, 2j + 1 of x then of y, added in pairs: [x₀+x₁, x₂+x₃, y₀+y₁, y₂+y₃]
        /// per 128 bits.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector512<float> Pairs(Vector512<float> x, Vector512<float> y) =>
            Avx512F.Shuffle(x, y, 0x88) + Avx512F.Shuffle(x, y, 0xDD);

        /// <summary>[x.q₀ + x.q₁, x.q₂ + x.q₃, y.q₀ + y.q₁, y.q₂ + y.q₃] over the 128-bit quarters q.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector512<float> Quarters(Vector512<float> x, Vector512<float> y) =>
            Avx512F.Shuffle4x128(x, y, 0x88) + Avx512F.Shuffle4x128(x, y, 0xDD);

        /// <summary>Lane i of the result is Vector512.Sum(vᵢ), bit for bit.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        internal static Vector512<float> Sum16(Vector512<float> v0, Vector512<float> v1, Vector512<float> v2, Vector512<float> v3, Vector512<float> v4, Vector512<float> v5, Vector512<float> v6, Vector512<float> v7, Vector512<float> v8, Vector512<float> v9, Vector512<float> v10, Vector512<float> v11, Vector512<float> v12, Vector512<float> v13, Vector512<float> v14, Vector512<float> v15)
        {
            Vector512<float> z0 = Pairs(Pairs(v0, v1), Pairs(v2, v3)), z1 = Pairs(Pairs(v4, v5), Pairs(v6, v7));
            Vector512<float> z2 = Pairs(Pairs(v8, v9), Pairs(v10, v11)), z3 = Pairs(Pairs(v12, v13), Pairs(v14, v15));
            return Quarters(Quarters(z0, z1), Quarters(z2, z3));
        }

        /// <summary>Lane i &lt; 8 of the result is Vector512.Sum(vᵢ), bit for bit (lanes 8–15 repeat them).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        internal static Vector512<float> Sum8(Vector512<float> v0, Vector512<float> v1, Vector512<float> v2, Vector512<float> v3, Vector512<float> v4, Vector512<float> v5, Vector512<float> v6, Vector512<float> v7)
        {
            Vector512<float> z = Quarters(Pairs(Pairs(v0, v1), Pairs(v2, v3)), Pairs(Pairs(v4, v5), Pairs(v6, v7)));
            return Quarters(z, z);
        }

        /// <summary>C[r, 0..4) ← (accumulate ? C : 0) + Sum(v_r0 … v_r3) for rows r &lt; 4, <paramref name="ldc"/> apart: each
        /// element what <c>c = accumulate ? c + Vector512.Sum(v) : Vector512.Sum(v)</c> gives.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        internal static void Put4x4(ref float c, int ldc, Vector512<float> v00, Vector512<float> v01, Vector512<float> v02, Vector512<float> v03, Vector512<float> v10, Vector512<float> v11, Vector512<float> v12, Vector512<float> v13, Vector512<float> v20, Vector512<float> v21, Vector512<float> v22, Vector512<float> v23, Vector512<float> v30, Vector512<float> v31, Vector512<float> v32, Vector512<float> v33, bool accumulate)
        {
            Vector512<float> s = Sum16(v00, v01, v02, v03, v10, v11, v12, v13, v20, v21, v22, v23, v30, v31, v32, v33);
            nint ld = ldc;
            Row(ref c, s.GetLower().GetLower(), accumulate);
            Row(ref Unsafe.Add(ref c, ld), s.GetLower().GetUpper(), accumulate);
            Row(ref Unsafe.Add(ref c, 2 * ld), s.GetUpper().GetLower(), accumulate);
            Row(ref Unsafe.Add(ref c, 3 * ld), s.GetUpper().GetUpper(), accumulate);
        }

        /// <summary>As <see cref="Put4x4"/> for two rows.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        internal static void Put2x4(ref float c, int ldc, Vector512<float> v00, Vector512<float> v01, Vector512<float> v02, Vector512<float> v03, Vector512<float> v10, Vector512<float> v11, Vector512<float> v12, Vector512<float> v13, bool accumulate)
        {
            Vector512<float> s = Sum8(v00, v01, v02, v03, v10, v11, v12, v13);
            Row(ref c, s.GetLower().GetLower(), accumulate);
            Row(ref Unsafe.Add(ref c, (nint)ldc), s.GetLower().GetUpper(), accumulate);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Row(ref float c, Vector128<float> s, bool accumulate) =>
            (accumulate ? Vector128.LoadUnsafe(ref c) + s : s).StoreUnsafe(ref c);
    }
}
