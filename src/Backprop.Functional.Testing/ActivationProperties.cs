using FsCheck;
using FsCheck.Fluent;
using static Backprop.Functional.Testing.NetworkProperties;

namespace Backprop.Functional.Testing;

/// <summary>Points z where an activation is checked, [length 1–40] so the span forms run their vector body and their
/// scalar tail; values on a grid of 10⁻³ in [−range, range]. Prints as <c>z = [1.25, -0.5]</c>.</summary>
/// <param name="Z">The points.</param>
public sealed record ActivationPoints(double[] Z)
{
    /// <summary><c>z = [1.25, -0.5]</c>.</summary>
    /// <returns>The readable form.</returns>
    public override string ToString() =>
        "z = [" + string.Join(", ", Z.Select(v => v.ToString("R", System.Globalization.CultureInfo.InvariantCulture))) + "]";
}

/// <summary>Ready properties of an activation of your own, a struct implementing <see cref="IElementwiseActivation"/>,
/// in double, one line in an FsCheck test:
/// <code>
/// [Property] public Property Swish_derivative() => ActivationProperties.DerivativeEqualsFiniteDifference&lt;Swish&gt;();
/// </code>
/// At every point: σ′(z) (the scalar <c>Derivative(z, σ(z))</c>) equals the five-point finite difference of the scalar
/// <c>Value</c>; σ″, if the activation defines it, equals the finite difference of σ′; the span forms equal the scalar
/// ones (<c>Apply</c> = <c>Value</c>, the span <c>Derivative</c> = the scalar one, <c>Backward</c> = u ⊙ σ′, also in place).
/// A point whose stencil straddles a kink (the slopes left and right of it differ) is not held to the finite difference.
/// A failure's label names the member, the point and the numbers.</summary>
public static class ActivationProperties
{
    /// <summary>Largest difference of a span form from the scalar form, relative to max(1, |scalar|): vectorised
    /// exp or tanh may differ from the scalar ones by a few ulps.</summary>
    public const double SpanTolerance = 1e-12;

    /// <summary>Random <see cref="ActivationPoints"/> in [−<paramref name="range"/>, <paramref name="range"/>];
    /// shrinks to one point, then to a rounder one (an integer, or one decimal below 2, rounded or away from 0).</summary>
    /// <param name="range">Largest |z|.</param>
    /// <returns>The arbitrary.</returns>
    public static Arbitrary<ActivationPoints> Points(double range = 6)
    {
        int k = (int)Math.Round(range * 1000);
        var gen = from n in Gen.Choose(1, 40)
                  from z in Gen.ArrayOf(Gen.Choose(-k, k).Select(i => i / 1000.0), n)
                  select new ActivationPoints(z);
        return Arb.From(gen, Shrink);
    }

    private static IEnumerable<ActivationPoints> Shrink(ActivationPoints p)
    {
        var z = p.Z;
        if (z.Length > 1)
        {
            foreach (double v in z) yield return new ActivationPoints([v]);
            yield return new ActivationPoints(z[..(z.Length / 2)]);
            yield return new ActivationPoints(z[(z.Length / 2)..]);
            yield break;
        }
        // Below 2 also one decimal away from 0: a point like 0.04, where 0 and 0.0 may pass (σ′ wrong only off 0), goes to 0.1.
        double[] candidates = Math.Abs(z[0]) >= 2 ? [Math.Round(z[0]), Math.Round(z[0] / 2)]
            : [Math.Round(z[0]), Math.Round(z[0], 1), Math.CopySign(Math.Ceiling(Math.Abs(z[0]) * 10) / 10, z[0])];
        foreach (double v in candidates)   // toward a round point, not toward 0 (a wrong σ′ may only show away from it)
            if (v != z[0]) yield return new ActivationPoints([v]);
    }

    /// <summary>The activation's derivative and span forms agree with its value (see the class summary), at random points.</summary>
    /// <typeparam name="TAct">Your activation.</typeparam>
    /// <param name="range">Largest |z| checked.</param>
    /// <param name="tolerance">Largest relative error of σ′ against the finite difference (floor 10⁻⁴).</param>
    /// <returns>The property.</returns>
    public static Property DerivativeEqualsFiniteDifference<TAct>(double range = 6, double tolerance = Tolerance)
        where TAct : struct, IElementwiseActivation =>
        Prop.ForAll(Points(range), p => DerivativeEqualsFiniteDifference<TAct>(p, tolerance));

