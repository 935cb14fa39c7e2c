using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Backprop.Functional.Kernels;

public static partial class Gemm
{
    /// <summary>
    /// Packing of op(A) and op(B) blocks into the panel layouts the micro-kernel streams:
    /// Ã[r][p][ii] = op(A)[i₀ + r·MR + ii, p₀ + p] and B̃[s][p][jj] = op(B)[p₀ + p, j₀ + s·NR + jj],
    /// zero-padded to whole panels so that edge tiles run the same kernel.
    /// The packing loops (and the blocked driver) are compiled fully optimised at once, like the kernels, not through
    /// tiered compilation: in a mixed workload (the `shapes` sweep) their dynamic-PGO tier-1 code ran Aᵀ·B 10–15 %
    /// slower (bench/RESULTS.md, "GEMM thresholds and compilation").
    /// </summary>
    internal static class Packing<T>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        /// <summary>
        /// Ã ← op(A)[i₀ .. i₀+mc, p₀ .. p₀+kc) as ⌈mc/MR⌉ panels of MR·kc values.
        /// op(A) is [m × k]; A is stored [m × k] or, if <paramref name="transposeA"/>, [k × m].
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        internal static void PackA(ref T a, bool transposeA, int m, int k, int i0, int mc, int p0, int kc, ref T packed)
        {
            int mr = MicroKernel<T>.MR;
            if (transposeA && Vector256.IsHardwareAccelerated && mr == Vector256<T>.Count)
            {
                // A[i, p] = a[p·m + i]: row p of A holds op(A)[i₀.., p] for every panel. Read it once, front to back,
                // and deal MR-wide pieces to the panels (one pass per p instead of one per panel: A streams in order).
                int full = mc / mr * mr;
                for (int p = 0; p < kc; p++)
                {
                    ref T src = ref Unsafe.Add(ref a, (nint)(p0 + p) * m + i0);
                    ref T dst = ref Unsafe.Add(ref packed, (nint)p * mr);
                    for (int ir = 0; ir < full; ir += mr)
                        Vector256.LoadUnsafe(ref src, (nuint)ir).StoreUnsafe(ref Unsafe.Add(ref dst, (nint)ir * kc));
                    if (full < mc)
                    {
                        ref T last = ref Unsafe.Add(ref dst, (nint)full * kc);
                        for (int ii = 0; ii < mr; ii++)
                            Unsafe.Add(ref last, ii) = full + ii < mc ? Unsafe.Add(ref src, full + ii) : T.Zero;
                    }
                }
                return;
            }
            if (transposeA && Vector256.IsHardwareAccelerated && mr < Vector256<T>.Count && mc >= mr && kc > 1)
            {
                // MR = 6 floats (AVX2): as above, row p of A dealt to the panels, each piece an 8-wide store whose last
                // two values spill into the panel's next p, which the next pass overwrites; the last p goes value by value.
                int full = mc / mr * mr;
                for (int p = 0; p < kc; p++)
                {
                    ref T src = ref Unsafe.Add(ref a, (nint)(p0 + p) * m + i0);
                    ref T dst = ref Unsafe.Add(ref packed, (nint)p * mr);
                    int ir = 0;
                    if (p + 1 < kc)
                        for (; ir < full && i0 + ir + Vector256<T>.Count <= m; ir += mr)
                            Vector256.LoadUnsafe(ref src, (nuint)ir).StoreUnsafe(ref Unsafe.Add(ref dst, (nint)ir * kc));
                    for (; ir < mc; ir += mr)
                    {
                        ref T piece = ref Unsafe.Add(ref dst, (nint)ir * kc);
                        for (int ii = 0; ii < mr; ii++)
                            Unsafe.Add(ref piece, ii) = ir + ii < mc ? Unsafe.Add(ref src, ir + ii) : T.Zero;
                    }
                }
                return;
            }

            for (int ir = 0; ir < mc; ir += mr)
            {
                int rows = Math.Min(mr, mc - ir);
                ref T panel = ref Unsafe.Add(ref packed, (nint)ir * kc);
                if (!transposeA && rows == 8 && mr == 8 && Transpose8.Supported<T>())
                {
                    // A[i, p] = a[i·k + p], eight rows at a time: 8 × 8 blocks transposed in registers.
                    ref T src = ref Unsafe.Add(ref a, (nint)(i0 + ir) * k + p0);
                    int p = 0;
                    for (; p + 8 <= kc; p += 8)
                        Transpose8.Block(ref Unsafe.Add(ref src, p), k, ref Unsafe.Add(ref panel, (nint)p * 8), 8);
                    for (; p < kc; p++)
                        for (int ii = 0; ii < 8; ii++)
                            Unsafe.Add(ref panel, (nint)p * 8 + ii) = Unsafe.Add(ref src, (nint)ii * k + p);
                }
                else if (!transposeA)
                {
                    // A[i, p] = a[i·k + p]: each row is contiguous, scattered with stride MR.
                    for (int ii = 0; ii < rows; ii++)
                    {
                        ref T src = ref Unsafe.Add(ref a, (nint)(i0 + ir + ii) * k + p0);
                        ref T dst = ref Unsafe.Add(ref panel, ii);
                        for (int p = 0; p < kc; p++)
                            Unsafe.Add(ref dst, (nint)p * mr) = Unsafe.Add(ref src, p);
                    }
                    for (int ii = rows; ii < mr; ii++)
                    {
                        ref T dst = ref Unsafe.Add(ref panel, ii);
                        for (int p = 0; p < kc; p++)
                            Unsafe.Add(ref dst, (nint)p * mr) = T.Zero;
                    }
                }
                else
                {
                    // A[i, p] = a[p·m + i]: MR consecutive values per p.
                    for (int p = 0; p < kc; p++)
                    {
                        ref T src = ref Unsafe.Add(ref a, (nint)(p0 + p) * m + i0 + ir);
                        ref T dst = ref Unsafe.Add(ref panel, (nint)p * mr);
                        int ii = 0;
                        if (Vector256.IsHardwareAccelerated)
                        {
                            for (; ii + Vector256<T>.Count <= rows; ii += Vector256<T>.Count)
                                Vector256.LoadUnsafe(ref src, (nuint)ii).StoreUnsafe(ref dst, (nuint)ii);
                        }
                        for (; ii < rows; ii++)
                            Unsafe.Add(ref dst, ii) = Unsafe.Add(ref src, ii);
                        for (; ii < mr; ii++)
                            Unsafe.Add(ref dst, ii) = T.Zero;
                    }
                }
            }
        }

