using System.Numerics;
using Backprop.Functional.Generators.Tests.Networks;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace Backprop.Functional.Generators.Tests;

/// <summary>A generated network as a type parameter, so one property body checks all of them.</summary>
public interface IGenerated
{
    static abstract NetworkSpec Spec { get; }
    static abstract Workspace<T> CreateWorkspace<T>(int batch) where T : unmanaged, IFloatingPointIeee754<T>;
    static abstract ReadOnlySpan<T> Forward<T>(ReadOnlySpan<T> theta, ReadOnlySpan<T> x, Workspace<T> ws) where T : unmanaged, IFloatingPointIeee754<T>;
    static abstract T Backward<T>(ReadOnlySpan<T> theta, ReadOnlySpan<T> x, ReadOnlySpan<T> y, Workspace<T> ws, Span<T> gradient)
        where T : unmanaged, IFloatingPointIeee754<T>;
    static abstract T TrainStep<T>(Span<T> theta, ReadOnlySpan<T> x, ReadOnlySpan<T> y, Workspace<T> ws, Span<T> gradient,
        GradientTransform optimizer, ref OptimizerState state, OptimizerBuffers<T> buffers, double? learningRate = null)
        where T : unmanaged, IFloatingPointIeee754<T>;
    static abstract T TrainOnline<T>(Span<T> theta, ReadOnlySpan<T> x, ReadOnlySpan<T> y, Workspace<T> ws,
        GradientTransform optimizer, ref OptimizerState state, OptimizerBuffers<T> buffers, double? learningRate = null)
        where T : unmanaged, IFloatingPointIeee754<T>;
}

#pragma warning disable CA1812 // used as type arguments only
internal readonly struct MnistMlpNet : IGenerated
{
    public static NetworkSpec Spec => MnistMlp.Spec;
    public static Workspace<T> CreateWorkspace<T>(int batch) where T : unmanaged, IFloatingPointIeee754<T> => MnistMlp.CreateWorkspace<T>(batch);
    public static ReadOnlySpan<T> Forward<T>(ReadOnlySpan<T> theta, ReadOnlySpan<T> x, Workspace<T> ws) where T : unmanaged, IFloatingPointIeee754<T> => MnistMlp.Forward(theta, x, ws);
    public static T Backward<T>(ReadOnlySpan<T> theta, ReadOnlySpan<T> x, ReadOnlySpan<T> y, Workspace<T> ws, Span<T> gradient) where T : unmanaged, IFloatingPointIeee754<T> => MnistMlp.Backward(theta, x, y, ws, gradient);
    public static T TrainStep<T>(Span<T> theta, ReadOnlySpan<T> x, ReadOnlySpan<T> y, Workspace<T> ws, Span<T> gradient, GradientTransform optimizer, ref OptimizerState state, OptimizerBuffers<T> buffers, double? learningRate = null) where T : unmanaged, IFloatingPointIeee754<T> => MnistMlp.TrainStep(theta, x, y, ws, gradient, optimizer, ref state, buffers, learningRate);
    public static T TrainOnline<T>(Span<T> theta, ReadOnlySpan<T> x, ReadOnlySpan<T> y, Workspace<T> ws, GradientTransform optimizer, ref OptimizerState state, OptimizerBuffers<T> buffers, double? learningRate = null) where T : unmanaged, IFloatingPointIeee754<T> => MnistMlp.TrainOnline(theta, x, y, ws, optimizer, ref state, buffers, learningRate);
}

internal readonly struct TinyNet : IGenerated
{
    public static NetworkSpec Spec => Tiny.Spec;
    public static Workspace<T> CreateWorkspace<T>(int batch) where T : unmanaged, IFloatingPointIeee754<T> => Tiny.CreateWorkspace<T>(batch);
    public static ReadOnlySpan<T> Forward<T>(ReadOnlySpan<T> theta, ReadOnlySpan<T> x, Workspace<T> ws) where T : unmanaged, IFloatingPointIeee754<T> => Tiny.Forward(theta, x, ws);
    public static T Backward<T>(ReadOnlySpan<T> theta, ReadOnlySpan<T> x, ReadOnlySpan<T> y, Workspace<T> ws, Span<T> gradient) where T : unmanaged, IFloatingPointIeee754<T> => Tiny.Backward(theta, x, y, ws, gradient);
    public static T TrainStep<T>(Span<T> theta, ReadOnlySpan<T> x, ReadOnlySpan<T> y, Workspace<T> ws, Span<T> gradient, GradientTransform optimizer, ref OptimizerState state, OptimizerBuffers<T> buffers, double? learningRate = null) where T : unmanaged, IFloatingPointIeee754<T> => Tiny.TrainStep(theta, x, y, ws, gradient, optimizer, ref state, buffers, learningRate);
    public static T TrainOnline<T>(Span<T> theta, ReadOnlySpan<T> x, ReadOnlySpan<T> y, Workspace<T> ws, GradientTransform optimizer, ref OptimizerState state, OptimizerBuffers<T> buffers, double? learningRate = null) where T : unmanaged, IFloatingPointIeee754<T> => Tiny.TrainOnline(theta, x, y, ws, optimizer, ref state, buffers, learningRate);
}

