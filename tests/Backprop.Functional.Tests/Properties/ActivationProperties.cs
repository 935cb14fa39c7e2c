using Backprop.Functional.Testing;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace Backprop.Functional.Tests.Properties;

public class ActivationProperties
{
    [Property(MaxTest = 500)]
    public Property Sigmoid_derivative_is_s_times_one_minus_s_and_at_most_a_quarter(NormalFloat z)
    {
        double s = Sigmoid.Value(z.Get);
        double d = Sigmoid.Derivative(z.Get, s);
        double e = Math.Exp(-Math.Abs(z.Get));
        double independent = e / ((1 + e) * (1 + e));   // σ′(z) = e⁻ᶻ/(1 + e⁻ᶻ)², even in z
        // σ′ is computed as a(1 − a) from the activation backprop already has, as PyTorch does; 1 − a cancels for
        // large z, so the agreement is absolute (a few ε), not relative.
        return (Math.Abs(d - independent) <= 4e-16).Label($"σ′({z.Get}) = {d} but e⁻ᶻ/(1 + e⁻ᶻ)² = {independent}")
            .And((Oracles.RelativeError(d, s * (1 - s), 1e-300) <= 1e-15 || d == s * (1 - s)).Label($"σ′ = {d} but σ(1 − σ) = {s * (1 - s)}"))
            .And((d >= 0 && d <= 0.25).Label($"σ′({z.Get}) = {d} outside [0, ¼]"));
    }

