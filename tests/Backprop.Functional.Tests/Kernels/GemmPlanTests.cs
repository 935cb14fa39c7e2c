using Backprop.Functional.Kernels;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace Backprop.Functional.Tests.Kernels;

/// <summary>
/// <see cref="GemmPlan"/>: a product planned once runs the same bits as the unplanned call, a workspace keeps each dense
/// layer's plans and re-plans them when the rows change, and a plan that does not belong to the call is refused.
/// </summary>
public sealed class GemmPlanTests
{
    private static readonly Gen<(int M, int N, int K, bool TA, bool TB, int Threads, int Seed)> Shapes =
        from m in Gen.Choose(0, 140)
        from n in Gen.Choose(0, 140)
        from k in Gen.Choose(0, 140)
        from ta in Gen.Elements(false, true)
        from tb in Gen.Elements(false, true)
        from threads in Gen.Choose(1, 3)
        from seed in Gen.Choose(0, 1_000_000)
        select (m, n, k, ta, tb, threads, seed);

    /// <summary>Planned and unplanned products agree bit for bit (float and double, C accumulated into), and the plan
    /// records the shape, the threads and a team no larger than the cores.</summary>
    [Property(MaxTest = 150)]
    public Property Multiply_WithAPlan_EqualsTheUnplannedCallBitForBit() =>
        Prop.ForAll(Arb.From(Shapes), s =>
        {
            var plan = Gemm.Plan<float>(s.M, s.N, s.K, s.TA, s.TB, s.Threads);
            Assert.Equal((s.M, s.N, s.K, s.TA, s.TB, s.Threads), (plan.M, plan.N, plan.K, plan.TransposeA, plan.TransposeB, plan.Threads));
            Assert.InRange(plan.Team, 1, Math.Max(1, Math.Min(s.Threads, Environment.ProcessorCount)));
            Same<float>(s.M, s.N, s.K, s.TA, s.TB, s.Threads, s.Seed);
            Same<double>(s.M, s.N, s.K, s.TA, s.TB, s.Threads, s.Seed);
        });

    private static void Same<T>(int m, int n, int k, bool ta, bool tb, int threads, int seed)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var random = new Random(seed);
        T[] Fill(int length) => Enumerable.Range(0, length).Select(_ => T.CreateTruncating(random.NextDouble() * 2 - 1)).ToArray();
        T[] a = Fill(m * k), b = Fill(k * n), c0 = Fill(m * n);
        T[] planned = (T[])c0.Clone(), unplanned = (T[])c0.Clone();
        var plan = Gemm.Plan<T>(m, n, k, ta, tb, threads);
        Gemm.Multiply(in plan, a, b, planned, accumulate: true);
        Gemm.Multiply<T>(a, ta, b, tb, unplanned, m, n, k, accumulate: true, threads);
        Assert.Equal(unplanned, planned);
    }

    /// <summary>One workspace through batches of 5, 3, 5 and 1 rows (a last, shorter batch, then full ones again) gives the
    /// bits of a fresh workspace for each batch: the kept plans are re-made when the rows change, never reused stale.</summary>
    [Fact]
    public void Workspace_RowsChange_PlansAreRemadeAndResultsMatchFreshWorkspaces()
    {
        var spec = new NetworkSpec([new Dense(40, 33, ActivationKind.Tanh), new Dense(33, 70, ActivationKind.ReLU), new Dense(70, 6, ActivationKind.Softmax)],
            LossKind.SoftmaxCrossEntropy);
        var random = new Random(11);
        double[] theta = Enumerable.Range(0, spec.Layout.Count).Select(_ => random.NextDouble() - 0.5).ToArray();
        using var kept = new Workspace<double>(spec.Layers, 5);
        foreach (int rows in new[] { 5, 3, 5, 1, 3 })
        {
            double[] x = Enumerable.Range(0, rows * 40).Select(_ => random.NextDouble() * 2 - 1).ToArray();
            double[] y = new double[rows * 6];
            for (int r = 0; r < rows; r++) y[r * 6 + random.Next(6)] = 1;
            double[] gKept = new double[theta.Length], gFresh = new double[theta.Length];
            Equations.Forward<double>(spec, theta, x, kept);
            double costKept = Equations.Backward<double>(spec, theta, x, y, kept, gKept);
            using var fresh = new Workspace<double>(spec.Layers, rows);
            Equations.Forward<double>(spec, theta, x, fresh);
            double costFresh = Equations.Backward<double>(spec, theta, x, y, fresh, gFresh);
            Assert.Equal(costFresh, costKept);
            Assert.Equal(gFresh, gKept);
            for (int l = 0; l < spec.Layers.Count; l++)
            {
                var forward = kept.Plans(l)[Gemm.ForwardSlot];
                Assert.Equal((rows, spec.Layers[l].Outputs, false, true), (forward.M, forward.N, forward.TransposeA, forward.TransposeB));
                Assert.Equal(rows, kept.Plans(l)[Gemm.WeightGradientSlot].K);
                if (l > 0) Assert.Equal(rows, kept.Plans(l)[Gemm.InputGradientSlot].M);
            }
        }
    }

    /// <summary>A default plan and a plan made for another element type are refused with the reason, and a span that does
    /// not fit the plan's shape names both shapes.</summary>
    [Fact]
    public void Multiply_WithAPlanThatDoesNotBelong_IsRefusedWithTheReason()
    {
        float[] a = new float[6], b = new float[12], c = new float[8];
        var none = Assert.Throws<ArgumentException>(() => Gemm.Multiply(default(GemmPlan), a, b, c, accumulate: false));
        Assert.Contains("Gemm.Plan", none.Message);
        var forDouble = Gemm.Plan<double>(2, 4, 3, false, false);
        var other = Assert.Throws<ArgumentException>(() => Gemm.Multiply(in forDouble, a, b, c, accumulate: false));
        Assert.Contains("8-byte", other.Message);
        var plan = Gemm.Plan<float>(2, 4, 3, false, false);
        var shape = Assert.Throws<ArgumentException>(() => Gemm.Multiply(in plan, a, new float[11], c, accumulate: false));
        Assert.Contains("[3 × 4]", shape.Message);
        Assert.Contains("op(A)[2 × 3]", shape.Message);
    }

    /// <summary>The plan says which kernel runs (what a profile prints): one dot-product-tile and one packed shape.</summary>
    [Fact]
    public void Plan_ToString_NamesShapeKernelAndThreads()
    {
        var plan = Gemm.Plan<float>(0, 4, 3, false, true);
        Assert.Equal(GemmKernel.Empty, plan.Kernel);
        Assert.Equal("op(A)[0 × 3]·op(B)ᵀ[3 × 4]: Empty, 1 thread", plan.ToString());
        Assert.Equal(GemmKernel.Zero, Gemm.Plan<double>(3, 4, 0, true, false).Kernel);
        Assert.Equal(GemmKernel.Packed, Gemm.Plan<double>(300, 257, 511, true, true).Kernel);
    }
}