internal readonly struct MixNet : IGenerated
{
    public static NetworkSpec Spec => Mix.Spec;
    public static Workspace<T> CreateWorkspace<T>(int batch) where T : unmanaged, IFloatingPointIeee754<T> => Mix.CreateWorkspace<T>(batch);
    public static ReadOnlySpan<T> Forward<T>(ReadOnlySpan<T> theta, ReadOnlySpan<T> x, Workspace<T> ws) where T : unmanaged, IFloatingPointIeee754<T> => Mix.Forward(theta, x, ws);
    public static T Backward<T>(ReadOnlySpan<T> theta, ReadOnlySpan<T> x, ReadOnlySpan<T> y, Workspace<T> ws, Span<T> gradient) where T : unmanaged, IFloatingPointIeee754<T> => Mix.Backward(theta, x, y, ws, gradient);
    public static T TrainStep<T>(Span<T> theta, ReadOnlySpan<T> x, ReadOnlySpan<T> y, Workspace<T> ws, Span<T> gradient, GradientTransform optimizer, ref OptimizerState state, OptimizerBuffers<T> buffers, double? learningRate = null) where T : unmanaged, IFloatingPointIeee754<T> => Mix.TrainStep(theta, x, y, ws, gradient, optimizer, ref state, buffers, learningRate);
    public static T TrainOnline<T>(Span<T> theta, ReadOnlySpan<T> x, ReadOnlySpan<T> y, Workspace<T> ws, GradientTransform optimizer, ref OptimizerState state, OptimizerBuffers<T> buffers, double? learningRate = null) where T : unmanaged, IFloatingPointIeee754<T> => Mix.TrainOnline(theta, x, y, ws, optimizer, ref state, buffers, learningRate);
}

internal readonly struct SmallSoftmaxNet : IGenerated
{
    public static NetworkSpec Spec => SmallSoftmax.Spec;
    public static Workspace<T> CreateWorkspace<T>(int batch) where T : unmanaged, IFloatingPointIeee754<T> => SmallSoftmax.CreateWorkspace<T>(batch);
    public static ReadOnlySpan<T> Forward<T>(ReadOnlySpan<T> theta, ReadOnlySpan<T> x, Workspace<T> ws) where T : unmanaged, IFloatingPointIeee754<T> => SmallSoftmax.Forward(theta, x, ws);
    public static T Backward<T>(ReadOnlySpan<T> theta, ReadOnlySpan<T> x, ReadOnlySpan<T> y, Workspace<T> ws, Span<T> gradient) where T : unmanaged, IFloatingPointIeee754<T> => SmallSoftmax.Backward(theta, x, y, ws, gradient);
    public static T TrainStep<T>(Span<T> theta, ReadOnlySpan<T> x, ReadOnlySpan<T> y, Workspace<T> ws, Span<T> gradient, GradientTransform optimizer, ref OptimizerState state, OptimizerBuffers<T> buffers, double? learningRate = null) where T : unmanaged, IFloatingPointIeee754<T> => SmallSoftmax.TrainStep(theta, x, y, ws, gradient, optimizer, ref state, buffers, learningRate);
    public static T TrainOnline<T>(Span<T> theta, ReadOnlySpan<T> x, ReadOnlySpan<T> y, Workspace<T> ws, GradientTransform optimizer, ref OptimizerState state, OptimizerBuffers<T> buffers, double? learningRate = null) where T : unmanaged, IFloatingPointIeee754<T> => SmallSoftmax.TrainOnline(theta, x, y, ws, optimizer, ref state, buffers, learningRate);
}
#pragma warning restore CA1812

/// <summary>Static == dynamic (RTNeural): for random θ, x and y, a generated network's aᴸ, cost and ∂C/∂θ equal the
/// runtime <see cref="Network{T}"/>'s built from its <c>Spec</c>, and ∂C/∂θ equals central finite differences in double.
/// Batches run the shared kernels: double ≤ 1e-12 relative, float bit for bit. One sample runs the generated loops
/// (every layer's forward, BP2 of layers ≤ 4,096 weights), which sum in another order: |generated − runtime| ≤
/// bound·(|r| + scale) per element, bound 1e-12 in double and 256·2⁻²⁴ in float (<see cref="Near{T}"/>), the scale that of
/// the terms summed (<see cref="RoundingScale"/>: aᴸ against the |θ| network on |x|, ∂C/∂θ against ‖r‖∞ amplified where
/// aᴸ − y cancels); the generated
/// TrainOnline (its own Adam) equals the generated TrainStep (the library's Adam) bit for bit.</summary>
public sealed class ParityProperties
{
    private const int Cases = 200;

    [Property(MaxTest = Cases)]
    public Property Tiny_equals_runtime_and_finite_differences(int seed, byte rows) => Check<TinyNet>(seed, rows);

    [Property(MaxTest = Cases)]
    public Property Mix_equals_runtime_and_finite_differences(int seed, byte rows) => Check<MixNet>(seed, rows);

    [Property(MaxTest = Cases)]
    public Property SmallSoftmax_equals_runtime_and_finite_differences(int seed, byte rows) => Check<SmallSoftmaxNet>(seed, rows);

