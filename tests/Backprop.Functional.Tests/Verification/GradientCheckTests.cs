using Backprop.Functional.Testing;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace Backprop.Functional.Tests.Verification;

public class GradientCheckTests
{
    /// <summary>The user-facing check agrees with backprop on smooth random networks (no ReLU kinks), in double,
    /// with the central stencil at its default step.</summary>
    [Property(MaxTest = 100, Arbitrary = [typeof(NetArbitraries)])]
    public Property Run_on_smooth_networks_reports_small_errors_and_2N_evaluations(NetCase c)
    {
        c = c with { Hidden = [.. c.Hidden.Select(h => h is ActivationKind.ReLU or ActivationKind.LeakyReLU ? ActivationKind.Tanh : h)] };
        if (c.Output is ActivationKind.ReLU or ActivationKind.LeakyReLU) c = c with { Output = ActivationKind.Identity };
        using var net = c.Network();
        var report = GradientCheck.Run<double>(net, c.X(), c.Y(), new GradientCheckOptions(Floor: 1e-4));
        return (report.MaxRelativeError <= 1e-4).Label($"{c}: {report}")
            .And((report.LossEvaluations == 2L * net.Layout.Count).Label($"evaluations {report.LossEvaluations}"))
            .And((report.Slots.Count == net.Layout.Slots.Length).Label("one entry per slot"));
    }

    [Fact]
    public void Run_on_one_unit_matches_hand_derived_gradient()
    {
        // C = ½(w·x + b − y)² for one identity unit, w = 2, b = 0.5, x = 3, y = 1.
        var spec = new NetworkSpec([new Dense(1, 1)], LossKind.Quadratic);
        using var net = Network<double>.FromParameters(spec, [2.0, 0.5]);
        var report = GradientCheck.Run<double>(net, [3.0], [1.0], new GradientCheckOptions(FiniteDifference.FivePoint));
        // dC/dw = (wx + b − y)·x = 5.5·3 = 16.5, dC/db = 5.5; backprop and finite differences both equal these.
        Assert.Equal(16.5, report.Slots[0].Backprop, 12);
        Assert.Equal(5.5, report.Slots[1].Backprop, 12);
        Assert.True(report.MaxRelativeError < 1e-9, report.ToString());
        Assert.Equal(8, report.LossEvaluations);
    }

    [Fact]
    public void Run_with_sample_checks_that_many_parameters_and_restores_theta()
    {
        var spec = NetworkSpec.Mlp([5, 7, 3], ActivationKind.Tanh, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy);
        using var net = Network<double>.Create(spec, 3);
        double[] before = net.Parameters.ToArray();
        var x = new double[10];
        for (int i = 0; i < x.Length; i++) x[i] = Math.Sin(i);
        var report = GradientCheck.Run<double>(net, x, [1, 0, 0, 0, 0, 1], new GradientCheckOptions(Sample: 9, Seed: 4));
        Assert.Equal(9, report.ParametersChecked);
        Assert.Equal(18, report.LossEvaluations);
        Assert.Equal(before, net.Parameters.ToArray());
        Assert.True(report.MaxRelativeError < 1e-5, report.ToString());
    }

    /// <summary>A 2-1(ReLU)-1 network whose hidden unit is dead (z = −10 for the sample): every cost the stencil
    /// evaluates along its weights, its bias and the output weight is the same number, so the estimate must be
    /// exactly 0, as backprop's gradient is. Scaling before differencing left −2.5·10⁻¹⁴-sized residues.</summary>
    private static Network<double> DeadUnit() => Network<double>.FromParameters(
        new NetworkSpec([new Dense(2, 1, ActivationKind.ReLU), new Dense(1, 1)], LossKind.Quadratic),
        [0.5, -0.25, -10, 0.8, 1.1]);   // W⁰, b⁰, W¹, b¹; output 1.1 against y = 0: C = 0.605

    [Theory]
    [InlineData(FiniteDifference.FivePoint)]
    [InlineData(FiniteDifference.Central)]
    public void A_flat_direction_gives_exactly_zero(FiniteDifference stencil)
    {
        using var net = DeadUnit();
        var options = new GradientCheckOptions(stencil);
        var report = GradientCheck.Run<double>(net, [1.0, 2.0], [0.0], options);
        for (int s = 0; s < 3; s++)   // layers.0.weight, layers.0.bias, layers.1.weight
        {
            Assert.Equal(0.0, report.Slots[s].Backprop);
            Assert.True(report.Slots[s].FiniteDifference == 0 && report.Slots[s].MaxRelativeError == 0, report.ToString());
        }
        var fd = new double[net.Layout.Count];
        GradientCheck.FiniteDifferences<double>(net, [1.0, 2.0], [0.0], fd, options);
        Assert.Equal([0.0, 0.0, 0.0, 0.0], fd[..4]);
        Assert.Equal(1.1, fd[4], 8);   // ∂C/∂b¹ = a − y
    }

