using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace Backprop.Functional.Tests.Ode;

/// <summary>The two gradients through an ODE solve, in double: backpropagation through the steps is the exact
/// gradient of the computed cost (central differences agree to 10⁻⁶); the adjoint is a different discretisation of
/// the same continuous gradient, so it converges to the first as the step shrinks (for RK4 the gap falls about 16×
/// per halving) and agrees within the tolerance for Dormand–Prince.</summary>
public class OdeGradientProperties
{
    private const double Tolerance = 1e-6, Step = 1e-5;

    private static (double Error, string Where) Compare(double[] exact, double[] estimate, double floor, string name)
    {
        double worst = 0;
        string where = "";
        for (int i = 0; i < exact.Length; i++)
        {
            double err = Math.Abs(exact[i] - estimate[i]) / Math.Max(floor, Math.Max(Math.Abs(exact[i]), Math.Abs(estimate[i])));
            if (err > worst)
            {
                worst = err;
                where = $"{name}[{i}]: {exact[i]:G12} against {estimate[i]:G12}";
            }
        }
        return (worst, where);
    }

    private static (double[] DTheta, double[] DH0) CentralDifferences(OdeCase c, OdeSolver solver, double[] theta, double[] h0)
    {
        double[] Differences(double[] v) => v.Select((_, i) =>
        {
            double saved = v[i];
            v[i] = saved + Step;
            double plus = c.Evaluate(solver, OdeGradient.Discretise, theta, h0);
            v[i] = saved - Step;
            double minus = c.Evaluate(solver, OdeGradient.Discretise, theta, h0);
            v[i] = saved;
            return (plus - minus) / (2 * Step);
        }).ToArray();
        return (Differences(theta), Differences(h0));
    }

    [Property(MaxTest = 100)]
    public Property Backprop_through_fixed_steps_equals_central_differences(PositiveInt seed, bool rk4, byte steps)
    {
        var c = OdeCase.Random(seed.Get);
        OdeSolver solver = rk4 ? new RungeKutta4(1 + steps % 6) : new Euler(1 + steps % 6);
        double[] theta = c.Theta(), h0 = c.H0(), dTheta = new double[theta.Length], dH0 = new double[h0.Length];
        double cost = c.Evaluate(solver, OdeGradient.Discretise, theta, h0, dTheta, dH0);
        var (fdTheta, fdH0) = CentralDifferences(c, solver, theta, h0);
        double floor = 1e-4 * Math.Max(1, Math.Abs(cost));
        var (eTheta, wTheta) = Compare(dTheta, fdTheta, floor, "∂C/∂θ");
        var (eH0, wH0) = Compare(dH0, fdH0, floor, "∂C/∂h₀");
        return (eTheta <= Tolerance && eH0 <= Tolerance).Label($"{c}, {solver.Format()}: θ {eTheta:E2} ({wTheta}); h₀ {eH0:E2} ({wH0})");
    }

    [Property(MaxTest = 40)]
    public Property Backprop_through_Dormand_Prince_steps_equals_central_differences_within_the_tolerance(PositiveInt seed)
    {
        // The steps depend on θ through the error estimate; the gradient holds them fixed (as torchdiffeq does), so
        // it differs from the cost's derivative by about the tolerance times the gradient's scale, not each component's:
        // a component a thousand times smaller than the largest is compared against a hundredth of the largest.
        // (Seed 67 of the CI run: ∂C/∂θ[8] = −0.001664 off by 3E-8 with ∂C/∂h₀ at 1.66.)
        var c = OdeCase.Random(seed.Get);
        var solver = new DormandPrince(1e-9, 1e-11);
        double[] theta = c.Theta(), h0 = c.H0(), dTheta = new double[theta.Length], dH0 = new double[h0.Length];
        double cost = c.Evaluate(solver, OdeGradient.Discretise, theta, h0, dTheta, dH0);
        var (fdTheta, fdH0) = CentralDifferences(c, solver, theta, h0);
        double largest = dTheta.Concat(dH0).Max(Math.Abs);
        double floor = Math.Max(1e-4 * Math.Max(1, Math.Abs(cost)), 1e-2 * largest);
        var (eTheta, wTheta) = Compare(dTheta, fdTheta, floor, "∂C/∂θ");
        var (eH0, wH0) = Compare(dH0, fdH0, floor, "∂C/∂h₀");
        return (eTheta <= 1e-5 && eH0 <= 1e-5).Label($"{c}: θ {eTheta:E2} ({wTheta}); h₀ {eH0:E2} ({wH0})");
    }

