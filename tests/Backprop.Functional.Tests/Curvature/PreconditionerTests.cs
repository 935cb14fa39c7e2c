using Backprop.Functional.Testing;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;
using Curv = Backprop.Functional.Curvature;

namespace Backprop.Functional.Tests.Curvature;

/// <summary>Martens' preconditioner for Hessian-free: the squared per-sample gradients formed from the batch's δ and a
/// against per-row gradients by brute force, M = (s + λ)^ξ, and the sparse initialisation his networks start from.</summary>
public sealed class PreconditionerTests
{
    /// <summary>(1/m) Σᵢ ∇ℓᵢ⊙∇ℓᵢ from (δ⊙δ)ᵀ(a⊙a) equals the mean of the squares of m one-row gradients, on random dense
    /// networks (every fitting output and cost), to 10⁻¹⁰ relative.</summary>
    [Property(MaxTest = 80, Arbitrary = [typeof(SmallNetArbitraries)])]
    public Property Compute_EqualsTheMeanOfPerSampleSquaredGradients(NetCase c)
    {
        var spec = c.Spec;
        using var net = c.Network();
        double[] x = c.X(), y = c.Y(), theta = net.Parameters.ToArray();
        int n = theta.Length;
        var expected = new double[n];
        for (int r = 0; r < c.Batch; r++)
        {
            var g = CurvatureOracles.Gradient(spec, theta, x.AsSpan(r * spec.Inputs, spec.Inputs).ToArray(),
                y.AsSpan(r * spec.Outputs, spec.Outputs).ToArray(), 1);
            for (int p = 0; p < n; p++) expected[p] += g[p] * g[p] / c.Batch;
        }

        using var ws = new CurvatureWorkspace<double>(spec, c.Batch);
        var gradient = new double[n];
        var actual = new double[n];
        var scratch = new double[x.Length];
        Curv.Forward<double>(spec, theta, x, ws);
        Curv.Gradient<double>(spec, theta, x, y, ws, gradient);
        SquaredGradients.Compute<double>(spec, x, ws, scratch, actual);
        double worst = 0;
        for (int p = 0; p < n; p++)
            worst = Math.Max(worst, Math.Abs(actual[p] - expected[p]) / Math.Max(1e-12, Math.Max(Math.Abs(actual[p]), Math.Abs(expected[p]))));
        return (worst < 1e-10).Label($"{c}: worst relative error {worst:E2}");
    }

    /// <summary>ξ = ¾ takes √v·√√v instead of Pow: within 3·10⁻⁷ (float) and 6·10⁻¹⁶ (double) relative of (the two roots and the product round three times, Pow once)
    /// Math.Pow(s + λ, ¾) over values from 10⁻³⁰ to 10³⁰, on lengths that end inside a block.</summary>
    [Property(MaxTest = 100)]
    public Property Preconditioner_ThreeQuarters_MatchesPow() => Prop.ForAll(
        Arb.From(Gen.Choose(1, 1500).SelectMany(n => Gen.Choose(0, 1_000_000).Select(seed => (n, seed)))), c =>
        {
            var rng = new Random(c.seed);
            double[] s = new double[c.n];
            for (int i = 0; i < s.Length; i++) s[i] = Math.Pow(10, -30 + (60 * rng.NextDouble()));
            float[] f = Array.ConvertAll(s, v => (float)v);
            double[] d = (double[])s.Clone();
            HessianFree<float>.Preconditioner(f, 0.001f, 0.75f);
            HessianFree<double>.Preconditioner(d, 0.001, 0.75);
            double worstF = 0, worstD = 0;
            for (int i = 0; i < s.Length; i++)
            {
                double ef = Math.Pow((float)s[i] + 0.001f, 0.75), ed = Math.Pow(s[i] + 0.001, 0.75);
                worstF = Math.Max(worstF, Math.Abs(f[i] - ef) / ef);
                worstD = Math.Max(worstD, Math.Abs(d[i] - ed) / ed);
            }
            return (worstF <= 3e-7 && worstD <= 6e-16).Label($"n {c.n}, seed {c.seed}: float {worstF:E2}, double {worstD:E2}");
        });

    [Fact]
    public void Preconditioner_IsSquaredGradientsPlusDampingToTheXi()
    {
        double[] s = [0, 0.5, 4, 100];
        HessianFree<double>.Preconditioner(s, 2, 0.75);
        double[] expected = [Math.Pow(2, 0.75), Math.Pow(2.5, 0.75), Math.Pow(6, 0.75), Math.Pow(102, 0.75)];
        for (int i = 0; i < s.Length; i++) Assert.Equal(expected[i], s[i], 1e-12);
        double[] bad = [1, double.NaN];
        HessianFree<double>.Preconditioner(bad, 1, 0.75);
        Assert.Equal([1.0, 1.0], bad);
    }

