using Backprop.Functional.Testing;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;
using Curv = Backprop.Functional.Curvature;

namespace Backprop.Functional.Tests.Curvature;

public static class SmallNetArbitraries
{
    /// <summary>Smooth hidden activations, every fitting (output, cost) pair, ≤ 60 parameters.</summary>
    public static Arbitrary<NetCase> NetCase() => Arb.From(CurvatureOracles.Gen(), NetArbitraries.Shrink);
}

public static class AnyNetArbitraries
{
    /// <summary>Every hidden activation (ReLU kinks included), ≤ 200 parameters.</summary>
    public static Arbitrary<NetCase> NetCase() => Arb.From(CurvatureOracles.Gen(smooth: false, maxParameters: 200), NetArbitraries.Shrink);
}

/// <summary>Hv, Gv and Fv (double) against finite differences of the gradient and against the matrices built explicitly
/// without the R-operator (<see cref="CurvatureOracles"/>), on random networks of depth 1–3, widths 1–5, every fitting
/// output and cost. Errors are relative to max(|a|, |b|, 10⁻⁴·max(1, ‖expected‖∞)).</summary>
public class CurvatureProductProperties
{
    private sealed class Setup : IDisposable
    {
        public readonly NetCase Case;
        public readonly Network<double> Net;
        public readonly CurvatureWorkspace<double> Ws;
        public readonly double[] X, Y, Theta;

        public Setup(NetCase c, int salt = 0)
        {
            Case = c;
            Net = c.Network();
            Ws = new CurvatureWorkspace<double>(c.Spec, c.Batch);
            X = c.X(salt);
            Y = c.Y(salt);
            Theta = Net.Parameters.ToArray();
            Curv.Forward(c.Spec, Theta, X, Ws);
        }

        public double[] Product(string which, double[] v)
        {
            var result = new double[v.Length];
            switch (which)
            {
                case "H": Curv.HessianVector(Case.Spec, Theta, X, Y, Ws, v, result); break;
                case "G": Curv.GaussNewtonVector(Case.Spec, Theta, X, Y, Ws, v, result); break;
                case "F": Curv.FisherVector(Case.Spec, Theta, X, Y, Ws, v, result, FisherKind.True); break;
                case "Fe": Curv.FisherVector(Case.Spec, Theta, X, Y, Ws, v, result, FisherKind.Empirical); break;
                default: throw new ArgumentOutOfRangeException(nameof(which));
            }
            return result;
        }

        public void Dispose()
        {
            Net.Dispose();
            Ws.Dispose();
        }
    }

    private static Property Close(double[] expected, double[] actual, double tolerance, string what)
    {
        double scale = Math.Max(1, expected.Max(Math.Abs));
        var (err, at) = Oracles.MaxError(expected, actual, 1e-4 * scale);
        return (err <= tolerance).Label($"{what}: relative error {err:E2} at {at} (expected {(at >= 0 ? expected[at] : 0):G12}, got {(at >= 0 ? actual[at] : 0):G12})");
    }

    [Property(MaxTest = 150, Arbitrary = [typeof(SmallNetArbitraries)])]
    public Property Hv_equals_the_central_difference_of_the_gradient_along_v(NetCase c)
    {
        using var s = new Setup(c);
        // v of unit length, so the stencil's truncation error (ε²/6 times the third derivative of ∇C along v, which grows
        // as ‖v‖³) stays below the tolerance: with ‖v‖ ≈ 5 a GELU network once missed 10⁻⁶ by 3.6×.
        var v = CurvatureOracles.Direction(s.Theta.Length, c.Seed + 1);
        double norm = Math.Sqrt(v.Sum(t => t * t));
        for (int i = 0; i < v.Length; i++) v[i] /= norm;
        var hv = s.Product("H", v);
        const double eps = 1e-5;
        double[] At(double d) => CurvatureOracles.Gradient(c.Spec, [.. s.Theta.Select((t, i) => t + d * v[i])], s.X, s.Y, c.Batch);
        double[] plus = At(eps), minus = At(-eps);
        var fd = plus.Select((p, i) => (p - minus[i]) / (2 * eps)).ToArray();
        return Close(fd, hv, 1e-6, "Hv against (∇C(θ+εv) − ∇C(θ−εv))/2ε");
    }

