namespace Backprop.Functional.Tests.Curvature;

/// <summary>v ↦ Av for a dense symmetric A, [n × n] row-major.</summary>
internal readonly struct MatrixOperator(double[] a, int n) : ILinearOperator<double>
{
    public void Apply(ReadOnlySpan<double> v, Span<double> result)
    {
        for (int i = 0; i < n; i++)
        {
            double s = 0;
            for (int j = 0; j < n; j++) s += a[(i * n) + j] * v[j];
            result[i] = s;
        }
    }
}

/// <summary>Dense references for conjugate gradient: random SPD matrices, a Cholesky solve, and the minimiser of
/// φ(x) = ½xᵀAx − bᵀx over x₀ + Kₖ(M⁻¹A, M⁻¹r₀) built from an explicit (orthonormalised) Krylov basis.</summary>
internal static class ConjugateGradientOracle
{
    /// <summary>A = QᵀQ + shift·I with Q random, [n × n].</summary>
    public static double[] RandomSpd(Random rng, int n, double shift)
    {
        var q = new double[n * n];
        for (int i = 0; i < q.Length; i++) q[i] = ((2 * rng.NextDouble()) - 1) / Math.Sqrt(n);
        var a = new double[n * n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                double s = i == j ? shift : 0;
                for (int k = 0; k < n; k++) s += q[(k * n) + i] * q[(k * n) + j];
                a[(i * n) + j] = s;
            }
        return a;
    }

    public static double[] Random(Random rng, int n, double lo = -1, double hi = 1)
    {
        var v = new double[n];
        for (int i = 0; i < n; i++) v[i] = lo + ((hi - lo) * rng.NextDouble());
        return v;
    }

    public static double[] Multiply(double[] a, int n, ReadOnlySpan<double> v)
    {
        var r = new double[n];
        new MatrixOperator(a, n).Apply(v, r);
        return r;
    }

    /// <summary>A + λI.</summary>
    public static double[] Damped(double[] a, int n, double lambda)
    {
        var d = (double[])a.Clone();
        for (int i = 0; i < n; i++) d[(i * n) + i] += lambda;
        return d;
    }

    /// <summary>x with Ax = b, A SPD, by Cholesky.</summary>
    public static double[] Solve(double[] a, int n, ReadOnlySpan<double> b)
    {
        var l = new double[n * n];
        for (int j = 0; j < n; j++)
        {
            double s = a[(j * n) + j];
            for (int k = 0; k < j; k++) s -= l[(j * n) + k] * l[(j * n) + k];
            if (!(s > 0)) throw new InvalidOperationException("matrix not positive definite");
            l[(j * n) + j] = Math.Sqrt(s);
            for (int i = j + 1; i < n; i++)
            {
                double t = a[(i * n) + j];
                for (int k = 0; k < j; k++) t -= l[(i * n) + k] * l[(j * n) + k];
                l[(i * n) + j] = t / l[(j * n) + j];
            }
        }
        var y = new double[n];
        for (int i = 0; i < n; i++)
        {
            double t = b[i];
            for (int k = 0; k < i; k++) t -= l[(i * n) + k] * y[k];
            y[i] = t / l[(i * n) + i];
        }
        var x = new double[n];
        for (int i = n - 1; i >= 0; i--)
        {
            double t = y[i];
            for (int k = i + 1; k < n; k++) t -= l[(k * n) + i] * x[k];
            x[i] = t / l[(i * n) + i];
        }
        return x;
    }

    /// <summary>argmin φ over x₀ + Kₖ(M⁻¹A, M⁻¹r₀), r₀ = b − Ax₀: the basis by Arnoldi (each new vector M⁻¹A qⱼ
    /// orthonormalised twice against the others), then (VᵀAV)c = Vᵀr₀ and x = x₀ + Vc.</summary>
    public static double[] KrylovMinimiser(double[] a, int n, double[] b, double[] x0, double[]? m, int k)
    {
        var ax0 = Multiply(a, n, x0);
        var r0 = new double[n];
        for (int i = 0; i < n; i++) r0[i] = b[i] - ax0[i];
        var basis = new List<double[]>();
        double[] next = Precondition(r0, m);
        for (int j = 0; j < k; j++)
        {
            for (int pass = 0; pass < 2; pass++)
                foreach (var q in basis)
                {
                    double dot = Dot(q, next);
                    for (int i = 0; i < n; i++) next[i] -= dot * q[i];
                }
            double norm = Math.Sqrt(Dot(next, next));
            if (norm < 1e-13) break;   // the space is invariant: Kⱼ already holds the solution
            for (int i = 0; i < n; i++) next[i] /= norm;
            basis.Add(next);
            next = Precondition(Multiply(a, n, next), m);
        }
        int dim = basis.Count;
        var h = new double[dim * dim];
        var rhs = new double[dim];
        for (int i = 0; i < dim; i++)
        {
            var av = Multiply(a, n, basis[i]);
            rhs[i] = Dot(basis[i], r0);
            for (int j = 0; j < dim; j++) h[(j * dim) + i] = Dot(basis[j], av);
        }
        var c = dim == 0 ? [] : Solve(h, dim, rhs);
        var x = (double[])x0.Clone();
        for (int j = 0; j < dim; j++)
            for (int i = 0; i < n; i++) x[i] += c[j] * basis[j][i];
        return x;
    }

    /// <summary>φ(x) = ½xᵀAx − bᵀx.</summary>
    public static double Phi(double[] a, int n, double[] b, ReadOnlySpan<double> x)
    {
        var ax = Multiply(a, n, x);
        double phi = 0;
        for (int i = 0; i < n; i++) phi += (0.5 * x[i] * ax[i]) - (b[i] * x[i]);
        return phi;
    }

    public static double Dot(ReadOnlySpan<double> u, ReadOnlySpan<double> v)
    {
        double s = 0;
        for (int i = 0; i < u.Length; i++) s += u[i] * v[i];
        return s;
    }

    /// <summary>‖u − v‖_A / scale, ‖w‖_A = √(wᵀAw).</summary>
    public static double EnergyError(double[] a, int n, ReadOnlySpan<double> u, ReadOnlySpan<double> v, double scale)
    {
        var w = new double[n];
        for (int i = 0; i < n; i++) w[i] = u[i] - v[i];
        return Math.Sqrt(Math.Max(0, Dot(w, Multiply(a, n, w)))) / scale;
    }

    /// <summary>max |u − v| / max(1, max |v|).</summary>
    public static double MaxError(ReadOnlySpan<double> u, ReadOnlySpan<double> v)
    {
        double err = 0, scale = 1;
        for (int i = 0; i < u.Length; i++)
        {
            err = Math.Max(err, Math.Abs(u[i] - v[i]));
            scale = Math.Max(scale, Math.Abs(v[i]));
        }
        return err / scale;
    }

    private static double[] Precondition(double[] r, double[]? m)
    {
        var z = (double[])r.Clone();
        if (m is not null) for (int i = 0; i < z.Length; i++) z[i] /= m[i];
        return z;
    }
}
