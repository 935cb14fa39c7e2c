using System.Globalization;
using System.Numerics.Tensors;
using Backprop.Functional.Kernels;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace Backprop.Functional.Tests.Curvature;

/// <summary>A system large enough for the conjugate gradient's vector work to run on two threads: n unknowns past
/// <see cref="CgVectors{T}.ParallelMinimum"/>, B = diag(a) + uuᵀ (positive definite), CG run for <c>Steps</c>.</summary>
public sealed record CgLargeCase(int N, int Steps, bool Damped, bool Warm, bool Preconditioned, int Seed)
{
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"n {N} ({(N + CgVectors<float>.Chunk - 1) / CgVectors<float>.Chunk} chunks), {Steps} steps, {(Damped ? "λ > 0" : "λ = 0")}, {(Warm ? "warm" : "cold")}, {(Preconditioned ? "M = diag" : "M = I")}, seed {Seed}");
}

/// <summary>The conjugate gradient's fused vector passes (<see cref="CgVectors{T}"/>): the same bits on one and two
/// threads, the textbook updates element by element, the dot products to double precision, and no allocation on either
/// thread.</summary>
[Collection(RunsAlone.Name)]   // the two-thread solves need the GEMM pool to themselves, or they run on one thread
public sealed class CgVectorsTests
{
    private static readonly Arbitrary<CgLargeCase> Cases = Arb.From(
        from extra in Gen.Choose(0, (3 * CgVectors<float>.Chunk) + 17)
        from steps in Gen.Choose(1, 12)
        from damped in Gen.Elements(false, true)
        from warm in Gen.Elements(false, true)
        from pre in Gen.Elements(false, true)
        from seed in Gen.Choose(0, 1_000_000)
        select new CgLargeCase(CgVectors<float>.ParallelMinimum + extra, steps, damped, warm, pre, seed));

    /// <summary>One thread and two give the same iterates, the same kept iterates and the same φ at every iteration, bit
    /// for bit, in float and double: each chunk's sums are taken whole by one thread and added in chunk order. The
    /// two-thread solve must really have run on the pool (the pool was not refused).</summary>
    [Property(MaxTest = 25)]
    public Property Solve_OneAndTwoThreads_SameBits() => Prop.ForAll(Cases, c =>
    {
        long refused = Gemm.Pool.Refused;
        string? f = Compare<float>(c), d = Compare<double>(c);
        Assert.Equal(refused, Gemm.Pool.Refused);
        return (f is null && d is null).Label($"{c}: {f ?? d}");
    });

    /// <summary>Each pass is the textbook sequence: Bp + λp and pᵀ(Bp + λp); d + αp, r − α·Bp, r/m (or r) element by
    /// element as the separate <see cref="TensorPrimitives"/> calls give them, and rᵀz, dᵀb, dᵀr within 10⁻¹² of a
    /// double sum in index order; then z + βp.</summary>
    [Theory]
    [InlineData(1, true)]
    [InlineData(1, false)]
    [InlineData(2, true)]
    [InlineData(2, false)]
    public void Passes_EqualTheTextbookUpdates(int threads, bool preconditioned)
    {
        int n = CgVectors<double>.ParallelMinimum + 1234;
        var rng = new Random(7);
        double[] p = Vector(rng, n), bp = Vector(rng, n), d = Vector(rng, n), r = Vector(rng, n), b = Vector(rng, n);
        double[] m = preconditioned ? Vector(rng, n, 0.5, 2) : [];
        double[] z = new double[n];
        double lambda = 0.3, alpha = 0.7, beta = 0.4;
        var v = new CgVectors<double>(n, threads);

        double[] bpExpected = (double[])bp.Clone();
        TensorPrimitives.MultiplyAdd(p, lambda, bpExpected, bpExpected);
        double curvature = v.DampAndCurvature(p, bp, lambda);
        Assert.Equal(bpExpected, bp);
        AssertClose(Dot(p, bpExpected), curvature, "pᵀ(B + λI)p");

        double[] dExpected = (double[])d.Clone(), rExpected = (double[])r.Clone();
        TensorPrimitives.MultiplyAdd(p, alpha, dExpected, dExpected);
        TensorPrimitives.MultiplyAdd(bp, -alpha, rExpected, rExpected);
        double[] zExpected = preconditioned ? new double[n] : rExpected;
        if (preconditioned) TensorPrimitives.Divide(rExpected, m, zExpected);
        var (rz, db, dr) = v.Advance(alpha, p, bp, d, r, m, z, b);
        Assert.Equal(dExpected, d);
        Assert.Equal(rExpected, r);
        if (preconditioned) Assert.Equal(zExpected, z);
        AssertClose(Dot(rExpected, zExpected), rz, "rᵀz");
        AssertClose(Dot(dExpected, b), db, "dᵀb");
        AssertClose(Dot(dExpected, rExpected), dr, "dᵀr");

        double[] pExpected = (double[])p.Clone();
        TensorPrimitives.MultiplyAdd(pExpected, beta, zExpected, pExpected);
        v.Direction(beta, zExpected, p);
        Assert.Equal(pExpected, p);
    }