    [Property(MaxTest = 150, Arbitrary = [typeof(AnyNetArbitraries)])]
    public Property Hessian_is_symmetric_uHv_equals_vHu(NetCase c)
    {
        using var s = new Setup(c);
        var u = CurvatureOracles.Direction(s.Theta.Length, c.Seed + 2);
        var v = CurvatureOracles.Direction(s.Theta.Length, c.Seed + 3);
        double uHv = u.Zip(s.Product("H", v)).Sum(p => p.First * p.Second);
        double vHu = v.Zip(s.Product("H", u)).Sum(p => p.First * p.Second);
        double err = Math.Abs(uHv - vHu) / Math.Max(1, Math.Max(Math.Abs(uHv), Math.Abs(vHu)));
        return (err <= 1e-10).Label($"uᵀHv = {uHv:G17}, vᵀHu = {vHu:G17}");
    }

    [Property(MaxTest = 60, Arbitrary = [typeof(SmallNetArbitraries)])]
    public Property Hv_Gv_Fv_equal_the_explicit_matrices_times_v(NetCase c)
    {
        using var s = new Setup(c);
        var spec = c.Spec;
        var v = CurvatureOracles.Direction(s.Theta.Length, c.Seed + 4);
        bool atLogits = Curv.SplitsAtLogits(spec.Loss, spec.OutputActivation);
        var h = CurvatureOracles.Hessian(spec, s.Theta, s.X, s.Y, c.Batch);
        var j = CurvatureOracles.Jacobian(spec, s.Theta, s.X, c.Batch, atLogits);
        var outputs = CurvatureOracles.Outputs(spec, s.Theta, s.X, c.Batch, logits: false);
        var g = CurvatureOracles.Sandwich(j, r => CurvatureOracles.OutputCurvature(spec, outputs, s.Y, r, model: false), c.Batch, spec.Outputs);
        var f = CurvatureOracles.Sandwich(j, r => CurvatureOracles.OutputCurvature(spec, outputs, s.Y, r, model: true), c.Batch, spec.Outputs);
        var fe = CurvatureOracles.EmpiricalFisher(spec, s.Theta, s.X, s.Y, c.Batch);
        return Close(CurvatureOracles.Times(h, v), s.Product("H", v), 1e-6, "Hv")
            .And(Close(CurvatureOracles.Times(g, v), s.Product("G", v), 1e-6, "Gv"))
            .And(Close(CurvatureOracles.Times(f, v), s.Product("F", v), 1e-6, "Fv (true)"))
            .And(Close(CurvatureOracles.Times(fe, v), s.Product("Fe", v), 1e-9, "Fv (empirical)"));
    }

    [Property(MaxTest = 60, Arbitrary = [typeof(SmallNetArbitraries)])]
    public Property For_a_linear_output_and_quadratic_cost_G_is_JᵀJ_over_m(NetCase c)
    {
        c = c with { Output = ActivationKind.Identity, Loss = LossKind.Quadratic };
        using var s = new Setup(c);
        var v = CurvatureOracles.Direction(s.Theta.Length, c.Seed + 5);
        var j = CurvatureOracles.Jacobian(c.Spec, s.Theta, s.X, c.Batch, logits: false);
        var jv = CurvatureOracles.Times(j, v);
        int n = v.Length, rows = jv.Length;
        var jtjv = new double[n];
        for (int p = 0; p < n; p++)
            for (int r = 0; r < rows; r++) jtjv[p] += j[r, p] * jv[r] / c.Batch;
        return Close(jtjv, s.Product("G", v), 1e-6, "Gv against JᵀJv/m");
    }

    [Property(MaxTest = 60, Arbitrary = [typeof(SmallNetArbitraries)])]
    public Property For_softmax_and_cross_entropy_the_true_Fisher_is_G_and_the_expectation_over_classes(NetCase c)
    {
        c = c with { Output = ActivationKind.Softmax, Loss = LossKind.SoftmaxCrossEntropy, Seed = c.Seed * 2 };   // one-hot targets
        using var s = new Setup(c);
        var spec = c.Spec;
        int k = spec.Outputs;
        var v = CurvatureOracles.Direction(s.Theta.Length, c.Seed + 6);
        var fv = s.Product("F", v);
        // Oracle: E_{c∼p}[∇ℓ∇ℓᵀ] at z with ∇ℓ = p − e_c, by enumerating the classes.
        var j = CurvatureOracles.Jacobian(spec, s.Theta, s.X, c.Batch, logits: true);
        var p = CurvatureOracles.Outputs(spec, s.Theta, s.X, c.Batch, logits: false);
        var f = CurvatureOracles.Sandwich(j, r =>
        {
            var block = new double[k, k];
            for (int cls = 0; cls < k; cls++)
                for (int a = 0; a < k; a++)
                    for (int b = 0; b < k; b++)
                        block[a, b] += p[r * k + cls] * (p[r * k + a] - (a == cls ? 1 : 0)) * (p[r * k + b] - (b == cls ? 1 : 0));
            return block;
        }, c.Batch, k);
        return Close(s.Product("G", v), fv, 1e-12, "true Fv against Gv")
            .And(Close(CurvatureOracles.Times(f, v), fv, 1e-6, "true Fv against the expectation over classes"));
    }
}

