using Xunit;

namespace Backprop.Functional.Tests.Curvature;

/// <summary>A curvature method's <c>Solver</c> is the solver in effect: left out (or set to null) it is the method's
/// default, so the record prints it (the CLI's banner showed "Solver = ," with nothing after it) and two options that run
/// the same CG compare equal.</summary>
public sealed class CurvatureOptionsSolverTests
{
    [Fact]
    public void Natural_gradient_solver_left_out_is_its_50_iteration_default()
    {
        var options = new NaturalGradientOptions();
        Assert.Equal(new ConjugateGradientOptions(MaxIterations: 50), options.Solver);
        Assert.Equal(options, new NaturalGradientOptions(Solver: new ConjugateGradientOptions(MaxIterations: 50)));
        Assert.Equal(options, options with { Solver = null });
        Assert.Contains("Solver = ConjugateGradientOptions { MaxIterations = 50", options.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Hessian_free_solver_left_out_is_conjugate_gradients_default()
    {
        var options = new HessianFreeOptions();
        Assert.Equal(new ConjugateGradientOptions(), options.Solver);
        Assert.Equal(options, new HessianFreeOptions(Solver: new ConjugateGradientOptions()));
        Assert.Equal(options, options with { Solver = null });
        Assert.DoesNotContain("Solver = ,", options.ToString(), StringComparison.Ordinal);
        Assert.Equal(new ConjugateGradientOptions().MaxIterations, options.IterationCap(0));
    }
}
