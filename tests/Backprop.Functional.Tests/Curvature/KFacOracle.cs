namespace Backprop.Functional.Tests.Curvature;

/// <summary>Dense, naive linear algebra for checking K-FAC: Kronecker products, a solve by Gaussian elimination, and
/// the permutation between the flat layout (W row-major, then b) and the [W | b] order (row j: Wⱼ₀ … Wⱼ,ᵢₙ₋₁, bⱼ).</summary>
internal static class KFacOracle
{
    /// <summary>(G ⊗ A)[(j, k), (j′, k′)] = G[j, j′]·A[k, k′], rows j-major: [(ng·na) × (ng·na)].</summary>
    public static double[] Kronecker(double[] g, int ng, double[] a, int na)
    {
        int n = ng * na;
        var k = new double[n * n];
        for (int j = 0; j < ng; j++)
            for (int c = 0; c < na; c++)
                for (int j2 = 0; j2 < ng; j2++)
                    for (int c2 = 0; c2 < na; c2++)
                        k[(j * na + c) * n + j2 * na + c2] = g[j * ng + j2] * a[c * na + c2];
        return k;
    }

    /// <summary>Layer l's parameters from the layout order into the [W | b] order.</summary>
    public static double[] ToWb(ReadOnlySpan<double> flat, ParameterLayout layout, int l, int inputs, int outputs)
    {
        int w = layout.Weight(l).Offset, b = layout.Bias(l).Offset, na = inputs + 1;
        var v = new double[outputs * na];
        for (int j = 0; j < outputs; j++)
        {
            for (int i = 0; i < inputs; i++) v[j * na + i] = flat[w + j * inputs + i];
            v[j * na + inputs] = flat[b + j];
        }
        return v;
    }

    /// <summary>The inverse of <see cref="ToWb"/>, into <paramref name="flat"/>.</summary>
    public static void FromWb(double[] v, Span<double> flat, ParameterLayout layout, int l, int inputs, int outputs)
    {
        int w = layout.Weight(l).Offset, b = layout.Bias(l).Offset, na = inputs + 1;
        for (int j = 0; j < outputs; j++)
        {
            for (int i = 0; i < inputs; i++) flat[w + j * inputs + i] = v[j * na + i];
            flat[b + j] = v[j * na + inputs];
        }
    }

    /// <summary>x with Mx = b, by Gaussian elimination with partial pivoting.</summary>
    public static double[] Solve(double[] m, double[] b)
    {
        int n = b.Length;
        var a = (double[])m.Clone();
        var x = (double[])b.Clone();
        for (int c = 0; c < n; c++)
        {
            int p = c;
            for (int r = c + 1; r < n; r++) if (Math.Abs(a[r * n + c]) > Math.Abs(a[p * n + c])) p = r;
            if (p != c)
            {
                for (int k = 0; k < n; k++) (a[c * n + k], a[p * n + k]) = (a[p * n + k], a[c * n + k]);
                (x[c], x[p]) = (x[p], x[c]);
            }
            for (int r = c + 1; r < n; r++)
            {
                double f = a[r * n + c] / a[c * n + c];
                if (f == 0) continue;
                for (int k = c; k < n; k++) a[r * n + k] -= f * a[c * n + k];
                x[r] -= f * x[c];
            }
        }
        for (int r = n - 1; r >= 0; r--)
        {
            double s = x[r];
            for (int k = r + 1; k < n; k++) s -= a[r * n + k] * x[k];
            x[r] = s / a[r * n + r];
        }
        return x;
    }

    /// <summary>M + dI, a copy.</summary>
    public static double[] Damped(double[] m, int n, double d)
    {
        var c = (double[])m.Clone();
        for (int k = 0; k < n; k++) c[k * n + k] += d;
        return c;
    }

    public static double Trace(double[] m, int n)
    {
        double t = 0;
        for (int k = 0; k < n; k++) t += m[k * n + k];
        return t;
    }

    public static double MaxAbs(ReadOnlySpan<double> v)
    {
        double m = 0;
        foreach (double e in v) m = Math.Max(m, Math.Abs(e));
        return m;
    }
}
