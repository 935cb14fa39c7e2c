using Backprop.Functional.Tests.Arbitraries;
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
}
