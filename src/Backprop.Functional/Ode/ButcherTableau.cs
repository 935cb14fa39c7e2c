namespace Backprop.Functional;

/// <summary>An explicit Runge–Kutta method: stage i evaluates f at t + cᵢΔt and y + Δt·Σⱼ₍ⱼ﹤ᵢ₎ aᵢⱼkⱼ; the step is
/// y + Δt·Σ bᵢkᵢ; an embedded method (b̂) estimates the error as Δt·Σ (bᵢ − b̂ᵢ)kᵢ.</summary>
internal sealed class ButcherTableau
{
    private ButcherTableau(double[] c, double[][] a, double[] b, double[]? error, bool fsal)
    {
        C = c;
        A = a;
        B = b;
        ErrorWeights = error;
        FirstSameAsLast = fsal;
    }

    /// <summary>Stages s.</summary>
    public int Stages => C.Length;

    /// <summary>cᵢ, [s].</summary>
    public double[] C { get; }

    /// <summary>aᵢⱼ for j &lt; i, row i has i entries.</summary>
    public double[][] A { get; }

    /// <summary>bᵢ, [s].</summary>
    public double[] B { get; }

    /// <summary>bᵢ − b̂ᵢ, [s]; null for a fixed-step method.</summary>
    public double[]? ErrorWeights { get; }

    /// <summary>The last stage is f at the new state (aₛⱼ = bⱼ, cₛ = 1, bₛ = 0): it is the next step's first.</summary>
    public bool FirstSameAsLast { get; }

    /// <summary>Stages whose bᵢ or some later aⱼᵢ is not 0: those the solution depends on (the FSAL stage only feeds the error).</summary>
    public int SolutionStages => FirstSameAsLast ? Stages - 1 : Stages;

    public static ButcherTableau Euler { get; } = new([0], [[]], [1], null, false);

    public static ButcherTableau RungeKutta4 { get; } = new(
        [0, 0.5, 0.5, 1],
        [[], [0.5], [0, 0.5], [0, 0, 1]],
        [1.0 / 6, 1.0 / 3, 1.0 / 3, 1.0 / 6], null, false);

    /// <summary>Dormand &amp; Prince (1980), the coefficients of Hairer, Nørsett &amp; Wanner's DOPRI5.</summary>
    public static ButcherTableau DormandPrince { get; } = Dopri();

    private static ButcherTableau Dopri()
    {
        double[] b = [35.0 / 384, 0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84, 0];
        double[] bHat = [5179.0 / 57600, 0, 7571.0 / 16695, 393.0 / 640, -92097.0 / 339200, 187.0 / 2100, 1.0 / 40];
        var error = new double[7];
        for (int i = 0; i < 7; i++) error[i] = b[i] - bHat[i];
        return new(
            [0, 1.0 / 5, 3.0 / 10, 4.0 / 5, 8.0 / 9, 1, 1],
            [
                [],
                [1.0 / 5],
                [3.0 / 40, 9.0 / 40],
                [44.0 / 45, -56.0 / 15, 32.0 / 9],
                [19372.0 / 6561, -25360.0 / 2187, 64448.0 / 6561, -212.0 / 729],
                [9017.0 / 3168, -355.0 / 33, 46732.0 / 5247, 49.0 / 176, -5103.0 / 18656],
                [35.0 / 384, 0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84],
            ],
            b, error, true);
    }
}
