using Backprop.Functional.Testing;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;
using static Backprop.Functional.Tests.Curvature.ConjugateGradientOracle;
using Curv = Backprop.Functional.Curvature;

namespace Backprop.Functional.Tests.Curvature;

public sealed class NaturalGradientTests
{
    private static readonly NaturalGradientOptions Exact = new(Damping: 0.1,
        Solver: new ConjugateGradientOptions(MaxIterations: 500, ProgressTolerance: 0, ResidualTolerance: 1e-12));

    /// <summary>On networks of ≤ 60 parameters (every fitting output and cost), d equals the dense solve
    /// (F + λI)⁻¹∇C with F built without the R-operator (<see cref="CurvatureOracles"/>: the true Fisher from a
    /// finite-difference Jacobian and the output distribution's Fisher written out, the empirical one from per-sample
    /// gradients), and θ moves by −ηd.</summary>
    [Property(MaxTest = 40, Arbitrary = [typeof(SmallNetArbitraries)])]
    public Property Update_SmallNetworks_DirectionEqualsTheDenseSolve(NetCase c) =>
        Matches(c, FisherKind.True, 1e-6).And(Matches(c, FisherKind.Empirical, 1e-8));

    private static Property Matches(NetCase c, FisherKind kind, double tolerance)
    {
        // The finite-difference Jacobian of a ReLU-like output can straddle a kink; the oracle is exact elsewhere.
        if (c.Output is ActivationKind.ReLU or ActivationKind.LeakyReLU) c = c with { Output = ActivationKind.Softplus };
        var spec = c.Spec;
        using var net = c.Network();
        double[] x = c.X(), y = c.Y(), theta = net.Parameters.ToArray();
        int n = theta.Length;
        double[] g = CurvatureOracles.Gradient(spec, theta, x, y, c.Batch);
        double[,] f;
        if (kind == FisherKind.True)
        {
            bool atLogits = Curv.SplitsAtLogits(spec.Loss, spec.OutputActivation);
            var j = CurvatureOracles.Jacobian(spec, theta, x, c.Batch, atLogits);
            var a = CurvatureOracles.Outputs(spec, theta, x, c.Batch, logits: false);
            f = CurvatureOracles.Sandwich(j, r => CurvatureOracles.OutputCurvature(spec, a, y, r, model: true), c.Batch, spec.Outputs);
        }
        else f = CurvatureOracles.EmpiricalFisher(spec, theta, x, y, c.Batch);
        var dense = new double[n * n];
        for (int i = 0; i < n; i++)
            for (int k = 0; k < n; k++) dense[(i * n) + k] = 0.5 * (f[i, k] + f[k, i]);
        double[] expected = Solve(Damped(dense, n, Exact.Damping), n, g);

        using var ng = new NaturalGradient<double>(spec, c.Batch, Exact with { Fisher = kind, LearningRate = 0.5 });
        var updated = (double[])theta.Clone();
        ng.Update(updated, x, y);
        double err = MaxError(ng.Direction, expected), moved = 0;
        for (int i = 0; i < n; i++) moved = Math.Max(moved, Math.Abs(updated[i] - (theta[i] - (0.5 * ng.Direction[i]))));
        return (err <= tolerance && moved <= 1e-12 && ng.LastSolve.Stop == ConjugateGradientStop.Residual)
            .Label($"{kind} Fisher: d is {err:E2} from the dense solve, θ {moved:E2} from θ − ηd, CG {ng.LastSolve}");
    }

    /// <summary>v ← μv + d, θ ← θ − ηv over two updates.</summary>
    [Fact]
    public void Update_Momentum_AccumulatesTheDirections()
    {
        var c = new NetCase([3, 4, 2], [ActivationKind.Tanh], ActivationKind.Sigmoid, LossKind.CrossEntropy, 5, 9);
        using var net = c.Network();
        double[] x = c.X(), y = c.Y(), theta = net.Parameters.ToArray();
        using var ng = new NaturalGradient<double>(c.Spec, c.Batch, Exact with { Momentum = 0.9, LearningRate = 0.3 });
        var t = (double[])theta.Clone();
        ng.Update(t, x, y);
        double[] d1 = ng.Direction.ToArray(), t1 = (double[])t.Clone();
        ng.Update(t, x, y);
        double[] d2 = ng.Direction.ToArray();
        for (int i = 0; i < t.Length; i++)
        {
            Assert.Equal(theta[i] - (0.3 * d1[i]), t1[i], 1e-14);
            Assert.Equal(t1[i] - (0.3 * ((0.9 * d1[i]) + d2[i])), t[i], 1e-14);
        }
    }

    [Fact]
    public void Update_SmallClassifier_LowersTheLoss()
    {
        var c = new NetCase([4, 8, 3], [ActivationKind.Tanh], ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy, 64, 2);
        using var net = c.Network();
        double[] x = c.X(), y = c.Y();
        using var ws = net.CreateWorkspace(c.Batch);
        double start = net.Cost(x, y, ws);
        using var ng = new NaturalGradient<double>(c.Spec, c.Batch);
        for (int k = 0; k < 15; k++) ng.Update(net.Parameters, x, y);
        double end = net.Cost(x, y, ws);
        Assert.True(end < 0.6 * start, $"cost {start} → {end}");
    }

    [Fact]
    public void Update_NonFiniteCost_LeavesThetaAlone()
    {
        var c = new NetCase([3, 2], [], ActivationKind.Identity, LossKind.Quadratic, 2, 1);
        using var net = c.Network();
        double[] theta = net.Parameters.ToArray();
        theta[1] = double.PositiveInfinity;
        double[] before = (double[])theta.Clone();
        using var ng = new NaturalGradient<double>(c.Spec, c.Batch);
        Assert.False(double.IsFinite(ng.Update(theta, c.X(), c.Y())));
        Assert.Equal(before, theta);
    }

    [Fact]
    public void Update_ThrowsForMismatchedShapes()
    {
        var c = new NetCase([3, 2], [], ActivationKind.Identity, LossKind.Quadratic, 2, 1);
        using var ng = new NaturalGradient<double>(c.Spec, c.Batch);
        Assert.Throws<ArgumentException>(() => ng.Update(new double[c.Spec.Layout.Count - 1], c.X(), c.Y()));
        Assert.Throws<ArgumentException>(() => ng.Update(new double[c.Spec.Layout.Count], c.X(), new double[3]));
    }

    [Fact]
    public void Options_OutOfRange_Throw_AndNameIsNatural()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new NaturalGradientOptions(LearningRate: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new NaturalGradientOptions(Damping: -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new NaturalGradientOptions(Momentum: 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new NaturalGradientOptions(Fisher: (FisherKind)7));
        Assert.Equal("natural", new NaturalGradientOptions().Name);
        var spec = new NetCase([3, 2], [], ActivationKind.Identity, LossKind.Quadratic, 2, 1).Spec;
        using var made = new NaturalGradientOptions().Create<float>(spec, 4, 1, 0);
        Assert.Equal("natural", made.Name);
    }
}