    /// <summary>Values against formulas written out here, independently of the library: a wrong constant (GELU's
    /// 0.044715, LeakyReLU's slope) or a wrong formula fails.</summary>
    [Property(MaxTest = 300)]
    public Property Activation_values_equal_their_textbook_formulas(NormalFloat zf)
    {
        double z = Math.Clamp(zf.Get, -30, 30);
        var failures = new List<string>();
        void Check(string name, double actual, double expected)
        {
            if (Oracles.RelativeError(actual, expected, 1e-300) > 1e-12 && Math.Abs(actual - expected) > 1e-300)
                failures.Add($"{name}({z}) = {actual}, formula {expected}");
        }
        Check("sigmoid", Sigmoid.Value(z), 1 / (1 + Math.Exp(-z)));
        double z2 = z * z;   // (eᶻ − e⁻ᶻ)/(eᶻ + e⁻ᶻ), and its Taylor series where eᶻ − e⁻ᶻ cancels (|z| < 0.01)
        Check("tanh", Tanh.Value(z), Math.Abs(z) < 0.01 ? z * (1 - z2 / 3 + 2 * z2 * z2 / 15 - 17 * z2 * z2 * z2 / 315)
            : (Math.Exp(z) - Math.Exp(-z)) / (Math.Exp(z) + Math.Exp(-z)));
        Check("relu", ReLU.Value(z), Math.Max(z, 0));
        Check("leaky relu", LeakyReLU.Value(z), z > 0 ? z : 0.01 * z);
        double ez = Math.Exp(z);   // ln(1 + eᶻ); its Taylor series where 1 + eᶻ would round eᶻ away
        Check("softplus", Softplus.Value(z), ez < 1e-3 ? ez - ez * ez / 2 + ez * ez * ez / 3 - ez * ez * ez * ez / 4 + Math.Pow(ez, 5) / 5 : Math.Log(1 + ez));
        Check("gelu", GELU.Value(z), 0.5 * z * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (z + 0.044715 * z * z * z))));
        Check("identity", Identity.Value(z), z);
        return (failures.Count == 0).Label(string.Join("; ", failures));
    }

    [Fact]
    public void Activation_values_at_known_points()
    {
        Assert.Equal(0.5, Sigmoid.Value(0.0));
        Assert.Equal(Math.Log(2), Softplus.Value(0.0), 15);
        Assert.Equal(-0.01, LeakyReLU.Value(-1.0), 15);
        Assert.Equal(0.8411919906082768, GELU.Value(1.0), 12);     // ½(1 + tanh(√(2/π)·1.044715))
        Assert.Equal(-0.15880800939172324, GELU.Value(-1.0), 12);
    }

    /// <summary>Costs against sums written out here: ½Σ(a − y)², −Σ[y ln a + (1 − y) ln(1 − a)], −Σ y ln a.</summary>
    [Property(MaxTest = 200)]
    public Property Costs_equal_their_textbook_formulas(PositiveInt length, int seed)
    {
        int n = 1 + length.Get % 20;
        var rng = new SeededRandom(seed);
        var a = new double[n];
        var y = new double[n];
        for (int i = 0; i < n; i++) { a[i] = 0.01 + 0.98 * rng.NextDouble(); y[i] = rng.NextDouble(); }
        double quadratic = 0, ce = 0, sce = 0;
        for (int i = 0; i < n; i++)
        {
            quadratic += 0.5 * (a[i] - y[i]) * (a[i] - y[i]);
            ce -= y[i] * Math.Log(a[i]) + (1 - y[i]) * Math.Log(1 - a[i]);
            sce -= y[i] * Math.Log(a[i]);
        }
        return (Oracles.RelativeError(Quadratic.CostFromOutputs<double>(a, y), quadratic, 1e-300) <= 1e-12).Label("quadratic")
            .And((Oracles.RelativeError(CrossEntropy.CostFromOutputs<double>(a, y), ce, 1e-300) <= 1e-12).Label("binary cross-entropy"))
            .And((Oracles.RelativeError(SoftmaxCrossEntropy.CostFromOutputs<double>(a, y), sce, 1e-300) <= 1e-12).Label("categorical cross-entropy"));
    }

    [Property(MaxTest = 500)]
    public Property Tanh_derivative_is_at_most_one(NormalFloat z)
    {
        double a = Tanh.Value(z.Get);
        double d = Tanh.Derivative(z.Get, a);
        return (d >= 0 && d <= 1).Label($"tanh′({z.Get}) = {d} outside [0, 1]");
    }

    /// <summary>Every element-wise activation through the kit users get for their own activations
    /// (Backprop.Functional.Testing): σ′ equals the five-point finite difference of σ away from kinks, σ″ that of σ′,
    /// and the span forms equal the scalar ones.</summary>
    [Property(MaxTest = 200)] public Property Identity_passes_the_kit() => Testing.ActivationProperties.DerivativeEqualsFiniteDifference<Identity>();
    [Property(MaxTest = 200)] public Property Sigmoid_passes_the_kit() => Testing.ActivationProperties.DerivativeEqualsFiniteDifference<Sigmoid>();
    [Property(MaxTest = 200)] public Property Tanh_passes_the_kit() => Testing.ActivationProperties.DerivativeEqualsFiniteDifference<Tanh>();
    [Property(MaxTest = 200)] public Property ReLU_passes_the_kit() => Testing.ActivationProperties.DerivativeEqualsFiniteDifference<ReLU>();
    [Property(MaxTest = 200)] public Property LeakyReLU_passes_the_kit() => Testing.ActivationProperties.DerivativeEqualsFiniteDifference<LeakyReLU>();
    [Property(MaxTest = 200)] public Property Softplus_passes_the_kit() => Testing.ActivationProperties.DerivativeEqualsFiniteDifference<Softplus>();
    [Property(MaxTest = 200)] public Property GELU_passes_the_kit() => Testing.ActivationProperties.DerivativeEqualsFiniteDifference<GELU>();

    /// <summary>Every element-wise activation: the vectorised value and derivative equal the scalar ones to a few ulps
    /// (float and double, lengths that exercise the vector body and the scalar tail).</summary>
    [Property(MaxTest = 200)]
    public Property Vector_forms_equal_scalar_forms_and_derivative_matches_value(PositiveInt length, int seed)
    {
        int n = 1 + length.Get % 70;
        var rng = new SeededRandom(seed);
        var z = new double[n];
        for (int i = 0; i < n; i++) z[i] = 4 * rng.NextGaussian();
        var failures = new List<string>();
        Each<Identity>(z, failures); Each<Sigmoid>(z, failures); Each<Tanh>(z, failures); Each<ReLU>(z, failures);
        Each<LeakyReLU>(z, failures); Each<Softplus>(z, failures); Each<GELU>(z, failures);
        return (failures.Count == 0).Label(string.Join("; ", failures.Take(5)));
    }

    /// <summary>Backward is u ⊙ σ′(z), also in place (δ and u the same memory, as BP2 calls it) and over lengths that
    /// span several of the chunks GELU and Softplus work in.</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(255)]
    [InlineData(1000)]
    public void Backward_equals_upstream_times_derivative_also_in_place(int n)
    {
        var rng = new SeededRandom(n);
        var z = new double[n];
        var u = new double[n];
        for (int i = 0; i < n; i++) { z[i] = 3 * rng.NextGaussian(); u[i] = rng.NextGaussian(); }
        Check<Identity>(); Check<Sigmoid>(); Check<Tanh>(); Check<ReLU>(); Check<LeakyReLU>(); Check<Softplus>(); Check<GELU>();

        void Check<TAct>() where TAct : struct, IElementwiseActivation
        {
            var a = new double[n];
            var d = new double[n];
            TAct.Apply<double>(z, a, n);
            TAct.Derivative<double>(z, a, d);
            var delta = new double[n];
            TAct.Backward<double>(z, a, u, delta, n);
            var inPlace = (double[])u.Clone();
            TAct.Backward<double>(z, a, inPlace, inPlace, n);
            for (int i = 0; i < n; i++)
            {
                Assert.Equal(u[i] * d[i], delta[i]);
                Assert.Equal(u[i] * d[i], inPlace[i]);
            }
        }
    }

    private static void Each<TAct>(double[] z, List<string> failures) where TAct : struct, IElementwiseActivation
    {
        var a = new double[z.Length];
        var d = new double[z.Length];
        TAct.Apply<double>(z, a, z.Length);
        TAct.Derivative<double>(z, a, d);
        var zf = z.Select(v => (float)v).ToArray();
        var af = new float[z.Length];
        var df = new float[z.Length];
        TAct.Apply<float>(zf, af, z.Length);
        TAct.Derivative<float>(zf, af, df);
        for (int i = 0; i < z.Length; i++)
        {
            double av = TAct.Value(z[i]);
            double scale = Math.Max(1, Math.Abs(z[i]));   // vectorised exp/tanh may differ from T.Exp/T.Tanh by ulps
            if (Math.Abs(av - a[i]) > 1e-14 * scale) failures.Add($"{TAct.Kind} value at {z[i]}: {a[i]} vs {av}");
            if (Math.Abs(TAct.Derivative(z[i], a[i]) - d[i]) > 1e-13 * scale) failures.Add($"{TAct.Kind} derivative at {z[i]}: {d[i]} vs {TAct.Derivative(z[i], a[i])}");
            float avf = TAct.Value(zf[i]);
            if (Math.Abs(avf - af[i]) > 1e-5 * scale) failures.Add($"{TAct.Kind} float value at {zf[i]}: {af[i]} vs {avf}");
            if (Math.Abs(TAct.Derivative(zf[i], af[i]) - df[i]) > 1e-5 * scale) failures.Add($"{TAct.Kind} float derivative at {zf[i]}");
        }
    }

    [Property(MaxTest = 200)]
    public Property Softmax_rows_sum_to_one_and_backward_equals_full_jacobian_product(PositiveInt width, int seed)
    {
        int n = 1 + width.Get % 12, rows = 3;
        var rng = new SeededRandom(seed);
        var z = new double[rows * n];
        var u = new double[rows * n];
        for (int i = 0; i < z.Length; i++) { z[i] = 5 * rng.NextGaussian(); u[i] = rng.NextGaussian(); }
        var a = new double[z.Length];
        var delta = new double[z.Length];
        Softmax.Apply<double>(z, a, n);
        Softmax.Backward<double>(z, a, u, delta, n);
        double worst = 0, sumErr = 0;
        for (int r = 0; r < rows; r++)
        {
            sumErr = Math.Max(sumErr, Math.Abs(a.AsSpan(r * n, n).ToArray().Sum() - 1));
            for (int j = 0; j < n; j++)
            {
                double expected = 0;   // Σᵢ uᵢ ∂aᵢ/∂zⱼ with ∂aᵢ/∂zⱼ = aᵢ(𝟙ᵢⱼ − aⱼ)
                for (int i = 0; i < n; i++) expected += u[r * n + i] * a[r * n + i] * ((i == j ? 1 : 0) - a[r * n + j]);
                worst = Math.Max(worst, Math.Abs(expected - delta[r * n + j]));
            }
        }
        return (sumErr <= 1e-14).Label($"row sums off by {sumErr}").And((worst <= 1e-14).Label($"J product off by {worst}"));
    }
}