    [Property(MaxTest = Cases)]
    public Property MnistMlp_equals_runtime_and_finite_differences(int seed, byte rows) => Check<MnistMlpNet>(seed, rows);

    /// <summary>The optimizers TrainStep is checked with; TrainOnline also takes every one OuterProductUpdate supports
    /// (Adam, AdamW and Sgd with their options), not Momentum.</summary>
    private static readonly Optimizer[] StepOptimizers =
    [
        new Adam(0.01), new Adam(0.02, Beta1: 0.8, Amsgrad: true, WeightDecay: 0.1), new AdamW(0.01, WeightDecay: 0.05),
        new AdamW(0.01, WeightDecay: 0.05, Amsgrad: true), new Sgd(0.1), new Sgd(0.05, WeightDecay: 0.01), new Momentum(0.05, 0.9),
    ];

    [Property(MaxTest = Cases)]
    public Property Tiny_TrainStep_equals_Backward_then_Update(int seed, byte rows, byte optimizer) => CheckStep<TinyNet>(seed, rows, optimizer);

    [Property(MaxTest = Cases)]
    public Property Mix_TrainStep_equals_Backward_then_Update(int seed, byte rows, byte optimizer) => CheckStep<MixNet>(seed, rows, optimizer);

    [Property(MaxTest = Cases)]
    public Property SmallSoftmax_TrainStep_equals_Backward_then_Update(int seed, byte rows, byte optimizer) => CheckStep<SmallSoftmaxNet>(seed, rows, optimizer);

    [Property(MaxTest = 40)]
    public Property MnistMlp_TrainStep_equals_Backward_then_Update(int seed, byte rows, byte optimizer) => CheckStep<MnistMlpNet>(seed, rows, optimizer);

    /// <summary>The case that failed a CI run against ‖r‖∞ alone (16-16(Tanh)-1, quadratic, one row, AdamW, seed −27,
    /// step 2 in float: 1.1·10⁻⁸ apart against a bound of 1.07·10⁻⁸, aᴸ − y cancelling): held to
    /// <see cref="RoundingScale.Gradient{T}"/>.</summary>
    [Fact]
    public void Tiny_TrainStep_where_aL_minus_y_cancels_is_within_the_bound()
    {
        Assert.Null(CheckStep<TinyNet, double>(-27, 1, StepOptimizers[2]));
        Assert.Null(CheckStep<TinyNet, float>(-27, 1, StepOptimizers[2]));
    }

    /// <summary>Three TrainSteps (batch 1–3, half the cases one row): the gradient equals the runtime network's Backward
    /// (batches bit for bit, one sample within the bound), and θ and the moments end exactly where optimizer.Update on
    /// that gradient leaves them, in double and in float; on one-row batches TrainOnline, which forms ∂C/∂W inside the
    /// update and never stores it, leaves θ, the moments, the state and the cost exactly there too (the same operations
    /// in the same order).</summary>
    private static Property CheckStep<TNet>(int seed, byte rawRows, byte rawOptimizer) where TNet : IGenerated
    {
        int rows = rawRows % 2 == 0 ? 1 : 1 + rawRows % 3;
        var optimizer = StepOptimizers[rawOptimizer % StepOptimizers.Length];
        string failure = CheckStep<TNet, double>(seed, rows, optimizer) ?? CheckStep<TNet, float>(seed, rows, optimizer) ?? "";
        return (failure.Length == 0).Label($"{TNet.Spec}, rows {rows}, {optimizer}, seed {seed}: {failure}");
    }

