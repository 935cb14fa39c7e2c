using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Backprop.Functional.Kernels;

public static partial class Gemm
{
    /// <summary>
    /// Register-blocked micro-kernel over packed panels:
    /// C[MR × NR] ← (add ? C : 0) + Σₚ Ã[p, 0..MR) ⊗ B̃[p, 0..NR), where Ã is an MR-row panel stored
    /// k-major (MR values per p) and B̃ an NR-column panel stored k-major (NR values per p).
    /// The whole MR × NR block of C lives in vector registers for the length of the k loop.
    /// Each C element is the FMA chain over p in increasing order, so results are independent of
    /// which tile or thread computes them.
    /// </summary>
    internal static class MicroKernel<T>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        /// <summary>Rows of C per micro-tile (broadcast operand Ã).</summary>
        internal static int MR
        {
            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            get => Vector512.IsHardwareAccelerated ? 8
                 : Vector256.IsHardwareAccelerated || Vector128.IsHardwareAccelerated ? 6
                 : 4;
        }

        /// <summary>Columns of C per micro-tile (vector operand B̃): two vectors wide.</summary>
        internal static int NR
        {
            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            get => Vector512.IsHardwareAccelerated ? 2 * Vector512<T>.Count
                 : Vector256.IsHardwareAccelerated ? 2 * Vector256<T>.Count
                 : Vector128.IsHardwareAccelerated ? 2 * Vector128<T>.Count
                 : 4;
        }

        /// <summary>C[MR × NR] (row stride <paramref name="ldc"/>) ← (add ? C : 0) + Ã·B̃ over <paramref name="kc"/> steps.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        internal static void Run(ref T a, ref T b, int kc, ref T c, nint ldc, bool add) =>
            RunLive(ref a, ref b, default, 0, kc, ref c, ldc, add);

