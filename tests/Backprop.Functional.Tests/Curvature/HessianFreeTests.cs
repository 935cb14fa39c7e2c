using Backprop.Functional.Testing;
using Xunit;
using Xunit.Abstractions;
using static Backprop.Functional.Tests.Curvature.ConjugateGradientOracle;
using Curv = Backprop.Functional.Curvature;

namespace Backprop.Functional.Tests.Curvature;

public sealed class HessianFreeTests(ITestOutputHelper output)
{
    /// <summary>On ½θᵀAθ − bᵀθ with cond(A) = 10⁴, 30 Hessian-free updates (default options) close the gap to the
    /// minimum by far more than 30 steps of gradient descent with the best of 60 fixed step sizes in (0, 2/L). The first
    /// ~20 updates are λ falling by 2/3 from λ₀ = 1 to the small eigenvalues; from there on CG solves the system.</summary>
    [Fact]
    public void Step_IllConditionedQuadratic_FarFasterPerIterationThanBestFixedStepGradientDescent()
    {
        const int n = 40, iterations = 30;
        var rng = new Random(11);
        double[] a = QuadraticProblem.IllConditioned(rng, n, 1e4);
        double[] b = Random(rng, n);
        double fStar = Phi(a, n, b, Solve(a, n, b));
        double gap0 = Phi(a, n, b, new double[n]) - fStar;

        var problem = new QuadraticProblem(a, b);
        using var hf = new HessianFree<double>(n, new HessianFreeOptions());
        var theta = new double[n];
        for (int k = 0; k < iterations; k++)
        {
            hf.Step(ref problem, theta);
            output.WriteLine($"HF {k}: gap {Phi(a, n, b, theta) - fStar:E3}, CG {hf.LastStep.CgIterations} ({hf.LastStep.Stop}), λ {hf.LastStep.Damping:E2}");
        }
        double hfGap = Phi(a, n, b, theta) - fStar;

        double gdGap = double.PositiveInfinity;
        for (int j = 1; j <= 60; j++)
        {
            double eta = 2.0 * j / 61;   // L = 1
            var t = new double[n];
            var g = new double[n];
            for (int k = 0; k < iterations; k++)
            {
                problem.ValueAndGradient(t, g, default);
                for (int i = 0; i < n; i++) t[i] -= eta * g[i];
            }
            gdGap = Math.Min(gdGap, Phi(a, n, b, t) - fStar);
        }
        output.WriteLine($"gap: start {gap0:E3}, HF {hfGap:E3} (λ now {hf.Damping:E2}), best GD {gdGap:E3}");
        Assert.True(gdGap > 0.1 * gap0, $"gradient descent closed the gap more than expected: {gdGap:E3} of {gap0:E3}");
        Assert.True(hfGap < 1e-3 * gdGap, $"HF gap {hfGap:E3}, best GD gap {gdGap:E3}");
    }

    /// <summary>On an exact quadratic, ρ = 1 every update, so λ falls by 2/3 each time and the line search takes α = 1.</summary>
    [Fact]
    public void Step_ExactQuadratic_RhoIsOneAndDampingFallsByTwoThirds()
    {
        const int n = 10;
        var rng = new Random(5);
        double[] a = RandomSpd(rng, n, 0.1);
        double[] b = Random(rng, n);
        var problem = new QuadraticProblem(a, b);
        using var hf = new HessianFree<double>(n, new HessianFreeOptions(Damping: 2));
        var theta = new double[n];
        for (int k = 0; k < 3; k++)
        {
            double before = hf.Damping;
            hf.Step(ref problem, theta);
            Assert.Equal(1.0, hf.LastStep.Rho, 1e-9);
            Assert.Equal(1.0, hf.LastStep.StepSize);
            Assert.Equal(before * 2 / 3, hf.Damping, 1e-12);
        }
    }

