using System.Globalization;
using Backprop.Functional.Kernels;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace Backprop.Functional.Tests.Kernels;

/// <summary>Packing of op(A) against its definition, Ã[r][p][ii] = op(A)[i₀ + r·MR + ii, p₀ + p] (0 past the block), for
/// A stored either way, over random blocks: in particular the transposed float path with MR = 6 under AVX2, whose 8-wide
/// stores spill into the next p.</summary>
public sealed class PackingProperties
{
    private static Gen<(int M, int K, int I0, int Mc, int P0, int Kc, bool T, int Seed)> Blocks =>
        from m in Gen.Choose(1, 80)
        from k in Gen.Choose(1, 40)
        from i0 in Gen.Choose(0, m - 1)
        from mc in Gen.Choose(1, m - i0)
        from p0 in Gen.Choose(0, k - 1)
        from kc in Gen.Choose(1, k - p0)
        from t in Gen.Elements(false, true)
        from seed in Gen.Choose(0, 1_000_000)
        select (m, k, i0, mc, p0, kc, t, seed);

    [Property(MaxTest = 300)]
    public Property PackA_float_matches_definition() =>
        Prop.ForAll(Blocks.ToArbitrary(), b => Check<float>(b.M, b.K, b.I0, b.Mc, b.P0, b.Kc, b.T, b.Seed));

    [Property(MaxTest = 100)]
    public Property PackA_double_matches_definition() =>
        Prop.ForAll(Blocks.ToArbitrary(), b => Check<double>(b.M, b.K, b.I0, b.Mc, b.P0, b.Kc, b.T, b.Seed));

    private static void Check<T>(int m, int k, int i0, int mc, int p0, int kc, bool transposed, int seed)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        int mr = Gemm.MicroKernel<T>.MR, panels = (mc + mr - 1) / mr;
        var rng = new Random(seed);
        var a = new T[m * k];
        for (int q = 0; q < a.Length; q++) a[q] = T.CreateChecked(rng.Next(1, 1000));
        var packed = new T[panels * mr * kc + 8];   // 8 guard values after the panels
        packed.AsSpan().Fill(T.CreateChecked(-1));
        Gemm.Packing<T>.PackA(ref a[0], transposed, m, k, i0, mc, p0, kc, ref packed[0]);
        for (int r = 0; r < panels; r++)
            for (int p = 0; p < kc; p++)
                for (int ii = 0; ii < mr; ii++)
                {
                    int i = i0 + r * mr + ii, col = p0 + p;
                    T want = r * mr + ii < mc ? (transposed ? a[col * m + i] : a[i * k + col]) : T.Zero;
                    T got = packed[(r * kc + p) * mr + ii];
                    if (got != want)
                        throw new Xunit.Sdk.XunitException(string.Create(CultureInfo.InvariantCulture,
                            $"{typeof(T).Name} A [{m} × {k}]{(transposed ? " stored transposed" : "")}, block rows {i0}+{mc}, depth {p0}+{kc}: Ã panel {r}, p {p}, row {ii} is {got}, want {want}"));
                }
        for (int q = panels * mr * kc; q < packed.Length; q++)
            if (packed[q] != T.CreateChecked(-1))
                throw new Xunit.Sdk.XunitException($"{typeof(T).Name}: PackA wrote past its panels at {q - panels * mr * kc}");
    }
}