    private static string? CheckStep<TNet, T>(int seed, int rows, Optimizer optimizer)
        where TNet : IGenerated where T : unmanaged, IFloatingPointIeee754<T>
    {
        var spec = TNet.Spec;
        var random = new Random(seed);
        using var runtime = Network<T>.Create(spec, seed);
        T[] theta = runtime.Parameters.ToArray();
        using var wsGenerated = TNet.CreateWorkspace<T>(rows);
        using var wsRuntime = runtime.CreateWorkspace(rows);
        using var buffers = optimizer.CreateBuffers<T>(theta.Length);
        using var buffersRuntime = optimizer.CreateBuffers<T>(theta.Length);
        var g = new T[theta.Length];
        var gRuntime = new T[theta.Length];
        bool online = rows == 1 && OuterProductUpdate.Supports(optimizer);
        T[] thetaOnline = [.. theta];
        using var wsOnline = TNet.CreateWorkspace<T>(1);
        using var buffersOnline = optimizer.CreateBuffers<T>(theta.Length);
        OptimizerState state = default, stateRuntime = default, stateOnline = default;
        for (int step = 0; step < 3; step++)
        {
            T[] x = [.. Data(random, rows * spec.Inputs).Select(T.CreateChecked)];
            T[] y = [.. Targets(random, spec, rows).Select(T.CreateChecked)];
            double eta = optimizer.LearningRate * (step + 1) / 2;   // a schedule's rate, passed in
            T cost = TNet.TrainStep<T>(theta, x, y, wsGenerated, g, optimizer, ref state, buffers, eta);
            T[] aRuntime = runtime.Forward(x, wsRuntime).ToArray();
            T costRuntime = runtime.Backward(x, y, wsRuntime, gRuntime);
            string at = $"step {step} ({typeof(T).Name}): ";
            double bound = typeof(T) == typeof(float) ? FloatBound : DoubleBound;
            string? near = rows > 1   // one sample: aᴸ is held to the bound in Check; the cost ½(aᴸ − y)² cancels
                ? Differs(g, gRuntime, "∂C/∂θ")
                : Near(g, gRuntime, "∂C/∂θ", bound, RoundingScale.Gradient<T>(spec, runtime.Parameters, x, y, aRuntime, gRuntime));
            if (near is not null) return at + near;
            if (rows > 1 && cost != costRuntime) return at + $"cost {cost} vs {costRuntime}";
            costRuntime = cost;
            // The runtime's update on the generated gradient (equal to the runtime's own above): θ stays in step.
            stateRuntime = optimizer.Update<T>(stateRuntime, runtime.Parameters, g, buffersRuntime, eta);
            if (state != stateRuntime) return at + $"state {state} vs {stateRuntime}";
            string? differs = Differs(theta, runtime.Parameters.ToArray(), "θ");
            for (int k = 0; differs is null && k < buffers.Count; k++)
                differs = Differs(buffers.Moment(k).ToArray(), buffersRuntime.Moment(k).ToArray(), $"moment {k}");
            if (differs is not null) return at + differs;
            if (!online) continue;
            T costOnline = TNet.TrainOnline<T>(thetaOnline, x, y, wsOnline, optimizer, ref stateOnline, buffersOnline, eta);
            if (costOnline != costRuntime) return at + $"TrainOnline cost {costOnline} vs {costRuntime}";
            if (stateOnline != stateRuntime) return at + $"TrainOnline state {stateOnline} vs {stateRuntime}";
            differs = Differs(thetaOnline, runtime.Parameters.ToArray(), "TrainOnline θ");
            for (int k = 0; differs is null && k < buffers.Count; k++)
                differs = Differs(buffersOnline.Moment(k).ToArray(), buffersRuntime.Moment(k).ToArray(), $"TrainOnline moment {k}");
            if (differs is not null) return at + differs;
        }
        return null;
    }

    /// <summary>Transform chains through the generated step: clipping (at a norm some gradients pass and some do not),
    /// L2 on the weights, a schedule, then Adam or Nesterov's look-ahead.</summary>
    private static readonly GradientTransform[] StepChains =
    [
        Transforms.Chain(new ClipByGlobalNorm(0.5), new Adam(0.01)),
        Transforms.Chain(new ClipByGlobalNorm(5), new Adam(0.02, Amsgrad: true)),
        Transforms.Chain(new StepDecay(1, 0.5), new L2(0.01), new ClipByGlobalNorm(0.1), new AdamW(0.01, WeightDecay: 0.05)),
        Transforms.Chain(new ClipByGlobalNorm(1), new Nesterov(0.05, 0.9, Form: NesterovForm.LookAhead)),
    ];

    [Property(MaxTest = Cases)]
    public Property Tiny_TrainStep_with_a_chain_equals_the_runtime_step(int seed, byte rows, byte chain) => CheckChain<TinyNet>(seed, rows, chain);

    [Property(MaxTest = Cases)]
    public Property Mix_TrainStep_with_a_chain_equals_the_runtime_step(int seed, byte rows, byte chain) => CheckChain<MixNet>(seed, rows, chain);

    [Property(MaxTest = Cases)]
    public Property SmallSoftmax_TrainStep_with_a_chain_equals_the_runtime_step(int seed, byte rows, byte chain) => CheckChain<SmallSoftmaxNet>(seed, rows, chain);

    /// <summary>Three generated TrainSteps with a transform chain (η from the chain: its schedule) leave the cost, the
    /// state, θ, the moments and the gradient bit for bit where the runtime's <see cref="Trainer.Step{T}(Network{T}, ReadOnlySpan{T}, ReadOnlySpan{T}, TrainState{T})"/>
    /// leaves them, in double and in float.</summary>
    private static Property CheckChain<TNet>(int seed, byte rawRows, byte rawChain) where TNet : IGenerated
    {
        int rows = 2 + rawRows % 2;   // the shared kernels (one sample takes the generated loops: CheckStep)
        var chain = StepChains[rawChain % StepChains.Length];
        string failure = CheckChain<TNet, double>(seed, rows, chain) ?? CheckChain<TNet, float>(seed, rows, chain) ?? "";
        return (failure.Length == 0).Label($"{TNet.Spec}, rows {rows}, {chain}, seed {seed}: {failure}");
    }