        /// <summary>dst [cols × rows] ← src [rows × cols]ᵀ, both row-major: 8 × 8 register transposes where they fit.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        internal static void Transpose(ref T src, int rows, int cols, ref T dst)
        {
            int i = 0;
            if (Transpose8.Supported<T>())
            {
                for (; i + 8 <= rows; i += 8)
                {
                    int j = 0;
                    for (; j + 8 <= cols; j += 8)
                        Transpose8.Block(ref Unsafe.Add(ref src, (nint)i * cols + j), cols, ref Unsafe.Add(ref dst, (nint)j * rows + i), rows);
                    for (; j < cols; j++)
                        for (int r = i; r < i + 8; r++)
                            Unsafe.Add(ref dst, (nint)j * rows + r) = Unsafe.Add(ref src, (nint)r * cols + j);
                }
            }
            for (; i < rows; i++)
                for (int j = 0; j < cols; j++)
                    Unsafe.Add(ref dst, (nint)j * rows + i) = Unsafe.Add(ref src, (nint)i * cols + j);
        }

        /// <summary>
        /// B̃ ← op(B)[p₀ .. p₀+kc, j₀ .. j₀+nc) as ⌈nc/NR⌉ panels of kc·NR values.
        /// op(B) is [k × n]; B is stored [k × n] or, if <paramref name="transposeB"/>, [n × k].
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        internal static void PackB(ref T b, bool transposeB, int n, int k, int j0, int nc, int p0, int kc, ref T packed)
        {
            int nr = MicroKernel<T>.NR;
            for (int jr = 0; jr < nc; jr += nr)
            {
                int cols = Math.Min(nr, nc - jr);
                ref T panel = ref Unsafe.Add(ref packed, (nint)jr * kc);
                if (!transposeB)
                {
                    // B[p, j] = b[p·n + j]: NR consecutive values per p.
                    for (int p = 0; p < kc; p++)
                    {
                        ref T src = ref Unsafe.Add(ref b, (nint)(p0 + p) * n + j0 + jr);
                        ref T dst = ref Unsafe.Add(ref panel, (nint)p * nr);
                        MemoryMarshal.CreateReadOnlySpan(ref src, cols).CopyTo(MemoryMarshal.CreateSpan(ref dst, cols));
                        for (int jj = cols; jj < nr; jj++)
                            Unsafe.Add(ref dst, jj) = T.Zero;
                    }
                }
                else
                {
                    // B[p, j] = b[j·k + p]: each column of op(B) is a contiguous row of B. Transpose in
                    // blocks of Depth values of p so the destination block (Depth·NR) stays in L1.
                    const int Depth = 16;
                    for (int pb = 0; pb < kc; pb += Depth)
                    {
                        int depth = Math.Min(Depth, kc - pb);
                        ref T block = ref Unsafe.Add(ref panel, (nint)pb * nr);
                        int jj = 0;
                        if (Transpose8.Supported<T>())
                        {
                            // eight columns of op(B) (rows of B) × eight values of p, transposed in registers
                            for (; jj + 8 <= cols; jj += 8)
                            {
                                ref T src = ref Unsafe.Add(ref b, (nint)(j0 + jr + jj) * k + p0 + pb);
                                int p = 0;
                                for (; p + 8 <= depth; p += 8)
                                    Transpose8.Block(ref Unsafe.Add(ref src, p), k, ref Unsafe.Add(ref block, (nint)p * nr + jj), nr);
                                for (; p < depth; p++)
                                    for (int q = 0; q < 8; q++)
                                        Unsafe.Add(ref block, (nint)p * nr + jj + q) = Unsafe.Add(ref src, (nint)q * k + p);
                            }
                        }
                        for (; jj < cols; jj++)
                        {
                            ref T src = ref Unsafe.Add(ref b, (nint)(j0 + jr + jj) * k + p0 + pb);
                            ref T dst = ref Unsafe.Add(ref block, jj);
                            int p = 0;
                            for (; p + 4 <= depth; p += 4)
                            {
                                T x0 = Unsafe.Add(ref src, p), x1 = Unsafe.Add(ref src, p + 1);
                                T x2 = Unsafe.Add(ref src, p + 2), x3 = Unsafe.Add(ref src, p + 3);
                                Unsafe.Add(ref dst, (nint)p * nr) = x0;
                                Unsafe.Add(ref dst, (nint)(p + 1) * nr) = x1;
                                Unsafe.Add(ref dst, (nint)(p + 2) * nr) = x2;
                                Unsafe.Add(ref dst, (nint)(p + 3) * nr) = x3;
                            }
                            for (; p < depth; p++)
                                Unsafe.Add(ref dst, (nint)p * nr) = Unsafe.Add(ref src, p);
                        }
                    }
                    for (int jj = cols; jj < nr; jj++)
                    {
                        ref T dst = ref Unsafe.Add(ref panel, jj);
                        for (int p = 0; p < kc; p++)
                            Unsafe.Add(ref dst, (nint)p * nr) = T.Zero;
                    }
                }
            }
        }
    }

    /// <summary>An 8 × 8 block of floats transposed in AVX registers: dst[q·dstStride + r] = src[r·srcStride + q].
    /// Packing uses it where it would otherwise scatter element by element (rows of A into MR-interleaved panels,
    /// rows of a transposed B into NR-wide panels).</summary>
    internal static class Transpose8
    {
        /// <summary>Whether <see cref="Block{T}"/> runs for T here: float on AVX.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        internal static bool Supported<T>() => typeof(T) == typeof(float) && Avx.IsSupported;

        /// <summary>The block; only where <see cref="Supported{T}"/>.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        internal static void Block<T>(ref T src, nint srcStride, ref T dst, nint dstStride)
            where T : unmanaged =>
            Floats(ref Unsafe.As<T, float>(ref src), srcStride, ref Unsafe.As<T, float>(ref dst), dstStride);

        private static void Floats(ref float src, nint s, ref float dst, nint d)
        {
            var r0 = Vector256.LoadUnsafe(ref src);
            var r1 = Vector256.LoadUnsafe(ref Unsafe.Add(ref src, s));
            var r2 = Vector256.LoadUnsafe(ref Unsafe.Add(ref src, 2 * s));
            var r3 = Vector256.LoadUnsafe(ref Unsafe.Add(ref src, 3 * s));
            var r4 = Vector256.LoadUnsafe(ref Unsafe.Add(ref src, 4 * s));
            var r5 = Vector256.LoadUnsafe(ref Unsafe.Add(ref src, 5 * s));
            var r6 = Vector256.LoadUnsafe(ref Unsafe.Add(ref src, 6 * s));
            var r7 = Vector256.LoadUnsafe(ref Unsafe.Add(ref src, 7 * s));
            // pairs of rows interleaved, then quads, then the 128-bit halves exchanged
            var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
            var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
            var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5);
            var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);
            var u0 = Avx.Shuffle(t0, t2, 0x44); var u1 = Avx.Shuffle(t0, t2, 0xEE);
            var u2 = Avx.Shuffle(t1, t3, 0x44); var u3 = Avx.Shuffle(t1, t3, 0xEE);
            var u4 = Avx.Shuffle(t4, t6, 0x44); var u5 = Avx.Shuffle(t4, t6, 0xEE);
            var u6 = Avx.Shuffle(t5, t7, 0x44); var u7 = Avx.Shuffle(t5, t7, 0xEE);
            Avx.Permute2x128(u0, u4, 0x20).StoreUnsafe(ref dst);
            Avx.Permute2x128(u1, u5, 0x20).StoreUnsafe(ref Unsafe.Add(ref dst, d));
            Avx.Permute2x128(u2, u6, 0x20).StoreUnsafe(ref Unsafe.Add(ref dst, 2 * d));
            Avx.Permute2x128(u3, u7, 0x20).StoreUnsafe(ref Unsafe.Add(ref dst, 3 * d));
            Avx.Permute2x128(u0, u4, 0x31).StoreUnsafe(ref Unsafe.Add(ref dst, 4 * d));
            Avx.Permute2x128(u1, u5, 0x31).StoreUnsafe(ref Unsafe.Add(ref dst, 5 * d));
            Avx.Permute2x128(u2, u6, 0x31).StoreUnsafe(ref Unsafe.Add(ref dst, 6 * d));
            Avx.Permute2x128(u3, u7, 0x31).StoreUnsafe(ref Unsafe.Add(ref dst, 7 * d));
        }
    }
}
