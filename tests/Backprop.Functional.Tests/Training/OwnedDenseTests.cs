using System.Numerics;
using Backprop.Functional.Kernels;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace Backprop.Functional.Tests.Training;

/// <summary>Owner-computes dense passes (<see cref="OwnedDense"/>, off by default: measured slower on W2): with two
/// threads each thread seeds, multiplies and activates its own units and takes σ′, ∂C/∂b and ∂C/∂W for them. θ after a
/// few steps is the one-thread θ bit for bit, for any shape and element-wise activation; the step allocates nothing on
/// any thread; and x is still checked for NaN with two threads (where the check now follows the forward pass).</summary>
[Collection(RunsAlone.Name)]   // switches OwnedDense on and counts its runs
public sealed class OwnedDenseTests
{
    private static readonly ActivationKind[] Hidden =
        [ActivationKind.ReLU, ActivationKind.Tanh, ActivationKind.Sigmoid, ActivationKind.LeakyReLU, ActivationKind.GELU, ActivationKind.Softplus];

    public sealed record OwnedCase(int Inputs, int[] Widths, int Outputs, int Rows, ActivationKind Activation, bool SoftmaxOutput, int Seed)
    {
        public NetworkSpec Spec => NetworkSpec.Mlp([Inputs, .. Widths, Outputs], Activation,
            SoftmaxOutput ? ActivationKind.Softmax : ActivationKind.Identity, SoftmaxOutput ? LossKind.SoftmaxCrossEntropy : LossKind.Quadratic);

        public override string ToString() => $"{Inputs}-{string.Join("-", Widths)}-{Outputs} {Activation}, {Rows} rows, seed {Seed}";
    }

    /// <summary>Shapes around the split: hidden widths 16–200, half of them multiples of 16 (the others, and those below
    /// 32, take the plain path), inputs 100–420, batches 40–96 (the products reach the two-thread volume, 2¹⁸, for most).</summary>
    public static class OwnedShapes
    {
        public static Arbitrary<OwnedCase> Cases() => Arb.From(
            from inputs in Gen.Choose(100, 420)
            from depth in Gen.Choose(1, 2)
            from widths in Gen.ArrayOf(Gen.OneOf(Gen.Choose(16, 200), Gen.Choose(1, 12).Select(u => 16 * u)), depth)
            from outputs in Gen.Choose(2, 40)
            from rows in Gen.Choose(40, 96)
            from act in Gen.Elements(Hidden)
            from softmax in Gen.Elements(true, false)
            from seed in Gen.Choose(1, 1000)
            select new OwnedCase(inputs, widths, outputs, rows, act, softmax, seed));
    }

    private static T[] Train<T>(OwnedCase c, int threads, bool owned) where T : unmanaged, IFloatingPointIeee754<T>
    {
        bool saved = OwnedDense.Enabled;
        OwnedDense.Enabled = owned;
        try
        {
            var spec = c.Spec;
            using var net = Network<T>.Create(spec, seed: c.Seed);
            using var train = new TrainState<T>(net, new Adam(1e-2), c.Rows, threads);
            var rng = new SeededRandom(c.Seed + 1);
            for (int step = 0; step < 3; step++)
            {
                int rows = step == 2 ? c.Rows - 7 : c.Rows;   // a short last batch re-plans the products
                var x = new T[rows * spec.Inputs];
                var y = new T[rows * spec.Outputs];
                for (int i = 0; i < x.Length; i++) x[i] = T.CreateChecked(rng.NextDouble() * 2 - 1);
                for (int r = 0; r < rows; r++) y[r * spec.Outputs + rng.Next(spec.Outputs)] = T.One;
                Trainer.Step(net, x, y, train);
            }
            return net.Parameters.ToArray();
        }
        finally
        {
            OwnedDense.Enabled = saved;
        }
    }

    private static bool SameBits<T>(T[] a, T[] b) where T : unmanaged, IFloatingPointIeee754<T> =>
        a.AsSpan().SequenceEqual(b);