    /// <summary>Preconditioned, CG still converges to the damped Gauss–Newton solution (M changes the path, not the
    /// answer), on a badly scaled input. (Fewer iterations is not promised: on these 31-parameter nets run to a 10⁻¹⁰
    /// residual it took 23–24 against 12–14 plain; Martens' claim is about progress per iteration on large nets.)</summary>
    [Theory]
    [InlineData(3)]
    [InlineData(4)]
    public void Update_Preconditioned_DirectionSolvesTheDampedSystem(int seed)
    {
        var c = new NetCase([3, 4, 3], [ActivationKind.Tanh], ActivationKind.Sigmoid, LossKind.CrossEntropy, 6, seed);
        var spec = c.Spec;
        using var net = c.Network();
        double[] x = c.X(), y = c.Y(), theta = net.Parameters.ToArray();
        for (int r = 0; r < c.Batch; r++) x[r * 3] *= 30;   // one input far larger: G badly scaled across its weights
        for (int i = 0; i < y.Length; i++) y[i] = y[i] > 0.5 ? 1 : 0;
        int n = theta.Length;
        const double lambda = 0.01;
        var (g, gMatrix) = HessianFreeTests.GradientAndG(spec, theta, x, y, c.Batch);
        double[] expected = ConjugateGradientOracle.Solve(ConjugateGradientOracle.Damped(gMatrix, n, lambda), n, g.Select(v => -v).ToArray());
        void Check(double xi)
        {
            var options = new HessianFreeOptions(Damping: lambda, CurvatureFraction: 1, PreconditionerExponent: xi,
                Solver: new ConjugateGradientOptions(MaxIterations: 500, ProgressTolerance: 0, ResidualTolerance: 1e-10));
            using var hf = new HessianFree<double>(spec, c.Batch, options);
            hf.Update((double[])theta.Clone(), x, y);
            double scale = expected.Max(Math.Abs);
            double err = ConjugateGradientOracle.MaxError(hf.Direction, expected) / scale;
            Assert.True(err < 1e-6, $"ξ {xi}: direction {err:E2} (relative) from the dense solve");
            Assert.Equal(ConjugateGradientStop.Residual, hf.LastStep.Stop);
        }
        Check(0);
        Check(0.75);
    }

    [Fact]
    public void Sparse_GivesEachUnitFifteenUnitGaussianWeightsAndZeroBiases()
    {
        var spec = NetworkSpec.Mlp([100, 40, 10], ActivationKind.Sigmoid, ActivationKind.Sigmoid, LossKind.CrossEntropy);
        var theta = new double[spec.Layout.Count];
        Initializer.Fill<double>(spec, theta, Initialization.Sparse, seed: 5);
        var all = new List<double>();
        for (int l = 0; l < 2; l++)
        {
            var layer = (Dense)spec.Layers[l];
            var block = theta.AsSpan(spec.Layout.LayerOffset(l), spec.Layout.LayerLength(l));
            for (int unit = 0; unit < layer.Outputs; unit++)
            {
                var row = block.Slice(unit * layer.Inputs, layer.Inputs);
                int nonZero = 0;
                foreach (double w in row)
                    if (w != 0)
                    {
                        nonZero++;
                        all.Add(w);
                    }
                Assert.Equal(15, nonZero);
            }
            Assert.True(block[(layer.Inputs * layer.Outputs)..].IndexOfAnyExcept(0.0) < 0, "biases are zero");
        }
        double mean = all.Average(), variance = all.Sum(w => (w - mean) * (w - mean)) / (all.Count - 1);
        Assert.InRange(mean, -0.15, 0.15);        // 750 draws: sd of the mean ≈ 0.037
        Assert.InRange(variance, 0.85, 1.15);     // sd of the variance ≈ 0.05
        var narrow = NetworkSpec.Mlp([6, 3], ActivationKind.Sigmoid, ActivationKind.Sigmoid, LossKind.CrossEntropy);
        var t = new double[narrow.Layout.Count];
        Initializer.Fill<double>(narrow, t, Initialization.Sparse, seed: 1);
        Assert.Equal(-1, t.AsSpan(0, 18).IndexOf(0.0));   // fan-in ≤ 15: every weight drawn
    }
}