        /// <summary><see cref="Run"/> with the steps p &lt; <paramref name="sparse"/> that are not in <paramref name="live"/>
        /// (ascending) skipped: Ã is zero there in every row (an LSTM's [xₜ | hₜ₋₁] panel over MNIST pixels or one-hot
        /// characters). Each element is still the chain over p in increasing order, so the bits are
        /// <see cref="Run"/>'s whenever B̃ is finite (a skipped 0·w adds nothing, except to a sum that is exactly −0, which
        /// stays −0); without 256-bit vectors it runs every step.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        internal static void RunLive(ref T a, ref T b, ReadOnlySpan<int> live, int sparse, int kc, ref T c, nint ldc, bool add)
        {
            if (Vector512.IsHardwareAccelerated)
                RunTile<Wide512<T>, Vector512<T>>(ref a, ref b, live, sparse, kc, ref c, ldc, add);
            else if (Vector256.IsHardwareAccelerated)
                RunTile<Wide256<T>, Vector256<T>>(ref a, ref b, live, sparse, kc, ref c, ldc, add);
            else if (Vector128.IsHardwareAccelerated)
                Run128(ref a, ref b, kc, ref c, ldc, add);
            else
                RunScalar(ref a, ref b, kc, ref c, ldc, add);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        internal static Vector512<T> Fma(Vector512<T> x, Vector512<T> y, Vector512<T> z)
        {
            if (typeof(T) == typeof(float))
                return Vector512.FusedMultiplyAdd(x.AsSingle(), y.AsSingle(), z.AsSingle()).As<float, T>();
            return Vector512.FusedMultiplyAdd(x.AsDouble(), y.AsDouble(), z.AsDouble()).As<double, T>();
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        internal static Vector256<T> Fma(Vector256<T> x, Vector256<T> y, Vector256<T> z)
        {
            if (typeof(T) == typeof(float))
                return Vector256.FusedMultiplyAdd(x.AsSingle(), y.AsSingle(), z.AsSingle()).As<float, T>();
            return Vector256.FusedMultiplyAdd(x.AsDouble(), y.AsDouble(), z.AsDouble()).As<double, T>();
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector128<T> Fma(Vector128<T> x, Vector128<T> y, Vector128<T> z)
        {
            if (typeof(T) == typeof(float))
                return Vector128.FusedMultiplyAdd(x.AsSingle(), y.AsSingle(), z.AsSingle()).As<float, T>();
            return Vector128.FusedMultiplyAdd(x.AsDouble(), y.AsDouble(), z.AsDouble()).As<double, T>();
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Store<TW, TV>(ref T c, TV v0, TV v1, bool add)
            where TW : struct, IVectorWidth<TV, T>
            where TV : struct
        {
            nuint w = (nuint)TW.Count;
            if (add)
            {
                v0 = TW.Add(TW.Load(ref c, 0), v0);
                v1 = TW.Add(TW.Load(ref c, w), v1);
            }
            TW.Store(v0, ref c, 0);
            TW.Store(v1, ref c, w);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Store(ref T c, Vector128<T> v0, Vector128<T> v1, bool add)
        {
            nuint w = (nuint)Vector128<T>.Count;
            if (add)
            {
                v0 = Vector128.LoadUnsafe(ref c) + v0;
                v1 = Vector128.LoadUnsafe(ref c, w) + v1;
            }
            v0.StoreUnsafe(ref c);
            v1.StoreUnsafe(ref c, w);
        }

        /// <summary>Whether <see cref="RunHalf"/> has a kernel here (AVX-512); elsewhere edge tiles run the full kernel.</summary>
        internal static bool HasHalf => Vector512.IsHardwareAccelerated && MR == 8;

        /// <summary>C[MR × W] ← (add ? C : 0) + Ã·B̃[.., 0..W) for an edge tile at most one vector wide: the first W
        /// columns of the NR-wide packed panel, half the work of <see cref="Run"/> and the same FMA chain per element.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        internal static void RunHalf(ref T a, ref T b, int kc, ref T c, nint ldc, bool add)
        {
            nint nr = NR;
            Vector512<T> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default, c6 = default, c7 = default;
            for (int p = 0; p < kc; p++)
            {
                Vector512<T> b0 = Vector512.LoadUnsafe(ref b);
                c0 = Fma(Vector512.Create(a), b0, c0);
                c1 = Fma(Vector512.Create(Unsafe.Add(ref a, 1)), b0, c1);
                c2 = Fma(Vector512.Create(Unsafe.Add(ref a, 2)), b0, c2);
                c3 = Fma(Vector512.Create(Unsafe.Add(ref a, 3)), b0, c3);
                c4 = Fma(Vector512.Create(Unsafe.Add(ref a, 4)), b0, c4);
                c5 = Fma(Vector512.Create(Unsafe.Add(ref a, 5)), b0, c5);
                c6 = Fma(Vector512.Create(Unsafe.Add(ref a, 6)), b0, c6);
                c7 = Fma(Vector512.Create(Unsafe.Add(ref a, 7)), b0, c7);
                a = ref Unsafe.Add(ref a, 8);
                b = ref Unsafe.Add(ref b, nr);
            }
            Put(ref c, c0, add);
            Put(ref Unsafe.Add(ref c, ldc), c1, add);
            Put(ref Unsafe.Add(ref c, 2 * ldc), c2, add);
            Put(ref Unsafe.Add(ref c, 3 * ldc), c3, add);
            Put(ref Unsafe.Add(ref c, 4 * ldc), c4, add);
            Put(ref Unsafe.Add(ref c, 5 * ldc), c5, add);
            Put(ref Unsafe.Add(ref c, 6 * ldc), c6, add);
            Put(ref Unsafe.Add(ref c, 7 * ldc), c7, add);
        }

        /// <summary><see cref="RunHalf"/> for edges at most a quarter of NR wide (one 256-bit vector): n = 70 and 100 leave
        /// 6 and 4 columns.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        internal static void RunQuarter(ref T a, ref T b, int kc, ref T c, nint ldc, bool add)
        {
            nint nr = NR;
            Vector256<T> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default, c6 = default, c7 = default;
            for (int p = 0; p < kc; p++)
            {
                Vector256<T> b0 = Vector256.LoadUnsafe(ref b);
                c0 = Fma(Vector256.Create(a), b0, c0);
                c1 = Fma(Vector256.Create(Unsafe.Add(ref a, 1)), b0, c1);
                c2 = Fma(Vector256.Create(Unsafe.Add(ref a, 2)), b0, c2);
                c3 = Fma(Vector256.Create(Unsafe.Add(ref a, 3)), b0, c3);
                c4 = Fma(Vector256.Create(Unsafe.Add(ref a, 4)), b0, c4);
                c5 = Fma(Vector256.Create(Unsafe.Add(ref a, 5)), b0, c5);
                c6 = Fma(Vector256.Create(Unsafe.Add(ref a, 6)), b0, c6);
                c7 = Fma(Vector256.Create(Unsafe.Add(ref a, 7)), b0, c7);
                a = ref Unsafe.Add(ref a, 8);
                b = ref Unsafe.Add(ref b, nr);
            }
            Put(ref c, c0, add);
            Put(ref Unsafe.Add(ref c, ldc), c1, add);
            Put(ref Unsafe.Add(ref c, 2 * ldc), c2, add);
            Put(ref Unsafe.Add(ref c, 3 * ldc), c3, add);
            Put(ref Unsafe.Add(ref c, 4 * ldc), c4, add);
            Put(ref Unsafe.Add(ref c, 5 * ldc), c5, add);
            Put(ref Unsafe.Add(ref c, 6 * ldc), c6, add);
            Put(ref Unsafe.Add(ref c, 7 * ldc), c7, add);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Put(ref T c, Vector256<T> v, bool add) => (add ? Vector256.LoadUnsafe(ref c) + v : v).StoreUnsafe(ref c);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Put(ref T c, Vector512<T> v, bool add) => (add ? Vector512.LoadUnsafe(ref c) + v : v).StoreUnsafe(ref c);

        /// <summary>MR × (2·W) tile, one body for both wide forms: with 512-bit vectors 8 rows (16 zmm accumulators, 2 B̃
        /// loads and 8 broadcasts per k step), with 256-bit ones 6 rows (12 ymm accumulators, within AVX2's 16
        /// registers). The row count is a constant of <typeparamref name="TW"/>, so each form compiles to its own
        /// straight-line loop.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void RunTile<TW, TV>(ref T aStart, ref T bStart, ReadOnlySpan<int> live, int sparse, int kc, ref T c, nint ldc, bool add)
            where TW : struct, IVectorWidth<TV, T>
            where TV : struct
        {
            bool eight = TW.Count * Unsafe.SizeOf<T>() == 64;   // 512-bit vectors: a JIT-time constant
            nuint w = (nuint)TW.Count;
            TV c00 = default, c01 = default, c10 = default, c11 = default;
            TV c20 = default, c21 = default, c30 = default, c31 = default;
            TV c40 = default, c41 = default, c50 = default, c51 = default;
            TV c60 = default, c61 = default, c70 = default, c71 = default;
            // the listed steps below `sparse`, then every step from `sparse` on (one loop body for both; a dense tile has
            // no list and sparse = 0: one segment)
            for (int q = 0; q <= live.Length; q++)
            {
                int p = q < live.Length ? live[q] : sparse;
                int end = q < live.Length ? p + 1 : kc;
                ref T a = ref Unsafe.Add(ref aStart, p * (eight ? 8 : 6));
                ref T b = ref Unsafe.Add(ref bStart, (nint)p * 2 * (nint)w);
                for (; p < end; p++)
                {
                    TV b0 = TW.Load(ref b, 0);
                    TV b1 = TW.Load(ref b, w);
                    TV x = TW.Broadcast(a);
                    c00 = TW.Fma(x, b0, c00); c01 = TW.Fma(x, b1, c01);
                    x = TW.Broadcast(Unsafe.Add(ref a, 1));
                    c10 = TW.Fma(x, b0, c10); c11 = TW.Fma(x, b1, c11);
                    x = TW.Broadcast(Unsafe.Add(ref a, 2));
                    c20 = TW.Fma(x, b0, c20); c21 = TW.Fma(x, b1, c21);
                    x = TW.Broadcast(Unsafe.Add(ref a, 3));
                    c30 = TW.Fma(x, b0, c30); c31 = TW.Fma(x, b1, c31);
                    x = TW.Broadcast(Unsafe.Add(ref a, 4));
                    c40 = TW.Fma(x, b0, c40); c41 = TW.Fma(x, b1, c41);
                    x = TW.Broadcast(Unsafe.Add(ref a, 5));
                    c50 = TW.Fma(x, b0, c50); c51 = TW.Fma(x, b1, c51);
                    if (eight)
                    {
                        x = TW.Broadcast(Unsafe.Add(ref a, 6));
                        c60 = TW.Fma(x, b0, c60); c61 = TW.Fma(x, b1, c61);
                        x = TW.Broadcast(Unsafe.Add(ref a, 7));
                        c70 = TW.Fma(x, b0, c70); c71 = TW.Fma(x, b1, c71);
                    }
                    a = ref Unsafe.Add(ref a, eight ? 8 : 6);
                    b = ref Unsafe.Add(ref b, 2 * w);
                }
            }
            Store<TW, TV>(ref c, c00, c01, add); c = ref Unsafe.Add(ref c, ldc);
            Store<TW, TV>(ref c, c10, c11, add); c = ref Unsafe.Add(ref c, ldc);
            Store<TW, TV>(ref c, c20, c21, add); c = ref Unsafe.Add(ref c, ldc);
            Store<TW, TV>(ref c, c30, c31, add); c = ref Unsafe.Add(ref c, ldc);
            Store<TW, TV>(ref c, c40, c41, add); c = ref Unsafe.Add(ref c, ldc);
            Store<TW, TV>(ref c, c50, c51, add);
            if (eight)
            {
                c = ref Unsafe.Add(ref c, ldc);
                Store<TW, TV>(ref c, c60, c61, add); c = ref Unsafe.Add(ref c, ldc);
                Store<TW, TV>(ref c, c70, c71, add);
            }
        }

        /// <summary>6 × (2·W128) tile: 12 xmm accumulators.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void Run128(ref T a, ref T b, int kc, ref T c, nint ldc, bool add)
        {
            nuint w = (nuint)Vector128<T>.Count;
            Vector128<T> c00 = default, c01 = default, c10 = default, c11 = default;
            Vector128<T> c20 = default, c21 = default, c30 = default, c31 = default;
            Vector128<T> c40 = default, c41 = default, c50 = default, c51 = default;
            for (int p = 0; p < kc; p++)
            {
                Vector128<T> b0 = Vector128.LoadUnsafe(ref b);
                Vector128<T> b1 = Vector128.LoadUnsafe(ref b, w);
                Vector128<T> x = Vector128.Create(a);
                c00 = Fma(x, b0, c00); c01 = Fma(x, b1, c01);
                x = Vector128.Create(Unsafe.Add(ref a, 1));
                c10 = Fma(x, b0, c10); c11 = Fma(x, b1, c11);
                x = Vector128.Create(Unsafe.Add(ref a, 2));
                c20 = Fma(x, b0, c20); c21 = Fma(x, b1, c21);
                x = Vector128.Create(Unsafe.Add(ref a, 3));
                c30 = Fma(x, b0, c30); c31 = Fma(x, b1, c31);
                x = Vector128.Create(Unsafe.Add(ref a, 4));
                c40 = Fma(x, b0, c40); c41 = Fma(x, b1, c41);
                x = Vector128.Create(Unsafe.Add(ref a, 5));
                c50 = Fma(x, b0, c50); c51 = Fma(x, b1, c51);
                a = ref Unsafe.Add(ref a, 6);
                b = ref Unsafe.Add(ref b, 2 * w);
            }
            Store(ref c, c00, c01, add); c = ref Unsafe.Add(ref c, ldc);
            Store(ref c, c10, c11, add); c = ref Unsafe.Add(ref c, ldc);
            Store(ref c, c20, c21, add); c = ref Unsafe.Add(ref c, ldc);
            Store(ref c, c30, c31, add); c = ref Unsafe.Add(ref c, ldc);
            Store(ref c, c40, c41, add); c = ref Unsafe.Add(ref c, ldc);
            Store(ref c, c50, c51, add);
        }

        /// <summary>Portable 4 × 4 tile for hardware without SIMD acceleration.</summary>
        private static void RunScalar(ref T a, ref T b, int kc, ref T c, nint ldc, bool add)
        {
            const int Rows = 4, Cols = 4;
            for (int i = 0; i < Rows; i++)
            {
                for (int j = 0; j < Cols; j++)
                {
                    T s = T.Zero;
                    for (int p = 0; p < kc; p++)
                        s = T.FusedMultiplyAdd(Unsafe.Add(ref a, p * Rows + i), Unsafe.Add(ref b, p * Cols + j), s);
                    ref T cij = ref Unsafe.Add(ref c, i * ldc + j);
                    cij = add ? cij + s : s;
                }
            }
        }
    }
}
