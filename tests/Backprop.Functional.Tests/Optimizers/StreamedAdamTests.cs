using System.Globalization;
using System.Numerics;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace Backprop.Functional.Tests.Optimizers;

/// <summary>An Adam step on a range of θ: its length, where it starts in a pinned array (which moves the first 32-byte
/// boundary the streamed loop starts at), the step number, L2 and the seed of θ, g, m and v.</summary>
public sealed record StreamedAdamCase(int Length, int Offset, int Step, bool Decay, int Seed)
{
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Length} elements at offset {Offset}, step {Step}, {(Decay ? "λ = 0.01" : "λ = 0")}, seed {Seed}");
}

/// <summary>The data-parallel step's update writes θ with non-temporal stores (<see cref="AdamKernel.StreamTheta"/>):
/// the same values, bit for bit, as the plain update, whatever the range's alignment and length.</summary>
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

    private static string? Compare<T>(StreamedAdamCase c) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var rng = new Random(c.Seed);
        T Next(double lo, double hi) => T.CreateChecked(lo + (hi - lo) * rng.NextDouble());
        int n = c.Length + c.Offset;
        var theta = GC.AllocateArray<T>(n + 16, pinned: true);
        var g = new T[n];
        var m = new T[n];
        var v = new T[n];
        for (int i = 0; i < n; i++)
        {
            theta[i] = Next(-1, 1);
            g[i] = Next(-0.1, 0.1);
            m[i] = Next(-0.01, 0.01);
            v[i] = Next(0, 1e-4);
        }
        var plainTheta = (T[])theta.Clone();
        var plainM = (T[])m.Clone();
        var plainV = (T[])v.Clone();
        var constants = new AdamKernel.Constants<T>(c.Step, 0.9, 0.999, 1e-8, amsgrad: false, c.Decay ? 0.01 : 0, 1e-3);
        var range = new Range(c.Offset, n);
        AdamKernel.Apply(constants, plainTheta.AsSpan(range), new StoredGradient<T>(g.AsSpan(range)), plainM.AsSpan(range),
            plainV.AsSpan(range), default);
        if (!AdamKernel.StreamedApply(constants, theta.AsSpan(range), g.AsSpan(range), m.AsSpan(range), v.AsSpan(range)))
            return System.Runtime.Intrinsics.X86.Avx.IsSupported && Vector<T>.Count * System.Runtime.CompilerServices.Unsafe.SizeOf<T>() == 32
                ? $"{typeof(T).Name}: the streamed path declined on a CPU that has it" : null;
        for (int i = 0; i < theta.Length; i++)
            if (!theta[i].Equals(plainTheta[i]) || (i < n && (!m[i].Equals(plainM[i]) || !v[i].Equals(plainV[i]))))
                return $"{typeof(T).Name}: element {i}: θ {theta[i]} against {plainTheta[i]}";
        return null;
    }
}
