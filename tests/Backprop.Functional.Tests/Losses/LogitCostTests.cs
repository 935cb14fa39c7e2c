using System.Globalization;
using System.Numerics;
using Backprop.Functional.Testing;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace Backprop.Functional.Tests.Losses;

/// <summary>Costs of the fused pairs are computed from the logits: exact where the outputs saturate, in double and in
/// float. References: Fixtures/cost-references.csv, written by scripts/cost-references.py (closed forms in mpmath at
/// 1000 digits) and PyTorch's own values beside them (torch 1.13.1, Debian's python3-torch).</summary>
public class LogitCostTests
{
    /// <summary>One fixture row: kind (bce, sce, softplus), z, y, the exact value, and torch's float64/float32 values
    /// (NaN when the script ran without torch).</summary>
    public sealed record Reference(string Kind, double[] Z, double[] Y, double Exact, double Torch64, double Torch32)
    {
        public override string ToString() => $"{Kind} z=[{string.Join(", ", Z)}] y=[{string.Join(", ", Y)}]";
    }

    public static IReadOnlyList<Reference> References { get; } = Load();

    private static List<Reference> Load()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "Losses", "Fixtures", "cost-references.csv");
        var list = new List<Reference>();
        foreach (var line in File.ReadLines(path).Skip(1))
        {
            var f = line.Split(',');
            list.Add(new Reference(f[0], Numbers(f[1]), Numbers(f[2]), Number(f[3]),
                f[4].Length == 0 ? double.NaN : Number(f[4]), f[5].Length == 0 ? double.NaN : Number(f[5])));
        }
        return list;

        static double Number(string s) => double.Parse(s, NumberStyles.Float, CultureInfo.InvariantCulture);
        static double[] Numbers(string s) => s.Length == 0 ? [] : [.. s.Split(';').Select(Number)];
    }

    /// <summary>The cost or softplus of a fixture row in T, through the public operator structs.</summary>
    private static double Compute<T>(Reference r) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T[] z = [.. r.Z.Select(T.CreateChecked)];
        T[] y = [.. r.Y.Select(T.CreateChecked)];
        var a = new T[z.Length];
        switch (r.Kind)
        {
            case "bce":
                Sigmoid.Apply<T>(z, a, z.Length);
                return double.CreateChecked(CrossEntropy.Cost<Sigmoid, T>(z, a, y, z.Length));
            case "sce":
                Softmax.Apply<T>(z, a, z.Length);
                return double.CreateChecked(SoftmaxCrossEntropy.Cost<Softmax, T>(z, a, y, z.Length));
            default:
                return double.CreateChecked(Softplus.Value(z[0]));
        }
    }

    /// <summary>|v − exact| ≤ ulps·ε·max(|exact|, smallest normal of T): relative error, judged absolutely only where
    /// the exact value is below T's normal range.</summary>
    private static bool Close<T>(double value, double exact, double ulps) where T : unmanaged, IFloatingPointIeee754<T>
    {
        double eps = typeof(T) == typeof(float) ? MathF.BitIncrement(1f) - 1f : Math.BitIncrement(1.0) - 1.0;
        double tiny = typeof(T) == typeof(float) ? 1.17549435E-38 : 2.2250738585072014E-308;
        return Math.Abs(value - exact) <= ulps * eps * Math.Max(Math.Abs(exact), tiny);
    }

    private static void AllMatch<T>(string kind, double ulps) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var failures = new List<string>();
        foreach (var r in References.Where(r => r.Kind == kind))
        {
            double v = Compute<T>(r);
            if (!Close<T>(v, r.Exact, ulps))
                failures.Add($"{r}: {v:R} but exactly {r.Exact:R} (relative error {Math.Abs(v - r.Exact) / Math.Abs(r.Exact):E2})");
        }
        Assert.True(References.Any(r => r.Kind == kind), $"no {kind} rows in the fixture");
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Fact] public void Sigmoid_cross_entropy_from_logits_is_exact_in_double() => AllMatch<double>("bce", 8);
    [Fact] public void Sigmoid_cross_entropy_from_logits_is_exact_in_float() => AllMatch<float>("bce", 8);
    [Fact] public void Softmax_cross_entropy_from_logits_is_exact_in_double() => AllMatch<double>("sce", 8);
    [Fact] public void Softmax_cross_entropy_from_logits_is_exact_in_float() => AllMatch<float>("sce", 8);
    [Fact] public void Softplus_is_exact_in_double() => AllMatch<double>("softplus", 4);
    [Fact] public void Softplus_is_exact_in_float() => AllMatch<float>("softplus", 4);

    /// <summary>As right as PyTorch: where the fixture has torch's values, ours is never further from the exact value
    /// than torch's (beyond 2 ulps), in float64 and float32.</summary>
    [Fact]
    public void At_least_as_accurate_as_PyTorch()
    {
        var withTorch = References.Where(r => !double.IsNaN(r.Torch64)).ToList();
        Assert.True(withTorch.Count > 0, "the fixture was written without PyTorch: rerun scripts/cost-references.py where torch is installed");
        var failures = new List<string>();
        foreach (var r in withTorch)
        {
            double ours64 = Compute<double>(r), ours32 = Compute<float>(r);
            if (Math.Abs(ours64 - r.Exact) > Math.Abs(r.Torch64 - r.Exact) + 2 * 2.2e-16 * Math.Abs(r.Exact))
                failures.Add($"{r} double: ours {ours64:R}, torch {r.Torch64:R}, exact {r.Exact:R}");
            if (Math.Abs(ours32 - r.Exact) > Math.Abs(r.Torch32 - r.Exact) + 2 * 1.2e-7 * Math.Max(Math.Abs(r.Exact), 1.2e-38))
                failures.Add($"{r} float: ours {ours32:R}, torch {r.Torch32:R}, exact {r.Exact:R}");
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    /// <summary>The issue's figures, through a whole network (Network.Cost and ValueAndGradient, double and float): one
    /// sigmoid or softmax output layer whose bias sets z.</summary>
    [Theory]
    [InlineData(20.0, 0.0, 20.000000002061153)]
    [InlineData(40.0, 0.0, 40.0)]
    [InlineData(800.0, 0.5, 400.0)]
    [InlineData(800.0, 0.0, 800.0)]
    [InlineData(-800.0, 1.0, 800.0)]
    public void Network_cost_of_a_saturated_sigmoid_is_exact(double z, double y, double exact)
    {
        var spec = new NetworkSpec([new Dense(1, 1, ActivationKind.Sigmoid)], LossKind.CrossEntropy);
        Assert.Equal(exact, NetworkCost<double>(spec, [0.0, z], [1.0], [y]), 15);
        Assert.Equal((float)exact, NetworkCost<float>(spec, [0f, (float)z], [1f], [(float)y]), 6);
    }

    [Theory]
    [InlineData(360.0, 720.0)]
    [InlineData(400.0, 800.0)]
    [InlineData(800.0, 1600.0)]
    public void Network_cost_of_a_saturated_softmax_is_exact(double logit, double exact)
    {
        // Two outputs with biases ±logit, target the second: C = 2·logit + ln(1 + e^−2·logit).
        var spec = new NetworkSpec([new Dense(1, 2, ActivationKind.Softmax)], LossKind.SoftmaxCrossEntropy);
        Assert.Equal(exact, NetworkCost<double>(spec, [0.0, 0.0, logit, -logit], [1.0], [0.0, 1.0]), 12);
        Assert.Equal((float)exact, NetworkCost<float>(spec, [0f, 0f, (float)logit, (float)-logit], [1f], [0f, 1f]), 3);
    }

    private static double NetworkCost<T>(NetworkSpec spec, T[] theta, T[] x, T[] y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        using var net = Network<T>.FromParameters(spec, theta);
        using var ws = net.CreateWorkspace(1);
        using var g = net.CreateGradient();
        T cost = net.Cost(x, y, ws);
        T fromBackward = net.ValueAndGradient(x, y, ws, g.Span);
        Assert.Equal(cost, fromBackward);   // the same function, the same bits
        return double.CreateChecked(cost);
    }

    /// <summary>Backprop's δᴸ = a − y is the derivative of the logit cost also in saturation: at z = 40 the a-based
    /// cost was a constant 708.4 (1 − a = 0, clamped), so its finite difference was 0 against a gradient of 1.</summary>
    [Theory]
    [InlineData(40.0)]
    [InlineData(300.0)]
    public void Gradient_matches_finite_differences_of_the_cost_in_saturation(double z)
    {
        var sigmoid = new NetworkSpec([new Dense(1, 1, ActivationKind.Sigmoid)], LossKind.CrossEntropy);
        using var net = Network<double>.FromParameters(sigmoid, [0.5, z]);
        var report = GradientCheck.Run<double>(net, [1.0], [0.0], new GradientCheckOptions(FiniteDifference.FivePoint));
        Assert.True(report.MaxRelativeError < 1e-9, report.ToString());

        var softmax = new NetworkSpec([new Dense(1, 3, ActivationKind.Softmax)], LossKind.SoftmaxCrossEntropy);
        using var net3 = Network<double>.FromParameters(softmax, [0.5, -0.25, 1, z, -z, 0]);
        report = GradientCheck.Run<double>(net3, [1.0], [0.0, 1.0, 0.0], new GradientCheckOptions(FiniteDifference.FivePoint));
        Assert.True(report.MaxRelativeError < 1e-9, report.ToString());
    }

    /// <summary>Where the textbook cost from a is accurate (moderate z, a away from 0 and 1), the logit cost equals it:
    /// binary cross-entropy for any targets in [0, 1], categorical for probability targets.</summary>
    [Property(MaxTest = 300)]
    public Property Logit_costs_equal_the_textbook_costs_at_moderate_z(PositiveInt rawRows, PositiveInt rawWidth, int seed)
    {
        int rows = 1 + rawRows.Get % 5, width = 1 + rawWidth.Get % 12;
        var rng = new SeededRandom(seed);
        var z = new double[rows * width];
        var y = new double[rows * width];
        var p = new double[rows * width];   // probability targets per row
        for (int i = 0; i < z.Length; i++) { z[i] = 16 * rng.NextDouble() - 8; y[i] = rng.NextDouble(); p[i] = rng.NextDouble(); }
        for (int r = 0; r < rows; r++)
        {
            double s = p.AsSpan(r * width, width).ToArray().Sum();
            for (int j = 0; j < width; j++) p[r * width + j] /= s;
        }
        var a = new double[z.Length];
        Sigmoid.Apply<double>(z, a, width);
        double bce = CrossEntropy.Cost<Sigmoid, double>(z, a, y, width), bceFromA = CrossEntropy.CostFromOutputs<double>(a, y);
        Softmax.Apply<double>(z, a, width);
        double sce = SoftmaxCrossEntropy.Cost<Softmax, double>(z, a, p, width), sceFromA = SoftmaxCrossEntropy.CostFromOutputs<double>(a, p);
        return (Oracles.RelativeError(bce, bceFromA, 1e-300) <= 1e-12).Label($"binary: from z {bce:R}, from a {bceFromA:R}")
            .And((Oracles.RelativeError(sce, sceFromA, 1e-300) <= 1e-12).Label($"categorical: from z {sce:R}, from a {sceFromA:R}"));
    }

    /// <summary>The float cost of a large batch stays within a few float ulps of the same batch costed in double (the
    /// partial sums are accumulated in double), for every loss.</summary>
    [Fact]
    public void Float_cost_of_a_large_batch_is_accurate()
    {
        const int rows = 8192, width = 10;
        var rng = new SeededRandom(7);
        var z = new float[rows * width];
        var y = new float[rows * width];
        for (int i = 0; i < z.Length; i++) z[i] = (float)(6 * rng.NextGaussian());
        for (int r = 0; r < rows; r++) y[r * width + (int)(rng.NextDouble() * width)] = 1;
        double[] zd = [.. z.Select(v => (double)v)], yd = [.. y.Select(v => (double)v)];
        var a = new float[z.Length];
        var ad = new double[z.Length];

        Softmax.Apply<float>(z, a, width);
        Softmax.Apply<double>(zd, ad, width);
        Check("softmax", SoftmaxCrossEntropy.Cost<Softmax, float>(z, a, y, width), SoftmaxCrossEntropy.Cost<Softmax, double>(zd, ad, yd, width));
        Sigmoid.Apply<float>(z, a, width);
        Sigmoid.Apply<double>(zd, ad, width);
        Check("sigmoid", CrossEntropy.Cost<Sigmoid, float>(z, a, y, width), CrossEntropy.Cost<Sigmoid, double>(zd, ad, yd, width));
        Check("quadratic", Quadratic.Cost<Sigmoid, float>(z, a, y, width), Quadratic.Cost<Sigmoid, double>(zd, [.. a.Select(v => (double)v)], yd, width));

        static void Check(string what, float f, double d) =>
            Assert.True(Math.Abs(f - d) <= 4e-7 * Math.Abs(d), $"{what}: float {f:R}, double {d:R}, relative {Math.Abs(f - d) / d:E2}");
    }

    /// <summary>The textbook forms from a clamp nothing: a = 0 against a positive target costs +∞.</summary>
    [Fact]
    public void Costs_from_outputs_are_infinite_where_a_target_gets_probability_zero()
    {
        Assert.Equal(double.PositiveInfinity, SoftmaxCrossEntropy.CostFromOutputs<double>([1.0, 0.0], [0.0, 1.0]));
        Assert.Equal(0.0, SoftmaxCrossEntropy.CostFromOutputs<double>([1.0, 0.0], [1.0, 0.0]));
        Assert.Equal(float.PositiveInfinity, CrossEntropy.CostFromOutputs<float>([1f], [0f]));
        Assert.Equal(float.PositiveInfinity, CrossEntropy.CostFromOutputs<float>([0f], [0.5f]));
        Assert.Equal(0.0, CrossEntropy.CostFromOutputs<double>([1.0, 0.0], [1.0, 0.0]));
    }

    /// <summary>A NaN logit anywhere in a row makes the cost NaN (so training stops on it), at every width: the
    /// vector body, the tail and both.</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(8)]
    [InlineData(11)]
    [InlineData(19)]
    public void A_NaN_logit_gives_a_NaN_cost(int width)
    {
        foreach (int at in new[] { 0, width / 2, width - 1 })
        {
            var z = new float[width];
            for (int i = 0; i < width; i++) z[i] = i - 2.5f;
            z[at] = float.NaN;
            var y = new float[width];
            y[(at + 1) % width] = 1;
            var a = new float[width];
            Softmax.Apply<float>(z, a, width);
            Assert.True(float.IsNaN(SoftmaxCrossEntropy.Cost<Softmax, float>(z, a, y, width)), $"softmax, NaN at {at} of {width}");
            Sigmoid.Apply<float>(z, a, width);
            Assert.True(float.IsNaN(CrossEntropy.Cost<Sigmoid, float>(z, a, y, width)), $"sigmoid, NaN at {at} of {width}");
        }
    }

    /// <summary>A pair without a logit form (cross-entropy on a non-sigmoid output, reachable through the operator
    /// structs) uses the textbook form from a.</summary>
    [Fact]
    public void Unfused_pairs_cost_from_the_outputs()
    {
        double[] z = [0.3, 0.6], a = [0.3, 0.6], y = [1, 0];
        Assert.Equal(CrossEntropy.CostFromOutputs<double>(a, y), CrossEntropy.Cost<Identity, double>(z, a, y, 2));
        Assert.Equal(SoftmaxCrossEntropy.CostFromOutputs<double>(a, y), SoftmaxCrossEntropy.Cost<Sigmoid, double>(z, a, y, 2));
    }

    /// <summary>Softplus's span forms (also in place, in float and double) against the fixture's exact values, where
    /// ln(1 + eᶻ) without the log1p correction was 4·10⁻⁶ (z = −25) and 6 % (z = −35) off; its derivative
    /// 1/(1 + e⁻ᶻ) has no cancellation and matches the scalar form.</summary>
    [Fact]
    public void Softplus_span_forms_and_derivative_are_exact()
    {
        var rows = References.Where(r => r.Kind == "softplus").ToList();
        double[] z = [.. rows.Select(r => r.Z[0])];
        double[] a = new double[z.Length], prime = new double[z.Length];
        Softplus.Apply<double>(z, a, z.Length);
        Softplus.Derivative<double>(z, a, prime);
        float[] zf = [.. z.Select(v => (float)v)];
        float[] af = (float[])zf.Clone();
        Softplus.Apply<float>(af, af, af.Length);   // in place
        for (int i = 0; i < z.Length; i++)
        {
            Assert.True(Close<double>(a[i], rows[i].Exact, 4), $"softplus({z[i]}) = {a[i]:R}, exactly {rows[i].Exact:R}");
            Assert.True(Close<float>(af[i], rows[i].Exact, 4), $"float softplus({z[i]}) in place = {af[i]:R}, exactly {rows[i].Exact:R}");
            double exactPrime = 1 / (1 + Math.Exp(-z[i]));
            Assert.True(Close<double>(prime[i], exactPrime, 4), $"softplus′({z[i]}) = {prime[i]:R}, {exactPrime:R}");
            Assert.True(Close<double>(Softplus.Derivative(z[i], a[i]), exactPrime, 4), $"scalar softplus′({z[i]})");
        }
    }
}