public class CurvatureProductTests
{
    [Fact]
    public void Hv_in_float_matches_double()
    {
        var spec = NetworkSpec.Mlp([6, 8, 4], ActivationKind.Tanh, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy);
        using var netD = Network<double>.Create(spec, seed: 3);
        using var netF = Network<float>.FromParameters(spec, [.. netD.Parameters.ToArray().Select(t => (float)t)]);
        var rng = new SeededRandom(4);
        double[] x = [.. Enumerable.Range(0, 5 * 6).Select(_ => rng.NextGaussian())];
        double[] y = new double[5 * 4];
        for (int r = 0; r < 5; r++) y[r * 4 + r % 4] = 1;
        double[] v = CurvatureOracles.Direction(netD.Parameters.Length, 5);
        using var wd = new CurvatureWorkspace<double>(spec, 5);
        using var wf = new CurvatureWorkspace<float>(spec, 5);
        var hd = new double[v.Length];
        var hf = new float[v.Length];
        Curv.Forward(spec, (ReadOnlySpan<double>)netD.Parameters, x, wd);
        Curv.HessianVector(spec, (ReadOnlySpan<double>)netD.Parameters, x, y, wd, v, hd);
        float[] xf = [.. x.Select(t => (float)t)], yf = [.. y.Select(t => (float)t)], vf = [.. v.Select(t => (float)t)];
        Curv.Forward(spec, (ReadOnlySpan<float>)netF.Parameters, xf, wf);
        Curv.HessianVector(spec, (ReadOnlySpan<float>)netF.Parameters, xf, yf, wf, vf, hf);
        double scale = hd.Max(Math.Abs);
        for (int i = 0; i < v.Length; i++) Assert.True(Math.Abs(hd[i] - hf[i]) <= 1e-4 * scale, $"element {i}: double {hd[i]}, float {hf[i]}");
    }

    [Fact]
    public void A_layer_kind_without_tangent_kernels_is_refused_naming_it()
    {
        var spec = new NetworkSpec([new Dense(3, 4, ActivationKind.Tanh), new Tests.Layers.Scale(4), new Dense(4, 2, ActivationKind.Softmax)], LossKind.SoftmaxCrossEntropy);
        using var net = Network<double>.Create(spec, seed: 1);
        using var ws = new CurvatureWorkspace<double>(spec, 2);
        var theta = net.Parameters.ToArray();
        var x = new double[2 * 3];
        Curv.Forward(spec, theta, x, ws);
        var hv = new double[theta.Length];
        var e = Assert.Throws<NotSupportedException>(() => Curv.HessianVector(spec, theta, x, new double[4], ws, theta, hv));
        Assert.Contains("Scale", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<NotSupportedException>(() => Curv.GaussNewtonVector(spec, theta, x, new double[4], ws, theta, hv));
        Assert.Contains("Scale", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_network_with_an_output_at_every_step_is_refused()
    {
        var spec = new NetworkSpec([new Gru(3, 4) { ReturnSequences = true }, new Dense(4, 2, ActivationKind.Softmax) { PerStep = true }], LossKind.SoftmaxCrossEntropy);
        var e = Assert.Throws<ArgumentException>(() => new CurvatureWorkspace<double>(spec, 2, time: 3));
        Assert.Contains("every step", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_direction_of_the_wrong_length_is_refused_naming_both()
    {
        var spec = NetworkSpec.Mlp([2, 3, 1], ActivationKind.Tanh, ActivationKind.Identity, LossKind.Quadratic);
        using var net = Network<double>.Create(spec, seed: 1);
        using var ws = new CurvatureWorkspace<double>(spec, 1);
        var theta = net.Parameters.ToArray();
        Curv.Forward(spec, theta, new double[2], ws);
        var e = Assert.Throws<ArgumentException>(() => Curv.GaussNewtonVector(spec, theta, new double[2], new double[1], ws, new double[3], new double[theta.Length]));
        Assert.Contains("3", e.Message, StringComparison.Ordinal);
        Assert.Contains(theta.Length.ToString(System.Globalization.CultureInfo.InvariantCulture), e.Message, StringComparison.Ordinal);
    }
}