    private static double Gap(OdeCase c, OdeSolver solver, double[] theta, double[] h0, out double scale)
    {
        double[] gd = new double[theta.Length], hd = new double[h0.Length], ga = new double[theta.Length], ha = new double[h0.Length];
        c.Evaluate(solver, OdeGradient.Discretise, theta, h0, gd, hd);
        c.Evaluate(solver, OdeGradient.Adjoint, theta, h0, ga, ha);
        double gap = 0, norm = 0;
        for (int i = 0; i < gd.Length; i++) { gap += (gd[i] - ga[i]) * (gd[i] - ga[i]); norm += gd[i] * gd[i]; }
        for (int i = 0; i < hd.Length; i++) { gap += (hd[i] - ha[i]) * (hd[i] - ha[i]); norm += hd[i] * hd[i]; }
        scale = Math.Sqrt(norm);
        return Math.Sqrt(gap);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public void The_adjoint_converges_to_backprop_through_the_steps_at_the_solvers_order(int seed)
    {
        var c = OdeCase.Random(seed) with { Times = [0, 1.0] };
        double[] theta = c.Theta(), h0 = c.H0();
        double[] rk4 = new[] { 4, 8, 16 }.Select(n => Gap(c, new RungeKutta4(n), theta, h0, out _)).ToArray();
        double[] euler = new[] { 16, 32, 64 }.Select(n => Gap(c, new Euler(n), theta, h0, out _)).ToArray();
        string text = $"{c}: RK4 gaps {string.Join(", ", rk4.Select(g => g.ToString("E2")))}; Euler gaps {string.Join(", ", euler.Select(g => g.ToString("E2")))}";
        Assert.True(rk4[0] > 1e-12, $"the adjoint and backprop should differ with 4 RK4 steps: {text}");
        for (int i = 1; i < rk4.Length; i++) Assert.InRange(rk4[i - 1] / rk4[i], 11.0, 23.0);
        for (int i = 1; i < euler.Length; i++) Assert.InRange(euler[i - 1] / euler[i], 1.6, 2.6);
    }

    [Theory]
    [InlineData(1e-5)]
    [InlineData(1e-8)]
    public void The_adjoint_agrees_with_backprop_within_the_Dormand_Prince_tolerance(double rtol)
    {
        for (int seed = 1; seed <= 6; seed++)
        {
            var c = OdeCase.Random(seed);
            double gap = Gap(c, new DormandPrince(rtol, rtol * 1e-2), c.Theta(), c.H0(), out double scale);
            Assert.True(gap <= 100 * rtol * Math.Max(1, scale), $"{c}: gap {gap:E2}, ‖∇‖ {scale:E2}, rtol {rtol:E0}");
        }
    }

    [Fact]
    public void A_stiff_decaying_mode_ruins_backward_reconstruction_and_checkpoints_fix_it()
    {
        // f(h) = A h with eigenvalues −0.5 and −40 along rotated axes: by t = 2 the fast mode has decayed by e⁻⁸⁰, far
        // below the rounding of the slow one; integrating backward multiplies that rounding by e⁸⁰ and h is lost.
        double c = Math.Cos(0.6), s = Math.Sin(0.6), slow = -0.5, fast = -40;
        double[] theta =
        [
            slow * c * c + fast * s * s, (slow - fast) * c * s,
            (slow - fast) * c * s, slow * s * s + fast * c * c,
            0, 0,
        ];
        var problem = new OdeCase(2, false, 1, ActivationKind.Identity, 1, [0, 2.0], 1);
        var f = OdeFunction.Create(2, false, (2, ActivationKind.Identity));
        double[] h0 = [1.0, -0.5], w = [0, 0, 0.7, -1.1];
        double[] Gradient(OdeGradient gradient, int checkpoints)
        {
            var trajectory = new OdeTrajectory<double>(f, new RungeKutta4(256), [0, 2.0], 1, gradient, checkpoints);
            var states = new double[4];
            trajectory.Solve(theta, h0, states);
            double[] dTheta = new double[6], dH0 = new double[2];
            trajectory.Gradient(theta, w, dH0, dTheta);
            return [.. dTheta, .. dH0];
        }
        double[] exact = Gradient(OdeGradient.Discretise, 0);
        double Error(double[] g) => Math.Sqrt(g.Zip(exact).Sum(p => (p.First - p.Second) * (p.First - p.Second))) / Math.Sqrt(exact.Sum(v => v * v));
        double drifted = Error(Gradient(OdeGradient.Adjoint, 0)), fixedUp = Error(Gradient(OdeGradient.Adjoint, 15));
        Assert.True(drifted > 1, $"without checkpoints the adjoint's relative error should be > 1, was {drifted:E2}");
        Assert.True(fixedUp < 1e-4, $"with 15 checkpoints the adjoint's relative error should be < 1e-4, was {fixedUp:E2} (without: {drifted:E2})");
        _ = problem;
    }
}
