using Xunit;

namespace Backprop.Functional.Tests.Verification;

/// <summary>What a numerical gradient costs, counted at the cost function itself: the stencils are handed a cost that
/// counts its calls, so the N + 1, 2N and 4N below are calls that happened, not a formula the library reports.</summary>
public class EvaluationCountTests
{
    private static readonly double[] X = [0.3, -1.2, 0.8, 1.5, 0.1, -0.4, 0.9, 0.2, -0.7];
    private static readonly double[] Y = [0, 0, 1, 0, 0.25, 0.25, 0.25, 0.25, 1, 0, 0, 0];

    private static Network<double> Net() => Network<double>.Create(
        NetworkSpec.Mlp([3, 5, 4], ActivationKind.Tanh, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy), 11);

    /// <summary>A cost that counts its calls and records how far each call's θ is from the start (entries changed).</summary>
    private sealed class CountingCost(Network<double> net, Workspace<double> ws)
    {
        private readonly double[] _start = net.Parameters.ToArray();

        public long Calls { get; private set; }

        public int MostEntriesChanged { get; private set; }

        public double At(ReadOnlySpan<double> theta)
        {
            Calls++;
            int changed = 0;
            for (int i = 0; i < theta.Length; i++) if (theta[i] != _start[i]) changed++;
            MostEntriesChanged = Math.Max(MostEntriesChanged, changed);
            return net.Cost(X, Y, ws);   // θ is the network's own parameter vector, perturbed in place
        }
    }

    [Theory]
    [InlineData(FiniteDifference.Forward, 1, 1, 5e-5)]   // O(h), h = √ε: 6.5·10⁻⁶ measured on a gradient of 6·10⁻⁴
    [InlineData(FiniteDifference.Central, 2, 0, 1e-8)]
    [InlineData(FiniteDifference.FivePoint, 4, 0, 1e-9)]
    public void FiniteDifferences_calls_the_cost_exactly_N_plus_1_2N_or_4N_times_and_is_close_in_double(
        FiniteDifference stencil, int perParameter, int once, double tolerance)
    {
        using var net = Net();
        using var ws = net.CreateWorkspace(3);
        using var g = net.CreateGradient();
        net.ValueAndGradient(X, Y, ws, g.Span);
        double[] before = net.Parameters.ToArray();
        int n = before.Length;

        var cost = new CountingCost(net, ws);
        var fd = new double[n];
        long reported = GradientCheck.FiniteDifferences<double>(cost.At, net.Parameters, fd, new GradientCheckOptions(stencil));

        Assert.Equal((long)perParameter * n + once, cost.Calls);
        Assert.Equal(cost.Calls, reported);
        Assert.Equal(1, cost.MostEntriesChanged);                 // one parameter perturbed at a time
        Assert.Equal(before, net.Parameters.ToArray());            // and restored bit for bit
        for (int i = 0; i < n; i++)
            Assert.True(GradientCheck.RelativeError(g.Span[i], fd[i], 1e-8) <= tolerance,
                $"{stencil}, θ[{i}]: backprop {g.Span[i]:R}, finite difference {fd[i]:R}");
    }

    [Theory]
    [InlineData(FiniteDifference.Forward, 1, 1)]
    [InlineData(FiniteDifference.Central, 2, 0)]
    [InlineData(FiniteDifference.FivePoint, 4, 0)]
    public void A_sample_of_k_parameters_costs_k_plus_1_2k_or_4k_calls(FiniteDifference stencil, int perParameter, int once)
    {
        using var net = Net();
        using var ws = net.CreateWorkspace(3);
        var cost = new CountingCost(net, ws);
        var fd = new double[net.Layout.Count];
        long reported = GradientCheck.FiniteDifferences<double>(cost.At, net.Parameters, fd, new GradientCheckOptions(stencil, Sample: 7, Seed: 2));
        Assert.Equal(perParameter * 7L + once, cost.Calls);
        Assert.Equal(cost.Calls, reported);
        Assert.Equal(7, fd.Count(v => !double.IsNaN(v)));
    }

    [Fact]
    public void Run_with_the_forward_stencil_reports_N_plus_1_evaluations_and_small_errors()
    {
        using var net = Net();
        double[] before = net.Parameters.ToArray();
        var report = GradientCheck.Run<double>(net, X, Y, new GradientCheckOptions(FiniteDifference.Forward));
        Assert.Equal(net.Layout.Count + 1L, report.LossEvaluations);
        Assert.True(report.MaxRelativeError < 5e-5, report.ToString());
        Assert.Equal(before, net.Parameters.ToArray());
    }

    [Fact]
    public void The_forward_stencil_on_a_hand_derived_gradient()
    {
        // C(θ) = θ₀² + 3θ₁ at (2, −1): ∂C/∂θ = (4, 3); the forward difference is off by h for θ₀ (O(h)) and exact for θ₁.
        double[] theta = [2, -1];
        var fd = new double[2];
        long calls = 0;
        long reported = GradientCheck.FiniteDifferences<double>(t => { calls++; return t[0] * t[0] + 3 * t[1]; }, theta, fd,
            new GradientCheckOptions(FiniteDifference.Forward, Step: 1e-4));
        Assert.Equal(3, calls);
        Assert.Equal(3, reported);
        Assert.Equal(4 + 2e-4, fd[0], 1e-9);   // h'₀ = 2·10⁻⁴ (relative step at |θ₀| = 2): (θ₀ + h)² − θ₀² = 4h + h²
        Assert.Equal(3, fd[1], 1e-9);
        Assert.Equal([2.0, -1.0], theta);
    }
}
