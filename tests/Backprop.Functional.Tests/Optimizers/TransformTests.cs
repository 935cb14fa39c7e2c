using System.Numerics;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;
using static Backprop.Functional.Tests.Optimizers.TransformGoldenTests;

namespace Backprop.Functional.Tests.Optimizers;

/// <summary>Gradient transforms: chains reproduce the legacy step bit for bit (against the trajectories pinned from main on the AVX2 path, elsewhere against the legacy step computed in the same process),
/// the decay transforms equal the optimizers' own options bit for bit, each transform follows its written rule, and a
/// transform from outside the library plugs in by stating its capabilities.</summary>
public class TransformTests
{
    /// <summary>Steps through <see cref="Trainer.Run{T}"/> with <paramref name="transform"/>, the golden tests' data and net.</summary>
    internal static string Through<T>(GradientTransform transform, int batch, int threads) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int steps = batch == 1 ? 30 : 12;
        var (x, y) = Data<T>(batch * steps);
        using var net = Network<T>.Create(Spec, seed: 3);
        using var ws = net.CreateWorkspace(batch, threads);
        using var g = net.CreateGradient();
        using var buffers = transform.CreateBuffers<T>(net.Layout.Count);
        var state = new OptimizerState(0);
        for (int s = 0; s < steps; s++)
            Trainer.Run(net, x.AsSpan(s * batch * 784, batch * 784), y.AsSpan(s * batch * 10, batch * 10), ws, g.Span, transform, ref state, buffers, transform.LearningRateAt(state.Step));
        Assert.Equal(steps, state.Step);
        return Hash<T>(net.Parameters, buffers);
    }

    private static LearningRateSchedule Schedule => new Warmup(3, new CosineAnnealing(20));

    public static TheoryData<string, int, string> ChainCases()
    {
        var data = new TheoryData<string, int, string>();
        foreach (var (name, _) in TransformGoldenTests.Optimizers)
            foreach (int threads in new[] { 1, 2 })
                foreach (string type in new[] { "float", "double" })
                    data.Add(name, threads, type);
        return data;
    }

    /// <summary>Chain(schedule, L2(λ/n), Clip(c), X) == the legacy step with options L2 = λ, ClipNorm = c, Schedule (pinned from main).</summary>
    [Theory]
    [MemberData(nameof(ChainCases))]
    public void Chain_of_L2_clip_optimizer_with_schedule_is_the_legacy_step_bit_for_bit(string optimizer, int threads, string type)
    {
        var x = TransformGoldenTests.Optimizers.Single(o => o.Name == optimizer).Make();
        var chain = Transforms.Chain(Schedule, new L2(5.0 / 1000), new ClipByGlobalNorm(0.5), x);
        string hash = type == "float" ? Through<float>(chain, 16, threads) : Through<double>(chain, 16, threads);
        Assert.Equal(Expected($"{optimizer}/regularised/{threads}/{type}"), hash);
        string plain = type == "float" ? Through<float>(x, 16, threads) : Through<double>(x, 16, threads);
        Assert.Equal(Expected($"{optimizer}/plain/{threads}/{type}"), plain);
    }

    /// <summary>A one-member chain with a schedule keeps the fused batch-1 path and its bits.</summary>
    [Theory]
    [InlineData("Sgd")]
    [InlineData("Adam")]
    [InlineData("AdamW")]
    public void One_member_chain_with_schedule_runs_fused_with_the_pinned_bits(string optimizer)
    {
        var chain = Transforms.Chain(Schedule, TransformGoldenTests.Optimizers.Single(o => o.Name == optimizer).Make());
        Assert.True(OuterProductUpdate.Supports(chain));
        Assert.Equal(Expected($"{optimizer}/online/1/float"), Through<float>(chain, 1, 1));
        Assert.Equal(Expected($"{optimizer}/online/1/double"), Through<double>(chain, 1, 1));
    }

    public static TheoryData<string, int> DecayCases() => new()
    {
        { "sgd", 1 }, { "sgd", 2 }, { "adam", 1 }, { "adam", 2 }, { "adam-amsgrad", 2 }, { "adamw", 1 }, { "adamw", 2 }, { "adamw-amsgrad", 1 },
    };

    /// <summary>Chain(WeightDecay(λ), Sgd|Adam) == Sgd|Adam(WeightDecay: λ); Chain(DecoupledWeightDecay(λ), Adam) == AdamW(λ).</summary>
    [Theory]
    [MemberData(nameof(DecayCases))]
    public void Decay_transforms_equal_the_optimizers_own_decay_bit_for_bit(string which, int threads)
    {
        var (chain, own) = which switch
        {
            "sgd" => (Transforms.Chain(new WeightDecay(0.01), new Sgd(0.05)), (Optimizer)new Sgd(0.05, WeightDecay: 0.01)),
            "adam" => (Transforms.Chain(new WeightDecay(0.01), new Adam(1e-3)), new Adam(1e-3, WeightDecay: 0.01)),
            "adam-amsgrad" => (Transforms.Chain(new WeightDecay(0.01), new Adam(1e-3, Amsgrad: true)), new Adam(1e-3, Amsgrad: true, WeightDecay: 0.01)),
            "adamw" => (Transforms.Chain(new DecoupledWeightDecay(0.05), new Adam(1e-3)), new AdamW(1e-3, WeightDecay: 0.05)),
            _ => (Transforms.Chain(new DecoupledWeightDecay(0.05), new Adam(1e-3, Amsgrad: true)), new AdamW(1e-3, WeightDecay: 0.05, Amsgrad: true)),
        };
        Assert.Equal(Through<float>(own, 16, threads), Through<float>(chain, 16, threads));
        Assert.Equal(Through<double>(own, 16, threads), Through<double>(chain, 16, threads));
    }

    // ---- each transform against its written rule (double) ----

    private static double[] Vector(int seed, int n, double scale = 1)
    {
        var r = new Random(seed);
        var v = new double[n];
        for (int i = 0; i < n; i++) v[i] = (r.NextDouble() * 2 - 1) * scale;
        return v;
    }

    private static bool Close(double actual, double expected) => Math.Abs(actual - expected) <= 1e-12 * Math.Max(1, Math.Abs(expected));

    private static readonly NetworkSpec Small = NetworkSpec.Mlp([3, 5, 2], ActivationKind.Tanh, ActivationKind.Identity, LossKind.Quadratic);

    /// <summary>L2: g + (λ/n)·w on weights, g on biases, θ untouched; on any split [0, k) + [k, n) with offsets the same.</summary>
    [Property(MaxTest = 200)]
    public Property L2_adds_lambda_over_n_times_w_on_weights_only(NonNegativeInt seed, PositiveInt perWeight)
    {
        double lambda = perWeight.Get * 1e-3;
        var layout = Small.Layout;
        int n = layout.Count;
        var theta = Vector(seed.Get, n);
        var g = Vector(seed.Get + 1, n);
        var whole = (double[])g.Clone();
        var t = new L2(lambda);
        var buffers = t.CreateBuffers<double>(n);
        t.Update(new OptimizerState(0), whole, (double[])theta.Clone(), buffers, new StepContext<double>(0.1) { Layout = layout });
        int k = seed.Get % (n + 1);
        var split = (double[])g.Clone();
        t.Update(new OptimizerState(0), split.AsSpan(0, k), theta.AsSpan(0, k), buffers, new StepContext<double>(0.1) { Layout = layout });
        t.Update(new OptimizerState(0), split.AsSpan(k), theta.AsSpan(k), buffers, new StepContext<double>(0.1) { Layout = layout, Offset = k });
        bool ok = true;
        for (int i = 0; i < n; i++)
        {
            bool weight = layout.SlotOf(i).Name.EndsWith(".weight", StringComparison.Ordinal);
            double expected = weight ? g[i] + lambda * theta[i] : g[i];
            ok &= Close(whole[i], expected) && whole[i] == split[i];
        }
        return ok.Label($"λ/n {lambda}, split at {k}");
    }

    /// <summary>L2 reads w at the context's point (a look-ahead point), not θ.</summary>
    [Fact]
    public void L2_reads_w_at_the_point()
    {
        var layout = Small.Layout;
        int n = layout.Count;
        var theta = Vector(1, n);
        var point = Vector(2, n);
        var g = new double[n];
        new L2(0.5).Update(new OptimizerState(0), g, theta, new OptimizerBuffers<double>(0, n), new StepContext<double>(1) { Layout = layout, Point = point });
        var w = layout.Weight(0);
        Assert.Equal(0.5 * point[w.Offset], g[w.Offset]);
    }

    [Property(MaxTest = 200)]
    public Property WeightDecay_adds_lambda_theta_and_leaves_theta(NonNegativeInt seed, PositiveInt lambda1000)
    {
        double lambda = lambda1000.Get * 1e-3;
        var theta = Vector(seed.Get, 37);
        var g = Vector(seed.Get + 1, 37);
        var (t2, g2) = ((double[])theta.Clone(), (double[])g.Clone());
        var s = new WeightDecay(lambda).Update(new OptimizerState(4), g2, t2, new OptimizerBuffers<double>(0, 37), new StepContext<double>(0.3));
        bool ok = s.Step == 5;
        for (int i = 0; i < 37; i++) ok &= Close(g2[i], g[i] + lambda * theta[i]) && t2[i] == theta[i];
        return ok.ToProperty();
    }

    [Property(MaxTest = 200)]
    public Property DecoupledWeightDecay_scales_theta_by_one_minus_eta_lambda(NonNegativeInt seed, PositiveInt lambda1000, PositiveInt eta1000)
    {
        double lambda = lambda1000.Get * 1e-3, eta = eta1000.Get * 1e-4;
        var theta = Vector(seed.Get, 37);
        var g = Vector(seed.Get + 1, 37);
        var (t2, g2) = ((double[])theta.Clone(), (double[])g.Clone());
        new DecoupledWeightDecay(lambda).Update(new OptimizerState(0), g2, t2, new OptimizerBuffers<double>(0, 37), new StepContext<double>(eta));
        bool ok = true;
        for (int i = 0; i < 37; i++) ok &= Close(t2[i], theta[i] * (1 - eta * lambda)) && g2[i] == g[i];
        return ok.ToProperty();
    }

    [Property(MaxTest = 200)]
    public Property ClipByGlobalNorm_scales_to_c_over_norm_plus_1e6_only_above_c(NonNegativeInt seed, PositiveInt c100)
    {
        double c = c100.Get * 0.01;
        var g = Vector(seed.Get, 23, scale: 0.5);
        double norm = Math.Sqrt(g.Sum(v => v * v));
        var g2 = (double[])g.Clone();
        new ClipByGlobalNorm(c).Update(new OptimizerState(0), g2, new double[23], new OptimizerBuffers<double>(0, 23), new StepContext<double>(1));
        bool ok = true;
        for (int i = 0; i < 23; i++) ok &= norm > c ? Close(g2[i], g[i] * c / (norm + 1e-6)) : g2[i] == g[i];
        return ok.Label($"‖g‖ {norm}, c {c}");
    }

    /// <summary>A chain is its members in order, each with its share of the moments, every member seeing the incoming state.</summary>
    [Property(MaxTest = 100)]
    public Property Chain_is_its_members_in_order(NonNegativeInt seed)
    {
        var clip = new ClipByGlobalNorm(0.3);
        var decay = new WeightDecay(0.02);
        var momentum = new Momentum(0.05, 0.9);
        var adam = new Adam(0.01);
        var chain = new Chain(clip, decay, momentum, adam);
        int n = 19;
        var theta = Vector(seed.Get, n);
        var (t1, t2) = ((double[])theta.Clone(), (double[])theta.Clone());
        using var shared = chain.CreateBuffers<double>(n);
        using var bm = momentum.CreateBuffers<double>(n);
        using var ba = adam.CreateBuffers<double>(n);
        bool ok = chain.MomentCount == 3;
        for (int step = 0; step < 3; step++)
        {
            var g = Vector(seed.Get + 10 + step, n);
            var g2 = (double[])g.Clone();
            var s = chain.Update(new OptimizerState(step), g, t1, shared, new StepContext<double>(0.05));
            var ctx = new StepContext<double>(0.05);
            clip.Update(new OptimizerState(step), g2, t2, bm, ctx);
            decay.Update(new OptimizerState(step), g2, t2, bm, ctx);
            momentum.Update(new OptimizerState(step), t2, g2, bm, 0.05);
            adam.Update(new OptimizerState(step), t2, g2, ba, 0.05);
            ok &= s.Step == step + 1 && t1.AsSpan().SequenceEqual(t2) && g.AsSpan().SequenceEqual(g2)
                && shared.Moment(0).SequenceEqual(bm.Moment(0)) && shared.Moment(1).SequenceEqual(ba.Moment(0)) && shared.Moment(2).SequenceEqual(ba.Moment(1));
        }
        return ok.ToProperty();
    }

    // ---- capabilities ----

    private const TransformCapabilities E = TransformCapabilities.ElementWise, F = TransformCapabilities.FusedOuterProduct,
        L = TransformCapabilities.LookAhead, W = TransformCapabilities.WritesParameters, N = TransformCapabilities.None;

    public static TheoryData<string, GradientTransform, TransformCapabilities> CapabilityTable() => new()
    {
        { "Sgd", new Sgd(), E | F | W }, { "Adam", new Adam(), E | F | W }, { "AdamW", new AdamW(), E | F | W },
        { "Momentum", new Momentum(), E | W }, { "Nesterov torch", new Nesterov(), E | W }, { "Nesterov look-ahead", new Nesterov(Form: NesterovForm.LookAhead), E | W | L },
        { "Adagrad", new Adagrad(), E | W }, { "RmsProp", new RmsProp(), E | W }, { "AdaDelta", new AdaDelta(), E | W },
        { "L2", new L2(1), N }, { "Clip", new ClipByGlobalNorm(1), N }, { "WeightDecay", new WeightDecay(1), E }, { "DecoupledWeightDecay", new DecoupledWeightDecay(1), E | W },
        { "Chain(L2,Clip,Adam)", Transforms.Chain(new L2(1), new ClipByGlobalNorm(1), new Adam()), W },
        { "Chain(WeightDecay,Adam)", Transforms.Chain(new WeightDecay(1), new Adam()), E | W },
        { "Chain(schedule,Sgd)", Transforms.Chain(new ConstantRate(), new Sgd()), E | F | W },
        { "Chain(Clip,Nesterov look-ahead)", Transforms.Chain(new ClipByGlobalNorm(1), new Nesterov(Form: NesterovForm.LookAhead)), W | L },
        { "Chain(L2,Clip)", Transforms.Chain(new L2(1), new ClipByGlobalNorm(1)), N },
        { "SignSgd", new SignSgd(0.1), E | W },
    };

    [Theory]
    [MemberData(nameof(CapabilityTable))]
    public void Each_transform_states_its_capabilities(string name, GradientTransform transform, TransformCapabilities expected)
    {
        Assert.Equal(expected, transform.Capabilities);
        Assert.Equal((expected & F) != 0, OuterProductUpdate.Supports(transform));
        Assert.NotNull(name);
    }

    [Fact]
    public void Chain_flattens_names_and_sums_moments()
    {
        var chain = Transforms.Chain(Transforms.Chain(new L2(1), new ClipByGlobalNorm(2)), new Momentum(), new Adam(Amsgrad: true));
        var c = Assert.IsType<Chain>(chain);
        Assert.Equal("Chain(L2,ClipByGlobalNorm,Momentum,Adam)", c.Name);
        Assert.Equal(4, c.MomentCount);
        Assert.Equal(Transforms.Chain(new L2(1), new ClipByGlobalNorm(2), new Momentum(), new Adam(Amsgrad: true)), chain);
        Assert.Same(chain is Chain ? c.Members[2] : null, c.Members[2]);
        var sgd = new Sgd();
        Assert.Same(sgd, Transforms.Chain(sgd));
        Assert.Equal(0.5 * 0.1, Transforms.Chain(new StepDecay(1, 0.5), new Sgd(0.1)).LearningRateAt(1), 15);
        Assert.Throws<ArgumentException>(() => Transforms.Chain(new Nesterov(Form: NesterovForm.LookAhead), new Nesterov(Form: NesterovForm.LookAhead)));
        Assert.Throws<ArgumentException>(() => Transforms.Chain());
    }

    // ---- a transform from outside the library ----

    [Fact]
    public void SignSgd_is_refused_by_name_where_it_cannot_run_fused()
    {
        using var net = Network<float>.Create(Spec, seed: 3);
        using var ws = net.CreateWorkspace(1);
        var (x, y) = Data<float>(1);
        var sign = new SignSgd(1e-3);
        using var buffers = sign.CreateBuffers<float>(net.Layout.Count);
        var state = new OptimizerState(0);
        var e = Assert.Throws<ArgumentException>(() => net.TrainOnline(x, y, ws, sign, ref state, buffers));
        Assert.Contains("SignSgd has no fused outer-product update", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<ArgumentException>(() => OuterProductUpdate.For<double>(Transforms.Chain(new ClipByGlobalNorm(1), new Sgd()), 1, 0.1));
        Assert.Contains("Chain(ClipByGlobalNorm,Sgd) has no fused", e.Message, StringComparison.Ordinal);
        // A batch of one through the trainer takes the stored path instead.
        using var g = net.CreateGradient();
        Trainer.Step(net, x, y, ws, g.Span, sign, ref state, buffers, new TrainingOptions(Optimizer: sign), 0f);
        Assert.Equal(1, state.Step);
    }

    [Fact]
    public void TrainingOptions_transform_trains_and_conflicts_and_non_writing_chains_are_refused()
    {
        var train = Training.TrainerTests.Blobs(64, 1);
        var spec = NetworkSpec.Mlp([4, 8, 3], ActivationKind.Tanh, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy);
        using var a = Network<double>.Create(spec, seed: 2);
        using var b = Network<double>.Create(spec, seed: 2);
        var legacy = new TrainingOptions(Epochs: 2, BatchSize: 8, Optimizer: new Adam(0.01), Schedule: new StepDecay(3, 0.5), L2: 0.3, ClipNorm: 0.2);
        var chained = new TrainingOptions(Epochs: 2, BatchSize: 8,
            Transform: Transforms.Chain(new StepDecay(3, 0.5), new L2(0.3 / 64), new ClipByGlobalNorm(0.2), new Adam(0.01)));
        double[] initial = a.Parameters.ToArray();
        Trainer.Fit(a, train, null, legacy).Complete();
        Trainer.Fit(b, train, null, chained).Complete();
        Assert.False(a.Parameters.SequenceEqual(initial), "the run did not train");
        Assert.True(a.Parameters.SequenceEqual(b.Parameters));
        var e = Assert.Throws<ArgumentException>(() => Trainer.Fit(b, train, null, chained with { Optimizer = new Sgd() }));
        Assert.Contains("leave Optimizer, Schedule, L2 and ClipNorm unset", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<ArgumentException>(() => Trainer.Fit(b, train, null, new TrainingOptions(Transform: Transforms.Chain(new L2(1), new ClipByGlobalNorm(1)))));
        Assert.Contains("Chain(L2,ClipByGlobalNorm) never writes θ", e.Message, StringComparison.Ordinal);
    }
}

/// <summary>A chain step allocates nothing in steady state, split over two threads or not, legacy options or not.</summary>
[Collection(RunsAlone.Name)]
public class TransformAllocationTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Chain_step_allocates_nothing(int threads)
    {
        using var net = Network<float>.Create(Spec, seed: 3);
        using var ws = net.CreateWorkspace(16, threads);
        using var g = net.CreateGradient();
        var (x, y) = Data<float>(16);
        var chain = Transforms.Chain(new Warmup(3, new CosineAnnealing(20)), new L2(1e-3), new ClipByGlobalNorm(0.5), new WeightDecay(1e-4), new Momentum(1e-3), new Adam(1e-4));
        using var buffers = chain.CreateBuffers<float>(net.Layout.Count);
        var state = new OptimizerState(0);
        Assert.Equal(0L, SteadyState.AllocatedBytes(() => Trainer.Run<float>(net, x, y, ws, g.Span, chain, ref state, buffers, chain.LearningRateAt(state.Step))));

        var adam = new Adam(1e-4);
        var options = new TrainingOptions(Optimizer: adam, L2: 1, ClipNorm: 0.5, Schedule: new Warmup(3, new CosineAnnealing(20)), Threads: threads);
        using var adamBuffers = adam.CreateBuffers<float>(net.Layout.Count);
        var legacy = new OptimizerState(0);
        Assert.Equal(0L, SteadyState.AllocatedBytes(() => Trainer.Step<float>(net, x, y, ws, g.Span, adam, ref legacy, adamBuffers, options, 1e-3f)));
    }
}

