using System.Globalization;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;
using static Backprop.Functional.Tests.Curvature.ConjugateGradientOracle;

namespace Backprop.Functional.Tests.Curvature;

/// <summary>One random system (A + λI)x = b: A = QᵀQ + 0.1 I, [n × n]; the warm start and the diagonal
/// preconditioner optional; CG run for <see cref="Steps"/> iterations.</summary>
public sealed record CgCase(int N, int Steps, bool Damped, bool Warm, bool Preconditioned, int Seed)
{
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"n {N}, {Steps} steps, {(Damped ? "λ > 0" : "λ = 0")}, {(Warm ? "warm" : "cold")}, {(Preconditioned ? "M = diag" : "M = I")}, seed {Seed}");
}

public sealed class ConjugateGradientTests
{
    private static readonly Arbitrary<CgCase> Cases = Arb.From(
        from n in Gen.Choose(1, 14)
        from steps in Gen.Choose(1, n)
        from damped in Gen.Elements(false, true)
        from warm in Gen.Elements(false, true)
        from pre in Gen.Elements(false, true)
        from seed in Gen.Choose(0, 1_000_000)
        select new CgCase(n, steps, damped, warm, pre, seed));

    /// <summary>Every kept iterate xⱼ (KeepFirst 1 keeps 1, 2, 3, 4, 5, 7, 9, 11, 14 and the last) and the final
    /// one minimise φ over x₀ + Kⱼ(M⁻¹(A + λI), M⁻¹r₀), as the dense Krylov basis says, to 10⁻⁷ of ‖x* − x₀‖ in the
    /// (A + λI)-norm CG minimises (rounding grows over the last iterations of a full run); φ is reported right.</summary>
    [Property(MaxTest = 300)]
    public Property Solve_RandomSpdSystems_IteratesAreTheKrylovMinimisers() => Prop.ForAll(Cases, c =>
    {
        var rng = new Random(c.Seed);
        int n = c.N;
        double[] a = RandomSpd(rng, n, 0.1);
        double[] b = Random(rng, n);
        double lambda = c.Damped ? rng.NextDouble() : 0;
        double[] x0 = c.Warm ? Random(rng, n) : new double[n];
        double[]? m = c.Preconditioned ? Random(rng, n, 0.5, 2) : null;
        using var cg = new ConjugateGradient<double>(n, new ConjugateGradientOptions(MaxIterations: c.Steps, ProgressTolerance: 0, KeepFirst: 1));
        var op = new MatrixOperator(a, n);
        double[] x = (double[])x0.Clone();
        var result = cg.Solve(ref op, b, lambda, x, m);
        double[] damped = Damped(a, n, lambda);

        double[] solution = Solve(damped, n, b);
        double scale = EnergyError(damped, n, solution, x0, 1);   // ‖x* − x₀‖_A: what CG reduces
        Assert.True(result.Iterations <= c.Steps, $"{c}: {result.Iterations} iterations");
        if (result.Iterations < c.Steps) Assert.Equal(ConjugateGradientStop.Residual, result.Stop);
        Assert.Equal(result.Iterations, cg.KeptIteration(cg.KeptCount - 1));
        Assert.Equal(x, cg.Kept(cg.KeptCount - 1).ToArray());
        for (int k = 0; k < cg.KeptCount; k++)
        {
            int j = cg.KeptIteration(k);
            double[] expected = KrylovMinimiser(damped, n, b, x0, m, j);
            double err = EnergyError(damped, n, cg.Kept(k), expected, scale);
            Assert.True(err < 1e-7, $"{c}: iterate {j} is {err:E2} from the Krylov minimiser");
            double phi = Phi(damped, n, b, cg.Kept(k));
            Assert.True(Math.Abs(cg.KeptObjective(k) - phi) <= 1e-9 * Math.Max(1, Math.Abs(phi)), $"{c}: φ {cg.KeptObjective(k)} vs {phi}");
        }
    });

    [Fact]
    public void Solve_AllIterations_ReachesTheDenseSolution()
    {
        var rng = new Random(7);
        const int n = 30;
        double[] a = RandomSpd(rng, n, 0.01);
        double[] b = Random(rng, n);
        using var cg = new ConjugateGradient<double>(n, new ConjugateGradientOptions(MaxIterations: 200, ProgressTolerance: 0, ResidualTolerance: 1e-12));
        var op = new MatrixOperator(a, n);
        double[] x = new double[n];
        var result = cg.Solve(ref op, b, 0.0, x);
        Assert.Equal(ConjugateGradientStop.Residual, result.Stop);
        Assert.True(MaxError(x, Solve(a, n, b)) < 1e-9);
    }

    /// <summary>Martens' rule stops at the first i with i &gt; k, φᵢ &lt; 0 and (φᵢ − φᵢ₋ₖ)/φᵢ &lt; kε, k = max(10, ⌈i/10⌉).</summary>
    [Fact]
    public void Solve_ProgressRule_StopsAtTheFirstIterationThatMeetsIt()
    {
        var rng = new Random(3);
        const int n = 400;
        double[] a = RandomSpd(rng, n, 1e-4);
        double[] b = Random(rng, n);
        const double eps = 5e-4;
        using var cg = new ConjugateGradient<double>(n);
        var op = new MatrixOperator(a, n);
        var result = cg.Solve(ref op, b, 0.0, new double[n]);
        Assert.Equal(ConjugateGradientStop.Progress, result.Stop);
        Assert.InRange(result.Iterations, 12, 249);
        for (int i = 1; i <= result.Iterations; i++)
        {
            int k = Math.Max(10, (int)Math.Ceiling(0.1 * i));
            double phi = cg.Objective(i);
            bool met = i > k && phi < 0 && (phi - cg.Objective(i - k)) / phi < k * eps;
            Assert.Equal(i == result.Iterations, met);
        }
    }

    [Fact]
    public void Solve_IndefiniteMatrix_StopsAtNonPositiveCurvature()
    {
        double[] a = [1, 0, 0, -1];
        var op = new MatrixOperator(a, 2);
        using var cg = new ConjugateGradient<double>(2);
        double[] x = new double[2];
        var result = cg.Solve(ref op, [1.0, 1.0], 0.0, x);
        Assert.Equal(ConjugateGradientStop.NonPositiveCurvature, result.Stop);
        Assert.Equal(0, result.Iterations);
        Assert.Equal(new double[2], x);
    }

    [Fact]
    public void Solve_ThrowsForMismatchedShapes()
    {
        double[] a = [2, 0, 0, 2];
        using var cg = new ConjugateGradient<double>(2);
        Assert.Throws<ArgumentException>(() => { var op = new MatrixOperator(a, 2); cg.Solve(ref op, new double[3], 0.0, new double[2]); });
        Assert.Throws<ArgumentException>(() => { var op = new MatrixOperator(a, 2); cg.Solve(ref op, new double[2], 0.0, new double[1]); });
        Assert.Throws<ArgumentException>(() => { var op = new MatrixOperator(a, 2); cg.Solve(ref op, new double[2], 0.0, new double[2], new double[1]); });
    }

    [Fact]
    public void Options_OutOfRange_Throw()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new ConjugateGradientOptions(MaxIterations: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ConjugateGradientOptions(KeepRatio: 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ConjugateGradientOptions(ProgressTolerance: double.NaN));
    }
}
