using Backprop.Functional.Testing;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;
using static Backprop.Functional.Tests.Curvature.ConjugateGradientOracle;
using Curv = Backprop.Functional.Curvature;

namespace Backprop.Functional.Tests.Curvature;

/// <summary>z = M⁻¹r by a diagonal, through the general preconditioner path (for comparing it with the fused one).</summary>
internal readonly struct DiagonalPreconditioner(double[] m) : IPreconditioner<double>
{
    public void Apply(ReadOnlySpan<double> r, Span<double> z)
    {
        for (int i = 0; i < r.Length; i++) z[i] = r[i] / m[i];
    }
}

/// <summary>Hessian-free's K-FAC preconditioner (<see cref="KFacPreconditioner{T}"/>) against dense Kronecker algebra, and
/// conjugate gradient's general preconditioner path.</summary>
public sealed class KFacPreconditionerTests
{
    /// <summary>M⁻¹r equals the dense solve with the block-diagonal matrix whose layer blocks are
    /// (A + πγI) ⊗ (G + (γ/π)I) in the [W | b] order, A = (1/m) Σ āāᵀ of the layer inputs from a separate forward pass and
    /// G = (1/m) Σ ggᵀ with g = ∂ℓᵢ/∂zˡ, the bias part of row i's gradient at the targets the preconditioner drew;
    /// random dense networks of every output/cost pair, λ ∈ [0.01, 2], to 10⁻⁹ relative.</summary>
    [Property(MaxTest = 80, Arbitrary = [typeof(SmallNetArbitraries)])]
    public Property Apply_IsTheInverseOfTheDampedKroneckerBlocks(NetCase c)
    {
        var spec = c.Spec;
        using var net = c.Network();
        double[] x = c.X(), theta = net.Parameters.ToArray();
        int n = theta.Length, rows = c.Batch;
        var rng = new Random(c.Seed);
        double lambda = 0.01 + (1.99 * rng.NextDouble());
        double[] r = Random(rng, n);

        using var ws = new CurvatureWorkspace<double>(spec, rows);
        Curv.Forward<double>(spec, theta, x, ws);
        using var k = new KFacPreconditioner<double>(spec, rows, 1, c.Seed);
        k.Prepare(theta, x, ws, rows);
        if (!k.Ready) return false.Label($"{c}: no factors");
        k.Damp(lambda);
        var z = new double[n];
        k.Apply(r, z);

        double[] sampled = k.SampledTargets.ToArray();
        using var forward = new Workspace<double>(spec.Layers, rows);
        Equations.Forward<double>(spec, theta, x, forward);
        var perRow = new double[rows][];
        for (int i = 0; i < rows; i++)
            perRow[i] = CurvatureOracles.Gradient(spec, theta, x.AsSpan(i * spec.Inputs, spec.Inputs).ToArray(),
                sampled.AsSpan(i * spec.Outputs, spec.Outputs).ToArray(), 1);
        var layout = spec.Layout;
        double gamma = Math.Sqrt(lambda), worst = 0;
        for (int l = 0; l < spec.Layers.Count; l++)
        {
            var dense = (Dense)spec.Layers[l];
            int inputs = dense.Inputs, outputs = dense.Outputs, na = inputs + 1;
            var a = new double[na * na];
            var g = new double[outputs * outputs];
            int bias = layout.Bias(l).Offset;
            for (int i = 0; i < rows; i++)
            {
                var abar = new double[na];
                ReadOnlySpan<double> input = l == 0 ? x.AsSpan(i * inputs, inputs) : forward.A(l - 1, rows).Slice(i * inputs, inputs);
                input.CopyTo(abar);
                abar[inputs] = 1;
                for (int p = 0; p < na; p++)
                    for (int q = 0; q < na; q++) a[(p * na) + q] += abar[p] * abar[q] / rows;
                for (int p = 0; p < outputs; p++)
                    for (int q = 0; q < outputs; q++) g[(p * outputs) + q] += perRow[i][bias + p] * perRow[i][bias + q] / rows;
            }
            double ta = KFacOracle.Trace(a, na), tg = KFacOracle.Trace(g, outputs);
            double pi = Math.Sqrt(ta / na / (tg / outputs));
            if (!(ta > 0 && tg > 0 && double.IsFinite(pi) && pi > 0)) pi = 1;
            double[] block = KFacOracle.Kronecker(KFacOracle.Damped(g, outputs, gamma / pi), outputs, KFacOracle.Damped(a, na, pi * gamma), na);
            double[] expected = KFacOracle.Solve(block, KFacOracle.ToWb(r, layout, l, inputs, outputs));
            double[] actual = KFacOracle.ToWb(z, layout, l, inputs, outputs);
            double scale = Math.Max(1e-12, KFacOracle.MaxAbs(expected));
            for (int i = 0; i < expected.Length; i++) worst = Math.Max(worst, Math.Abs(actual[i] - expected[i]) / scale);
        }
        return (worst < 1e-9).Label($"{c}, λ {lambda:G3}: M⁻¹r {worst:E2} (relative) from the dense Kronecker solve");
    }

