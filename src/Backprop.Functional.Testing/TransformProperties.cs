using FsCheck;
using FsCheck.Fluent;
using static Backprop.Functional.Testing.NetworkProperties;

namespace Backprop.Functional.Testing;

/// <summary>One element of one update, as a written formula sees it: read θᵢ, gᵢ, this element's moments, η and t, and
/// set what the rule makes of them. Whatever the formula leaves alone is expected unchanged.</summary>
public sealed class ElementStep
{
    internal ElementStep(int index, double theta, double g, double[] moments, double learningRate, long step)
    {
        Index = index;
        Theta = theta;
        G = g;
        Moments = moments;
        LearningRate = learningRate;
        Step = step;
    }

    /// <summary>i, the element's index in θ.</summary>
    public int Index { get; }

    /// <summary>θᵢ: before the update when read, what the rule makes of it when set.</summary>
    public double Theta { get; set; }

    /// <summary>gᵢ: before the update when read, what the rule makes of it when set (a transform that rewrites g).</summary>
    public double G { get; set; }

    /// <summary>This element's moments m₀ᵢ, m₁ᵢ, … (<see cref="GradientTransform.MomentCount"/> of them), read and set in place.</summary>
    public double[] Moments { get; }

    /// <summary>η of this update.</summary>
    public double LearningRate { get; }

    /// <summary>t, the number of this update: 1 for the first.</summary>
    public long Step { get; }
}

/// <summary>One whole update, as a written formula sees it, for a rule that is not element-wise (a global norm): read
/// θ, g, the moments, η and t, and overwrite in place what the rule changes.</summary>
public sealed class VectorStep
{
    internal VectorStep(double[] theta, double[] g, double[][] moments, double learningRate, long step)
    {
        Theta = theta;
        G = g;
        Moments = moments;
        LearningRate = learningRate;
        Step = step;
    }

    /// <summary>θ, updated in place by the formula.</summary>
    public double[] Theta { get; }

    /// <summary>g, rewritten in place by a formula for a transform that rewrites it.</summary>
    public double[] G { get; }

    /// <summary>The moment vectors, each as long as θ, updated in place.</summary>
    public double[][] Moments { get; }

    /// <summary>η of this update.</summary>
    public double LearningRate { get; }

    /// <summary>t, the number of this update: 1 for the first.</summary>
    public long Step { get; }
}

/// <summary>A run of updates: θ of <paramref name="Length"/> elements and <paramref name="Steps"/> updates, θ and every
/// gradient ~ N(0, 1) from <paramref name="Seed"/>. Prints as <c>θ of 3, 2 updates, seed 5</c>.</summary>
/// <param name="Length">Elements of θ.</param>
/// <param name="Steps">Updates in a row (the moments carry over).</param>
/// <param name="Seed">Seed of θ and the gradients.</param>
public sealed record TransformCase(int Length, int Steps, int Seed)
{
    /// <summary><c>θ of 3, 2 updates, seed 5</c>.</summary>
    /// <returns>The readable form.</returns>
    public override string ToString() => Invariant($"θ of {Length}, {Steps} update{(Steps == 1 ? "" : "s")}, seed {Seed}");
}

/// <summary>Ready properties of a gradient transform or optimizer of your own (a <see cref="GradientTransform"/>
/// record): its update equals the formula you write for it, over several updates in a row from its initial buffers,
/// in double. One line in an FsCheck test:
/// <code>
/// [Property] public Property SignSgd_update() =>
///     TransformProperties.UpdateEqualsFormula(new SignSgd(0.1), s => s.Theta -= s.LearningRate * Math.Sign(s.G));
/// </code>
/// θ, g and every moment are compared after each update; a failure's label names the update, the element, what the
/// transform and the formula gave, and what went in.</summary>
public static class TransformProperties
{
    /// <summary>Default largest relative error |a − b| / max(|a|, |b|, |θ|, |g|, |moments| before the update, 10⁻¹²) between
    /// transform and formula, per element: the scale of the terms an update sums, so a result that cancels is not held
    /// to its own size.</summary>
    public const double UpdateTolerance = 1e-10;

