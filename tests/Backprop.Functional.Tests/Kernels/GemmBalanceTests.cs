using Backprop.Functional.Kernels;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace Backprop.Functional.Tests.Kernels;

/// <summary>
/// The two-thread split balanced by measured time (<see cref="Gemm.SplitBalance"/>): the calling thread's share of the
/// panels moves away from halves, so every share must give the one-thread bits (the packed path by columns and by rows,
/// the direct tiles), and the balance must move toward the slower thread's side within its bounds.
/// </summary>
[Collection(RunsAlone.Name)]
public sealed class GemmBalanceTests
{
    private static readonly Gen<(GemmCase Case, double Share)> SplitCases =
        from m in Gen.Choose(8, 300)
        from n in Gen.Choose(8, 300)
        from k in Gen.Choose(1, 900)
        from ta in Gen.Elements(false, true)
        from tb in Gen.Elements(false, true)
        from acc in Gen.Elements(false, true)
        from seed in Gen.Choose(0, 1_000_000)
        from share in Gen.Choose(0, 64)
        where (long)m * n * k >= 1L << 18   // the products that split
        select (new GemmCase(m, n, k, ta, tb, acc, seed), share / 64.0);

    /// <summary>Any share of the units on the calling thread gives the one-thread bits (float and double).</summary>
    [Property(MaxTest = 60)]
    public Property Multiply_AnyCallerShare_GivesTheOneThreadBits()
    {
        GemmProperties.SkipOnOneCore();
        return Prop.ForAll(Arb.From(SplitCases), c => Same<float>(c.Case, c.Share) && Same<double>(c.Case, c.Share));
    }

    /// <summary>A caller twice as fast per unit gets more units, one step at a time, never past three quarters.</summary>
    [Fact]
    public void Rebalance_FasterCaller_TakesMoreUnitsWithinBounds()
    {
        var e = new Gemm.SplitBalance { Units = 32, CallerUnits = 16 };
        e.Rebalance(callerTicks: 1000, workerTicks: 2000);
        Assert.Equal(17, e.CallerUnits);
        for (int i = 0; i < 100; i++)
            e.Rebalance(callerTicks: 1000L * e.CallerUnits, workerTicks: 2000L * (32 - e.CallerUnits));
        Assert.Equal(21, e.CallerUnits);   // the split that ends both together: 32 · 2/3 ≈ 21.3
        for (int i = 0; i < 100; i++)
            e.Rebalance(callerTicks: 1000L * e.CallerUnits, workerTicks: 100_000L * (32 - e.CallerUnits));
        Assert.Equal(24, e.CallerUnits);   // at most three quarters
        for (int i = 0; i < 200; i++)
            e.Rebalance(callerTicks: 100_000L * e.CallerUnits, workerTicks: 1000L * (32 - e.CallerUnits));
        Assert.Equal(8, e.CallerUnits);    // at least a quarter
    }

    /// <summary>The balance in a real two-thread run: repeated products of one shape leave the bits alone.</summary>
    [SkippableFact]
    public void Multiply_RepeatedBalancedProducts_KeepTheOneThreadBits()
    {
        GemmProperties.SkipOnOneCore();
        var c = new GemmCase(256, 1024, 300, false, true, Acc: false, Seed: 11);
        (float[] a, float[] b, float[] c0) = GemmProperties.Operands<float>(c);
        float[] one = (float[])c0.Clone();
        Gemm.Multiply<float>(a, false, b, true, one, c.M, c.N, c.K, accumulate: false, threads: 1);
        bool was = Gemm.Team<float>.Balanced;
        Gemm.Team<float>.Balanced = true;   // off by default (it allocated in a steady GRU step); the bits are what is tested here
        try
        {
            for (int i = 0; i < 20; i++)
            {
                float[] two = (float[])c0.Clone();
                Gemm.Multiply<float>(a, false, b, true, two, c.M, c.N, c.K, accumulate: false, threads: 2);
                Assert.Equal(one, two);
            }
        }
        finally
        {
            Gemm.Team<float>.Balanced = was;
        }
    }

