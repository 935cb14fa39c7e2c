using Xunit;

namespace Backprop.Functional.Tests.Ode;

/// <summary>Each solver reaches its order: on dy/dt = λy and on the harmonic oscillator, the error at the end falls
/// as hᵖ (the slope of log error against log h is p within 0.25).</summary>
public class OdeSolverOrderTests
{
    // f(h) = A h + 0, a single linear Dense layer; θ is A row-major then the bias.
    private static (OdeFunction F, double[] Theta) Linear(double[,] a)
    {
        int d = a.GetLength(0);
        var theta = new double[d * d + d];
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++) theta[i * d + j] = a[i, j];
        return (OdeFunction.Create(d, false, (d, ActivationKind.Identity)), theta);
    }

    private static double Error(OdeSolver solver, double[,] a, double[] y0, double end, double[] exact)
    {
        var (f, theta) = Linear(a);
        var trajectory = new OdeTrajectory<double>(f, solver, [0, end], rows: 1, OdeGradient.Discretise);
        var states = new double[2 * y0.Length];
        trajectory.Solve(theta, y0, states);
        double e = 0;
        for (int i = 0; i < y0.Length; i++) e = Math.Max(e, Math.Abs(states[y0.Length + i] - exact[i]));
        return e;
    }

    private static double Slope(Func<int, OdeSolver> solver, int[] steps, double[,] a, double[] y0, double end, double[] exact, out string table)
    {
        double[] x = steps.Select(n => Math.Log(end / n)).ToArray();
        double[] y = steps.Select(n => Math.Log(Error(solver(n), a, y0, end, exact))).ToArray();
        double mx = x.Average(), my = y.Average();
        double slope = x.Zip(y).Sum(p => (p.First - mx) * (p.Second - my)) / x.Sum(v => (v - mx) * (v - mx));
        table = string.Join("; ", steps.Zip(y).Select(p => $"N={p.First}: {Math.Exp(p.Second):E2}"));
        return slope;
    }

    public static TheoryData<string, int, int[]> Solvers => new()
    {
        { "euler", 1, [32, 64, 128, 256] },
        { "rk4", 4, [8, 16, 32, 64] },
        { "dopri5-fixed", 5, [8, 16, 32, 64] },
    };

    private static Func<int, OdeSolver> Make(string name) => name switch
    {
        "euler" => n => new Euler(n),
        "rk4" => n => new RungeKutta4(n),
        _ => n => new TableauSolver(ButcherTableau.DormandPrince, n, 5),
    };

    [Theory]
    [MemberData(nameof(Solvers))]
    public void Error_falls_as_h_to_the_order_on_exponential_decay(string name, int order, int[] steps)
    {
        const double lambda = -1.3, end = 1.5;
        double slope = Slope(Make(name), steps, new double[,] { { lambda } }, [1.0], end, [Math.Exp(lambda * end)], out string table);
        Assert.True(Math.Abs(slope - order) < 0.25, $"{name}: slope {slope:F3}, expected {order} ({table})");
    }

    [Theory]
    [MemberData(nameof(Solvers))]
    public void Error_falls_as_h_to_the_order_on_the_harmonic_oscillator(string name, int order, int[] steps)
    {
        // y'' = −ω²y as [y, v]' = [v, −ω²y]; y(0) = 1, v(0) = 0: y = cos ωt, v = −ω sin ωt.
        const double omega = 1.7, end = 3.0;
        int[] longer = steps.Select(n => n * 2).ToArray();
        double slope = Slope(Make(name), longer, new double[,] { { 0, 1 }, { -omega * omega, 0 } }, [1.0, 0.0], end,
            [Math.Cos(omega * end), -omega * Math.Sin(omega * end)], out string table);
        Assert.True(Math.Abs(slope - order) < 0.25, $"{name}: slope {slope:F3}, expected {order} ({table})");
    }

    [Theory]
    [InlineData(1e-4)]
    [InlineData(1e-6)]
    [InlineData(1e-8)]
    public void Dormand_Prince_meets_its_tolerance_and_pays_for_it_in_evaluations(double rtol)
    {
        const double omega = 1.7, end = 3.0;
        var a = new double[,] { { 0, 1 }, { -omega * omega, 0 } };
        double[] exact = [Math.Cos(omega * end), -omega * Math.Sin(omega * end)];
        double error = Error(new DormandPrince(rtol, rtol * 1e-2), a, [1.0, 0.0], end, exact);
        // The local error is controlled; the global error of a few dozen steps stays within a small multiple of rtol.
        Assert.True(error < 20 * rtol, $"rtol {rtol:E0}: error {error:E2}");
        var (f, theta) = Linear(a);
        var loose = new OdeTrajectory<double>(f, new DormandPrince(rtol * 100, rtol), [0, end], 1, OdeGradient.Discretise);
        var tight = new OdeTrajectory<double>(f, new DormandPrince(rtol, rtol * 1e-2), [0, end], 1, OdeGradient.Discretise);
        var states = new double[4];
        int looseNfe = loose.Solve(theta, [1.0, 0.0], states).ForwardEvaluations;
        var stats = tight.Solve(theta, [1.0, 0.0], states);
        Assert.True(stats.ForwardEvaluations > looseNfe, $"NFE at rtol {rtol:E0}: {stats.ForwardEvaluations}; at {rtol * 100:E0}: {looseNfe}");
        // Six evaluations per accepted or rejected step (FSAL), plus two for the first-step estimate.
        Assert.Equal(6 * (stats.ForwardSteps + stats.ForwardRejected) + 2, stats.ForwardEvaluations);
    }

    [Theory]
    [InlineData(OdeGradient.Adjoint)]
    [InlineData(OdeGradient.Discretise)]
    public void Dormand_Prince_in_float_finishes_and_agrees_with_double_to_float_precision(OdeGradient gradient)
    {
        var c = OdeCase.Random(11) with { Rows = 4 };
        var f = c.F;
        double[] theta = c.Theta(), h0 = c.H0();
        var solver = new DormandPrince(1e-5, 1e-7);
        var wide = new OdeTrajectory<double>(f, solver, c.Times, c.Rows, gradient);
        var narrow = new OdeTrajectory<float>(f, solver, c.Times, c.Rows, gradient);
        var states = new double[c.Times.Length * c.Rows * c.D];
        var statesF = new float[states.Length];
        wide.Solve(theta, h0, states);
        narrow.Solve(theta.Select(v => (float)v).ToArray(), h0.Select(v => (float)v).ToArray(), statesF);
        double[] dStates = c.CostGradient(states), dTheta = new double[theta.Length], dH0 = new double[h0.Length];
        float[] dThetaF = new float[theta.Length], dH0F = new float[h0.Length];
        wide.Gradient(theta, dStates, dH0, dTheta);
        narrow.Gradient(theta.Select(v => (float)v).ToArray(), dStates.Select(v => (float)v).ToArray(), dH0F, dThetaF);
        for (int i = 0; i < states.Length; i++) Assert.True(Math.Abs(states[i] - statesF[i]) < 1e-3 * Math.Max(1, Math.Abs(states[i])), $"{c}: state {i}: {states[i]} against {statesF[i]}");
        for (int i = 0; i < dTheta.Length; i++) Assert.True(Math.Abs(dTheta[i] - dThetaF[i]) < 1e-3 * Math.Max(1, Math.Abs(dTheta[i])), $"{c}: ∂C/∂θ {i}: {dTheta[i]} against {dThetaF[i]}");
    }

    [Fact]
    public void Dormand_Prince_refuses_a_solve_that_needs_more_steps_than_allowed()
    {
        var (f, theta) = Linear(new double[,] { { 0, 1 }, { -400, 0 } });
        var trajectory = new OdeTrajectory<double>(f, new DormandPrince(1e-10, 1e-12, MaxSteps: 10), [0, 10.0], 1, OdeGradient.Discretise);
        var e = Assert.Throws<OdeStepLimitException>(() => trajectory.Solve(theta, [1.0, 0.0], new double[4]));
        Assert.Contains("more than 10 accepted steps", e.Message, StringComparison.Ordinal);
    }
}
