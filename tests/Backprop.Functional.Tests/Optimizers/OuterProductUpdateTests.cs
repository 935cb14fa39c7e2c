using System.Numerics;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace Backprop.Functional.Tests.Optimizers;

/// <summary><see cref="OuterProductUpdate"/>: for one sample, forming ∂C/∂W = δaᵀ inside the update (never stored) gives
/// exactly what BP4 + BP3 (<see cref="Equations.WeightGradient{T}"/>, <see cref="Equations.BiasGradient{T}"/>) followed by
/// the optimizer's own update gives, and touches nothing outside the layer's slots.</summary>
public sealed class OuterProductUpdateTests
{
    private static readonly string[] Fused =
        ["Sgd", "SgdWeightDecay", "Adam", "AdamAmsgrad", "AdamWeightDecay", "AdamAmsgradWeightDecay", "AdamW", "AdamWAmsgrad", "AdamWNoDecay"];

    private static Arbitrary<(Optimizer Optimizer, int Inputs, int Outputs, int Seed)> Cases() =>
        (from variant in Gen.Elements(Fused)
         from optimizer in OptimizerCases.For(variant)
         from inputs in Gen.Choose(1, 40)
         from outputs in Gen.Choose(1, 8)
         from seed in Gen.Choose(0, 1_000_000)
         select (optimizer, inputs, outputs, seed)).ToArbitrary();

    [Property(MaxTest = 300)]
    public Property Layer_equals_WeightGradient_BiasGradient_then_Update() =>
        Prop.ForAll(Cases(), c =>
        {
            string failure = Check<double>(c.Optimizer, c.Inputs, c.Outputs, c.Seed) ?? Check<float>(c.Optimizer, c.Inputs, c.Outputs, c.Seed) ?? "";
            return (failure.Length == 0).Label($"{c.Optimizer}, {c.Outputs} × {c.Inputs}, seed {c.Seed}: {failure}");
        });

    private static string? Check<T>(Optimizer optimizer, int inputs, int outputs, int seed) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var random = new Random(seed);
        int count = outputs * inputs + outputs;
        int before = random.Next(0, 20), after = random.Next(0, 20);   // other layers' slots around this one
        int total = before + count + after;
        T[] theta = Random<T>(random, total);
        T[] reference = theta[before..(before + count)];
        var gRef = new T[count];
        using var buffers = optimizer.CreateBuffers<T>(total);
        using var bufRef = optimizer.CreateBuffers<T>(count);
        T[] outside = [.. theta[..before], .. theta[(before + count)..]];
        for (int step = 1; step <= 3; step++)
        {
            T[] delta = Random<T>(random, outputs);
            T[] input = Random<T>(random, inputs);
            double eta = optimizer.LearningRate * step;
            OuterProductUpdate.For<T>(optimizer, step, eta).Layer(theta, buffers, before, inputs, outputs, delta, input);
            Equations.WeightGradient<T>(delta, input, gRef.AsSpan(0, outputs * inputs), inputs, outputs);
            Equations.BiasGradient<T>(delta, gRef.AsSpan(outputs * inputs));
            optimizer.Update<T>(new OptimizerState(step - 1), reference, gRef, bufRef, eta);
            string at = $"step {step} ({typeof(T).Name}): ";
            string? differs = Differs(theta.AsSpan(before, count), reference, "θ")
                ?? Differs([.. theta[..before], .. theta[(before + count)..]], outside, "θ outside the layer");
            for (int k = 0; differs is null && k < buffers.Count; k++)
            {
                differs = Differs(buffers.Moment(k).Slice(before, count), bufRef.Moment(k), $"moment {k}");
                foreach (T value in buffers.Moment(k)[..before]) differs ??= value == T.Zero ? null : $"moment {k} written before the layer";
                foreach (T value in buffers.Moment(k)[(before + count)..]) differs ??= value == T.Zero ? null : $"moment {k} written after the layer";
            }
            if (differs is not null) return at + differs;
        }
        return null;
    }

    /// <summary>== per element: −0 equals +0, the one freedom the fused product has.</summary>
    private static string? Differs<T>(ReadOnlySpan<T> actual, ReadOnlySpan<T> expected, string what) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < expected.Length; i++)
            if (actual[i] != expected[i]) return $"{what}[{i}]: fused {actual[i]} vs unfused {expected[i]}";
        return null;
    }

    private static T[] Random<T>(Random random, int n) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var x = new T[n];
        for (int i = 0; i < n; i++) x[i] = T.CreateChecked(random.NextDouble() * 2 - 1);
        return x;
    }

    [Fact]
    public void Supports_exactly_the_fused_optimizers_and_refuses_the_others()
    {
        Assert.True(OuterProductUpdate.Supports(new Sgd()));
        Assert.True(OuterProductUpdate.Supports(new Adam(Amsgrad: true)));
        Assert.True(OuterProductUpdate.Supports(new AdamW()));
        Assert.False(OuterProductUpdate.Supports(new Momentum()));
        Assert.False(OuterProductUpdate.Supports(new RmsProp()));
        Assert.False(OuterProductUpdate.Supports(null));
        Assert.Throws<ArgumentOutOfRangeException>(() => OuterProductUpdate.For<float>(new Adam(), 0, 0.1));
        var e = Assert.Throws<ArgumentException>(() => OuterProductUpdate.For<float>(new Momentum(), 1, 0.1));
        Assert.Contains("Momentum", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => default(OuterProductUpdate<float>).Layer(new float[6], null!, 0, 2, 2, new float[2], new float[2]));
    }

    [Fact]
    public void Mismatched_lengths_name_what_does_not_fit()
    {
        var adam = new Adam();
        using var buffers = adam.CreateBuffers<float>(6);
        var update = OuterProductUpdate.For<float>(adam, 1, 0.1);
        Assert.Contains("delta", Assert.Throws<ArgumentException>(() =>
            update.Layer(new float[6], buffers, 0, 2, 2, new float[3], new float[2])).Message, StringComparison.Ordinal);
        Assert.Contains("input", Assert.Throws<ArgumentException>(() =>
            update.Layer(new float[6], buffers, 0, 2, 2, new float[2], new float[1])).Message, StringComparison.Ordinal);
        Assert.Contains("does not fit", Assert.Throws<ArgumentOutOfRangeException>(() =>
            update.Layer(new float[6], buffers, 1, 2, 2, new float[2], new float[2])).Message, StringComparison.Ordinal);
        Assert.Contains("optimizer buffers", Assert.Throws<ArgumentException>(() =>
            update.Layer(new float[7], buffers, 0, 2, 2, new float[2], new float[2])).Message, StringComparison.Ordinal);
    }
}
