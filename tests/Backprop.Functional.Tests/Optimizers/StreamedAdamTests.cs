using System.Globalization;
using System.Numerics;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace Backprop.Functional.Tests.Optimizers;

/// <summary>An Adam step on a range of θ: its length, where it starts in a pinned array (which moves the first 32-byte
/// boundary the streamed loop starts at), the step number, L2 and the seed of θ, g, m and v.</summary>
public sealed record StreamedAdamCase(int Length, int Offset, int Step, bool Decay, int Seed)
{
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Length} elements at offset {Offset}, step {Step}, {(Decay ? "λ = 0.01" : "λ = 0")}, seed {Seed}");
}

/// <summary>The data-parallel step's update writes θ with non-temporal stores (<see cref="AdamKernel.StreamTheta"/>):
/// the same values, bit for bit, as the plain update, whatever the range's alignment and length, and so does a large θ's
/// k = 1 split update.</summary>
[Collection(RunsAlone.Name)]   // the two-thread update needs the GEMM pool to itself
public sealed class StreamedAdamTests
{
    private static readonly Arbitrary<StreamedAdamCase> Cases = Arb.From(
        from length in Gen.Choose(0, 700)
        from offset in Gen.Choose(0, 15)
        from step in Gen.Choose(1, 40)
        from decay in Gen.Elements(false, true)
        from seed in Gen.Choose(0, 1_000_000)
        select new StreamedAdamCase(length, offset, step, decay, seed));

    /// <summary>θ, m and v after the streamed update equal the plain update's bit for bit, in float and double (where
    /// the CPU has AVX and 256-bit vectors; elsewhere the streamed path declines and the plain update runs).</summary>
    [Property(MaxTest = 200)]
    public Property Streamed_update_equals_the_plain_update_bit_for_bit() => Prop.ForAll(Cases, c =>
    {
        string? f = Compare<float>(c), d = Compare<double>(c);
        return (f is null && d is null).Label($"{c}: {f ?? d}");
    });

    /// <summary>A θ of 2²⁰ elements or more is streamed by the k = 1 split update: after three Adam steps θ
    /// and the moments are those of one thread, bit for bit, and the streamed path was really taken.</summary>
    [SkippableFact]
    public void A_large_theta_split_update_streams_with_the_bits_of_one_thread()
    {
        Skip.If(Environment.ProcessorCount < 2, "one core: the update never splits");
        Skip.IfNot(System.Runtime.Intrinsics.X86.Avx.IsSupported && Vector<float>.Count == 8, "no AVX with 256-bit vectors: nothing is streamed");
        var spec = NetworkSpec.Mlp([1030, 1020, 10], ActivationKind.ReLU, ActivationKind.Softmax, LossKind.SoftmaxCrossEntropy);
        Assert.True(spec.Layout.Count >= AdamKernel.StreamLarge, "the network is too small to stream");
        (float[] Theta, float[] Moments) Train(int threads)
        {
            using var net = Network<float>.Create(spec, seed: 5);
            using var train = new TrainState<float>(net, new Adam(1e-3), 8, threads);
            var rng = new Random(3);
            for (int step = 0; step < 3; step++)
            {
                var x = new float[8 * spec.Inputs];
                var y = new float[8 * spec.Outputs];
                for (int i = 0; i < x.Length; i++) x[i] = (float)rng.NextDouble();
                for (int r = 0; r < 8; r++) y[r * spec.Outputs + rng.Next(spec.Outputs)] = 1;
                Trainer.Step(net, x, y, train);
            }
            return (net.Parameters.ToArray(), [.. train.Buffers.Moment(0).ToArray(), .. train.Buffers.Moment(1).ToArray()]);
        }
        var one = Train(1);
        long streamed = Interlocked.Read(ref AdamKernel.StreamedUpdates);
        var two = Train(2);
        Assert.True(Interlocked.Read(ref AdamKernel.StreamedUpdates) > streamed, "the split update never streamed");
        Assert.Equal(one.Theta, two.Theta);
        Assert.Equal(one.Moments, two.Moments);
    }

    private static string? Compare<T>(StreamedAdamCase c) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var rng = new Random(c.Seed);
        T Next(double lo, double hi) => T.CreateChecked(lo + (hi - lo) * rng.NextDouble());
        int n = c.Length, size = System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
        var thetaArray = GC.AllocateArray<T>(n + c.Offset + 16, pinned: true);
        var mArray = GC.AllocateArray<T>(n + c.Offset + 16, pinned: true);
        var vArray = GC.AllocateArray<T>(n + c.Offset + 16, pinned: true);
        var theta = thetaArray.AsSpan(c.Offset, n);
        var m = mArray.AsSpan(c.Offset, n);
        var v = vArray.AsSpan(c.Offset, n);
        var g = new T[n];
        for (int i = 0; i < n; i++)
        {
            theta[i] = Next(-1, 1);
            g[i] = Next(-0.1, 0.1);
            m[i] = Next(-0.01, 0.01);
            v[i] = Next(0, 1e-4);
        }
        T[] plainTheta = theta.ToArray(), plainM = m.ToArray(), plainV = v.ToArray();
        var constants = new AdamKernel.Constants<T>(c.Step, 0.9, 0.999, 1e-8, amsgrad: false, c.Decay ? 0.01 : 0, 1e-3);
        AdamKernel.Apply(constants, plainTheta.AsSpan(), new StoredGradient<T>(g), plainM.AsSpan(), plainV.AsSpan(), default);
        if (!AdamKernel.StreamedApply(constants, theta, g, m, v))
            return System.Runtime.Intrinsics.X86.Avx.IsSupported && Vector<T>.Count * size == 32
                ? $"{typeof(T).Name}: the streamed path declined on a CPU that has it" : null;
        for (int i = 0; i < n; i++)
            if (!theta[i].Equals(plainTheta[i]) || !m[i].Equals(plainM[i]) || !v[i].Equals(plainV[i]))
                return $"{typeof(T).Name}: element {i}: θ {theta[i]} against {plainTheta[i]}, m {m[i]} against {plainM[i]}, v {v[i]} against {plainV[i]}";
        return null;
    }
}