    private static string? CheckChain<TNet, T>(int seed, int rows, GradientTransform chain)
        where TNet : IGenerated where T : unmanaged, IFloatingPointIeee754<T>
    {
        var spec = TNet.Spec;
        var random = new Random(seed);
        using var runtime = Network<T>.Create(spec, seed);
        using var train = new TrainState<T>(runtime, chain, rows);
        T[] theta = runtime.Parameters.ToArray();
        using var ws = TNet.CreateWorkspace<T>(rows);
        using var buffers = chain.CreateBuffers<T>(theta.Length);
        var g = new T[theta.Length];
        OptimizerState state = default;
        for (int step = 0; step < 3; step++)
        {
            T[] x = [.. Data(random, rows * spec.Inputs).Select(T.CreateChecked)];
            T[] y = [.. Targets(random, spec, rows).Select(T.CreateChecked)];
            T cost = TNet.TrainStep<T>(theta, x, y, ws, g, chain, ref state, buffers);
            T costRuntime = Trainer.Step(runtime, x, y, train);
            string at = $"step {step} ({typeof(T).Name}): ";
            if (!Same(cost, costRuntime)) return at + $"cost {cost} vs {costRuntime}";
            if (state != train.State) return at + $"state {state} vs {train.State}";
            string? differs = Bitwise(g, train.Gradient.Span.ToArray(), "∂C/∂θ") ?? Bitwise(theta, runtime.Parameters.ToArray(), "θ");
            for (int k = 0; differs is null && k < buffers.Count; k++)
                differs = Bitwise(buffers.Moment(k).ToArray(), train.Buffers.Moment(k).ToArray(), $"moment {k}");
            if (differs is not null) return at + differs;
        }
        return null;
    }