    /// <summary>First update, cold start, all curvature rows, CG run to convergence: the direction solves
    /// (G + λ₀I)d = −∇C with G built column by column from Gv.</summary>
    [Theory]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public void Update_FirstStep_DirectionSolvesTheDampedGaussNewtonSystem(int seed)
    {
        var c = new NetCase([3, 4, 3], [ActivationKind.Tanh], ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy, 6, seed);
        var spec = c.Spec;
        using var net = c.Network();
        double[] x = c.X(), y = c.Y(), theta = net.Parameters.ToArray();
        int n = theta.Length;
        const double lambda = 0.3;
        var (g, gMatrix) = GradientAndG(spec, theta, x, y, c.Batch);
        double[] expected = Solve(Damped(gMatrix, n, lambda), n, g.Select(v => -v).ToArray());

        var options = new HessianFreeOptions(Damping: lambda, CurvatureFraction: 1,
            Solver: new ConjugateGradientOptions(MaxIterations: 500, ProgressTolerance: 0, ResidualTolerance: 1e-12));
        using var hf = new HessianFree<double>(spec, c.Batch, options);
        var updated = (double[])theta.Clone();
        hf.Update(updated, x, y);
        double err = MaxError(hf.Direction, expected);
        Assert.True(err < 1e-8, $"{c}: direction {err:E2} from the dense solve");
        Assert.Equal(ConjugateGradientStop.Residual, hf.LastStep.Stop);
        // θ moved by α times the iterate backtracking chose.
        double[] chosen = hf.Chosen.ToArray();
        if (hf.LastStep.Backtracked == hf.LastStep.CgIterations) Assert.Equal(hf.Direction.ToArray(), chosen);
        for (int i = 0; i < n; i++) Assert.Equal(theta[i] + (hf.LastStep.StepSize * chosen[i]), updated[i], 1e-12);
    }

    /// <summary>With the last h·rows held out: the solve is the one an optimizer without held-out rows makes on the
    /// fitted rows alone (gradient, preconditioner and Gv see none of the held-out rows), and ρ of the chosen iterate d is
    /// measured on the held-out rows: ρ = (C_held(θ + d) − C_held(θ)) / (gᵀd + ½dᵀGd), g and G of the fitted rows.</summary>
    [Theory]
    [InlineData(3)]
    [InlineData(4)]
    public void Update_HeldOutRows_FitOnTheOthers_RhoOnTheHeldOut(int seed)
    {
        var c = new NetCase([3, 4, 3], [ActivationKind.Tanh], ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy, 8, seed);
        using var net = c.Network();
        double[] x = c.X(), y = c.Y(), theta = net.Parameters.ToArray();
        const int fit = 6, curvature = 3;   // 8 rows, a quarter held out (the last 2); Gv on half the fitted rows
        double[] xf = x[..(fit * 3)], yf = y[..(fit * 3)], xh = x[(fit * 3)..], yh = y[(fit * 3)..];
        var solver = new ConjugateGradientOptions(MaxIterations: 500, ProgressTolerance: 0, ResidualTolerance: 1e-12);
        var plain = new HessianFreeOptions(Damping: 0.3, CurvatureFraction: 0.5, Solver: solver);
        using var reference = new HessianFree<double>(c.Spec, fit, plain);
        using var held = new HessianFree<double>(c.Spec, c.Batch, plain with { HeldOutFraction = 0.25 });
        double[] t1 = (double[])theta.Clone(), t2 = (double[])theta.Clone();
        double c1 = reference.Update(t1, xf, yf), c2 = held.Update(t2, x, y);
        Assert.Equal(c1, c2, 1e-12);   // the returned cost is the fitted rows'
        Assert.True(MaxError(held.Direction, reference.Direction.ToArray()) < 1e-10, $"{c}: directions differ");

        var (g, _) = GradientAndG(c.Spec, theta, xf, yf, fit);
        var (_, gMatrix) = GradientAndG(c.Spec, theta, xf[..(curvature * 3)], yf[..(curvature * 3)], curvature);
        double[] d = held.Chosen.ToArray(), moved = (double[])theta.Clone();
        int n = d.Length;
        double q = 0;
        for (int i = 0; i < n; i++)
        {
            moved[i] += d[i];
            double gd = 0;
            for (int j = 0; j < n; j++) gd += gMatrix[(i * n) + j] * d[j];
            q += (g[i] * d[i]) + (0.5 * d[i] * gd);
        }
        double heldChange = Cost(c.Spec, moved, xh, yh) - Cost(c.Spec, theta, xh, yh);
        double fitChange = Cost(c.Spec, moved, xf, yf) - Cost(c.Spec, theta, xf, yf);
        output.WriteLine($"{c}: ρ held {held.LastStep.Rho:F6}, ΔC held {heldChange:E3} / q {q:E3}; on the fitted rows it would be {fitChange / q:F6}");
        Assert.Equal(heldChange / q, held.LastStep.Rho, 1e-8);
        Assert.NotEqual(fitChange / q, held.LastStep.Rho, 1e-3);
    }

