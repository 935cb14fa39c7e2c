using System.Globalization;
using System.Numerics;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Backprop.Functional.Kernels;
using FsCheck;
using FsCheck.Fluent;
using Xunit;

namespace Backprop.Functional.Tests.Kernels;

/// <summary>The direct A·Bᵀ (dot) tiles: six-, four- and one-row tiles of A against four rows of B, or one. Each element
/// of C is its W-wide accumulator over k's blocks in order, the masked tail last, then the lane sum in the runtime's order
/// (<see cref="Gemm.Sums512"/> takes sixteen such sums at once for 512-bit floats). Whatever tile computes an element,
/// its bits are the same: so a row's bits do not depend on how many rows its product has, nor on how the product is split
/// over threads (by groups of four rows of B).</summary>
[Collection(RunsAlone.Name)]
public sealed class DotTileTests
{
    /// <summary>Products of 1–70 rows of A (every six-, four- and one-row remainder, and above the dot tiles' 64 rows,
    /// where the packed path takes over), 1–40 rows of B, k from 129 (deeper than the shallow A·Bᵀ route) to 1100 with and
    /// without a masked tail; C accumulated into or not; float and double: each row equals the same row computed as a
    /// one-row product bit for bit, 2 and 8 threads give the one-thread bits, and every element is within the summation
    /// error bound of a double-precision reference.</summary>
    [SkippableFact]
    public void Multiply_DotTiles_RowsAndThreadSplitsGiveTheSameBits()
    {
        Skip.IfNot(Vector256.IsHardwareAccelerated,
            "the dot tiles run on 256- or 512-bit vectors; with 128-bit vectors at most a product's route depends on its size");
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(120), Prop.ForAll(
            Arb.From(from m in Gen.Choose(1, 70)
                     from n in Gen.Choose(1, 40)
                     from k in Gen.Choose(129, 1100)
                     from accumulate in Gen.Elements(false, true)
                     from seed in Gen.Choose(0, 1_000_000)
                     select (m, n, k, accumulate, seed)),
            t =>
            {
                SameBits<float>(t.m, t.n, t.k, t.accumulate, t.seed);
                SameBits<double>(t.m, t.n, t.k, t.accumulate, t.seed);
            }));
    }

    /// <summary>The W2 forward product and its neighbours (m = 60–64 around the six-row tiles' remainders, k = 784 with no
    /// tail and 790 with one), with the threads split.</summary>
    [SkippableTheory]
    [InlineData(64, 128, 784)]
    [InlineData(63, 128, 784)]
    [InlineData(62, 130, 790)]
    [InlineData(61, 129, 790)]
    [InlineData(60, 128, 784)]
    public void Multiply_W2Forward_SameBitsForEveryRowCountAndThreadCount(int m, int n, int k)
    {
        Skip.IfNot(Vector256.IsHardwareAccelerated, "the dot tiles run on 256- or 512-bit vectors");
        SameBits<float>(m, n, k, accumulate: true, seed: m + n + k);
        SameBits<double>(m, n, k, accumulate: false, seed: m * n + k);
    }

    /// <summary><see cref="Gemm.Sums512.Sum16"/> and <see cref="Gemm.Sums512.Sum8"/>: lane i is Vector512.Sum(vᵢ) bit for
    /// bit, for values over the whole exponent range, signed zeros, subnormals and infinities (NaN only as NaN: which
    /// NaN's payload survives an add is the hardware's choice).</summary>
    [SkippableFact]
    public void Sums512_EqualVector512SumBitForBit()
    {
        Skip.IfNot(Vector512.IsHardwareAccelerated && Avx512F.IsSupported, "the batched sums are AVX-512 code");
        Gen<float> value = Gen.Frequency(
            (20, from mantissa in Gen.Choose(-1 << 23, 1 << 23) from exponent in Gen.Choose(-40, 40)
                 select (float)Math.ScaleB(mantissa, exponent - 23)),
            (1, Gen.Elements(0f, -0f, float.Epsilon, -float.Epsilon, float.MaxValue, float.PositiveInfinity, float.NegativeInfinity, float.NaN)));
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(2000), Prop.ForAll(
            Arb.From(Gen.ArrayOf(value, 256)),
            lanes =>
            {
                var v = new Vector512<float>[16];
                for (int i = 0; i < 16; i++)
                    v[i] = Vector512.Create(lanes.AsSpan(16 * i, 16));
                Vector512<float> s16 = Gemm.Sums512.Sum16(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11],
                    v[12], v[13], v[14], v[15]);
                Vector512<float> s8 = Gemm.Sums512.Sum8(v[8], v[9], v[10], v[11], v[12], v[13], v[14], v[15]);
                for (int i = 0; i < 16; i++)
                {
                    SameSum(Vector512.Sum(v[i]), s16[i], i, "Sum16");
                    if (i >= 8)
                        SameSum(Vector512.Sum(v[i]), s8[i - 8], i, "Sum8");
                }
            }));
    }

    private static void SameSum(float expected, float actual, int lane, string name)
    {
        if (float.IsNaN(expected) ? !float.IsNaN(actual) : BitConverter.SingleToInt32Bits(expected) != BitConverter.SingleToInt32Bits(actual))
            throw new Xunit.Sdk.XunitException(string.Create(CultureInfo.InvariantCulture,
                $"{name} lane {lane}: {actual:R}, Vector512.Sum gives {expected:R}"));
    }

    private static void SameBits<T>(int m, int n, int k, bool accumulate, int seed)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var plan = Gemm.Plan<T>(m, n, k, transposeA: false, transposeB: true, threads: 2);
        bool dot = plan.Kernel == GemmKernel.DotTiles;
        Assert.True(dot || m > 64, $"{plan} does not run the dot tiles");
        (T[] a, T[] b, T[] c0) = GemmProperties.Operands<T>(new GemmCase(m, n, k, false, true, accumulate, seed));
        T[] one = (T[])c0.Clone();
        Gemm.Multiply<T>(a, false, b, true, one, m, n, k, accumulate, threads: 1);
        foreach (int threads in new[] { 2, 8 })
        {
            T[] split = (T[])c0.Clone();
            Gemm.Multiply<T>(a, false, b, true, split, m, n, k, accumulate, threads);
            for (int i = 0; i < one.Length; i++)
                if (!one[i].Equals(split[i]))
                    Fail($"{threads} threads give C[{i / n},{i % n}] = {split[i]:R}, one thread {one[i]:R}");
        }
        double u = typeof(T) == typeof(float) ? Math.ScaleB(1, -24) : Math.ScaleB(1, -53);
        for (int i = 0; i < m; i++)
        {
            if (dot)
            {
                T[] row = c0[(i * n)..((i + 1) * n)];
                Gemm.Multiply<T>(a.AsSpan(i * k, k), false, b, true, row, 1, n, k, accumulate, threads: 1);
                for (int j = 0; j < n; j++)
                    if (!row[j].Equals(one[i * n + j]))
                        Fail($"C[{i},{j}] = {one[i * n + j]:R}, the row alone {row[j]:R}");
            }
            for (int j = 0; j < n; j++)
            {
                double sum = accumulate ? double.CreateTruncating(c0[i * n + j]) : 0, magnitude = Math.Abs(sum);
                for (int p = 0; p < k; p++)
                {
                    double term = double.CreateTruncating(a[i * k + p]) * double.CreateTruncating(b[j * k + p]);
                    sum += term;
                    magnitude += Math.Abs(term);
                }
                double actual = double.CreateTruncating(one[i * n + j]), tolerance = 2 * (k + 2) * u * magnitude;
                if (!(Math.Abs(actual - sum) <= tolerance))
                    Fail($"C[{i},{j}] = {actual:R}, expected {sum:R} ± {tolerance:G3}");
            }
        }

        void Fail(string what) => throw new Xunit.Sdk.XunitException(string.Create(CultureInfo.InvariantCulture,
            $"{typeof(T).Name} A[{m} × {k}]·Bᵀ[{k} × {n}] ({(accumulate ? "accumulated" : "overwritten")}, seed {seed}): {what}"));
    }
}
