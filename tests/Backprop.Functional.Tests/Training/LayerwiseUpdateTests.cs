using System.Numerics;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace Backprop.Functional.Tests.Training;

/// <summary>The stored step of an element-wise transform updates each layer's range of θ right after that layer's
/// backward pass (<see cref="LayerwiseUpdate{T}"/>, on by default). θ, the moments, ∂C/∂θ, the state and the cost are the
/// bits of the whole update after the backward pass, for any dense shape, element-wise chain (look-ahead and decoupled
/// decay included, which read the gradient point and the offset), batch and thread count; a non-finite cost moves
/// nothing; the step allocates nothing.</summary>
[Collection(RunsAlone.Name)]   // switches LayerwiseUpdate off for the reference runs
public sealed class LayerwiseUpdateTests
{
    private static readonly ActivationKind[] Hidden =
        [ActivationKind.ReLU, ActivationKind.Tanh, ActivationKind.Sigmoid, ActivationKind.LeakyReLU, ActivationKind.GELU, ActivationKind.Softplus];

    private static readonly Func<GradientTransform>[] Rules =
    [
        () => new Adam(1e-2),
        () => new Adam(1e-2, WeightDecay: 1e-3),
        () => new AdamW(1e-2),
        () => new Sgd(0.05),
        () => new Momentum(0.05, 0.9),
        () => new Nesterov(0.05, 0.9, Form: NesterovForm.LookAhead),
        () => new RmsProp(1e-2),
        () => new Adagrad(0.05),
        () => Functional.Transforms.Chain(new DecoupledWeightDecay(1e-2), new Adam(1e-2)),
        () => Functional.Transforms.Chain(new WeightDecay(1e-3), new Momentum(0.05, 0.9)),
    ];

    public sealed record LayerwiseCase(int Inputs, int[] Widths, int Outputs, int Rows, ActivationKind Activation, bool SoftmaxOutput,
        int Transform, int Threads, int Seed)
    {
        public NetworkSpec Spec => NetworkSpec.Mlp([Inputs, .. Widths, Outputs], Activation,
            SoftmaxOutput ? ActivationKind.Softmax : ActivationKind.Identity, SoftmaxOutput ? LossKind.SoftmaxCrossEntropy : LossKind.Quadratic);

        public override string ToString() =>
            $"{Inputs}-{string.Join("-", Widths)}-{Outputs} {Activation}, {Rows} rows, transform {Rules[Transform]().Name}, {Threads} threads, seed {Seed}";
    }

    /// <summary>Widths up to 400 and inputs up to 420, so some layers hold more than 2¹⁶ parameters (their range of the
    /// update splits over two threads) and others fewer (one thread); batches 3–70.</summary>
    public static class LayerwiseShapes
    {
        public static Arbitrary<LayerwiseCase> Cases() => Arb.From(
            from inputs in Gen.Choose(3, 420)
            from depth in Gen.Choose(0, 3)
            from widths in Gen.ArrayOf(Gen.Choose(1, 400), depth)
            from outputs in Gen.Choose(1, 30)
            from rows in Gen.Choose(3, 70)
            from act in Gen.Elements(Hidden)
            from softmax in Gen.Elements(true, false)
            from transform in Gen.Choose(0, Rules.Length - 1)
            from threads in Gen.Elements(1, 2)
            from seed in Gen.Choose(1, 1000)
            select new LayerwiseCase(inputs, widths, outputs, rows, act, softmax && outputs > 1, transform, threads, seed));
    }