    /// <summary>A floor under λ: on an exact quadratic (ρ = 1) λ falls by 2/3 until the floor, then stays there.</summary>
    [Fact]
    public void Step_MinDamping_StopsTheDecreaseAtTheFloor()
    {
        const int n = 10;
        var rng = new Random(5);
        var problem = new QuadraticProblem(RandomSpd(rng, n, 0.1), Random(rng, n));
        using var hf = new HessianFree<double>(n, new HessianFreeOptions(Damping: 2, MinDamping: 1));
        var theta = new double[n];
        double[] expected = [4.0 / 3, 1, 1];
        foreach (double lambda in expected)
        {
            hf.Step(ref problem, theta);
            Assert.Equal(lambda, hf.Damping, 1e-12);
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => new HessianFreeOptions(MinDamping: -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new HessianFreeOptions(HeldOutFraction: 1));
    }

    private static double Cost(NetworkSpec spec, double[] theta, double[] x, double[] y)
    {
        using var ws = new Workspace<double>(spec.Layers, x.Length / spec.Inputs);
        Equations.Forward(spec, theta, x, ws);
        return Equations.MeanCost(spec, y, ws, x.Length / spec.Inputs);
    }

    [Fact]
    public void Update_SmallClassifier_LowersTheLoss()
    {
        var c = new NetCase([4, 8, 3], [ActivationKind.Tanh], ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy, 64, 2);
        using var net = c.Network();
        double[] x = c.X(), y = c.Y();
        using var ws = net.CreateWorkspace(c.Batch);
        double start = net.Cost(x, y, ws);
        using var hf = new HessianFree<double>(c.Spec, c.Batch);
        double last = start;
        for (int k = 0; k < 15; k++)
        {
            double before = hf.Update(net.Parameters, x, y);
            Assert.Equal(last, before, 1e-12);
            last = net.Cost(x, y, ws);
            Assert.True(last <= before, $"update {k}: {before} → {last}");
            output.WriteLine($"update {k}: cost {last:F5}, CG {hf.LastStep.CgIterations} ({hf.LastStep.Stop}), backtracked to {hf.LastStep.Backtracked}, ρ {hf.LastStep.Rho:F3}, α {hf.LastStep.StepSize:F3}, λ {hf.LastStep.Damping:E2}");
        }
        Assert.True(last < 0.6 * start, $"cost {start} → {last}");
    }

    /// <summary>A growing CG cap: update k runs min(⌈K₀·γᵏ⌉, MaxIterations) iterations (the progress rule off, so only
    /// the cap stops CG on this 40-unknown quadratic).</summary>
    [Fact]
    public void Step_GrowingCap_RunsCeilingOfK0TimesGammaToTheKIterations()
    {
        const int n = 40;
        var rng = new Random(12);
        var problem = new QuadraticProblem(QuadraticProblem.IllConditioned(rng, n, 1e4), Random(rng, n));
        var options = new HessianFreeOptions(InitialIterations: 2, IterationGrowth: 1.5,
            Solver: new ConjugateGradientOptions(MaxIterations: 9, ProgressTolerance: 0));
        using var hf = new HessianFree<double>(n, options);
        var theta = new double[n];
        int[] expected = [2, 3, 5, 7, 9, 9];   // ⌈2·1.5ᵏ⌉ = 2, 3, 4.5 → 5, 6.75 → 7, 10.1 → 9 (the cap)
        for (int k = 0; k < expected.Length; k++)
        {
            Assert.Equal(expected[k], options.IterationCap(k));
            hf.Step(ref problem, theta);
            Assert.Equal(expected[k], hf.LastStep.CgIterations);
        }
        Assert.Equal(9, new HessianFreeOptions(Solver: new ConjugateGradientOptions(MaxIterations: 9)).IterationCap(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => options with { IterationGrowth = 0.9 });
        Assert.Throws<ArgumentOutOfRangeException>(() => options with { InitialIterations = -1 });
    }

    [Fact]
    public void Update_NonFiniteCost_LeavesThetaAndDampingAlone()
    {
        var c = new NetCase([3, 2], [], ActivationKind.Identity, LossKind.Quadratic, 2, 1);
        using var net = c.Network();
        double[] theta = net.Parameters.ToArray();
        theta[0] = double.NaN;
        double[] before = (double[])theta.Clone();
        using var hf = new HessianFree<double>(c.Spec, c.Batch);
        Assert.True(double.IsNaN(hf.Update(theta, c.X(), c.Y())));
        Assert.Equal(before, theta);
        Assert.Equal(hf.Options.Damping, hf.Damping);
    }

    [Fact]
    public void Update_ThrowsForMismatchedShapes()
    {
        var c = new NetCase([3, 2], [], ActivationKind.Identity, LossKind.Quadratic, 2, 1);
        using var hf = new HessianFree<double>(c.Spec, c.Batch);
        Assert.Throws<ArgumentException>(() => hf.Update(new double[c.Spec.Layout.Count + 1], c.X(), c.Y()));
        Assert.Throws<ArgumentException>(() => hf.Update(new double[c.Spec.Layout.Count], new double[5], c.Y()));
    }

    [Fact]
    public void Options_OutOfRange_Throw_AndNameIsHessianFree()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new HessianFreeOptions(Damping: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new HessianFreeOptions(CurvatureFraction: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new HessianFreeOptions(WarmStartDecay: 1.5));
        Assert.Throws<ArgumentOutOfRangeException>(() => new HessianFreeOptions(ArmijoConstant: 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new HessianFreeOptions() with { LineSearchShrink = 0 });
        Assert.Equal("hessian-free", new HessianFreeOptions().Name);
        var spec = new NetCase([3, 2], [], ActivationKind.Identity, LossKind.Quadratic, 2, 1).Spec;
        using var made = new HessianFreeOptions().Create<float>(spec, 4, 1, 0);
        Assert.Equal("hessian-free", made.Name);
    }

    /// <summary>Through <see cref="Trainer"/>: TrainingOptions.Curvature takes the whole step and the epoch loss falls.</summary>
    [Theory]
    [InlineData("hessian-free")]
    [InlineData("natural")]
    [InlineData("kfac")]
    [InlineData("adahessian")]
    public void Fit_WithACurvatureMethod_LowersTheEpochLoss(string name)
    {
        CurvatureMethod method = name switch
        {
            "natural" => new NaturalGradientOptions(),
            "kfac" => new KFacOptions(),
            "adahessian" => new AdaHessianOptions(LearningRate: 0.05),
            _ => new HessianFreeOptions(),
        };
        Assert.Equal(name, method.Name);
        var data = Blobs(300, seed: 4);
        var spec = NetworkSpec.Mlp([4, 8, 3], ActivationKind.Tanh, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy);
        using var net = Network<float>.Create(spec, 1);
        var epochs = Trainer.Fit(net, data, null, new TrainingOptions(Epochs: 3, BatchSize: 50, Curvature: method), onEpoch: null);
        output.WriteLine(string.Join(", ", epochs.Select(e => e.TrainLoss.ToString("F4", System.Globalization.CultureInfo.InvariantCulture))));
        Assert.True(epochs[^1].TrainLoss < 0.8 * epochs[0].TrainLoss, $"{name}: epoch losses {epochs[0].TrainLoss} … {epochs[^1].TrainLoss}");
    }

    /// <summary>Three Gaussian blobs in 4 dimensions, one-hot targets.</summary>
    internal static Dataset Blobs(int count, int seed)
    {
        var rng = new SeededRandom(seed);
        var x = new float[count * 4];
        var labels = new int[count];
        for (int i = 0; i < count; i++)
        {
            labels[i] = i % 3;
            for (int j = 0; j < 4; j++) x[(i * 4) + j] = (float)(rng.NextGaussian() + (j == labels[i] ? 2 : 0));
        }
        return Dataset.Create("blobs", count, 4, 3, x, Dataset.OneHot(labels, 3), labels);
    }

    /// <summary>∇C and G = [Ge₁ … Geₙ] (columns by Gauss–Newton-vector products), [n × n] row-major.</summary>
    internal static (double[] Gradient, double[] G) GradientAndG(NetworkSpec spec, double[] theta, double[] x, double[] y, int batch)
    {
        int n = theta.Length;
        using var ws = new CurvatureWorkspace<double>(spec, batch);
        Curv.Forward<double>(spec, theta, x, ws);
        var g = new double[n];
        Curv.Gradient<double>(spec, theta, x, y, ws, g);
        var matrix = new double[n * n];
        var e = new double[n];
        var column = new double[n];
        for (int j = 0; j < n; j++)
        {
            e[j] = 1;
            Curv.GaussNewtonVector<double>(spec, theta, x, y, ws, e, column);
            e[j] = 0;
            for (int i = 0; i < n; i++) matrix[(i * n) + j] = column[i];
        }
        return (g, matrix);
    }

    /// <summary>A curvature method with a gradient transform's options, or with checkpoints, is refused by name.</summary>
    [Fact]
    public void Fit_refuses_a_curvature_method_with_a_chain_option_or_checkpoints()
    {
        var data = Blobs(40, seed: 5);
        var spec = NetworkSpec.Mlp([4, 3], ActivationKind.Identity, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy);
        using var net = Network<float>.Create(spec, 1);
        var chain = Assert.Throws<ArgumentException>(() => Trainer.Fit(net, data, null, new TrainingOptions(Optimizer: new Adam(), Curvature: new KFacOptions())));
        Assert.Contains("kfac", chain.Message, StringComparison.Ordinal);
        var checkpoints = Assert.Throws<ArgumentException>(() => Trainer.Fit(net, data, null, new TrainingOptions(CheckpointEvery: 5, Curvature: new HessianFreeOptions())));
        Assert.Contains("not checkpointed", checkpoints.Message, StringComparison.Ordinal);
        var sequenceSpec = new NetworkSpec([new Rnn(2, 3), new Dense(3, 3, ActivationKind.Softmax)], LossKind.SoftmaxCrossEntropy);
        using var rnn = Network<float>.Create(sequenceSpec, 1);
        var sequences = Assert.Throws<ArgumentException>(() => Trainer.Fit(rnn, data, null, new TrainingOptions(Curvature: new NaturalGradientOptions())));
        Assert.Contains("sequences", sequences.Message, StringComparison.Ordinal);
    }

    /// <summary>A method prints its options, not its name (the name is the CLI's).</summary>
    [Fact]
    public void A_method_prints_its_options()
    {
        string text = new KFacOptions().ToString();
        Assert.StartsWith("KFacOptions { ", text, StringComparison.Ordinal);
        Assert.Contains("LearningRate = 0.01", text, StringComparison.Ordinal);
        Assert.DoesNotContain("Name =", text, StringComparison.Ordinal);
    }
}