    /// <summary>Why Hessian-free needs no second forward pass after <see cref="KFacPreconditioner{T}.Prepare"/>: its backward
    /// pass at the drawn targets writes only δ, and a Gauss–Newton product reads z and a (its own δ buffers are the
    /// tangent's), so Gv after Prepare has the bits of Gv after a plain forward pass. Random dense networks of every
    /// output/cost pair, the factors on some or all of the rows.</summary>
    [Property(MaxTest = 60, Arbitrary = [typeof(SmallNetArbitraries)])]
    public Property Prepare_LeavesTheForwardPassThatGaussNewtonProductsRead(NetCase c)
    {
        var spec = c.Spec;
        using var net = c.Network();
        double[] x = c.X(), y = c.Y(), theta = net.Parameters.ToArray();
        int n = theta.Length, rows = c.Batch;
        var rng = new Random(c.Seed);
        double[] v = Random(rng, n);
        var expected = new double[n];
        var actual = new double[n];
        using var ws = new CurvatureWorkspace<double>(spec, rows);
        Curv.Forward<double>(spec, theta, x, ws);
        Curv.GaussNewtonVector<double>(spec, theta, x, y, ws, v, expected);
        Curv.Forward<double>(spec, theta, x, ws);
        using var k = new KFacPreconditioner<double>(spec, rows, 1, c.Seed);
        k.Prepare(theta, x, ws, 1 + rng.Next(rows));
        Curv.GaussNewtonVector<double>(spec, theta, x, y, ws, v, actual);
        int differ = 0;
        for (int i = 0; i < n; i++)
            if (BitConverter.DoubleToInt64Bits(expected[i]) != BitConverter.DoubleToInt64Bits(actual[i])) differ++;
        return (differ == 0).Label($"{c}: {differ} of {n} elements of Gv differ after Prepare");
    }

    /// <summary>With the K-FAC preconditioner, Hessian-free's CG (Gv on the whole batch, run to a 10⁻¹⁰ residual) still
    /// reaches the dense solve of (G + λI)d = −∇C: M changes the path, not the answer. Random dense networks, λ ∈ [0.05, 1].</summary>
    [Property(MaxTest = 60, Arbitrary = [typeof(SmallNetArbitraries)])]
    public Property Update_KFacPreconditioned_DirectionSolvesTheDampedSystem(NetCase c)
    {
        var spec = c.Spec;
        using var net = c.Network();
        double[] x = c.X(), y = c.Y(), theta = net.Parameters.ToArray();
        int n = theta.Length;
        double lambda = 0.05 + (0.95 * new Random(c.Seed).NextDouble());
        var (g, gMatrix) = HessianFreeTests.GradientAndG(spec, theta, x, y, c.Batch);
        double[] expected = Solve(Damped(gMatrix, n, lambda), n, g.Select(v => -v).ToArray());
        var options = new HessianFreeOptions(Damping: lambda, CurvatureFraction: 1, Preconditioner: HessianFreePreconditioner.KFac,
            Solver: new ConjugateGradientOptions(MaxIterations: 500, ProgressTolerance: 0, ResidualTolerance: 1e-10));
        using var hf = new HessianFree<double>(spec, c.Batch, options, seed: c.Seed);
        hf.Update((double[])theta.Clone(), x, y);
        double scale = Math.Max(1e-12, expected.Max(Math.Abs));
        double err = MaxError(hf.Direction, expected) / scale;
        return (err < 1e-6).Label($"{c}, λ {lambda:G3}: direction {err:E2} (relative) from the dense solve after {hf.LastStep.CgIterations} iterations ({hf.LastStep.Stop})");
    }

