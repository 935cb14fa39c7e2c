namespace Backprop.Functional.Tests.Optimizers;

/// <summary>f(θ) = ½ θᵀAθ − bᵀθ with A = MᵀM + I.</summary>
internal sealed class Quadratic
{
    private readonly double[,] a;
    private readonly double[] b;

    private Quadratic(double[,] a, double[] b)
    {
        this.a = a;
        this.b = b;
    }

    public int N => b.Length;

    public static Quadratic Random(Random rng, int? dimension = null)
    {
        int n = dimension ?? rng.Next(2, 21);
        double[,] m = new double[n, n];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < n; j++)
            {
                m[i, j] = ((rng.NextDouble() * 2) - 1) / Math.Sqrt(n);
            }
        }

        double[,] a = new double[n, n];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < n; j++)
            {
                double s = i == j ? 1 : 0;
                for (int k = 0; k < n; k++)
                {
                    s += m[k, i] * m[k, j];
                }

                a[i, j] = s;
            }
        }

        double[] b = new double[n];
        for (int i = 0; i < n; i++)
        {
            b[i] = (rng.NextDouble() * 2) - 1;
        }

        return new Quadratic(a, b);
    }

    public double Loss(ReadOnlySpan<double> theta)
    {
        double f = 0;
        for (int i = 0; i < N; i++)
        {
            double ai = 0;
            for (int j = 0; j < N; j++)
            {
                ai += a[i, j] * theta[j];
            }

            f += (0.5 * theta[i] * ai) - (b[i] * theta[i]);
        }

        return f;
    }

    public void Gradient(ReadOnlySpan<double> theta, Span<double> g)
    {
        for (int i = 0; i < N; i++)
        {
            double s = -b[i];
            for (int j = 0; j < N; j++)
            {
                s += a[i, j] * theta[j];
            }

            g[i] = s;
        }
    }

    /// <summary>The minimum value f(A⁻¹b), by Gaussian elimination (A is SPD).</summary>
    public double MinimumLoss()
    {
        int n = N;
        double[,] m = (double[,])a.Clone();
        double[] x = (double[])b.Clone();
        for (int k = 0; k < n; k++)
        {
            for (int i = k + 1; i < n; i++)
            {
                double f = m[i, k] / m[k, k];
                for (int j = k; j < n; j++)
                {
                    m[i, j] -= f * m[k, j];
                }

                x[i] -= f * x[k];
            }
        }

        for (int i = n - 1; i >= 0; i--)
        {
            double s = x[i];
            for (int j = i + 1; j < n; j++)
            {
                s -= m[i, j] * x[j];
            }

            x[i] = s / m[i, i];
        }

        return Loss(x);
    }
}