    /// <summary>
    /// Moving the share allocates nothing: warmed at halves, the same product with the caller's share swept over its
    /// whole range (1/64 to 63/64 of the units, both ways) allocates 0 bytes on the calling thread and the pool's workers.
    /// Each thread's packing scratch was sized by its part, so a part larger than any before grew it (a GRU step with the
    /// balance on allocated 57,464 bytes: a packed B̃ of 64 columns × 224, RecurrentAllocationTests). The caller runs
    /// on a new thread, so its thread-static scratch starts empty whatever ran before in the process.
    /// </summary>
    [SkippableTheory]
    [InlineData(256, 1024, 300, false, true)]   // by columns: each part packs its columns of B̃
    [InlineData(300, 96, 96, false, false)]     // by rows: each part packs its rows of Ã (fewer than one MC block)
    [InlineData(224, 96, 224, true, false)]     // the GRU step's ∂W-like product
    public void Multiply_ShareSweptOverItsRange_AllocatesNothing(int m, int n, int k, bool ta, bool tb)
    {
        GemmProperties.SkipOnOneCore();
        long[] bytes = new long[2];
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                bytes[0] = Sweep<float>(new GemmCase(m, n, k, ta, tb, Acc: false, Seed: 5));
                bytes[1] = Sweep<double>(new GemmCase(m, n, k, ta, tb, Acc: false, Seed: 5));
            }
            catch (Exception e)
            {
                failure = e;
            }
        });
        thread.Start();
        thread.Join();
        if (failure is not null)
            throw new InvalidOperationException("the sweep failed on its thread", failure);
        Assert.Equal(0L, bytes[0]);
        Assert.Equal(0L, bytes[1]);
    }

    /// <summary>Bytes allocated on this thread and the pool's workers while the caller's share moves from halves to
    /// 1/64, up to 63/64 and back, after products at halves only.</summary>
    private static long Sweep<T>(GemmCase c)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        (T[] a, T[] b, T[] c0) = GemmProperties.Operands<T>(c);
        double[] shares = new double[1 + 32 + 63 + 63];
        int s = 0;
        shares[s++] = 0.5;
        for (int i = 31; i >= 1; i--) shares[s++] = i / 64.0;
        for (int i = 1; i <= 63; i++) shares[s++] = i / 64.0;
        for (int i = 63; i >= 32; i--) shares[s++] = i / 64.0;
        try
        {
            Gemm.Team<T>.ForcedCallerShare = 0.5;
            for (int i = 0; i < 3; i++)
                Gemm.Multiply<T>(a, c.TA, b, c.TB, c0, c.M, c.N, c.K, accumulate: false, threads: 2);
            long runs = Interlocked.Read(ref Gemm.Team<float>.Runs) + Interlocked.Read(ref Gemm.Team<double>.Runs);
            long before = GC.GetAllocatedBytesForCurrentThread() + Gemm.Pool.WorkerAllocatedBytes();
            foreach (double share in shares)
            {
                Gemm.Team<T>.ForcedCallerShare = share;
                Gemm.Multiply<T>(a, c.TA, b, c.TB, c0, c.M, c.N, c.K, accumulate: false, threads: 2);
            }
            long allocated = GC.GetAllocatedBytesForCurrentThread() + Gemm.Pool.WorkerAllocatedBytes() - before;
            long split = Interlocked.Read(ref Gemm.Team<float>.Runs) + Interlocked.Read(ref Gemm.Team<double>.Runs) - runs;
            return split == shares.Length ? allocated : throw new InvalidOperationException(
                $"{split} of {shares.Length} products of {c.M} × {c.N} × {c.K} ran on two threads");
        }
        finally
        {
            Gemm.Team<T>.ForcedCallerShare = -1;
        }
    }

    /// <summary>C seeded per row and then accumulated into (a dense layer's z = b + x·Wᵀ) with each thread seeding its own
    /// rectangle of the packed split: the bits of seeding all of C first on one thread, for any share, by rows or columns.</summary>
    [Property(MaxTest = 60)]
    public Property MultiplySeeded_AnyCallerShare_GivesTheOneThreadBits()
    {
        GemmProperties.SkipOnOneCore();
        return Prop.ForAll(Arb.From(SplitCases), c => Seeded<float>(c.Case, c.Share) && Seeded<double>(c.Case, c.Share));
    }

    /// <summary>A ReLU layer's σ run by each thread on its own rectangle inside the packed split (z = b + x·Wᵀ, then
    /// a = max(z, 0)): z and a are the bits of the one-thread product followed by <see cref="ReLU.Apply{T}"/> over the whole
    /// batch, for any share, by rows or columns (float and double). Negative, zero and positive z all occur.</summary>
    [Property(MaxTest = 60)]
    public Property MultiplySeededReLU_AnyCallerShare_GivesTheOneThreadBits()
    {
        GemmProperties.SkipOnOneCore();
        return Prop.ForAll(Arb.From(SplitCases), c => SeededReLU<float>(c.Case, c.Share) && SeededReLU<double>(c.Case, c.Share));
    }

    /// <summary>An activation buffer of the wrong length is refused by name.</summary>
    [Fact]
    public void MultiplySeededReLU_WrongActivationLength_Throws()
    {
        var e = Assert.Throws<ArgumentException>(() => Gemm.MultiplySeeded<float>(new GemmPlan[1], 0, new float[6], false, new float[6], false,
            new float[4], new float[2], 2, 2, 3, threads: 1, relu: new float[5]));
        Assert.Contains("the activation has 5 elements but C is [2 × 2]", e.Message, StringComparison.Ordinal);
    }

    private static bool SeededReLU<T>(GemmCase c, double share)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        (T[] a, T[] b, T[] c0) = GemmProperties.Operands<T>(c);
        T[] seed = c0.AsSpan(0, c.N).ToArray();
        T[] one = new T[c.M * c.N], two = new T[c.M * c.N], aOne = new T[c.M * c.N], aTwo = new T[c.M * c.N];
        for (int r = 0; r < c.M; r++) seed.CopyTo(one, r * c.N);
        Gemm.Multiply<T>(a, c.TA, b, c.TB, one, c.M, c.N, c.K, accumulate: true, threads: 1);
        ReLU.Apply<T>(one, aOne, c.N);
        bool activated;
        try
        {
            Gemm.Team<T>.ForcedCallerShare = share;
            activated = Gemm.MultiplySeeded<T>(new GemmPlan[1], 0, a, c.TA, b, c.TB, two, seed, c.M, c.N, c.K, threads: 2, aTwo);
        }
        finally
        {
            Gemm.Team<T>.ForcedCallerShare = -1;
        }
        if (!activated)
            ReLU.Apply<T>(two, aTwo, c.N);   // not the packed split (a product the plan gives to the direct tiles)
        return one.AsSpan().SequenceEqual(two) && aOne.AsSpan().SequenceEqual(aTwo);
    }

    /// <summary>A seed of the wrong length is refused by name.</summary>
    [Fact]
    public void MultiplySeeded_WrongSeedLength_Throws()
    {
        var e = Assert.Throws<ArgumentException>(() => Gemm.MultiplySeeded<float>(new GemmPlan[1], 0, new float[6], false, new float[6], false,
            new float[4], new float[3], 2, 2, 3, threads: 1));
        Assert.Contains("the seed has 3 elements but C has 2 columns", e.Message, StringComparison.Ordinal);
    }

    private static bool Seeded<T>(GemmCase c, double share)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        (T[] a, T[] b, T[] c0) = GemmProperties.Operands<T>(c);
        T[] seed = c0.AsSpan(0, c.N).ToArray();
        T[] one = new T[c.M * c.N], two = new T[c.M * c.N];
        for (int r = 0; r < c.M; r++) seed.CopyTo(one, r * c.N);
        Gemm.Multiply<T>(a, c.TA, b, c.TB, one, c.M, c.N, c.K, accumulate: true, threads: 1);
        try
        {
            Gemm.Team<T>.ForcedCallerShare = share;
            Gemm.MultiplySeeded<T>(new GemmPlan[1], 0, a, c.TA, b, c.TB, two, seed, c.M, c.N, c.K, threads: 2);
        }
        finally
        {
            Gemm.Team<T>.ForcedCallerShare = -1;
        }
        return one.AsSpan().SequenceEqual(two);
    }

    private static bool Same<T>(GemmCase c, double share)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        (T[] a, T[] b, T[] c0) = GemmProperties.Operands<T>(c);
        T[] one = (T[])c0.Clone(), two = (T[])c0.Clone();
        Gemm.Multiply<T>(a, c.TA, b, c.TB, one, c.M, c.N, c.K, accumulate: c.Acc, threads: 1);
        try
        {
            Gemm.Team<T>.ForcedCallerShare = share;
            Gemm.Multiply<T>(a, c.TA, b, c.TB, two, c.M, c.N, c.K, accumulate: c.Acc, threads: 2);
        }
        finally
        {
            Gemm.Team<T>.ForcedCallerShare = -1;
        }
        return one.AsSpan().SequenceEqual(two);
    }
}
