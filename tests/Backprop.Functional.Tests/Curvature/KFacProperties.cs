using Backprop.Functional.Testing;
using Backprop.Functional.Tests.Layers;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;
using static Backprop.Functional.Tests.Curvature.KFacOracle;

namespace Backprop.Functional.Tests.Curvature;

/// <summary><see cref="KFac{T}"/> against exact answers in double: for one sample a layer's true-Fisher block is G ⊗ A
/// in the [W | b] order; sampled G converges to its expectation; every update equals the dense Kronecker solve of an
/// explicit re-implementation (factors built sample by sample, running averages, π, damping, refresh periods, KL clip,
/// momentum); training lowers the loss; non-dense layers with parameters are refused.</summary>
public sealed class KFacProperties
{
    /// <summary>Dense networks of depth 1–3, widths 1–5, ending in softmax + cross-entropy over 2–5 classes.</summary>
    private static Gen<NetCase> SoftmaxNets(int maxBatch) =>
        from depth in Gen.Choose(1, 3)
        from widths in Gen.ArrayOf(Gen.Choose(1, 5), depth + 1)
        from classes in Gen.Choose(2, 5)
        from hidden in Gen.ArrayOf(Gen.Elements(NetCase.ElementwiseKinds), depth)
        from batch in Gen.Choose(1, maxBatch)
        from seed in Gen.Choose(0, 1_000_000)
        select new NetCase([.. widths[..^1], classes], hidden, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy, batch, seed);

    [Property(MaxTest = 150)]
    public Property Fisher_block_of_one_sample_equals_G_kron_A_in_W_b_order() =>
        Prop.ForAll(SoftmaxNets(maxBatch: 1).ToArbitrary(), c =>
        {
            var spec = c.Spec;
            using var net = c.Network();
            using var ws = net.CreateWorkspace(1);
            using var gradient = net.CreateGradient();
            double[] x = c.X();
            double[] p = net.Forward(x, ws).ToArray();
            int layers = spec.Layers.Count, classes = c.Outputs;
            var grads = new double[classes][];
            var deltas = new double[classes][][];
            for (int k = 0; k < classes; k++)   // ∂ℓ(y = k)/∂θ and every δˡ, for the one-hot target k
            {
                var y = new double[classes];
                y[k] = 1;
                net.Backward(x, y, ws, gradient.Span);
                grads[k] = gradient.Span.ToArray();
                deltas[k] = [.. Enumerable.Range(0, layers).Select(l => ws.Delta(l, 1).ToArray())];
            }
            for (int l = 0; l < layers; l++)
            {
                var d = (Dense)spec.Layers[l];
                int inputs = d.Inputs, outputs = d.Outputs, na = inputs + 1, n = outputs * na;
                double[] aPrevious = l == 0 ? x : ws.A(l - 1, 1).ToArray();
                var scratch = new double[Math.Max(inputs * inputs, outputs * outputs)];
                var a = new double[na * na];
                KFac<double>.InputFactor(aPrevious, 1, inputs, a, scratch, 0, 1);
                var g = new double[outputs * outputs];
                var gk = new double[outputs * outputs];
                var fisher = new double[n * n];
                for (int k = 0; k < classes; k++)   // the true Fisher: E over y ~ p exactly, a sum over the classes
                {
                    double[] v = ToWb(grads[k], spec.Layout, l, inputs, outputs);
                    for (int i = 0; i < n; i++)
                        for (int j = 0; j < n; j++) fisher[i * n + j] += p[k] * v[i] * v[j];
                    KFac<double>.OutputFactor(deltas[k][l], 1, outputs, gk, scratch, 0, 1);
                    for (int i = 0; i < gk.Length; i++) g[i] += p[k] * gk[i];
                }
                double[] kron = Kronecker(g, outputs, a, na);
                double scale = 1 + MaxAbs(fisher);
                for (int i = 0; i < fisher.Length; i++)
                    if (Math.Abs(fisher[i] - kron[i]) > 1e-12 * scale)
                        throw new Xunit.Sdk.XunitException(
                            $"{c}: layer {l}, Fisher[{i / n}, {i % n}] = {fisher[i]:R} but (G ⊗ A) = {kron[i]:R}");
            }
        });