    /// <summary>A two-thread solve large enough to use the pool allocates nothing once warm, on either thread.</summary>
    [Fact]
    public void Solve_TwoThreads_AllocatesNothingInSteadyState()
    {
        var c = new CgLargeCase(CgVectors<float>.ParallelMinimum + 999, 8, true, false, true, 5);
        var (op, b, m, _, lambda) = Build<float>(c);
        float[] d = new float[c.N];
        using var cg = new ConjugateGradient<float>(c.N, new ConjugateGradientOptions(MaxIterations: c.Steps, ProgressTolerance: 0), threads: 2);
        Assert.Equal(0L, SteadyState.AllocatedBytes(() =>
        {
            d.AsSpan().Clear();
            cg.Solve(ref op, b, lambda, d, m);
        }, windows: 5, callsPerWindow: 3));
    }

    private static string? Compare<T>(CgLargeCase c) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var (op, b, m, x0, lambda) = Build<T>(c);
        var options = new ConjugateGradientOptions(MaxIterations: c.Steps, ProgressTolerance: 0, KeepFirst: 1);
        using var one = new ConjugateGradient<T>(c.N, options, threads: 1);
        using var two = new ConjugateGradient<T>(c.N, options, threads: 2);
        T[] d1 = (T[])x0.Clone(), d2 = (T[])x0.Clone();
        var r1 = one.Solve(ref op, b, lambda, d1, m);
        var r2 = two.Solve(ref op, b, lambda, d2, m);
        string type = typeof(T).Name;
        if (r1 != r2) return $"{type}: {r1} against {r2}";
        if (!d1.AsSpan().SequenceEqual(d2)) return $"{type}: the final iterates differ";
        for (int i = 0; i <= r1.Iterations; i++)
            if (one.Objective(i) != two.Objective(i)) return $"{type}: φ at iteration {i} is {one.Objective(i):R} against {two.Objective(i):R}";
        if (one.KeptCount != two.KeptCount) return $"{type}: {one.KeptCount} kept iterates against {two.KeptCount}";
        for (int k = 0; k < one.KeptCount; k++)
            if (!one.Kept(k).SequenceEqual(two.Kept(k))) return $"{type}: kept iterate {k} differs";
        return null;
    }

    private static (DiagonalPlusRankOne<T> Op, T[] B, T[] M, T[] X0, T Lambda) Build<T>(CgLargeCase c)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var rng = new Random(c.Seed);
        T[] Make(double lo, double hi)
        {
            var v = new T[c.N];
            for (int i = 0; i < v.Length; i++) v[i] = T.CreateChecked(lo + ((hi - lo) * rng.NextDouble()));
            return v;
        }
        T[] a = Make(0.1, 3), u = Make(-0.01, 0.01), b = Make(-1, 1);
        T[] m = c.Preconditioned ? Make(0.5, 2) : [];
        T[] x0 = c.Warm ? Make(-0.1, 0.1) : new T[c.N];
        T lambda = c.Damped ? T.CreateChecked(0.05 + rng.NextDouble()) : T.Zero;
        return (new DiagonalPlusRankOne<T>(a, u), b, m, x0, lambda);
    }

    private static double[] Vector(Random rng, int n, double lo = -1, double hi = 1)
    {
        var v = new double[n];
        for (int i = 0; i < n; i++) v[i] = lo + ((hi - lo) * rng.NextDouble());
        return v;
    }

    private static double Dot(double[] a, double[] b)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++) s += a[i] * b[i];
        return s;
    }

    private static void AssertClose(double expected, double actual, string what) =>
        Assert.True(Math.Abs(expected - actual) <= 1e-12 * Math.Max(1, Math.Abs(expected)), $"{what}: {actual:R} against {expected:R}");

    /// <summary>v ↦ diag(a)v + u(uᵀv), symmetric positive definite for a &gt; 0.</summary>
    private readonly struct DiagonalPlusRankOne<T>(T[] a, T[] u) : ILinearOperator<T>
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        public void Apply(ReadOnlySpan<T> v, Span<T> result)
        {
            T uv = TensorPrimitives.Dot<T>(u, v);
            TensorPrimitives.Multiply(a, v, result);
            TensorPrimitives.MultiplyAdd(u, uv, result, result);
        }
    }
}
