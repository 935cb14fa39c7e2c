using Backprop.Functional.Testing;
using FsCheck;
using FsCheck.Fluent;

namespace Backprop.Functional.Tests.Curvature;

/// <summary>Small networks (≤ 60 parameters) and the explicit matrices the curvature products are checked against, built
/// without the R-operator: finite differences of the backprop gradient (H), finite-difference Jacobians of the outputs with
/// the loss's curvature written out by hand (G, true Fisher), and per-sample gradients (empirical Fisher).</summary>
internal static class CurvatureOracles
{
    /// <summary>Hidden activations with a second derivative everywhere (no kink for a stencil to cross).</summary>
    public static readonly ActivationKind[] Smooth =
        [ActivationKind.Identity, ActivationKind.Sigmoid, ActivationKind.Tanh, ActivationKind.Softplus, ActivationKind.GELU];

    /// <summary>Every fitting (output, cost) pair whose output has no kink (no ReLU or LeakyReLU output a stencil could cross).</summary>
    public static readonly (ActivationKind Output, LossKind Loss)[] SmoothPairs =
        [.. NetCase.OutputLossPairs.Where(p => p.Output is not (ActivationKind.ReLU or ActivationKind.LeakyReLU))];

    public static Gen<NetCase> Gen(bool smooth = true, int maxParameters = 60) =>
        (from depth in FsCheck.Fluent.Gen.Choose(1, 3)
         from widths in FsCheck.Fluent.Gen.ArrayOf(FsCheck.Fluent.Gen.Choose(1, 5), depth + 1)
         from hidden in FsCheck.Fluent.Gen.ArrayOf(FsCheck.Fluent.Gen.Elements(smooth ? Smooth : NetCase.ElementwiseKinds), depth)
         from pair in FsCheck.Fluent.Gen.Elements(smooth ? SmoothPairs : NetCase.OutputLossPairs)
         from batch in FsCheck.Fluent.Gen.Choose(1, 4)
         from seed in FsCheck.Fluent.Gen.Choose(0, 1_000_000)
         select new NetCase(widths, hidden, pair.Output, pair.Loss, batch, seed))
        .Where(c => c.Spec.Layout.Count <= maxParameters);

    /// <summary>∂C/∂θ at θ.</summary>
    public static double[] Gradient(NetworkSpec spec, double[] theta, double[] x, double[] y, int batch)
    {
        using var net = Network<double>.FromParameters(spec, theta);
        using var ws = net.CreateWorkspace(batch);
        using var g = net.CreateGradient();
        net.ValueAndGradient(x, y, ws, g.Span);
        return g.Span.ToArray();
    }

    /// <summary>H by columns: the five-point stencil of the backprop gradient along each eᵢ (truncation O(h⁴)).</summary>
    public static double[,] Hessian(NetworkSpec spec, double[] theta, double[] x, double[] y, int batch, double h = 1e-3)
    {
        int n = theta.Length;
        var hessian = new double[n, n];
        for (int i = 0; i < n; i++)
        {
            double[] At(double d) { var t = (double[])theta.Clone(); t[i] += d; return Gradient(spec, t, x, y, batch); }
            double[] p1 = At(h), m1 = At(-h), p2 = At(2 * h), m2 = At(-2 * h);
            for (int j = 0; j < n; j++) hessian[j, i] = (-p2[j] + 8 * p1[j] - 8 * m1[j] + m2[j]) / (12 * h);
        }
        return hessian;
    }

    /// <summary>zᴸ (logits: <paramref name="logits"/>) or aᴸ of every row at θ.</summary>
    public static double[] Outputs(NetworkSpec spec, double[] theta, double[] x, int batch, bool logits)
    {
        using var net = Network<double>.FromParameters(spec, theta);
        using var ws = net.CreateWorkspace(batch);
        net.Forward(x, ws);
        int last = spec.Layers.Count - 1;
        return (logits ? ws.Z(last, batch) : ws.A(last, batch)).ToArray();
    }

