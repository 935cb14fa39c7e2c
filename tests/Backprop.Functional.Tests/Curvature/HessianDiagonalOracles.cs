using Backprop.Functional.Testing;
using FsCheck;
using FsCheck.Fluent;

namespace Backprop.Functional.Tests.Curvature;

/// <summary>The exact diagonals the estimates are held to, built densely in double: column i of H (or G) is the exact
/// product with eᵢ, so diag(H)ᵢ = (H eᵢ)ᵢ.</summary>
internal static class HessianDiagonalOracles
{
    public static double[] Theta(NetCase c)
    {
        using var net = c.Network();
        return net.Parameters.ToArray();
    }

    /// <summary>diag ∇²C (gaussNewton: false) or diag G, one product per parameter.</summary>
    public static double[] Exact(NetworkSpec spec, double[] theta, double[] x, double[] y, int rows, bool gaussNewton = false)
    {
        using var ws = new CurvatureWorkspace<double>(spec, rows);
        Backprop.Functional.Curvature.Forward<double>(spec, theta, x, ws);
        int n = theta.Length;
        var e = new double[n];
        var column = new double[n];
        var diagonal = new double[n];
        for (int i = 0; i < n; i++)
        {
            e[i] = 1;
            if (gaussNewton) Backprop.Functional.Curvature.GaussNewtonVector<double>(spec, theta, x, y, ws, e, column);
            else Backprop.Functional.Curvature.HessianVector<double>(spec, theta, x, y, ws, e, column);
            diagonal[i] = column[i];
            e[i] = 0;
        }
        return diagonal;
    }

    public static double[] BeckerLeCun(NetworkSpec spec, double[] theta, double[] x, double[] y, int rows, BeckerLeCunVariant variant)
    {
        using var ws = new CurvatureWorkspace<double>(spec, rows);
        using var bl = new HessianDiagonal<double>(spec, rows);
        Backprop.Functional.Curvature.Forward<double>(spec, theta, x, ws);
        var diagonal = new double[theta.Length];
        bl.BeckerLeCun(theta, x, y, ws, diagonal, variant);
        return diagonal;
    }

    /// <summary>max over i of |a − b| / max(|a|, |b|, 10⁻³·max|expected|): relative, with a floor at a thousandth of the
    /// diagonal's scale (entries that vanish, e.g. behind a dead ReLU, are held to 10⁻³·scale·tolerance absolutely).</summary>
    public static (double Error, int At) MaxRelative(ReadOnlySpan<double> expected, ReadOnlySpan<double> actual, int from = 0, int to = -1)
    {
        if (to < 0) to = expected.Length;
        double scale = 0;
        for (int i = from; i < to; i++) scale = Math.Max(scale, Math.Abs(expected[i]));
        double floor = Math.Max(1e-3 * scale, 1e-300), worst = 0;
        int at = from;
        for (int i = from; i < to; i++)
        {
            double err = Math.Abs(expected[i] - actual[i]) / Math.Max(floor, Math.Max(Math.Abs(expected[i]), Math.Abs(actual[i])));
            if (!(err <= worst)) { worst = err; at = i; }
        }
        return (worst, at);
    }

    public static string Describe(string what, double[] expected, double[] actual, (double Error, int At) e) =>
        $"{what}: relative error {e.Error:E2} at θ[{e.At}] (expected {expected[e.At]:G12}, got {actual[e.At]:G12})";
}

/// <summary>Random networks of one dense layer, every fitting (output, loss) pair.</summary>
public static class OneLayerNets
{
    public static Arbitrary<NetCase> NetCase() => Arb.From(NetArbitraries.Gen(maxDepth: 1, maxWidth: 8), NetArbitraries.Shrink);
}

/// <summary>Random networks of depth 1–4 (widths ≤ 6, so the dense Hessian stays small).</summary>
public static class SmallNets
{
    public static Arbitrary<NetCase> NetCase() => Arb.From(NetArbitraries.Gen(maxDepth: 4, maxWidth: 6), NetArbitraries.Shrink);
}

/// <summary>Two dense layers whose output is one unit wide.</summary>
public static class OneOutputNets
{
    public static Arbitrary<NetCase> NetCase() => Arb.From(
        NetArbitraries.Gen(maxDepth: 2, maxWidth: 8).Select(c => c with { Widths = [.. c.Widths[..^1], 1] }),
        c => NetArbitraries.Shrink(c).Select(s => s with { Widths = [.. s.Widths[..^1], 1] }));
}
