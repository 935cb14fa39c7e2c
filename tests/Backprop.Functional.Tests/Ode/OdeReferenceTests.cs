using System.Text.Json;
using Xunit;

namespace Backprop.Functional.Tests.Ode;

/// <summary>The ODE solvers and gradients against an independent engine: Fixtures/ode-references.json, written by
/// scripts/ode-references.py (PyTorch autograd through textbook RK4 and Euler, SciPy's DOP853; its header says what
/// each value means). Backprop through the steps equals autograd through the same steps to round-off; Dormand–Prince
/// and both gradients approach the continuous problem's values within their tolerance.</summary>
public class OdeReferenceTests
{
    public sealed record Solution(int Steps, double[] States, double Cost, double[] Dtheta, double[] Dh0);

    public sealed record ReferenceCase(string Name, int Dimension, int Hidden, int Rows, double[] Times, double[] Theta, double[] H0,
        double[] Weights, Solution Rk4, Solution Euler, Solution Continuous);

    private sealed record File(string Generator, string Torch, ReferenceCase[] Cases);

    private static readonly JsonSerializerOptions s_json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    private static readonly Lazy<ReferenceCase[]> s_cases = new(() =>
    {
        string path = Path.Combine(AppContext.BaseDirectory, "Ode", "Fixtures", "ode-references.json");
        string text = System.IO.File.ReadAllText(path).Replace("\"case\":", "\"name\":", StringComparison.Ordinal);
        return JsonSerializer.Deserialize<File>(text, s_json)!.Cases;
    });

    public static TheoryData<int> Cases => new() { 0, 1, 2 };

    private static (double[] States, double[] DTheta, double[] DH0) Run(ReferenceCase c, OdeSolver solver, OdeGradient gradient)
    {
        var f = OdeFunction.Create(c.Dimension, true, (c.Hidden, ActivationKind.Tanh), (c.Dimension, ActivationKind.Identity));
        var trajectory = new OdeTrajectory<double>(f, solver, c.Times, c.Rows, gradient);
        var states = new double[c.Times.Length * c.Rows * c.Dimension];
        trajectory.Solve(c.Theta, c.H0, states);
        var dStates = (double[])c.Weights.Clone();
        int last = (c.Times.Length - 1) * c.Rows * c.Dimension;
        for (int i = last; i < states.Length; i++) dStates[i] += states[i];
        double[] dTheta = new double[c.Theta.Length], dH0 = new double[c.H0.Length];
        trajectory.Gradient(c.Theta, dStates, dH0, dTheta);
        return (states, dTheta, dH0);
    }

    private static void Near(double[] expected, double[] actual, double tolerance, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        double scale = Math.Max(1, expected.Max(Math.Abs));
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance * scale,
                $"{what}[{i}]: expected {expected[i]:G17}, got {actual[i]:G17} (|Δ| {Math.Abs(expected[i] - actual[i]):E2}, allowed {tolerance * scale:E2})");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Backprop_through_RK4_and_Euler_equals_autograd_through_the_same_steps(int index)
    {
        var c = s_cases.Value[index];
        foreach (var (reference, solver) in new[] { (c.Rk4, (OdeSolver)new RungeKutta4(c.Rk4.Steps)), (c.Euler, new Euler(c.Euler.Steps)) })
        {
            var (states, dTheta, dH0) = Run(c, solver, OdeGradient.Discretise);
            Near(reference.States, states, 1e-13, $"{c.Name} {solver.Name} states");
            Near(reference.Dtheta, dTheta, 1e-12, $"{c.Name} {solver.Name} ∂C/∂θ");
            Near(reference.Dh0, dH0, 1e-12, $"{c.Name} {solver.Name} ∂C/∂h₀");
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Dormand_Prince_and_both_gradients_approach_the_continuous_problem(int index)
    {
        var c = s_cases.Value[index];
        var solver = new DormandPrince(1e-10, 1e-12);
        foreach (var gradient in new[] { OdeGradient.Adjoint, OdeGradient.Discretise })
        {
            var (states, dTheta, dH0) = Run(c, solver, gradient);
            Near(c.Continuous.States, states, 1e-8, $"{c.Name} DOPRI5 states");
            Near(c.Continuous.Dtheta, dTheta, 1e-7, $"{c.Name} {gradient} ∂C/∂θ");
            Near(c.Continuous.Dh0, dH0, 1e-7, $"{c.Name} {gradient} ∂C/∂h₀");
        }
    }
}
