using Xunit;
using FsCheck;
using FsCheck.Fluent;
using Xunit.Sdk;

namespace Backprop.Functional.Tests.Optimizers;

/// <summary>Every optimizer variant, in double, against the naive scalar reference.</summary>
public sealed class OptimizerReferenceTests
{
    private const double RelativeTolerance = 1e-12;
    private const double AbsoluteFloor = 1e-300;
    private const int Cases = 200;

    public static TheoryData<string> Variants() => OptimizerCases.VariantData();

    [Theory]
    [MemberData(nameof(Variants))]
    public void Update_OneStep_MatchesScalarReference(string variant) => CheckAgainstReference(variant, steps: 1);

    [Theory]
    [MemberData(nameof(Variants))]
    public void Update_FiftyStepsWithChangingRate_MatchesScalarReference(string variant) =>
        CheckAgainstReference(variant, steps: 50);

    private static void CheckAgainstReference(string variant, int steps)
    {
        Property property = Prop.ForAll(OptimizerCases.Arbitrary(variant), c => RunCase(c, steps));
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(Cases), property);
    }

    internal static bool RunCase(OptimizerCase c, int steps)
    {
        var rng = new Random(c.Seed);
        int n = c.Length;
        double[] expected = new double[n];
        for (int i = 0; i < n; i++)
        {
            expected[i] = (rng.NextDouble() * 4) - 2;
        }

        double[] actual = (double[])expected.Clone();

        // Per-element magnitude seen so far: θ_t = θ_{t−1} − Δ cancels when θ crosses 0, so an ulp-level
        // (order-of-evaluation) difference is measured relative to the element's own scale, not to a θ_t near 0.
        double[] scale = new double[n];
        for (int i = 0; i < n; i++)
        {
            scale[i] = Math.Abs(expected[i]);
        }

        var reference = new ReferenceOptimizer(c.Optimizer, n);
        using OptimizerBuffers<double> buffers = c.Optimizer.CreateBuffers<double>(n);
        var state = new OptimizerState(0);
        double[] g = new double[n];
        for (int step = 0; step < steps; step++)
        {
            for (int i = 0; i < n; i++)
            {
                g[i] = ((rng.NextDouble() * 2) - 1) * Math.Pow(10, (rng.NextDouble() * 3) - 2);
            }

            // The first step uses the optimizer's own rate; later steps a changing rate, as from a schedule.
            double lr = step == 0 ? c.Optimizer.LearningRate : c.Optimizer.LearningRate * (0.5 + rng.NextDouble());
            double[] gBefore = (double[])g.Clone();
            reference.Step(expected, g, lr);
            state = c.Optimizer.Update<double>(state, actual, g, buffers, lr);

            if (state.Step != step + 1)
            {
                throw new XunitException($"state.Step is {state.Step} after {step + 1} updates");
            }

            if (!g.AsSpan().SequenceEqual(gBefore))
            {
                throw new XunitException("the update modified the caller's gradient");
            }

            for (int i = 0; i < n; i++)
            {
                double magnitude = Math.Max(Math.Max(Math.Abs(expected[i]), scale[i]), AbsoluteFloor);
                double error = Math.Abs(actual[i] - expected[i]) / magnitude;
                if (!(error <= RelativeTolerance))
                {
                    throw new XunitException(
                        $"step {step + 1}, element {i}: expected {expected[i]:R} but got {actual[i]:R} (relative error {error:E3})");
                }

                scale[i] = Math.Max(scale[i], Math.Abs(expected[i]));
            }
        }

        return true;
    }
}