    [Theory]
    [InlineData(ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy)]
    [InlineData(ActivationKind.Sigmoid, LossKind.CrossEntropy)]
    [InlineData(ActivationKind.Identity, LossKind.Quadratic)]
    [InlineData(ActivationKind.Tanh, LossKind.Quadratic)]
    public void Sampled_output_factor_tends_to_its_exact_expectation(ActivationKind output, LossKind loss)
    {
        const int m = 40_000, width = 3;
        var spec = NetworkSpec.Mlp([3, 4, width], ActivationKind.Tanh, output, loss);
        using var net = Network<double>.Create(spec, 7);
        double[] one = [0.9, -1.3, 0.4];
        var x = new double[m * one.Length];
        for (int r = 0; r < m; r++) one.CopyTo(x, r * one.Length);
        using var ws = net.CreateWorkspace(m);
        net.Forward(x, ws);
        int last = 1;
        double[] a = ws.A(last, 1).ToArray();
        var exact = new double[width * width];   // E[g gᵀ] for g = ∂ℓ/∂zᴸ at ŷ from the model
        for (int i = 0; i < width; i++)
        {
            exact[i * width + i] = loss switch
            {
                LossKind.SoftmaxCrossEntropy => a[i],
                LossKind.CrossEntropy => a[i] * (1 - a[i]),
                _ when output == ActivationKind.Tanh => (1 - a[i] * a[i]) * (1 - a[i] * a[i]),
                _ => 1,
            };
            if (loss == LossKind.SoftmaxCrossEntropy)
                for (int j = 0; j < width; j++) exact[i * width + j] -= a[i] * a[j];
        }
        var sampled = new double[m * width];
        var random = new SeededRandom(11);
        KFac<double>.SampleTargets(loss, ws.A(last, m), width, ref random, sampled);
        Equations.Deltas(spec, net.Parameters, x, sampled, ws);
        var g = new double[width * width];
        KFac<double>.OutputFactor(ws.Delta(last, m), m, width, g, new double[width * width], 0, 1);
        for (int i = 0; i < g.Length; i++)
            Assert.True(Math.Abs(g[i] - exact[i]) < 0.03, $"G[{i / width}, {i % width}] = {g[i]:F4} from {m} draws, E = {exact[i]:F4}");
    }

    /// <summary>Any fitting output and loss; options that exercise every branch of the step.</summary>
    private static Arbitrary<(NetCase Case, KFacOptions Options)> UpdateCases() =>
        (from c in NetArbitraries.Gen(maxDepth: 3, maxWidth: 5, maxBatch: 5)
         from momentum in Gen.Elements(0.0, 0.9)
         from clip in Gen.Elements<double?>(null, 1e-3, 10.0)
         from damping in Gen.Elements(1e-3, 0.1)
         from statisticsEvery in Gen.Choose(1, 2)
         from inverseEvery in Gen.Choose(1, 3)
         select (c, new KFacOptions(LearningRate: 0.1, Momentum: momentum, Damping: damping, Decay: 0.9,
             StatisticsEvery: statisticsEvery, InverseEvery: inverseEvery, KlClip: clip, Seed: c.Seed))).ToArbitrary();