/// <summary>A transform from outside the library split over two threads: run alone, since a test beside it can hold
/// the GEMM pool, and then every update runs whole on one thread (same bits, but nothing split to check; a full-suite
/// run failed so once).</summary>
[Collection(RunsAlone.Name)]
public class TransformSplitTests
{
    [Fact]
    public void SignSgd_from_the_test_project_is_split_over_two_threads_bit_identically()
    {
        string one = TransformTests.Through<float>(new SignSgd(1e-3), 16, 1);
        while (SignSgd.Seen.TryDequeue(out _)) { }
        string two = TransformTests.Through<float>(Transforms.Chain(new ClipByGlobalNorm(0.5), new SignSgd(1e-3)), 16, 2);
        var seen = SignSgd.Seen.ToArray();
        int n = Spec.Layout.Count;
        Assert.Contains(seen, s => s.Length < n);                                         // halves, not the whole θ
        Assert.True(seen.Select(s => s.Thread).Distinct().Count() >= 2, "every update ran on one thread");
        // The halves of one update are the first two partial entries (an update that found the pool busy, taken by a
        // test running beside this one, ran whole on one thread: same bits, one entry of n).
        Assert.Equal(n, seen.Where(s => s.Length < n).Take(2).Sum(s => s.Length));
        Assert.Equal(one, two);   // sign(g) is blind to the clip's scale: the same bits on two threads as on one
    }
}
