using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Backprop.Functional.Kernels;

public static partial class Gemm
{
    /// <summary>
    /// Packing of op(A) and op(B) blocks into the panel layouts the micro-kernel streams:
    /// Ã[r][p][ii] = op(A)[i₀ + r·MR + ii, p₀ + p] and B̃[s][p][jj] = op(B)[p₀ + p, j₀ + s·NR + jj],
    /// zero-padded to whole panels so that edge tiles run the same kernel.
    /// </summary>
    internal static class Packing<T>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        /// <summary>
        /// Ã ← op(A)[i₀ .. i₀+mc, p₀ .. p₀+kc) as ⌈mc/MR⌉ panels of MR·kc values.
        /// op(A) is [m × k]; A is stored [m × k] or, if <paramref name="transposeA"/>, [k × m].
        /// </summary>
        internal static void PackA(ref T a, bool transposeA, int m, int k, int i0, int mc, int p0, int kc, ref T packed)
        {
            int mr = MicroKernel<T>.MR;
            for (int ir = 0; ir < mc; ir += mr)
            {
                int rows = Math.Min(mr, mc - ir);
                ref T panel = ref Unsafe.Add(ref packed, (nint)ir * kc);
                if (!transposeA)
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
                        for (; ii < rows; ii++)
                            Unsafe.Add(ref dst, ii) = Unsafe.Add(ref src, ii);
                        for (; ii < mr; ii++)
                            Unsafe.Add(ref dst, ii) = T.Zero;
                    }
                }
            }
        }

        /// <summary>
        /// B̃ ← op(B)[p₀ .. p₀+kc, j₀ .. j₀+nc) as ⌈nc/NR⌉ panels of kc·NR values.
        /// op(B) is [k × n]; B is stored [k × n] or, if <paramref name="transposeB"/>, [n × k].
        /// </summary>
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
                        for (int jj = 0; jj < cols; jj++)
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
}
