using static Backprop.Functional.Tests.Curvature.ConjugateGradientOracle;

namespace Backprop.Functional.Tests.Curvature;

/// <summary>C(θ) = ½θᵀAθ − bᵀθ with G = A: Hessian-free's objective written out, [n × n] row-major A.</summary>
internal readonly struct QuadraticProblem(double[] a, double[] b) : IHessianFreeProblem<double>
{
    private int N => b.Length;

    /// <summary>C and ∇C; the squared gradients (one "sample": ∇C ⊙ ∇C) when asked for.</summary>
    public double ValueAndGradient(ReadOnlySpan<double> theta, Span<double> gradient, Span<double> squaredGradients)
    {
        Apply(theta, gradient);
        double f = 0;
        for (int i = 0; i < N; i++)
        {
            f += (0.5 * theta[i] * gradient[i]) - (b[i] * theta[i]);
            gradient[i] -= b[i];
        }
        for (int i = 0; i < squaredGradients.Length; i++) squaredGradients[i] = gradient[i] * gradient[i];
        return f;
    }

    public double Cost(ReadOnlySpan<double> theta) => Phi(a, N, b, theta);

    public double Reference(ReadOnlySpan<double> theta, double batchCost) => batchCost;

    public void Apply(ReadOnlySpan<double> v, Span<double> result) => new MatrixOperator(a, N).Apply(v, result);

    /// <summary>A = Q diag(λ) Qᵀ with λ log-spaced from 1 down to 1/<paramref name="condition"/> and Q a random
    /// orthogonal matrix (Gram–Schmidt of a Gaussian one).</summary>
    public static double[] IllConditioned(Random rng, int n, double condition)
    {
        var q = new double[n][];
        for (int j = 0; j < n; j++)
        {
            var v = new double[n];
            for (int i = 0; i < n; i++) v[i] = Gaussian(rng);
            for (int pass = 0; pass < 2; pass++)
                for (int k = 0; k < j; k++)
                {
                    double dot = Dot(q[k], v);
                    for (int i = 0; i < n; i++) v[i] -= dot * q[k][i];
                }
            double norm = Math.Sqrt(Dot(v, v));
            for (int i = 0; i < n; i++) v[i] /= norm;
            q[j] = v;
        }
        var a = new double[n * n];
        for (int k = 0; k < n; k++)
        {
            double eig = Math.Pow(condition, -(double)k / (n - 1));
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++) a[(i * n) + j] += eig * q[k][i] * q[k][j];
        }
        return a;
    }

    private static double Gaussian(Random rng) =>
        Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
}
