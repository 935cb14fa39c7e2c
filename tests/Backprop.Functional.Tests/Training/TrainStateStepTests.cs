using System.Reflection;
using System.Runtime.InteropServices;
using Backprop.Functional.Testing;
using Backprop.Functional.Tests.Optimizers;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace Backprop.Functional.Tests.Training;

/// <summary>The one training step (<see cref="TrainingStep"/>): <see cref="Trainer.Step{T}(Network{T}, ReadOnlySpan{T}, ReadOnlySpan{T}, TrainState{T})"/>
/// is the ten-parameter legacy step bit for bit, allocates nothing, and <see cref="Equations"/> knows nothing of optimizers.</summary>
[Collection(RunsAlone.Name)]
public sealed class TrainStateStepTests
{
    private static readonly LearningRateSchedule?[] Schedules = [null, new StepDecay(2, 0.5)];

    private static Arbitrary<(NetCase Net, Optimizer Optimizer, double L2, double? Clip, LearningRateSchedule? Schedule)> Cases() =>
        (from net in NetArbitraries.Gen(maxBatch: 3)
         from variant in Gen.Elements(OptimizerCases.Variants)
         from optimizer in OptimizerCases.For(variant)
         from l2 in Gen.Elements(0.0, 0.01)
         from clip in Gen.Elements<double?>(null, 0.05, 10)
         from schedule in Gen.Elements(Schedules)
         select (net, optimizer, l2, clip, schedule)).ToArbitrary();

    /// <summary>The chain a legacy step means by (optimizer, options, λ/n), built the documented way.</summary>
    private static GradientTransform ChainOf(Optimizer optimizer, double l2, double? clip, LearningRateSchedule? schedule)
    {
        var members = new List<GradientTransform>();
        if (l2 != 0) members.Add(new L2(l2));
        if (clip is { } c) members.Add(new ClipByGlobalNorm(c));
        members.Add(optimizer);
        return schedule is null ? Transforms.Chain([.. members]) : Transforms.Chain(schedule, [.. members]);
    }

    /// <summary>Every optimizer variant, with and without L2, clipping and a schedule, on batches of one (the fused path
    /// where it applies) to three rows: three steps of the TrainState step leave the cost, the state, θ and every moment
    /// with the legacy step's bits.</summary>
    [Property(MaxTest = 150)]
    public Property TrainState_step_equals_the_legacy_step_bit_for_bit() =>
        Prop.ForAll(Cases(), c =>
        {
            var (netCase, optimizer, l2, clip, schedule) = c;
            using var legacy = netCase.Network();
            using var modern = netCase.Network();
            var options = new TrainingOptions(BatchSize: netCase.Batch, Optimizer: optimizer, Schedule: schedule, ClipNorm: clip);
            using var ws = legacy.CreateWorkspace(netCase.Batch);
            using var g = legacy.CreateGradient();
            using var buffers = optimizer.CreateBuffers<double>(legacy.Layout.Count);
            var state = new OptimizerState(0);
            using var train = new TrainState<double>(modern, ChainOf(optimizer, l2, clip, schedule), netCase.Batch);
            for (int step = 0; step < 3; step++)
            {
                double[] x = netCase.X(step), y = netCase.Y(step);
                double cost = Trainer.Step(legacy, x, y, ws, g.Span, optimizer, ref state, buffers, options, l2);
                double modernCost = Trainer.Step(modern, x, y, train);
                string at = $"{netCase}, {optimizer}, L2 {l2}, clip {clip}, {schedule}, step {step + 1}: ";
                Assert.True(Bits(cost) == Bits(modernCost), at + $"cost {cost} vs {modernCost}");
                Assert.True(state == train.State, at + $"state {state} vs {train.State}");
                Same(legacy.Parameters, modern.Parameters, at + "θ");
                Assert.Equal(buffers.Count, train.Buffers.Count);
                for (int k = 0; k < buffers.Count; k++) Same(buffers.Moment(k), train.Buffers.Moment(k), at + $"moment {k}");
            }
        });