    [Property(MaxTest = 25, Arbitrary = [typeof(OwnedShapes)])]
    public Property Two_threads_owner_computes_gives_the_one_thread_bits_double(OwnedCase c) =>
        SameBits(Train<double>(c, 1, owned: false), Train<double>(c, 2, owned: true)).Label(c.ToString());

    [Property(MaxTest = 25, Arbitrary = [typeof(OwnedShapes)])]
    public Property Two_threads_owner_computes_gives_the_one_thread_bits_float(OwnedCase c) =>
        SameBits(Train<float>(c, 1, owned: false), Train<float>(c, 2, owned: true)).Label(c.ToString());

    [SkippableTheory]
    [InlineData(ActivationKind.ReLU, 128, 64)]
    [InlineData(ActivationKind.Tanh, 192, 57)]
    [InlineData(ActivationKind.Softplus, 160, 64)]
    public void W2_like_shapes_take_both_owned_passes_with_the_one_thread_bits(ActivationKind act, int hidden, int rows)
    {
        Skip.If(Environment.ProcessorCount < 2, "one core: the pool has no worker");
        var c = new OwnedCase(784, [hidden], 10, rows, act, SoftmaxOutput: true, Seed: 5);
        long forwards = Interlocked.Read(ref OwnedDense.Forwards), backwards = Interlocked.Read(ref OwnedDense.Backwards);
        var two = Train<float>(c, 2, owned: true);
        Assert.True(Interlocked.Read(ref OwnedDense.Forwards) > forwards, "the owned forward pass never ran");
        Assert.True(Interlocked.Read(ref OwnedDense.Backwards) > backwards, "the owned backward pass never ran");
        Assert.Equal(Train<float>(c, 1, owned: false), two);
        Assert.Equal(Train<float>(c, 2, owned: false), two);
    }

    [SkippableFact]
    public void An_owner_computes_step_allocates_nothing_on_any_thread()
    {
        Skip.If(Environment.ProcessorCount < 2, "one core: the pool has no worker");
        bool saved = OwnedDense.Enabled;
        OwnedDense.Enabled = true;
        try
        {
            var spec = NetworkSpec.Mlp([784, 128, 10], ActivationKind.ReLU, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy);
            using var net = Network<float>.Create(spec, seed: 1);
            using var train = new TrainState<float>(net, new Adam(1e-4), 64, threads: 2);
            var x = new float[64 * 784];
            var y = new float[64 * 10];
            var rng = new SeededRandom(2);
            for (int i = 0; i < x.Length; i++) x[i] = (float)rng.NextDouble();
            for (int r = 0; r < 64; r++) y[r * 10 + r % 10] = 1;
            long forwards = Interlocked.Read(ref OwnedDense.Forwards);
            Assert.Equal(0L, SteadyState.AllocatedBytes(() => Trainer.Step(net, x, y, train)));
            Assert.True(Interlocked.Read(ref OwnedDense.Forwards) > forwards, "the owned forward pass never ran");
        }
        finally
        {
            OwnedDense.Enabled = saved;
        }
    }

    [Fact]
    public void Two_threads_still_refuse_a_non_finite_input_naming_it_and_leave_theta_as_it_was()
    {
        var spec = NetworkSpec.Mlp([784, 128, 10], ActivationKind.ReLU, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy);
        using var net = Network<float>.Create(spec, seed: 1);
        using var train = new TrainState<float>(net, new Adam(1e-4), 64, threads: 2);
        var x = new float[64 * 784];
        var y = new float[64 * 10];
        for (int r = 0; r < 64; r++) y[r * 10 + r % 10] = 1;
        x[5 * 784 + 17] = float.NaN;
        var before = net.Parameters.ToArray();
        var e = Assert.Throws<ArgumentException>(() => Trainer.Step(net, x, y, train));
        Assert.Contains("input", e.Message, StringComparison.Ordinal);
        Assert.Equal(before, net.Parameters.ToArray());
    }
}