    [Property(MaxTest = 100)]
    public Property Each_update_equals_the_dense_Kronecker_solve() =>
        Prop.ForAll(UpdateCases(), t =>
        {
            var (c, o) = t;
            var spec = c.Spec;
            var layout = spec.Layout;
            int layers = spec.Layers.Count, count = layout.Count, m = c.Batch;
            using var net = c.Network();
            using var kfac = new KFac<double>(spec, m, o);
            using var wsBatch = new Workspace<double>(spec.Layers, m);
            using var wsOne = new Workspace<double>(spec.Layers, 1);
            var a = new double[layers][];
            var g = new double[layers][];
            var kron = new double[layers][];
            var condition = new double[layers];
            for (int l = 0; l < layers; l++)
            {
                a[l] = new double[(spec.Layers[l].Inputs + 1) * (spec.Layers[l].Inputs + 1)];
                g[l] = new double[spec.Layers[l].Outputs * spec.Layers[l].Outputs];
            }
            var velocity = new double[count];
            var gradient = new double[count];
            var scratch = new double[count];
            long statistics = 0;
            double gamma = Math.Sqrt(o.Damping);
            for (int s = 0; s < 5; s++)
            {
                double[] x = c.X(salt: s), y = c.Y(salt: s);
                double[] theta = net.Parameters.ToArray();
                double cost = kfac.Update(net.Parameters, x, y);

                Equations.Forward(spec, theta, x, wsBatch);
                double expectedCost = Equations.Backward(spec, theta, x, y, wsBatch, gradient);
                Assert.Equal(expectedCost, cost, 12);
                if (!double.IsFinite(cost))   // a diverged run: the contract is that nothing moves
                {
                    Assert.Equal(theta, net.Parameters.ToArray());
                    break;
                }
                if (s % o.StatisticsEvery == 0)
                {
                    double[] drawn = kfac.SampledTargets(m).ToArray();
                    statistics++;
                    double keep = Math.Min(1 - 1.0 / statistics, o.Decay);
                    for (int l = 0; l < layers; l++) { Scale(a[l], keep); Scale(g[l], keep); }
                    for (int r = 0; r < m; r++)   // sample by sample: ā = [aˡ⁻¹; 1], g = ∂ℓ/∂zˡ at the drawn target
                    {
                        double[] xr = x[(r * c.Inputs)..((r + 1) * c.Inputs)];
                        Equations.Forward(spec, theta, xr, wsOne);
                        Equations.Backward(spec, theta, xr, drawn.AsSpan(r * c.Outputs, c.Outputs), wsOne, scratch);
                        for (int l = 0; l < layers; l++)
                        {
                            double[] bar = [.. (l == 0 ? xr : wsOne.A(l - 1, 1).ToArray()), 1.0];
                            double[] gr = wsOne.Delta(l, 1).ToArray();
                            AddOuter(a[l], bar, (1 - keep) / m);
                            AddOuter(g[l], gr, (1 - keep) / m);
                        }
                    }
                }
                if (s % o.InverseEvery == 0)
                    for (int l = 0; l < layers; l++)
                    {
                        int na = spec.Layers[l].Inputs + 1, ng = spec.Layers[l].Outputs;
                        double ta = Trace(a[l], na) / na, tg = Trace(g[l], ng) / ng;
                        double pi = ta > 0 && tg > 0 ? Math.Sqrt(ta / tg) : 1;
                        kron[l] = Kronecker(Damped(g[l], ng, gamma / pi), ng, Damped(a[l], na, pi * gamma), na);
                        // a bound on the damped Kronecker block's condition number: λmax ≤ trace + damping, λmin ≥ damping
                        condition[l] = (Trace(a[l], na) + pi * gamma) / (pi * gamma) * (Trace(g[l], ng) + gamma / pi) / (gamma / pi);
                    }
                var direction = new double[count];
                for (int l = 0; l < layers; l++)
                {
                    int inputs = spec.Layers[l].Inputs, outputs = spec.Layers[l].Outputs;
                    FromWb(Solve(kron[l], ToWb(gradient, layout, l, inputs, outputs)), direction, layout, l, inputs, outputs);
                }
                double dot = 0;
                for (int i = 0; i < count; i++) dot += direction[i] * gradient[i];
                if (!double.IsFinite(dot))   // documented: the factors are updated, θ and v are not
                {
                    Assert.Equal(theta, net.Parameters.ToArray());
                    break;
                }
                double nu = o.KlClip is { } kappa && dot > 0 ? Math.Min(1, Math.Sqrt(kappa / (o.LearningRate * o.LearningRate * dot))) : 1;
                var expected = new double[count];
                for (int i = 0; i < count; i++)
                {
                    velocity[i] = o.Momentum * velocity[i] + nu * direction[i];
                    expected[i] = theta[i] - o.LearningRate * velocity[i];
                }
                // Two backward-stable solves agree to about ε·κ(K) of the step: a run that saturates or diverges (seen:
                // 2-4-1-2 linear, batch 1, λ = 10⁻³, no clip: θ ~ 10⁵³ by step 3) is held to that, a tame one to 10⁻¹².
                double step = MaxAbs(velocity) * o.LearningRate;
                double tolerance = Math.Max(1e-12, 1e-15 * condition.Max()) * step;
                var got = net.Parameters;
                for (int i = 0; i < count; i++)
                    if (Math.Abs(got[i] - expected[i]) > tolerance + 1e-14 * (1 + Math.Abs(expected[i])))
                        throw new Xunit.Sdk.XunitException(
                            $"{c}, {o}: step {s}, θ[{i}] ({layout.SlotOf(i).Name}) = {got[i]:R}, the dense solve gives {expected[i]:R} (step size {step:E2}, κ(K) ≤ {condition.Max():E2})");
            }
        });

    private static void Scale(double[] m, double s)
    {
        for (int i = 0; i < m.Length; i++) m[i] *= s;
    }