    /// <summary>The whole finite-difference vector in the flat layout: equal to backprop's gradient on a smooth network,
    /// NaN where a sample leaves a parameter out, θ restored, and the evaluations counted.</summary>
    [Fact]
    public void FiniteDifferences_fills_the_flat_vector()
    {
        var spec = NetworkSpec.Mlp([3, 5, 4], ActivationKind.Tanh, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy);
        using var net = Network<double>.Create(spec, 11);
        double[] before = net.Parameters.ToArray();
        double[] x = [0.3, -1.2, 0.8, 1.5, 0.1, -0.4];
        double[] y = [0, 0, 1, 0, 0.25, 0.25, 0.25, 0.25];
        using var ws = net.CreateWorkspace(2);
        using var g = net.CreateGradient();
        net.ValueAndGradient(x, y, ws, g.Span);

        var fd = new double[net.Layout.Count];
        long evaluations = GradientCheck.FiniteDifferences<double>(net, x, y, fd, new GradientCheckOptions(FiniteDifference.FivePoint));
        Assert.Equal(4L * fd.Length, evaluations);
        Assert.Equal(before, net.Parameters.ToArray());
        var (error, at) = Oracles.MaxError(g.Span, fd, 1e-8);
        Assert.True(error <= 1e-8, $"entry {at}: backprop {g.Span[Math.Max(at, 0)]:R}, finite difference {fd[Math.Max(at, 0)]:R}");

        var sampled = new double[fd.Length];
        Assert.Equal(2L * 7, GradientCheck.FiniteDifferences<double>(net, x, y, sampled, new GradientCheckOptions(Sample: 7, Seed: 3)));
        Assert.Equal(7, sampled.Count(v => !double.IsNaN(v)));
        for (int i = 0; i < fd.Length; i++)
            if (!double.IsNaN(sampled[i])) Assert.True(Math.Abs(sampled[i] - g.Span[i]) <= 1e-7 * Math.Max(1, Math.Abs(g.Span[i])), $"entry {i}");
        Assert.Equal(before, net.Parameters.ToArray());

        Assert.Contains("destination", Assert.Throws<ArgumentException>(() =>
            GradientCheck.FiniteDifferences<double>(net, x, y, new double[fd.Length - 1])).Message, StringComparison.Ordinal);
    }
    /// <summary>In float, θ + h is rounded: at b = 1000 with h = 10⁻³ the step actually taken is 16 ulps = 9.766·10⁻⁴,
    /// 2.3 % short of h. Dividing by the requested h put a 2.3 % error on a linear direction whose gradient is exactly 1
    /// (C = ½(b − y)², x = 0); dividing by the step taken leaves only the cost's rounding.</summary>
    [Theory]
    [InlineData(FiniteDifference.Central)]
    [InlineData(FiniteDifference.FivePoint)]
    public void Float_estimate_divides_by_the_step_actually_taken(FiniteDifference stencil)
    {
        var spec = new NetworkSpec([new Dense(1, 1)], LossKind.Quadratic);
        using var net = Network<float>.FromParameters(spec, [2f, 1000f]);
        var fd = new double[2];
        GradientCheck.FiniteDifferences<float>(net, [0f], [999f], fd, new GradientCheckOptions(stencil, Step: 1e-6));
        Assert.True(Math.Abs(fd[1] - 1) <= 1e-4, $"∂C/∂b estimated {fd[1]:R}, exact 1");
        Assert.Equal([2f, 1000f], net.Parameters.ToArray());
    }

    [Theory]
    [InlineData(0.0, null, 1e-8, "Step")]
    [InlineData(-1e-3, null, 1e-8, "Step")]
    [InlineData(double.NaN, null, 1e-8, "Step")]
    [InlineData(double.PositiveInfinity, null, 1e-8, "Step")]
    [InlineData(null, -1, 1e-8, "Sample")]
    [InlineData(null, null, -1.0, "Floor")]
    [InlineData(null, null, double.NaN, "Floor")]
    public void Options_out_of_range_are_refused_naming_the_field(double? step, int? sample, double floor, string field)
    {
        using var net = Network<double>.FromParameters(new NetworkSpec([new Dense(1, 1)], LossKind.Quadratic), [2.0, 0.5]);
        var options = new GradientCheckOptions(Step: step, Sample: sample, Floor: floor);
        var e = Assert.ThrowsAny<ArgumentException>(() => GradientCheck.Run<double>(net, [3.0], [1.0], options));
        Assert.Contains(field, e.Message, StringComparison.Ordinal);
        Assert.ThrowsAny<ArgumentException>(() => GradientCheck.FiniteDifferences<double>(net, [3.0], [1.0], new double[2], options));
        Assert.Equal([2.0, 0.5], net.Parameters.ToArray());
    }
}