    /// <summary>The activation's derivative and span forms agree with its value at the points <paramref name="p"/>.</summary>
    /// <typeparam name="TAct">Your activation.</typeparam>
    /// <param name="p">The points.</param>
    /// <param name="tolerance">Largest relative error of σ′ against the finite difference (floor 10⁻⁴).</param>
    /// <returns>The property.</returns>
    public static Property DerivativeEqualsFiniteDifference<TAct>(ActivationPoints p, double tolerance = Tolerance)
        where TAct : struct, IElementwiseActivation
    {
        ArgumentNullException.ThrowIfNull(p);
        string name = typeof(TAct).Name;
        var z = p.Z;
        int n = z.Length;
        var failures = new List<string>();
        bool second = true;
        for (int i = 0; i < n && failures.Count == 0; i++)
        {
            double zi = z[i], a = TAct.Value(zi), d = TAct.Derivative(zi, a);
            double h = 1e-3 * Math.Max(1, Math.Abs(zi));
            if (Kinked(t => TAct.Value(t), zi, h)) continue;
            double fd = Oracles.FivePoint(t => TAct.Value(zi + t), h);
            double err = Oracles.RelativeError(d, fd, Floor);
            if (!(err <= tolerance))
            {
                failures.Add(Invariant($"{name}.Derivative(z, a) at z = {zi:R}: {d:G10}, but the finite difference of {name}.Value is {fd:G10} (relative error {err:E2} > {tolerance:E0})"));
                break;
            }
            if (!second || Kinked(t => TAct.Derivative(t, TAct.Value(t)), zi, h)) continue;
            double s;
            try { s = TAct.SecondDerivative(zi, a); }
            catch (NotSupportedException) { second = false; continue; }
            double fd2 = Oracles.FivePoint(t => TAct.Derivative(zi + t, TAct.Value(zi + t)), h);
            double err2 = Oracles.RelativeError(s, fd2, Floor);
            if (!(err2 <= tolerance))
                failures.Add(Invariant($"{name}.SecondDerivative(z, a) at z = {zi:R}: {s:G10}, but the finite difference of {name}.Derivative is {fd2:G10} (relative error {err2:E2} > {tolerance:E0})"));
        }
        if (failures.Count == 0) SpanForms<TAct>(z, name, failures);
        return (failures.Count == 0).Label(string.Join(Environment.NewLine, failures));
    }

    /// <summary>Apply, the span Derivative and Backward (out of place and in place) against the scalar forms.</summary>
    private static void SpanForms<TAct>(double[] z, string name, List<string> failures) where TAct : struct, IElementwiseActivation
    {
        int n = z.Length;
        var a = new double[n];
        var d = new double[n];
        var u = new double[n];
        var delta = new double[n];
        var rng = new SeededRandom(n);
        for (int i = 0; i < n; i++) u[i] = rng.NextGaussian();
        TAct.Apply<double>(z, a, n);
        TAct.Derivative<double>(z, a, d);
        TAct.Backward<double>(z, a, u, delta, n);
        var inPlace = (double[])u.Clone();
        TAct.Backward<double>(z, a, inPlace, inPlace, n);
        for (int i = 0; i < n && failures.Count == 0; i++)
        {
            double value = TAct.Value(z[i]), prime = TAct.Derivative(z[i], a[i]);
            Compare($"{name}.Apply", "Value", a[i], value);
            Compare($"{name}.Derivative (span)", "Derivative (scalar)", d[i], prime);
            Compare($"{name}.Backward", "u·Derivative", delta[i], u[i] * prime);
            Compare($"{name}.Backward in place (δ and u the same memory)", "u·Derivative", inPlace[i], u[i] * prime);

            void Compare(string what, string reference, double actual, double expected)
            {
                if (Math.Abs(actual - expected) <= SpanTolerance * Math.Max(1, Math.Abs(expected))) return;
                failures.Add(Invariant($"{what} at z[{i}] = {z[i]:R} (of {n}): {actual:G17}, but {reference} gives {expected:G17}"));
            }
        }
    }

    /// <summary>Whether f has a kink within [z − 2h, z + 2h]: its slopes on either side of z differ by more than a smooth
    /// function's curvature explains.</summary>
    private static bool Kinked(Func<double, double> f, double z, double h)
    {
        double left = (f(z) - f(z - 2 * h)) / (2 * h), right = (f(z + 2 * h) - f(z)) / (2 * h);
        return Math.Abs(left - right) > 1e-2 * Math.Max(1, Math.Max(Math.Abs(left), Math.Abs(right)));
    }
}