    /// <summary>J = ∂(outputs of every row)/∂θ, [batch·outputs × n], five-point stencil.</summary>
    public static double[,] Jacobian(NetworkSpec spec, double[] theta, double[] x, int batch, bool logits, double h = 1e-3)
    {
        int n = theta.Length, m = batch * spec.Outputs;
        var j = new double[m, n];
        for (int i = 0; i < n; i++)
        {
            double[] At(double d) { var t = (double[])theta.Clone(); t[i] += d; return Outputs(spec, t, x, batch, logits); }
            double[] p1 = At(h), m1 = At(-h), p2 = At(2 * h), m2 = At(-2 * h);
            for (int r = 0; r < m; r++) j[r, i] = (-p2[r] + 8 * p1[r] - 8 * m1[r] + m2[r]) / (12 * h);
        }
        return j;
    }

    /// <summary>The output curvature block of row r, written out per pair: at zᴸ for the matching pairs
    /// (identity + quadratic: I; sigmoid + BCE: diag a(1 − a); softmax + CE: Σy·(diag a − aaᵀ)), at aᴸ otherwise
    /// (quadratic: I; BCE: diag(y/a² + (1 − y)/(1 − a)²)). <paramref name="model"/>: the targets' expectation under the
    /// model (true Fisher): Σy = 1, y = a.</summary>
    public static double[,] OutputCurvature(NetworkSpec spec, double[] a, double[] y, int r, bool model)
    {
        int k = spec.Outputs;
        var block = new double[k, k];
        var ar = a.AsSpan(r * k, k);
        var yr = model ? ar : y.AsSpan(r * k, k);
        bool atLogits = Functional.Curvature.SplitsAtLogits(spec.Loss, spec.OutputActivation);
        for (int i = 0; i < k; i++)
            for (int j = 0; j < k; j++)
            {
                double v = 0;
                if (atLogits && spec.OutputActivation == ActivationKind.Softmax)
                {
                    double sum = 0;
                    for (int t = 0; t < k; t++) sum += yr[t];
                    v = sum * ((i == j ? ar[i] : 0) - ar[i] * ar[j]);
                }
                else if (i == j)
                    v = spec.Loss switch
                    {
                        LossKind.Quadratic => 1,
                        LossKind.CrossEntropy when atLogits => ar[i] * (1 - ar[i]),
                        LossKind.CrossEntropy => yr[i] / (ar[i] * ar[i]) + (1 - yr[i]) / ((1 - ar[i]) * (1 - ar[i])),
                        _ => throw new NotSupportedException(spec.Loss.ToString()),
                    };
                block[i, j] = v;
            }
        return block;
    }

    /// <summary>Σ_r J_rᵀ B_r J_r / m with each row's output block B_r.</summary>
    public static double[,] Sandwich(double[,] jacobian, Func<int, double[,]> block, int batch, int outputs)
    {
        int n = jacobian.GetLength(1);
        var result = new double[n, n];
        for (int r = 0; r < batch; r++)
        {
            var b = block(r);
            for (int p = 0; p < n; p++)
                for (int q = 0; q < n; q++)
                {
                    double s = 0;
                    for (int i = 0; i < outputs; i++)
                        for (int j = 0; j < outputs; j++)
                            s += jacobian[r * outputs + i, p] * b[i, j] * jacobian[r * outputs + j, q];
                    result[p, q] += s / batch;
                }
        }
        return result;
    }

    /// <summary>F̂ = (1/m) Σₓ gₓgₓᵀ with gₓ = ∇ℓₓ, each from a batch of one row.</summary>
    public static double[,] EmpiricalFisher(NetworkSpec spec, double[] theta, double[] x, double[] y, int batch)
    {
        int n = theta.Length;
        var f = new double[n, n];
        for (int r = 0; r < batch; r++)
        {
            var g = Gradient(spec, theta, x.AsSpan(r * spec.Inputs, spec.Inputs).ToArray(), y.AsSpan(r * spec.Outputs, spec.Outputs).ToArray(), 1);
            for (int p = 0; p < n; p++)
                for (int q = 0; q < n; q++) f[p, q] += g[p] * g[q] / batch;
        }
        return f;
    }

    public static double[] Times(double[,] matrix, double[] v)
    {
        int n = v.Length;
        var result = new double[matrix.GetLength(0)];
        for (int i = 0; i < result.Length; i++)
            for (int j = 0; j < n; j++) result[i] += matrix[i, j] * v[j];
        return result;
    }

    public static double[] Direction(int n, int seed)
    {
        var rng = new SeededRandom(seed);
        var v = new double[n];
        for (int i = 0; i < n; i++) v[i] = rng.NextGaussian();
        return v;
    }
}