    [Fact]
    public void TrainState_step_allocates_nothing_on_the_stored_and_the_fused_path()
    {
        var spec = NetworkSpec.Mlp([4, 8, 3], ActivationKind.Tanh, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy);
        using var net = Network<float>.Create(spec, 3);
        using var stored = new TrainState<float>(net, Transforms.Chain(new ClipByGlobalNorm(1), new Adam(1e-3)), batch: 2);
        using var fused = new TrainState<float>(net, new Adam(1e-3), batch: 1) { Mode = StepMode.Fused };
        float[] x = [0.1f, -0.2f, 0.3f, 0.5f, 1, 0, -1, 0.25f], y = [1, 0, 0, 0, 0, 1];
        Assert.Equal(0L, SteadyState.AllocatedBytes(() => Trainer.Step(net, x, y, stored)));
        Assert.Equal(0L, SteadyState.AllocatedBytes(() => Trainer.Step(net, x.AsSpan(0, 4), y.AsSpan(0, 3), fused)));
    }

    [Fact]
    public void A_fused_TrainState_refuses_a_batch_and_a_transform_without_a_fused_update()
    {
        var spec = NetworkSpec.Mlp([4, 5, 3], ActivationKind.ReLU, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy);
        using var net = Network<double>.Create(spec, 1);
        using var batch = new TrainState<double>(net, new Sgd(0.1), batch: 2) { Mode = StepMode.Fused };
        Assert.Contains("one sample of [4]", Assert.Throws<ArgumentException>(() => Trainer.Step(net, new double[8], new double[6], batch)).Message, StringComparison.Ordinal);
        using var clipped = new TrainState<double>(net, Transforms.Chain(new ClipByGlobalNorm(1), new Sgd(0.1)), batch: 1) { Mode = StepMode.Fused };
        Assert.Contains("Chain(ClipByGlobalNorm,Sgd) has no fused", Assert.Throws<ArgumentException>(() => Trainer.Step(net, new double[4], new double[3], clipped)).Message, StringComparison.Ordinal);
        Assert.Equal(0L, clipped.State.Step);
    }

    /// <summary>The equations are the math of a network; the step composes them with the transforms. No method, field or
    /// property of <see cref="Equations"/> (its nested types included) names an optimizer, a transform or their state.</summary>
    [Fact]
    public void Equations_has_no_reference_to_optimizer_or_transform_types()
    {
        var forbidden = new[]
        {
            typeof(GradientTransform), typeof(OptimizerState), typeof(OptimizerBuffers<>), typeof(OuterProductUpdate<>),
            typeof(StepContext<>), typeof(FusedLayer<>), typeof(FusedScalars<>), typeof(LearningRateSchedule), typeof(TrainingStep),
        };
        const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.Instance | BindingFlags.DeclaredOnly;
        var offenders = new List<string>();
        foreach (var type in new[] { typeof(Equations) }.Concat(typeof(Equations).GetNestedTypes(all)))
        {
            foreach (var method in type.GetMethods(all))
            {
                var mentioned = method.GetParameters().Select(p => p.ParameterType).Append(method.ReturnType)
                    .Concat(method.IsGenericMethodDefinition ? method.GetGenericArguments().SelectMany(a => a.GetGenericParameterConstraints()) : []);
                foreach (var t in mentioned)
                    if (Mentions(t, forbidden)) offenders.Add($"{type.Name}.{method.Name}: {t}");
            }
            foreach (var field in type.GetFields(all))
                if (Mentions(field.FieldType, forbidden)) offenders.Add($"{type.Name}.{field.Name}: {field.FieldType}");
        }
        Assert.Empty(offenders);
    }

    private static bool Mentions(Type t, Type[] forbidden)
    {
        if (t.HasElementType) return Mentions(t.GetElementType()!, forbidden);
        var definition = t.IsGenericType ? t.GetGenericTypeDefinition() : t;
        if (forbidden.Any(f => f == definition || (!f.IsGenericTypeDefinition && f.IsAssignableFrom(t)))) return true;
        return t.IsGenericType && t.GetGenericArguments().Any(a => Mentions(a, forbidden));
    }

    private static long Bits(double v) => BitConverter.DoubleToInt64Bits(v);

    private static void Same(ReadOnlySpan<double> a, ReadOnlySpan<double> b, string what)
    {
        var x = MemoryMarshal.Cast<double, long>(a);
        var y = MemoryMarshal.Cast<double, long>(b);
        Assert.Equal(x.Length, y.Length);
        for (int i = 0; i < x.Length; i++)
            if (x[i] != y[i]) Assert.Fail($"{what}[{i}]: {a[i]} vs {b[i]}");
    }
}
