using System.Numerics;
using System.Reflection;
using Backprop.Functional.Generators.Tests.Networks;
using Backprop.Functional.Testing;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;
using static Backprop.Functional.Generators.Tests.ParityProperties;

namespace Backprop.Functional.Generators.Tests;

/// <summary>
/// Generated recurrent networks ([Rnn]/[Lstm]/[Gru] layers, then a dense head) against the runtime network of their
/// <c>Spec</c>, on the same θ (the generated offsets are the runtime layout's): aᴸ, the cost and ∂C/∂θ equal bit for bit in
/// double and in float, at 1–3 rows of 1–5 steps, with per-sequence lengths in some batches (<c>ws.SetLengths</c>); three
/// TrainStep calls with Adam leave θ, the moments, the state and the cost exactly where <c>Trainer.Step</c> on the runtime
/// network leaves them; ∂C/∂θ equals finite differences (Richardson's (4·D(h) − D(2h))/3) in double. The networks are the
/// three in Networks/Recurrent.cs and <see cref="Declarations"/> random declarations with 0–2 recurrent layers before 1–4
/// dense ones (<see cref="DeclarationProperties.Declaration"/>), compiled in memory.
/// </summary>
public sealed class RecurrentProperties
{
    private const int Declarations = 30;

    private delegate ReadOnlySpan<T> ForwardFn<T>(ReadOnlySpan<T> theta, ReadOnlySpan<T> x, Workspace<T> ws)
        where T : unmanaged, IFloatingPointIeee754<T>;

    private delegate T BackwardFn<T>(ReadOnlySpan<T> theta, ReadOnlySpan<T> x, ReadOnlySpan<T> y, Workspace<T> ws, Span<T> gradient)
        where T : unmanaged, IFloatingPointIeee754<T>;

    private delegate T TrainStepFn<T>(Span<T> theta, ReadOnlySpan<T> x, ReadOnlySpan<T> y, Workspace<T> ws, Span<T> gradient,
        GradientTransform optimizer, ref OptimizerState state, OptimizerBuffers<T> buffers, double? learningRate)
        where T : unmanaged, IFloatingPointIeee754<T>;

    private sealed record Compiled(string Source, NetworkSpec Spec, Methods<double> InDouble, Methods<float> InFloat)
    {
        public static Compiled Of(Type type, string source) =>
            new(source, (NetworkSpec)type.GetProperty("Spec")!.GetValue(null)!, Methods<double>.Of(type), Methods<float>.Of(type));

        public bool Recurrent => Spec.Layers[0].Input.IsSequence;
    }

    private sealed record Methods<T>(ForwardFn<T> Forward, BackwardFn<T> Backward, TrainStepFn<T> TrainStep)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        public static Methods<T> Of(Type type) => new(
            Bind<ForwardFn<T>>(type, "Forward"), Bind<BackwardFn<T>>(type, "Backward"), Bind<TrainStepFn<T>>(type, "TrainStep"));

