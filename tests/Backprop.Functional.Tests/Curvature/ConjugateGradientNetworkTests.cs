using Backprop.Functional.Testing;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;
using static Backprop.Functional.Tests.Curvature.ConjugateGradientOracle;
using Curv = Backprop.Functional.Curvature;

namespace Backprop.Functional.Tests.Curvature;

/// <summary>v ↦ Gv of a network on a batch, as Hessian-free's CG sees it.</summary>
internal readonly ref struct GaussNewtonOperator(NetworkSpec spec, CurvatureWorkspace<double> ws, ReadOnlySpan<double> theta,
    ReadOnlySpan<double> x, ReadOnlySpan<double> y) : ILinearOperator<double>
{
    private readonly ReadOnlySpan<double> _theta = theta, _x = x, _y = y;

    public void Apply(ReadOnlySpan<double> v, Span<double> result) => Curv.GaussNewtonVector(spec, _theta, _x, _y, ws, v, result);
}

public sealed class ConjugateGradientNetworkTests
{
    /// <summary>On networks of ≤ 60 parameters, CG on (G + λI)d = −∇C through Gv products keeps iterates equal to the
    /// minimisers over the Krylov spaces of the explicit G (columns Geᵢ), λ ∈ [0.05, 1], cold or warm start, to 10⁻⁶ of ‖d* − d₀‖ in the energy norm.</summary>
    [Property(MaxTest = 60, Arbitrary = [typeof(SmallNetArbitraries)])]
    public Property Solve_GaussNewtonOfASmallNetwork_IteratesAreTheKrylovMinimisersOfExplicitG(NetCase c)
    {
        var spec = c.Spec;
        using var net = c.Network();
        double[] x = c.X(), y = c.Y(), theta = net.Parameters.ToArray();
        int n = theta.Length;
        var rng = new Random(c.Seed);
        double lambda = 0.05 + (0.95 * rng.NextDouble());
        double[] x0 = c.Seed % 2 == 0 ? new double[n] : Random(rng, n, -0.1, 0.1);
        var (g, gMatrix) = HessianFreeTests.GradientAndG(spec, theta, x, y, c.Batch);
        double[] b = g.Select(v => -v).ToArray();
        double[] damped = Damped(gMatrix, n, lambda);
        double scale = Math.Max(1e-12, EnergyError(damped, n, Solve(damped, n, b), x0, 1));

        using var ws = new CurvatureWorkspace<double>(spec, c.Batch);
        Curv.Forward<double>(spec, theta, x, ws);
        var op = new GaussNewtonOperator(spec, ws, theta, x, y);
        // G has rank ≤ rows·outputs, so CG is exact after rank + 1 iterations; stop short of that, where rounding at
        // convergence (and a near-invariant Krylov basis in the oracle) would dominate the comparison. Finite-precision CG
        // also drifts from the exact Krylov minimiser as the iterations lose orthogonality, and each iteration can
        // amplify that drift by up to κ(G + λI): seen growing 10–50× per iteration at κ ≈ 97, from 6·10⁻¹⁶ at iterate 1
        // to 4.2·10⁻⁶ at iterate 8 (2-4-5-3 GELU, batch 4, seed 409292, which failed a fixed cap of 8 iterates), and
        // 9.8·10⁻⁶ at iterate 12 on a 3-1-5 GELU network. So the comparison runs while u·κʲ ≤ 10⁻⁸ (at least one iterate).
        int steps = Math.Min(Math.Min(n, c.Batch * c.Outputs), Math.Min(8, DriftHorizon(damped, n, lambda)));
        using var cg = new ConjugateGradient<double>(n, new ConjugateGradientOptions(MaxIterations: steps, ProgressTolerance: 0, KeepFirst: 1));
        double[] d = (double[])x0.Clone();
        cg.Solve(ref op, b, lambda, d);
        var result = true.ToProperty();
        for (int k = 0; k < cg.KeptCount; k++)
        {
            int j = cg.KeptIteration(k);
            double err = EnergyError(damped, n, cg.Kept(k), KrylovMinimiser(damped, n, b, x0, null, j), scale);
            result = result.And((err < 1e-6).Label($"iterate {j}: {err:E2} of ‖d* − d₀‖ from the Krylov minimiser"));
        }
        return result;
    }

    /// <summary>The iterates whose drift from exact arithmetic stays ≤ 10⁻⁸ if each iteration amplifies it by κ:
    /// the largest j ≥ 1 with u·κʲ ≤ 10⁻⁸, u = 2⁻⁵³, κ bounded above by Gershgorin's largest row sum over λ (the
    /// damped G's smallest eigenvalue is at least λ), so the horizon errs short.</summary>
    internal static int DriftHorizon(double[] damped, int n, double lambda)
    {
        double largest = 0;
        for (int i = 0; i < n; i++)
        {
            double row = 0;
            for (int j = 0; j < n; j++) row += Math.Abs(damped[(i * n) + j]);
            largest = Math.Max(largest, row);
        }
        double kappa = Math.Max(largest / lambda, 2);
        return Math.Max(1, (int)Math.Floor(Math.Log(1e-8 / Math.ScaleB(1.0, -53)) / Math.Log(kappa)));
    }

    /// <summary>The case that failed a CI-sized run with a fixed cap of 8 iterates (drift 4.2·10⁻⁶ at iterate 8).</summary>
    [Fact]
    public void Solve_GaussNewton_where_the_drift_grows_fast_compares_only_the_iterates_before_it()
    {
        var c = new NetCase([2, 4, 5, 3], [ActivationKind.Identity, ActivationKind.Identity], ActivationKind.GELU, LossKind.Quadratic, 4, 409292);
        Solve_GaussNewtonOfASmallNetwork_IteratesAreTheKrylovMinimisersOfExplicitG(c).QuickCheckThrowOnFailure();
    }
}