    private static (T[] Theta, T[] Moments, T[] Gradient, long Step, T Cost) Train<T>(LayerwiseCase c, bool layerwise)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        bool saved = LayerwiseUpdate.Enabled;
        LayerwiseUpdate.Enabled = layerwise;
        try
        {
            var spec = c.Spec;
            using var net = Network<T>.Create(spec, seed: c.Seed);
            using var train = new TrainState<T>(net, Rules[c.Transform](), c.Rows, c.Threads);
            var rng = new SeededRandom(c.Seed + 1);
            T cost = T.Zero;
            for (int step = 0; step < 3; step++)
            {
                int rows = step == 2 ? Math.Max(2, c.Rows - 2) : c.Rows;   // a short last batch
                var x = new T[rows * spec.Inputs];
                var y = new T[rows * spec.Outputs];
                for (int i = 0; i < x.Length; i++) x[i] = T.CreateChecked(rng.NextDouble() * 2 - 1);
                for (int r = 0; r < rows; r++) y[r * spec.Outputs + rng.Next(spec.Outputs)] = T.One;
                cost = Trainer.Step(net, x, y, train);
            }
            var moments = new List<T>();
            for (int i = 0; i < train.Buffers.Count; i++) moments.AddRange(train.Buffers.Moment(i).ToArray());
            return (net.Parameters.ToArray(), [.. moments], train.Gradient.Span.ToArray(), train.State.Step, cost);
        }
        finally
        {
            LayerwiseUpdate.Enabled = saved;
        }
    }

    private static bool Same<T>((T[] Theta, T[] Moments, T[] Gradient, long Step, T Cost) a, (T[] Theta, T[] Moments, T[] Gradient, long Step, T Cost) b)
        where T : unmanaged, IFloatingPointIeee754<T> =>
        a.Theta.AsSpan().SequenceEqual(b.Theta) && a.Moments.AsSpan().SequenceEqual(b.Moments) && a.Gradient.AsSpan().SequenceEqual(b.Gradient)
        && a.Step == b.Step && a.Step == 3 && a.Cost.Equals(b.Cost);

    [Property(MaxTest = 40, Arbitrary = [typeof(LayerwiseShapes)])]
    public Property Each_layer_updated_after_its_backward_pass_gives_the_whole_updates_bits_double(LayerwiseCase c) =>
        Same(Train<double>(c, layerwise: false), Train<double>(c, layerwise: true)).Label(c.ToString());

    [Property(MaxTest = 40, Arbitrary = [typeof(LayerwiseShapes)])]
    public Property Each_layer_updated_after_its_backward_pass_gives_the_whole_updates_bits_float(LayerwiseCase c) =>
        Same(Train<float>(c, layerwise: false), Train<float>(c, layerwise: true)).Label(c.ToString());

    /// <summary>W2's shape on two threads (the first layer's range, 100,480 parameters, splits; the second does not), and
    /// a net whose middle layer (1.2 MB of floats) is over <see cref="LayerwiseUpdate.MaxBytes"/>: updated after the
    /// backward pass, between two layers updated during it.</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void W2_shaped_and_large_layer_steps_give_the_whole_updates_bits(int threads)
    {
        var w2 = new LayerwiseCase(784, [128], 10, 64, ActivationKind.ReLU, true, 0, threads, 11);
        Assert.True(Same(Train<float>(w2, layerwise: false), Train<float>(w2, layerwise: true)));
        var large = new LayerwiseCase(200, [600, 500, 30], 10, 40, ActivationKind.ReLU, true, 8, threads, 12);
        Assert.True(Same(Train<float>(large, layerwise: false), Train<float>(large, layerwise: true)));
    }

    [Fact]
    public void A_non_finite_cost_moves_nothing()
    {
        Assert.True(LayerwiseUpdate.Enabled);
        var spec = NetworkSpec.Mlp([5, 7, 3], ActivationKind.Tanh, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy);
        using var net = Network<double>.Create(spec, seed: 3);
        using var train = new TrainState<double>(net, new Adam(1e-2), 4, 2);
        var x = new double[4 * 5];
        var y = new double[4 * 3];
        for (int i = 0; i < x.Length; i++) x[i] = i * 0.1 - 1;
        for (int r = 0; r < 4; r++) y[r * 3 + r % 3] = 1;
        Trainer.Step(net, x, y, train);
        net.Parameters[spec.Layout.LayerOffset(1)] = double.PositiveInfinity;   // W² → z² infinite → the cost is NaN
        var theta = net.Parameters.ToArray();
        var m = train.Buffers.Moment(0).ToArray();
        double cost = Trainer.Step(net, x, y, train);
        Assert.False(double.IsFinite(cost));
        Assert.Equal(theta, net.Parameters.ToArray());
        Assert.Equal(m, train.Buffers.Moment(0).ToArray());
        Assert.Equal(1, train.State.Step);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void The_step_allocates_nothing(int threads)
    {
        Assert.True(LayerwiseUpdate.Enabled);
        var spec = NetworkSpec.Mlp([300, 256, 40, 10], ActivationKind.ReLU, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy);
        using var net = Network<float>.Create(spec, seed: 5);
        using var train = new TrainState<float>(net, Functional.Transforms.Chain(new DecoupledWeightDecay(1e-2), new Adam(1e-3)), 32, threads);
        var x = new float[32 * 300];
        var y = new float[32 * 10];
        for (int i = 0; i < x.Length; i++) x[i] = (i % 17) * 0.05f - 0.4f;
        for (int r = 0; r < 32; r++) y[r * 10 + r % 10] = 1;
        Assert.Equal(0, SteadyState.AllocatedBytes(() => Trainer.Step(net, x, y, train)));
    }
}