    /// <summary>Random runs: θ of 1–40 elements, 1–4 updates; shrinks to one element, one update.</summary>
    /// <returns>The arbitrary.</returns>
    public static Arbitrary<TransformCase> Cases()
    {
        var gen = from n in Gen.Choose(1, 40)
                  from steps in Gen.Choose(1, 4)
                  from seed in Gen.Choose(0, 1_000_000)
                  select new TransformCase(n, steps, seed);
        return Arb.From(gen, c => Shrink(c));
    }

    private static IEnumerable<TransformCase> Shrink(TransformCase c)
    {
        if (c.Length > 1) yield return c with { Length = 1 };
        if (c.Steps > 1) yield return c with { Steps = 1 };
        if (c.Length > 2) yield return c with { Length = c.Length / 2 };
    }

    /// <summary>The transform's update equals <paramref name="formula"/>, applied to each element.</summary>
    /// <param name="transform">Your transform.</param>
    /// <param name="formula">The rule for one element.</param>
    /// <param name="tolerance">Largest relative error.</param>
    /// <returns>The property, over random <see cref="TransformCase"/>s.</returns>
    public static Property UpdateEqualsFormula(GradientTransform transform, Action<ElementStep> formula, double tolerance = UpdateTolerance) =>
        Prop.ForAll(Cases(), c => UpdateEqualsFormula(transform, formula, c, tolerance));

    /// <summary>The transform's update equals <paramref name="formula"/>, applied to each element, on the run <paramref name="c"/>.</summary>
    /// <param name="transform">Your transform.</param>
    /// <param name="formula">The rule for one element.</param>
    /// <param name="c">The run.</param>
    /// <param name="tolerance">Largest relative error.</param>
    /// <returns>The property.</returns>
    public static Property UpdateEqualsFormula(GradientTransform transform, Action<ElementStep> formula, TransformCase c, double tolerance = UpdateTolerance)
    {
        ArgumentNullException.ThrowIfNull(formula);
        return UpdateEqualsVectorFormula(transform, v =>
        {
            var m = new double[v.Moments.Length];
            for (int i = 0; i < v.Theta.Length; i++)
            {
                for (int k = 0; k < m.Length; k++) m[k] = v.Moments[k][i];
                var e = new ElementStep(i, v.Theta[i], v.G[i], m, v.LearningRate, v.Step);
                formula(e);
                v.Theta[i] = e.Theta;
                v.G[i] = e.G;
                for (int k = 0; k < m.Length; k++) v.Moments[k][i] = m[k];
            }
        }, c, tolerance);
    }

    /// <summary>The transform's update equals <paramref name="formula"/>, a rule over the whole vector.</summary>
    /// <param name="transform">Your transform.</param>
    /// <param name="formula">The rule for one update.</param>
    /// <param name="tolerance">Largest relative error.</param>
    /// <returns>The property, over random <see cref="TransformCase"/>s.</returns>
    public static Property UpdateEqualsVectorFormula(GradientTransform transform, Action<VectorStep> formula, double tolerance = UpdateTolerance) =>
        Prop.ForAll(Cases(), c => UpdateEqualsVectorFormula(transform, formula, c, tolerance));