    /// <summary>The general preconditioner path (M⁻¹ applied after the fused pass, rᵀz in its own pass) keeps the same
    /// iterates as the fused diagonal path, to 10⁻¹² relative, on random SPD systems, warm or cold.</summary>
    [Property(MaxTest = 50)]
    public Property Solve_GeneralPreconditioner_MatchesTheFusedDiagonal() => Prop.ForAll(
        Arb.From(Gen.Choose(2, 40).SelectMany(n => Gen.Choose(0, 1_000_000).Select(seed => (n, seed)))), t =>
        {
            var rng = new Random(t.seed);
            double[] a = RandomSpd(rng, t.n, 0.01), b = Random(rng, t.n), m = Random(rng, t.n, 0.2, 5);
            double[] d0 = t.seed % 2 == 0 ? new double[t.n] : Random(rng, t.n, -0.1, 0.1);
            var options = new ConjugateGradientOptions(MaxIterations: t.n, ProgressTolerance: 0, KeepFirst: 1, KeepRatio: 1.01);
            using var fused = new ConjugateGradient<double>(t.n, options);
            using var general = new ConjugateGradient<double>(t.n, options);
            var op = new MatrixOperator(a, t.n);
            double[] df = (double[])d0.Clone(), dg = (double[])d0.Clone();
            var rf = fused.Solve(ref op, b, 0.05, df, m);
            var pre = new DiagonalPreconditioner(m);
            var rg = general.Solve(ref op, b, 0.05, dg, ref pre);
            double scale = Math.Max(1e-12, Solve(Damped(a, t.n, 0.05), t.n, b).Max(Math.Abs));
            double worst = 0;
            int kept = Math.Min(fused.KeptCount, general.KeptCount);
            for (int k = 0; k < kept; k++)
                if (fused.KeptIteration(k) == general.KeptIteration(k)) worst = Math.Max(worst, MaxError(fused.Kept(k), general.Kept(k)) / scale);
                else worst = double.PositiveInfinity;
            return (worst < 1e-12 && rf.Iterations == rg.Iterations && rf.Stop == rg.Stop)
                .Label($"n {t.n}, seed {t.seed}: worst {worst:E2}, iterations {rf.Iterations}/{rg.Iterations}, {rf.Stop}/{rg.Stop}");
        });

    [Fact]
    public void Create_KFacOnANonDenseNetwork_NamesTheLayer()
    {
        var spec = new NetworkSpec([new Dense(4, 3, ActivationKind.Tanh), new Tests.Layers.Scale(3), new Dense(3, 2, ActivationKind.Softmax)], LossKind.SoftmaxCrossEntropy);
        var e = Assert.Throws<ArgumentException>(() => new HessianFree<double>(spec, 8, new HessianFreeOptions(Preconditioner: HessianFreePreconditioner.KFac)));
        Assert.Contains("layer 1", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => new HessianFreeOptions(Preconditioner: (HessianFreePreconditioner)7));
    }

    [Fact]
    public void Create_KFacPastTheBound_IsRefusedWithTheCount()
    {
        var wide = NetworkSpec.Mlp([12_000, 1, 12_000], ActivationKind.Tanh, ActivationKind.Identity, LossKind.Quadratic);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new KFacPreconditioner<float>(wide, 20_000, threads: 1, seed: 1));
        Assert.Contains("more than 250,000,000", e.Message, StringComparison.Ordinal);
    }
}