        private static TDelegate Bind<TDelegate>(Type type, string name) where TDelegate : Delegate =>
            type.GetMethods(BindingFlags.Public | BindingFlags.Static)
                .Single(m => m.Name == name && (name != "TrainStep" || m.GetParameters().Any(p => p.Name == "optimizer")))
                .MakeGenericMethod(typeof(T)).CreateDelegate<TDelegate>();
    }

    private static readonly Lazy<Compiled[]> s_networks = new(() =>
    {
        var random = new Random(1812);
        string[] sources = [.. Enumerable.Range(0, Declarations).Select(i => DeclarationProperties.Declaration(random, i, maxRecurrent: 2))];
        var assembly = DeclarationProperties.Load(sources, "RecurrentDeclarations");
        Compiled[] fixedOnes = [Compiled.Of(typeof(SeqLstm), "SeqLstm"), Compiled.Of(typeof(SeqStacked), "SeqStacked"), Compiled.Of(typeof(SeqDeclared), "SeqDeclared")];
        return [.. fixedOnes, .. sources.Select((source, i) => Compiled.Of(assembly.GetType("Declared.Net" + i)!, source))];
    });

    [Fact]
    public void The_declarations_cover_zero_one_and_two_recurrent_layers_of_every_kind()
    {
        var specs = s_networks.Value.Select(n => n.Spec).ToArray();
        int Recurrent(NetworkSpec s) => s.Layers.Count(l => l is not Dense);
        Assert.Equal(new[] { 0, 1, 2 }, specs.Select(Recurrent).Distinct().Order());
        var kinds = specs.SelectMany(s => s.Layers.Select(l => l is Rnn r ? "Rnn" + r.Activation : l.GetType().Name)).Distinct().Order().ToArray();
        Assert.Equal(new[] { "Dense", "Gru", "Lstm", "RnnReLU", "RnnTanh" }, kinds);
        Assert.Contains(specs, s => s.Layers.Count(l => l is Dense) >= 3 && Recurrent(s) == 2);
    }

    [Fact]
    public void Layout_offsets_and_spec_equal_the_runtime_ones()
    {
        Assert.Equal(ParameterLayout.For(SeqStacked.Spec.Layers), SeqStacked.Layout);
        Assert.Equal(SeqStacked.ParameterCount, SeqStacked.Layout.Count);
        Assert.Equal("Rnn", SeqStacked.Spec.Layers[0].Kind);
        Assert.True(((Rnn)SeqStacked.Spec.Layers[0]).ReturnSequences);   // stacked: every step's state to the GRU
        Assert.False(((Gru)SeqStacked.Spec.Layers[1]).ReturnSequences);   // the last state to the head
        Assert.Equal(ActivationKind.ReLU, ((Rnn)SeqStacked.Spec.Layers[0]).Activation);
        // PyTorch's tensors, in order: 4·16·8 + 4·16·16 + 2·4·16 for the LSTM, then 16 + 1.
        Assert.Equal(4 * 16 * 8 + 4 * 16 * 16 + 2 * 4 * 16 + 16 + 1, SeqLstm.ParameterCount);
        Assert.Equal(8, SeqLstm.InputSize);
    }

    [Property(MaxTest = 150)]
    public Property Generated_equals_runtime_bit_for_bit_and_finite_differences(NonNegativeInt which, int seed, byte raw)
    {
        var networks = s_networks.Value;
        var network = networks[which.Get % networks.Length];
        int rows = 1 + raw % 3, time = network.Recurrent ? 1 + (raw / 3) % 5 : 1;
        if (!network.Recurrent && rows == 1) rows = 2;   // a dense network's one sample runs the generated loops (DeclarationProperties)
        int[]? lengths = network.Recurrent && time > 1 && raw >= 128 ? [.. Enumerable.Range(0, rows).Select(r => r == 0 ? 1 + Math.Abs(seed % time) : time - r % time)] : null;
        string failure = CheckPasses(network, network.InDouble, seed, rows, time, lengths)
            ?? CheckPasses(network, network.InFloat, seed, rows, time, lengths)
            ?? CheckDifferences(network, seed, rows, time, lengths)
            ?? CheckSteps(network, network.InDouble, seed, rows, time, lengths)
            ?? CheckSteps(network, network.InFloat, seed, rows, time, lengths) ?? "";
        string shape = $"rows {rows}, time {time}, lengths [{string.Join(", ", lengths ?? [])}], seed {seed}";
        return (failure.Length == 0).Label($"{network.Spec}, {shape}: {failure}\n{network.Source}");
    }

    /// <summary>The generated LSTM predictor keeps the packed [W_ih | W_hh] between calls, as the runtime one does:
    /// the same bits before and after <c>Refresh</c> with a new θ (a packing kept across Refresh would predict with the
    /// old weights).</summary>
    [Fact]
    public void The_generated_lstm_predictor_repacks_after_refresh()
    {
        var spec = SeqLstm.Spec;
        var random = new Random(8);
        var theta = new float[SeqLstm.ParameterCount];
        SeqLstm.Initialize<float>(theta);
        using var runtime = Network<float>.Create(spec, 1);
        theta.CopyTo(runtime.Parameters);
        using var predictor = new SeqLstm.Predictor<float>(theta);
        using var runtimePredictor = runtime.CreatePredictor();
        using var ws = runtime.CreateWorkspace(1, 1, 4);
        var (x, _) = Sample<float>(random, spec, 1, 4);
        Assert.Equal(runtime.Forward(x, ws).ToArray(), predictor.Predict(x).ToArray());
        Assert.Equal(runtimePredictor.Predict(x).ToArray(), predictor.Predict(x).ToArray());
        for (int i = 0; i < theta.Length; i++) theta[i] = theta[i] * 1.25f + 0.01f;
        theta.CopyTo(runtime.Parameters);
        predictor.Refresh(theta);
        runtimePredictor.Refresh();
        var fresh = runtime.Forward(x, ws).ToArray();
        Assert.Equal(fresh, runtimePredictor.Predict(x).ToArray());
        Assert.Equal(fresh, predictor.Predict(x).ToArray());
    }

    private static (T[] X, T[] Y) Sample<T>(Random random, NetworkSpec spec, int rows, int time) where T : unmanaged, IFloatingPointIeee754<T> =>
        ([.. Data(random, rows * time * spec.Inputs).Select(T.CreateChecked)], [.. Targets(random, spec, rows).Select(T.CreateChecked)]);

    /// <summary>aᴸ, the cost and ∂C/∂θ, generated against the runtime network, bit for bit.</summary>
    private static string? CheckPasses<T>(Compiled network, Methods<T> methods, int seed, int rows, int time, int[]? lengths)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var spec = network.Spec;
        var random = new Random(seed);
        using var runtime = Network<T>.Create(spec, seed);
        T[] theta = runtime.Parameters.ToArray();
        var (x, y) = Sample<T>(random, spec, rows, time);
        using var ws = new Workspace<T>(spec.Layers, rows, time);
        using var wsRuntime = runtime.CreateWorkspace(rows, 1, time);
        if (lengths is not null)
        {
            ws.SetLengths(lengths);
            wsRuntime.SetLengths(lengths);
        }
        T[] a = methods.Forward(theta, x, ws).ToArray();
        var g = new T[theta.Length];
        T cost = methods.Backward(theta, x, y, ws, g);
        T[] aRuntime = runtime.Forward(x, wsRuntime).ToArray();
        var gRuntime = new T[theta.Length];
        T costRuntime = runtime.Backward(x, y, wsRuntime, gRuntime);
        string at = typeof(T).Name + " ";
        if (!Same(cost, costRuntime)) return at + $"cost {cost} vs {costRuntime}";
        return Bitwise(a, aRuntime, at + "aᴸ") ?? Bitwise(g, gRuntime, at + "∂C/∂θ");
    }

    /// <summary>∂C/∂θ of the generated Backward against Richardson-extrapolated central differences of its cost, in
    /// double, at four parameters (one in the first layer's W_hh when it is recurrent: the recurrence itself). A parameter
    /// whose stencil moves a dense ReLU or LeakyReLU unit across its kink is skipped: the cost has no derivative there
    /// (CI saw 6-9(GELU)-2(LeakyReLU)-4(Tanh) miss by 0.6 % on such a stencil).</summary>
    private static string? CheckDifferences(Compiled network, int seed, int rows, int time, int[]? lengths)
    {
        var spec = network.Spec;
        var random = new Random(seed ^ 0x5eed);
        using var runtime = Network<double>.Create(spec, seed);
        double[] theta = runtime.Parameters.ToArray();
        var (x, y) = Sample<double>(random, spec, rows, time);
        using var ws = new Workspace<double>(spec.Layers, rows, time);
        if (lengths is not null) ws.SetLengths(lengths);
        var g = new double[theta.Length];
        var scratch = new double[theta.Length];
        network.InDouble.Forward(theta, x, ws);
        string kinks = Oracles.KinkPattern(spec, ws, rows);   // which side of 0 each dense ReLU/LeakyReLU unit is on
        network.InDouble.Backward(theta, x, y, ws, g);
        bool crossed = false;
        double Cost()
        {
            network.InDouble.Forward(theta, x, ws);
            crossed |= Oracles.KinkPattern(spec, ws, rows) != kinks;
            return network.InDouble.Backward(theta, x, y, ws, scratch);
        }
        var slots = spec.Layout.SlotsOf(0);
        for (int k = 0; k < 4; k++)
        {
            int i = k == 0 && network.Recurrent ? slots[1].Offset + random.Next(slots[1].Rows * slots[1].Columns) : random.Next(theta.Length);
            const double h = 1e-5;
            double saved = theta[i];
            double D(double step)
            {
                theta[i] = saved + step;
                double plus = Cost();
                theta[i] = saved - step;
                double minus = Cost();
                theta[i] = saved;
                return (plus - minus) / (2 * step);
            }
            crossed = false;
            double fd = (4 * D(h) - D(2 * h)) / 3;
            if (crossed) continue;   // the stencil crossed a kink: no derivative to compare there
            if (Math.Abs(fd - g[i]) > 1e-6 * Math.Max(1, Math.Abs(g[i])) + 1e-9)
                return $"∂C/∂θ[{i}] = {g[i]:E6} but the finite difference is {fd:E6}";
        }
        return null;
    }

    /// <summary>Three generated TrainStep calls with Adam against <c>Trainer.Step</c> on the runtime network (its TrainState
    /// with the same lengths): cost, state, θ and both moments bit for bit after each.</summary>
    private static string? CheckSteps<T>(Compiled network, Methods<T> methods, int seed, int rows, int time, int[]? lengths)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var spec = network.Spec;
        var random = new Random(seed ^ 0x57e9);
        var adam = new Adam(0.01);
        using var runtime = Network<T>.Create(spec, seed);
        T[] theta = runtime.Parameters.ToArray();
        using var ws = new Workspace<T>(spec.Layers, rows, time);
        using var train = new TrainState<T>(runtime, adam, batch: rows, threads: 1, time: time);
        if (lengths is not null)
        {
            ws.SetLengths(lengths);
            train.Workspace.SetLengths(lengths);
        }
        using var buffers = adam.CreateBuffers<T>(theta.Length);
        var g = new T[theta.Length];
        OptimizerState state = default;
        for (int step = 0; step < 3; step++)
        {
            var (x, y) = Sample<T>(random, spec, rows, time);
            T cost = methods.TrainStep(theta, x, y, ws, g, adam, ref state, buffers, null);
            T costRuntime = Trainer.Step(runtime, x, y, train);
            string at = $"step {step} ({typeof(T).Name}): ";
            if (!Same(cost, costRuntime)) return at + $"cost {cost} vs {costRuntime}";
            if (state != train.State) return at + $"state {state} vs {train.State}";
            string? differs = Bitwise(theta, runtime.Parameters.ToArray(), "θ");
            for (int k = 0; differs is null && k < buffers.Count; k++)
                differs = Bitwise(buffers.Moment(k).ToArray(), train.Buffers.Moment(k).ToArray(), $"moment {k}");
            if (differs is not null) return at + differs;
        }
        return null;
    }

    [Fact]
    public void Declared_Adam_steps_equal_the_overload_taking_it_and_the_predictor_equals_the_runtime_predictor()
    {
        var spec = SeqDeclared.Spec;
        var random = new Random(4);
        var theta = new float[SeqDeclared.ParameterCount];
        SeqDeclared.Initialize<float>(theta);
        using var runtime = Network<float>.Create(spec, 3);
        Assert.Equal(runtime.Parameters.ToArray(), theta);   // Initialize draws what Network.Create(Spec, Seed) draws
        float[] other = [.. theta];
        using var ws = SeqDeclared.CreateWorkspace<float>(2, 4);
        using var wsOther = SeqDeclared.CreateWorkspace<float>(2, 4);
        using var buffers = SeqDeclared.CreateOptimizerBuffers<float>();
        using var buffersOther = SeqDeclared.DeclaredOptimizer.CreateBuffers<float>(theta.Length);
        var g = new float[theta.Length];
        OptimizerState state = default, stateOther = default;
        for (int step = 0; step < 3; step++)
        {
            var (x, y) = Sample<float>(random, spec, 2, 4);
            float cost = SeqDeclared.TrainStep<float>(theta, x, y, ws, g, ref state, buffers);
            float costOther = SeqDeclared.TrainStep<float>(other, x, y, wsOther, g, SeqDeclared.DeclaredOptimizer, ref stateOther, buffersOther);
            Assert.Equal(costOther, cost);
            Assert.Equal(stateOther, state);
            Assert.Equal(other, theta);
        }

        using var predictor = new SeqDeclared.Predictor<float>(theta);
        runtime.Parameters.Clear();
        theta.CopyTo(runtime.Parameters);
        using var runtimePredictor = runtime.CreatePredictor();
        foreach (int time in new[] { 3, 3, 5, 1 })
        {
            var (x, _) = Sample<float>(random, spec, 1, time);
            Assert.Equal(runtimePredictor.Predict(x).ToArray(), predictor.Predict(x).ToArray());
            Assert.Equal(runtimePredictor.Classify(x), predictor.Classify(x));
        }

        var e = Assert.Throws<ArgumentException>(() => predictor.Predict(new float[SeqDeclared.InputSize + 1]));
        Assert.Contains("one sequence of whole steps [time × 4], but x has 5 values", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Bad_shapes_get_one_line_errors_naming_them()
    {
        var theta = new double[SeqLstm.ParameterCount];
        using var ws = SeqLstm.CreateWorkspace<double>(2, 3);
        var e = Assert.Throws<ArgumentException>(() => SeqLstm.Forward<double>(theta, new double[2 * 3 * 8 + 1], ws));
        Assert.Contains("x has 49 elements, not a positive whole number of sequences of [3 × 8]", e.Message, StringComparison.Ordinal);
        using var other = SeqStacked.CreateWorkspace<double>(2, 3);
        e = Assert.Throws<ArgumentException>(() => SeqLstm.Forward<double>(theta, new double[2 * 3 * 8], other));
        Assert.Contains("another network than Lstm(8-16),16-1:Identity Quadratic", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<ArgumentException>(() => SeqLstm.Forward<double>(new double[3], new double[2 * 3 * 8], ws));
        Assert.Contains("theta has 3 elements but SeqLstm has ParameterCount = " + SeqLstm.ParameterCount, e.Message, StringComparison.Ordinal);
    }

    private static bool Same<T>(T a, T b) where T : unmanaged, IFloatingPointIeee754<T> =>
        System.Runtime.InteropServices.MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in a)).SequenceEqual(System.Runtime.InteropServices.MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in b)));

    private static string? Bitwise<T>(T[] generated, T[] runtime, string what) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (generated.Length != runtime.Length) return $"{what}: lengths {generated.Length} vs {runtime.Length}";
        for (int i = 0; i < generated.Length; i++)
            if (!Same(generated[i], runtime[i])) return $"{what}[{i}]: generated {generated[i]} vs runtime {runtime[i]}";
        return null;
    }
}