    private static bool Same<T>(T a, T b) where T : unmanaged, IFloatingPointIeee754<T> =>
        System.Runtime.InteropServices.MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in a)).SequenceEqual(System.Runtime.InteropServices.MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in b)));

    /// <summary>The first element whose bits differ.</summary>
    private static string? Bitwise<T>(T[] generated, T[] runtime, string what) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < generated.Length; i++)
            if (!Same(generated[i], runtime[i])) return $"{what}[{i}]: generated {generated[i]} vs runtime {runtime[i]}";
        return null;
    }

    /// <summary>The first element that differs (== comparison: −0 equals +0, the one freedom the fused product has).</summary>
    internal static string? Differs<T>(T[] generated, T[] runtime, string what) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < generated.Length; i++)
            if (generated[i] != runtime[i]) return $"{what}[{i}]: generated {generated[i]} vs runtime {runtime[i]}";
        return null;
    }

    [Fact]
    public void Layout_equals_runtime_layout()
    {
        Assert.Equal(ParameterLayout.For(MnistMlp.Spec.Layers), MnistMlp.Layout);
        Assert.Equal(MnistMlp.ParameterCount, MnistMlp.Layout.Count);
        Assert.Equal(784 * 128 + 128 + 128 * 10 + 10, MnistMlp.ParameterCount);
        Assert.Equal(784, MnistMlp.InputSize);
        Assert.Equal(10, MnistMlp.OutputSize);
        Assert.Equal(Mix.ParameterCount, Mix.Layout.Count);
        Assert.Equal(Tiny.ParameterCount, Tiny.Layout.Count);
    }

    [Fact]
    public void Backward_ThrowsForMismatchedShapes()
    {
        using var ws = Tiny.CreateWorkspace<double>(2);
        var theta = new double[Tiny.ParameterCount];
        var g = new double[Tiny.ParameterCount];
        Assert.Contains("InputSize = 16", Assert.Throws<ArgumentException>(() => Tiny.Forward<double>(theta, new double[15], ws)).Message, StringComparison.Ordinal);
        Assert.Contains("ParameterCount", Assert.Throws<ArgumentException>(() => Tiny.Forward<double>(new double[3], new double[16], ws)).Message, StringComparison.Ordinal);
        Tiny.Forward<double>(theta, new double[16], ws);
        Assert.Throws<ArgumentException>(() => Tiny.Backward<double>(theta, new double[16], new double[2], ws, g));
        Assert.Throws<ArgumentException>(() => Tiny.Backward<double>(theta, new double[16], new double[1], ws, new double[5]));
        using var other = Mix.CreateWorkspace<double>(2);
        Assert.Throws<ArgumentException>(() => Tiny.Forward<double>(theta, new double[16], other));
        Assert.Throws<ArgumentException>(() => Tiny.Forward<double>(theta, [], ws));   // an empty batch
    }

    [Fact]
    public void Forward_and_Backward_ReportNonFiniteInputsAndTargets_like_the_runtime()
    {
        using var ws = Tiny.CreateWorkspace<double>(2);
        var theta = new double[Tiny.ParameterCount];
        var x = new double[32];
        x[20] = double.NaN;   // sample 1, feature 4
        Assert.Contains("sample 1, feature 4", Assert.Throws<ArgumentException>(() => Tiny.Forward<double>(theta, x, ws)).Message, StringComparison.Ordinal);
        x[20] = 0;
        Tiny.Forward<double>(theta, x, ws);
        Assert.Contains("targets", Assert.Throws<ArgumentException>(() =>
            Tiny.Backward<double>(theta, x, [1.0, double.PositiveInfinity], ws, new double[Tiny.ParameterCount])).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TrainStep_SkipsTheUpdateWhenTheCostIsNotFinite()
    {
        using var net = Network<float>.Create(Tiny.Spec, seed: 1);
        float[] theta = net.Parameters.ToArray();
        theta[^1] = float.PositiveInfinity;   // the output bias: zᴸ = ∞, so the quadratic cost is ∞
        float[] before = (float[])theta.Clone();
        using var ws = Tiny.CreateWorkspace<float>(1);
        var optimizer = new Sgd(0.1);
        using var buffers = optimizer.CreateBuffers<float>(Tiny.ParameterCount);
        var state = default(OptimizerState);
        var x = new float[Tiny.InputSize];
        float cost = Tiny.TrainStep<float>(theta, x, [0f], ws, new float[Tiny.ParameterCount], optimizer, ref state, buffers);
        Assert.False(float.IsFinite(cost));
        Assert.Equal(before, theta);
        Assert.Equal(0L, state.Step);
    }

    [Fact]
    public void TrainOnline_SkipsTheUpdateWhenTheCostIsNotFinite_and_refuses_batches_and_other_optimizers()
    {
        using var net = Network<float>.Create(Tiny.Spec, seed: 1);
        float[] theta = net.Parameters.ToArray();
        theta[^1] = float.PositiveInfinity;
        float[] before = (float[])theta.Clone();
        using var ws = Tiny.CreateWorkspace<float>(2);
        var adam = new Adam(0.1);
        using var buffers = adam.CreateBuffers<float>(Tiny.ParameterCount);
        var state = default(OptimizerState);
        Assert.False(float.IsFinite(Tiny.TrainOnline<float>(theta, new float[Tiny.InputSize], [0f], ws, adam, ref state, buffers)));
        Assert.Equal(before, theta);
        Assert.Equal(0L, state.Step);
        Assert.All(buffers.Moment(0).ToArray().Concat(buffers.Moment(1).ToArray()), m => Assert.Equal(0f, m));
        Assert.Throws<ArgumentNullException>(() => Tiny.TrainOnline<float>(theta, new float[Tiny.InputSize], [0f], ws, null!, ref state, buffers));
        Assert.Contains("one sample", Assert.Throws<ArgumentException>(() =>
            Tiny.TrainOnline<float>(theta, new float[2 * Tiny.InputSize], [0f, 0f], ws, adam, ref state, buffers)).Message, StringComparison.Ordinal);
        var momentum = new Momentum(0.1);
        using var momentumBuffers = momentum.CreateBuffers<float>(Tiny.ParameterCount);
        Assert.Contains("Momentum", Assert.Throws<ArgumentException>(() =>
            Tiny.TrainOnline<float>(theta, new float[Tiny.InputSize], [0f], ws, momentum, ref state, momentumBuffers)).Message, StringComparison.Ordinal);
        Assert.Equal(before, theta);
    }

    /// <summary>The emitted Backward costs a saturated output from its logits, as the runtime does: exact in double and
    /// float (sigmoid: z = ±800 and 40; softmax: logits ±400), where a cost from aᴸ was 708 or 354.</summary>
    [Fact]
    public void Cost_is_exact_when_the_output_saturates_like_the_runtime()
    {
        Saturated<MixNet, double>([800, -800, 40], [0, 0.5, 1], 1200);
        Saturated<MixNet, float>([800, -800, 40], [0, 0.5f, 1], 1200);
        Saturated<SmallSoftmaxNet, double>([400, -400, 0, 0], [0, 1, 0, 0], 800);
        Saturated<SmallSoftmaxNet, float>([400, -400, 0, 0], [0, 1, 0, 0], 800);
    }

    /// <summary>Output weights 0 and biases <paramref name="bias"/>, so zᴸ = bias for two rows of any input.</summary>
    private static void Saturated<TNet, T>(T[] bias, T[] target, double exact) where TNet : IGenerated where T : unmanaged, IFloatingPointIeee754<T>
    {
        var spec = TNet.Spec;
        int last = spec.Layers.Count - 1;
        using var runtime = Network<T>.Create(spec, seed: 5);
        runtime.Layout.Weight(last).Of(runtime.Parameters).Clear();
        bias.CopyTo(runtime.Layout.Bias(last).Of(runtime.Parameters));
        T[] theta = runtime.Parameters.ToArray();
        T[] x = [.. Enumerable.Range(0, 2 * spec.Inputs).Select(i => T.CreateChecked(Math.Sin(i)))];
        T[] y = [.. target, .. target];
        using var ws = TNet.CreateWorkspace<T>(2);
        TNet.Forward<T>(theta, x, ws);
        T cost = TNet.Backward<T>(theta, x, y, ws, new T[theta.Length]);
        using var wsRuntime = runtime.CreateWorkspace(2);
        Assert.Equal(runtime.Cost(x, y, wsRuntime), cost);
        Assert.Equal(exact, double.CreateChecked(cost));
    }

    /// <summary>The generated Adam skips Math.Pow once βᵗ &lt; 2⁻⁶⁰ (1 − βᵗ is then 1 exactly): late steps (t = 5,000, where β₂ᵗ ≈ 2⁻⁷, around 41,500
    /// 10⁶, where β₂ᵗ crosses 2⁻⁶⁰ and long after) leave θ and the moments where TrainStep's library Adam leaves them.</summary>
    [Theory]
    [InlineData(5_000L)]
    [InlineData(41_000L)]
    [InlineData(42_000L)]
    [InlineData(1_000_000L)]
    public void TrainOnline_late_steps_equal_TrainStep(long step)
    {
        using var net = Network<float>.Create(Tiny.Spec, seed: 9);
        float[] theta = net.Parameters.ToArray(), thetaOnline = [.. theta];
        var adam = new Adam(0.01);
        using var buffers = adam.CreateBuffers<float>(Tiny.ParameterCount);
        using var buffersOnline = adam.CreateBuffers<float>(Tiny.ParameterCount);
        using var ws = Tiny.CreateWorkspace<float>(1);
        var random = new Random(3);
        OptimizerState state = new(step), stateOnline = new(step);
        for (int k = 0; k < 3; k++)
        {
            float[] x = [.. Data(random, Tiny.InputSize).Select(v => (float)v)];
            float[] y = [(float)random.NextDouble()];
            Tiny.TrainStep<float>(theta, x, y, ws, new float[Tiny.ParameterCount], adam, ref state, buffers);
            Tiny.TrainOnline<float>(thetaOnline, x, y, ws, adam, ref stateOnline, buffersOnline);
            Assert.Equal(theta, thetaOnline);
            Assert.Equal(buffers.Moment(1).ToArray(), buffersOnline.Moment(1).ToArray());
        }
    }

    [Fact]
    public void Predict_returns_argmax_of_each_row()
    {
        using var net = Network<double>.Create(SmallSoftmax.Spec, seed: 3);
        using var ws = SmallSoftmax.CreateWorkspace<double>(3);
        var x = Data(new Random(4), 3 * SmallSoftmax.InputSize);
        Span<int> classes = stackalloc int[3];
        Assert.Equal(3, SmallSoftmax.Predict<double>(net.Parameters, x, ws, classes));
        var a = net.Forward(x, net.CreateWorkspace(3)).ToArray();
        for (int r = 0; r < 3; r++)
            Assert.Equal(Array.IndexOf(a, a.Skip(r * 4).Take(4).Max(), r * 4) - r * 4, classes[r]);
    }

    private static Property Check<TNet>(int seed, byte rawRows) where TNet : IGenerated
    {
        int rows = 1 + rawRows % 4;
        var spec = TNet.Spec;
        var random = new Random(seed);
        using var runtime = Network<double>.Create(spec, seed);
        double[] theta = runtime.Parameters.ToArray();
        double[] x = Data(random, rows * spec.Inputs);
        double[] y = Targets(random, spec, rows);

        // double: generated vs runtime
        using var wsGenerated = TNet.CreateWorkspace<double>(rows);
        using var wsRuntime = runtime.CreateWorkspace(rows);
        double[] a = TNet.Forward<double>(theta, x, wsGenerated).ToArray();
        double[] g = new double[theta.Length];
        double cost = TNet.Backward<double>(theta, x, y, wsGenerated, g);
        double[] aRuntime = runtime.Forward(x, wsRuntime).ToArray();
        double[] gRuntime = new double[theta.Length];
        double costRuntime = runtime.Backward(x, y, wsRuntime, gRuntime);
        string failure = rows > 1
            ? Close(a, aRuntime, "aᴸ") ?? Close([cost], [costRuntime], "cost") ?? Close(g, gRuntime, "∂C/∂θ") ?? ""
            : Near(a, aRuntime, "aᴸ", DoubleBound, RoundingScale.Output<double>(spec, theta, x))
              ?? Near(g, gRuntime, "∂C/∂θ", DoubleBound, RoundingScale.Gradient<double>(spec, theta, x, y, aRuntime, gRuntime)) ?? "";

        // float: bit for bit
        float[] thetaF = [.. theta.Select(v => (float)v)];
        float[] xF = [.. x.Select(v => (float)v)];
        float[] yF = [.. y.Select(v => (float)v)];
        using var runtimeF = Network<float>.FromParameters(spec, thetaF);
        using var wsGeneratedF = TNet.CreateWorkspace<float>(rows);
        using var wsRuntimeF = runtimeF.CreateWorkspace(rows);
        float[] aF = TNet.Forward<float>(thetaF, xF, wsGeneratedF).ToArray();
        float[] gF = new float[theta.Length];
        float costF = TNet.Backward<float>(thetaF, xF, yF, wsGeneratedF, gF);
        float[] aRuntimeF = runtimeF.Forward(xF, wsRuntimeF).ToArray();
        float[] gRuntimeF = new float[theta.Length];
        float costRuntimeF = runtimeF.Backward(xF, yF, wsRuntimeF, gRuntimeF);
        if (failure.Length == 0 && rows > 1 && !(aF.SequenceEqual(aRuntimeF) && gF.SequenceEqual(gRuntimeF) && costF.Equals(costRuntimeF)))
            failure = "float results are not bit-equal";
        if (failure.Length == 0 && rows == 1)
            failure = Near(aF, aRuntimeF, "float aᴸ", FloatBound, RoundingScale.Output<float>(spec, thetaF, xF))
                ?? Near(gF, gRuntimeF, "float ∂C/∂θ", FloatBound, RoundingScale.Gradient<float>(spec, thetaF, xF, yF, aRuntimeF, gRuntimeF)) ?? "";

        // central finite differences of the generated cost, for a few parameters
        if (failure.Length == 0)
        {
            double[] scratch = new double[theta.Length];
            failure = CentralDifferences(theta, g, random, () =>
            {
                TNet.Forward<double>(theta, x, wsGenerated);
                return TNet.Backward<double>(theta, x, y, wsGenerated, scratch);
            }) ?? "";
        }
        return (failure.Length == 0).Label($"{spec}, rows {rows}, seed {seed}: {failure}");
    }

    /// <summary>The bound for double where the generated one-sample loops sum in another order than the shared GEMM.</summary>
    internal const double DoubleBound = 1e-12;

    /// <summary>The bound for float there: 256 units of 2⁻²⁴ (128 ulps of a value in [1, 2)). 16 failed once: δᴸ = aᴸ − y
    /// cancels, and a difference of an ulp in aᴸ became 2.6·2⁻²⁴ of the gradient vector's scale; 64 failed once in a
    /// full-suite run (16-16-1 tanh, quadratic, seed −27: 3.4·10⁻⁹ against a bound of 3.3·10⁻⁹, a 16-term tanh layer
    /// whose sum cancels). A wrong formula misses it by orders of magnitude (the planted bugs in this file).</summary>
    internal const double FloatBound = 256.0 / (1 << 24);

    /// <summary>Generated vs runtime where the sums run in another order: |g − r| ≤ bound·(|r| + ‖r‖∞) per element. A dot
    /// product's rounding error scales with Σ|wᵢxᵢ|, not with the sum, so an element that cancels to near zero is held
    /// to its vector's scale (‖r‖∞), not to its own. Where one output is the whole vector, <paramref name="termScale"/>
    /// gives the scale of the terms summed (Σ|wᵢxᵢ|, e.g. from the network with |θ| run on |x|); the larger scale is used.</summary>
    internal static string? Near<T>(T[] generated, T[] runtime, string what, double bound, double termScale = 0) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (generated.Length != runtime.Length) return $"{what}: lengths {generated.Length} vs {runtime.Length}";
        double scale = termScale;
        foreach (var r in runtime) scale = Math.Max(scale, Math.Abs(double.CreateChecked(r)));
        for (int i = 0; i < generated.Length; i++)
        {
            double g = double.CreateChecked(generated[i]), r = double.CreateChecked(runtime[i]);
            if (!(Math.Abs(g - r) <= bound * (Math.Abs(r) + scale)))
                return $"{what}[{i}]: generated {generated[i]} vs runtime {runtime[i]} (bound {bound:E1} × (|r| + {scale:E3}))";
        }
        return null;
    }

    internal static string? Close(double[] generated, double[] runtime, string what)
    {
        if (generated.Length != runtime.Length) return $"{what}: lengths {generated.Length} vs {runtime.Length}";
        for (int i = 0; i < generated.Length; i++)
        {
            double scale = Math.Max(Math.Abs(runtime[i]), double.Epsilon);
            if (Math.Abs(generated[i] - runtime[i]) > 1e-12 * scale)
                return $"{what}[{i}]: generated {generated[i]:R} vs runtime {runtime[i]:R}";
        }
        return null;
    }

    /// <summary>∂C/∂θ against central differences (h = 10⁻⁶) at three parameters drawn from <paramref name="random"/>;
    /// <paramref name="cost"/> runs the forward and backward passes at the current θ and returns the cost.</summary>
    internal static string? CentralDifferences(double[] theta, double[] g, Random random, Func<double> cost)
    {
        for (int k = 0; k < 3; k++)
        {
            int i = random.Next(theta.Length);
            const double h = 1e-6;
            double saved = theta[i];
            theta[i] = saved + h;
            double plus = cost();
            theta[i] = saved - h;
            double minus = cost();
            theta[i] = saved;
            double fd = (plus - minus) / (2 * h);
            if (Math.Abs(fd - g[i]) > 1e-6 * Math.Max(1, Math.Abs(g[i])) + 1e-8)
                return $"∂C/∂θ[{i}] = {g[i]:E6} but the central difference is {fd:E6}";
        }
        return null;
    }

    internal static double[] Data(Random random, int n)
    {
        var x = new double[n];
        for (int i = 0; i < n; i++) x[i] = random.NextDouble() * 4 - 2;
        return x;
    }

    internal static double[] Targets(Random random, NetworkSpec spec, int rows)
    {
        var y = new double[rows * spec.Outputs];
        for (int r = 0; r < rows; r++)
        {
            switch (spec.Loss)
            {
                case LossKind.SoftmaxCrossEntropy: y[r * spec.Outputs + random.Next(spec.Outputs)] = 1; break;
                case LossKind.CrossEntropy: for (int j = 0; j < spec.Outputs; j++) y[r * spec.Outputs + j] = random.NextDouble(); break;
                default: for (int j = 0; j < spec.Outputs; j++) y[r * spec.Outputs + j] = random.NextDouble() * 2 - 1; break;
            }
        }
        return y;
    }
}