    private static void AddOuter(double[] m, double[] v, double w)
    {
        int n = v.Length;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) m[i * n + j] += w * v[i] * v[j];
    }

    [Fact]
    public void Training_a_small_classifier_lowers_the_loss_double() => TrainsDown<double>();

    [Fact]
    public void Training_a_small_classifier_lowers_the_loss_float() => TrainsDown<float>();

    /// <summary>512 points in 4-D, 3 classes by a fixed non-linear teacher; 4-16(Tanh)-3(Softmax), batches of 32,
    /// 10 epochs with the default options.</summary>
    private static void TrainsDown<T>() where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        const int n = 512, inputs = 4, classes = 3, batch = 32;
        var random = new SeededRandom(5);
        var x = new T[n * inputs];
        var y = new T[n * classes];
        for (int r = 0; r < n; r++)
        {
            double x0 = random.NextGaussian(), x1 = random.NextGaussian(), x2 = random.NextGaussian(), x3 = random.NextGaussian();
            double[] score = [x0 + x1 * x2, x1 - x3 + 0.5 * x0 * x0, x2 + x3 - x0 * x1];
            x[r * inputs] = T.CreateChecked(x0);
            x[r * inputs + 1] = T.CreateChecked(x1);
            x[r * inputs + 2] = T.CreateChecked(x2);
            x[r * inputs + 3] = T.CreateChecked(x3);
            y[r * classes + Array.IndexOf(score, score.Max())] = T.One;
        }
        var spec = NetworkSpec.Mlp([inputs, 16, classes], ActivationKind.Tanh, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy);
        using var net = Network<T>.Create(spec, 3);
        using var all = net.CreateWorkspace(n);
        double before = double.CreateChecked(net.Cost(x, y, all));
        using var kfac = new KFac<T>(spec, batch);
        for (int epoch = 0; epoch < 10; epoch++)
            for (int b = 0; b < n / batch; b++)
                kfac.Update(net.Parameters, x.AsSpan(b * batch * inputs, batch * inputs), y.AsSpan(b * batch * classes, batch * classes));
        double after = double.CreateChecked(net.Cost(x, y, all));
        Assert.True(after < 0.5 * before, $"{typeof(T).Name}: mean cost {before:F4} before, {after:F4} after 160 K-FAC steps");
    }

    /// <summary>The update property only reaches factors of order ≤ 6; the inverse is checked here at orders past every
    /// vector width and ragged: (F + dI)·inverse = I for F = (1/m)ĀᵀĀ of random rows, rank m &lt; n.</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(37)]
    [InlineData(150)]
    [InlineData(301)]
    public void Damped_inverse_times_the_damped_factor_is_the_identity(int inputs)
    {
        int n = inputs + 1, m = 40;
        var random = new SeededRandom(inputs);
        var a = new double[m * inputs];
        for (int i = 0; i < a.Length; i++) a[i] = random.NextDouble();
        var f = new double[n * n];
        KFac<double>.InputFactor(a, m, inputs, f, new double[inputs * inputs], 0, 1);
        var inverse = new double[n * n];
        Assert.True(KFac<double>.DampedInverse(f, n, 0.01, inverse, new double[n * n], new double[n], 1));
        double[] damped = Damped(f, n, 0.01);
        double worst = 0;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int k = 0; k < n; k++) s += damped[i * n + k] * inverse[k * n + j];
                worst = Math.Max(worst, Math.Abs(s - (i == j ? 1 : 0)));
            }
        Assert.True(worst < 1e-9, $"order {n}: |(F + dI)·inverse − I| reaches {worst:E2}");
    }

    [Fact]
    public void Constructor_refuses_a_non_dense_layer_with_parameters_naming_it()
    {
        var spec = new NetworkSpec([new Dense(3, 4, ActivationKind.Tanh), new Scale(4), new Dense(4, 2, ActivationKind.Softmax)], LossKind.SoftmaxCrossEntropy);
        var e = Assert.Throws<ArgumentException>(() => new KFac<double>(spec, 4));
        Assert.Contains("layer 1 (Scale)", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Constructor_refuses_factors_past_the_bound_before_allocating_them()
    {
        // θ is small (36,003 values) but the factors are ~2n² per 12,000-wide side: 576 million values, 2.3 GB in float.
        // Before the bound only Array.MaxLength stopped them: two 15,000-wide layers took 12.8 GB in a CLI run.
        var wide = NetworkSpec.Mlp([12_000, 1, 12_000], ActivationKind.Tanh, ActivationKind.Identity, LossKind.Quadratic);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new KFac<float>(wide, 4));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 64L << 20, "allocated before refusing");
        Assert.Contains("more than 250,000,000", e.Message, StringComparison.Ordinal);
        Assert.Contains("12000", e.Message, StringComparison.Ordinal);   // the spec
        // a wide but reasonable network still gets its optimizer
        using var fits = new KFac<float>(NetworkSpec.Mlp([784, 2000, 10], ActivationKind.Tanh, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy), 4);
    }

    [Fact]
    public void Update_with_a_non_finite_cost_leaves_theta_and_state_alone()
    {
        var spec = NetworkSpec.Mlp([2, 3, 1], ActivationKind.Identity, ActivationKind.Identity, LossKind.Quadratic);
        using var net = Network<double>.Create(spec, 1);
        using var kfac = new KFac<double>(spec, 2, new KFacOptions(StatisticsEvery: 1, InverseEvery: 1));
        double[] theta = net.Parameters.ToArray();
        double cost = kfac.Update(net.Parameters, [1e200, -1e200, 1e200, 1e200], [0, 0]);   // a² overflows
        Assert.False(double.IsFinite(cost));
        Assert.Equal(theta, net.Parameters.ToArray());
        Assert.Equal(0, kfac.Step);
        kfac.Update(net.Parameters, [1, 2, 3, 4], [0, 1]);
        Assert.Equal(1, kfac.Step);
        Assert.Equal("kfac", kfac.Name);
    }
}
