using Backprop.Functional.Testing;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;
using static Backprop.Functional.Tests.Curvature.HessianDiagonalOracles;

namespace Backprop.Functional.Tests.Curvature;

/// <summary>The Becker–LeCun diagonal against the exact diagonals of H = ∇²C and of the Gauss–Newton G, built densely in
/// double, exactly where the theory says they agree (≤ 10⁻⁸ relative) — the last layer of any network, every layer of a
/// one-layer network, of a two-layer network with one output, of a width-one chain — and visibly apart elsewhere.</summary>
public class HessianDiagonalTests
{
    // 10⁻⁸, not 10⁻¹⁰: near GELU's stationary point (z ≈ −0.75) GELU′ = Φ(z) + zφ(z) is a difference of terms ≈ 0.23, so
    // its few-ulp rounding is relative to |GELU′|, not to 0.23. A fresh-clone CI run drew a two-layer GELU net whose one
    // output sat there (diag G ≈ 2.2e-12 throughout, GELU′ ≈ 1.5e-6): the exact and Becker–LeCun diagonals, which reach
    // GELU′ by different routes, agreed to 4.25e-10 (kept below as a replay). A real error in either is O(1).
    private const double Tolerance = 1e-8;

    [Property(MaxTest = 200, Arbitrary = [typeof(OneLayerNets)])]
    public Property OneLayer_SecondOrder_equals_the_exact_diagonal_of_H(NetCase c) =>
        AgreesEverywhere(c, BeckerLeCunVariant.SecondOrder, gaussNewton: false);

    [Property(MaxTest = 200, Arbitrary = [typeof(OneLayerNets)])]
    public Property OneLayer_GaussNewton_equals_the_diagonal_of_G(NetCase c) =>
        AgreesEverywhere(c, BeckerLeCunVariant.GaussNewton, gaussNewton: true);

    [Property(MaxTest = 100, Arbitrary = [typeof(SmallNets)])]
    public Property LastLayer_of_any_depth_is_exact_in_both_variants(NetCase c)
    {
        var spec = c.Spec;
        double[] theta = Theta(c), x = c.X(), y = c.Y();
        var range = spec.Layout.LayerRange(spec.Layers.Count - 1);
        var (from, to) = (range.Start.Value, range.End.Value);
        var h = Exact(spec, theta, x, y, c.Batch);
        var g = Exact(spec, theta, x, y, c.Batch, gaussNewton: true);
        var second = BeckerLeCun(spec, theta, x, y, c.Batch, BeckerLeCunVariant.SecondOrder);
        var gn = BeckerLeCun(spec, theta, x, y, c.Batch, BeckerLeCunVariant.GaussNewton);
        var eh = MaxRelative(h, second, from, to);
        var eg = MaxRelative(g, gn, from, to);
        return (eh.Error <= Tolerance && eg.Error <= Tolerance)
            .Label($"{c}: {Describe("SecondOrder vs diag H", h, second, eh)}; {Describe("GaussNewton vs diag G", g, gn, eg)}");
    }

    [Property(MaxTest = 200, Arbitrary = [typeof(OneOutputNets)])]
    public Property TwoLayers_with_one_output_are_exact_throughout(NetCase c) =>
        AgreesEverywhere(c, BeckerLeCunVariant.SecondOrder, gaussNewton: false)
            .And(AgreesEverywhere(c, BeckerLeCunVariant.GaussNewton, gaussNewton: true));

    /// <summary>The case CI drew (6-2 Identity, 1 GELU output at GELU′ ≈ 1.5e-6, quadratic, batch 2): 4.25e-10 apart.</summary>
    [Property(MaxTest = 1, Replay = "1386175006725784172,11584297399025611287,62", Arbitrary = [typeof(OneOutputNets)])]
    public Property TwoLayers_with_one_output_are_exact_throughout_on_the_case_CI_drew(NetCase c) =>
        TwoLayers_with_one_output_are_exact_throughout(c);

    [Theory]
    [InlineData(ActivationKind.Tanh, ActivationKind.Sigmoid, LossKind.Quadratic)]
    [InlineData(ActivationKind.Softplus, ActivationKind.Sigmoid, LossKind.CrossEntropy)]
    [InlineData(ActivationKind.GELU, ActivationKind.Identity, LossKind.Quadratic)]
    public void A_chain_one_unit_wide_is_exact_throughout(ActivationKind hidden, ActivationKind output, LossKind loss)
    {
        var c = new NetCase([3, 1, 1, 1], [hidden, hidden, hidden], output, loss, Batch: 4, Seed: 11);
        var second = Agreement(c, BeckerLeCunVariant.SecondOrder, gaussNewton: false);
        var gn = Agreement(c, BeckerLeCunVariant.GaussNewton, gaussNewton: true);
        Assert.True(second.Ok, second.Message);
        Assert.True(gn.Ok, gn.Message);
    }

    [Fact]
    public void A_deeper_wider_network_is_exact_in_neither_variant_below_the_last_layer()
    {
        // Both drop the coupling ∂²C/∂zⱼ∂zₖ between the units of a layer; the first layer is two layers away from it.
        var c = new NetCase([3, 4, 4, 3], [ActivationKind.Tanh, ActivationKind.Tanh], ActivationKind.Softmax,
            LossKind.SoftmaxCrossEntropy, Batch: 5, Seed: 4);
        var spec = c.Spec;
        double[] theta = Theta(c), x = c.X(), y = c.Y();
        int end = spec.Layout.LayerRange(0).End.Value;
        var h = Exact(spec, theta, x, y, c.Batch);
        var g = Exact(spec, theta, x, y, c.Batch, gaussNewton: true);
        var eh = MaxRelative(h, BeckerLeCun(spec, theta, x, y, c.Batch, BeckerLeCunVariant.SecondOrder), 0, end);
        var eg = MaxRelative(g, BeckerLeCun(spec, theta, x, y, c.Batch, BeckerLeCunVariant.GaussNewton), 0, end);
        Assert.True(eh.Error > 1e-2, $"SecondOrder vs diag H: {eh.Error:E2}");
        Assert.True(eg.Error > 1e-2, $"GaussNewton vs diag G: {eg.Error:E2}");
    }