    /// <summary>The transform's update equals <paramref name="formula"/>, a rule over the whole vector, on the run <paramref name="c"/>.</summary>
    /// <param name="transform">Your transform.</param>
    /// <param name="formula">The rule for one update.</param>
    /// <param name="c">The run.</param>
    /// <param name="tolerance">Largest relative error.</param>
    /// <returns>The property.</returns>
    public static Property UpdateEqualsVectorFormula(GradientTransform transform, Action<VectorStep> formula, TransformCase c, double tolerance = UpdateTolerance)
    {
        ArgumentNullException.ThrowIfNull(transform);
        ArgumentNullException.ThrowIfNull(formula);
        ArgumentNullException.ThrowIfNull(c);
        int n = c.Length;
        var rng = new SeededRandom(c.Seed);
        var theta = new double[n];
        for (int i = 0; i < n; i++) theta[i] = rng.NextGaussian();
        using var buffers = transform.CreateBuffers<double>(n);
        int moments = transform.MomentCount;
        var expectedTheta = (double[])theta.Clone();
        var expectedMoments = new double[moments][];
        for (int k = 0; k < moments; k++) expectedMoments[k] = buffers.Moment(k).ToArray();
        var state = new OptimizerState(0);
        for (int step = 1; step <= c.Steps; step++)
        {
            var g = new double[n];
            for (int i = 0; i < n; i++) g[i] = rng.NextGaussian();
            double eta = transform.LearningRateAt(state.Step);
            double[] thetaBefore = (double[])theta.Clone(), gBefore = (double[])g.Clone();
            var momentsBefore = expectedMoments.Select(m => (double[])m.Clone()).ToArray();

            var next = transform.Update(state, g.AsSpan(), theta.AsSpan(), buffers, new StepContext<double>(eta));
            var expectedG = (double[])gBefore.Clone();
            formula(new VectorStep(expectedTheta, expectedG, expectedMoments, eta, state.Step + 1));

            string Before(int i) => Invariant($"θ {thetaBefore[i]:G10}, g {gBefore[i]:G10}")
                + (moments == 0 ? "" : ", moments [" + string.Join(", ", momentsBefore.Select(m => Invariant($"{m[i]:G10}"))) + "]")
                + Invariant($", η {eta:G6}");
            string Where(string what, int i) => Invariant($"{transform.Name} update {step} of {c.Steps} (t = {state.Step + 1}), {what}[{i}]");

            if (next.Step != state.Step + 1)
                return false.Label(Invariant($"{transform.Name} update {step}: returned state step {next.Step}, expected {state.Step + 1}"));
            var failure = Compare("θ", theta, expectedTheta) ?? Compare("g", g, expectedG);
            for (int k = 0; k < moments && failure is null; k++) failure = Compare(Invariant($"moment {k}"), buffers.Moment(k).ToArray(), expectedMoments[k]);
            if (failure is not null) return false.Label(failure);
            state = next;

            // Relative to what went into the element as well as to the result: an update sums terms the size of θ, g and
            // the moments before it, so its rounding is ε times those, and a result that cancels (m ← βm + (1 − β)g with
            // βm ≈ −(1 − β)g) is judged against them, not against itself (Adam's first moment came to 1.7·10⁻⁷ from
            // 0.32 − 0.32 once in about 2,000 runs, two roundings 3.3·10⁻¹⁰ of it apart).
            double InputScale(int i)
            {
                double s = Math.Max(Math.Abs(thetaBefore[i]), Math.Abs(gBefore[i]));
                foreach (var m in momentsBefore) s = Math.Max(s, Math.Abs(m[i]));
                return s;
            }

            string? Compare(string what, double[] actual, double[] expected)
            {
                double err = 0;
                int at = -1;
                for (int i = 0; i < expected.Length; i++)
                {
                    double e = Math.Abs(actual[i] - expected[i])
                        / Math.Max(Math.Max(Math.Abs(actual[i]), Math.Abs(expected[i])), Math.Max(InputScale(i), 1e-12));
                    if (e > err || double.IsNaN(e)) { err = double.IsNaN(e) ? double.PositiveInfinity : e; at = i; }
                }
                if (err <= tolerance) return null;
                return $"{Where(what, at)}: transform gives {Invariant($"{actual[at]:G17}")}, formula {Invariant($"{expected[at]:G17}")} (relative error {Invariant($"{err:E2} > {tolerance:E0}")}); before: {Before(at)}";
            }
        }
        return true.ToProperty();
    }
}