    [Property(MaxTest = 100, Arbitrary = [typeof(SmallNets)])]
    public Property Without_sigma_second_the_variants_coincide_and_so_do_diag_H_and_diag_G(NetCase c)
    {
        // Identity/ReLU hidden layers, a matching output: σ″ = 0 below the output and each θᵢ enters zᴸ piecewise linearly.
        var hidden = c.Hidden.Select((k, i) => i % 2 == 0 ? ActivationKind.ReLU : ActivationKind.Identity).ToArray();
        var pair = (c.Seed % 3) switch
        {
            0 => (ActivationKind.Identity, LossKind.Quadratic),
            1 => (ActivationKind.Sigmoid, LossKind.CrossEntropy),
            _ => (ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy),
        };
        c = c with { Hidden = hidden, Output = pair.Item1, Loss = pair.Item2 };
        var spec = c.Spec;
        double[] theta = Theta(c), x = c.X(), y = c.Y();
        var second = BeckerLeCun(spec, theta, x, y, c.Batch, BeckerLeCunVariant.SecondOrder);
        var gn = BeckerLeCun(spec, theta, x, y, c.Batch, BeckerLeCunVariant.GaussNewton);
        var h = Exact(spec, theta, x, y, c.Batch);
        var g = Exact(spec, theta, x, y, c.Batch, gaussNewton: true);
        var e = MaxRelative(h, g);
        return (second.AsSpan().SequenceEqual(gn) && e.Error <= Tolerance).Label($"{c}: {Describe("diag H vs diag G", h, g, e)}");
    }

    [Fact]
    public void BeckerLeCun_returns_the_mean_cost_of_the_backward_pass()
    {
        var c = new NetCase([4, 3, 2], [ActivationKind.Tanh], ActivationKind.Sigmoid, LossKind.Quadratic, Batch: 3, Seed: 5);
        using var net = c.Network();
        using var ws = net.CreateWorkspace(c.Batch);
        using var grad = net.CreateGradient();
        double[] x = c.X(), y = c.Y();
        double expected = net.ValueAndGradient(x, y, ws, grad.Span);
        using var cws = new CurvatureWorkspace<double>(c.Spec, c.Batch);
        using var bl = new HessianDiagonal<double>(c.Spec, c.Batch);
        Backprop.Functional.Curvature.Forward<double>(c.Spec, net.Parameters, x, cws);
        Assert.Equal(expected, bl.BeckerLeCun(net.Parameters, x, y, cws, new double[net.Parameters.Length]));
    }

    [Fact]
    public void BeckerLeCun_ThrowsForMismatchedShapes()
    {
        var c = new NetCase([4, 3, 2], [ActivationKind.Tanh], ActivationKind.Sigmoid, LossKind.Quadratic, Batch: 3, Seed: 5);
        var spec = c.Spec;
        double[] theta = Theta(c), x = c.X(), y = c.Y();
        using var cws = new CurvatureWorkspace<double>(spec, 3);
        using var bl = new HessianDiagonal<double>(spec, 3);
        Backprop.Functional.Curvature.Forward<double>(spec, theta, x, cws);
        Assert.Throws<ArgumentException>(() => bl.BeckerLeCun(theta, x, y, cws, new double[theta.Length - 1]));
        Assert.Throws<ArgumentException>(() => bl.BeckerLeCun(theta, x.AsSpan(0, 8), y.AsSpan(0, 4), cws, new double[theta.Length]));
        Assert.Throws<ArgumentException>(() => bl.BeckerLeCun(theta, x, y.AsSpan(0, 4), cws, new double[theta.Length]));
        using var other = new CurvatureWorkspace<double>(NetworkSpec.Mlp([4, 2], ActivationKind.Sigmoid, ActivationKind.Sigmoid, LossKind.Quadratic), 3);
        Assert.Throws<ArgumentException>(() => bl.BeckerLeCun(theta, x, y, other, new double[theta.Length]));
        Assert.Throws<NotSupportedException>(() => new HessianDiagonal<double>(
            new NetworkSpec([new Dense(4, 3, ActivationKind.Tanh), new Tests.Layers.Scale(3), new Dense(3, 2)], LossKind.Quadratic), 3));
    }

    private static Property AgreesEverywhere(NetCase c, BeckerLeCunVariant variant, bool gaussNewton)
    {
        var (ok, message) = Agreement(c, variant, gaussNewton);
        return ok.Label(message);
    }

    private static (bool Ok, string Message) Agreement(NetCase c, BeckerLeCunVariant variant, bool gaussNewton)
    {
        var spec = c.Spec;
        double[] theta = Theta(c), x = c.X(), y = c.Y();
        var exact = Exact(spec, theta, x, y, c.Batch, gaussNewton);
        var estimate = BeckerLeCun(spec, theta, x, y, c.Batch, variant);
        var e = MaxRelative(exact, estimate);
        return (e.Error <= Tolerance, $"{c}, {variant}: {Describe(gaussNewton ? "diag G" : "diag H", exact, estimate, e)}");
    }
}
