namespace Backprop.Functional.Tests.Ode;

/// <summary>A small random ODE problem in double: f = D(+1) → H (smooth activation) → D linear, θ ~ N(0, scale²),
/// a batch of h₀, output times over [0, span], and a cost of the whole trajectory
/// C = Σₖ wₖ·h(tₖ) + ½‖h(tₘ)‖², whose ∂C/∂h(tₖ) is wₖ (+ h(tₘ) at the end).</summary>
internal sealed record OdeCase(int D, bool Time, int Hidden, ActivationKind Activation, int Rows, double[] Times, int Seed, double Scale = 0.6)
{
    public OdeFunction F => OdeFunction.Create(D, Time, (Hidden, Activation), (D, ActivationKind.Identity));

    public static OdeCase Random(int seed)
    {
        var rng = new Random(seed);
        ActivationKind[] smooth = [ActivationKind.Tanh, ActivationKind.Sigmoid, ActivationKind.Softplus, ActivationKind.GELU];
        int outputs = 1 + rng.Next(3);
        var times = new double[outputs + 1];
        for (int k = 1; k <= outputs; k++) times[k] = times[k - 1] + 0.2 + rng.NextDouble() * 0.5;
        return new OdeCase(1 + rng.Next(3), rng.Next(2) == 0, 1 + rng.Next(6), smooth[rng.Next(smooth.Length)], 1 + rng.Next(3), times, seed);
    }

    public double[] Theta()
    {
        var rng = new Random(Seed * 7 + 1);
        var theta = new double[F.ParameterCount];
        for (int i = 0; i < theta.Length; i++) theta[i] = Scale * Normal(rng);
        return theta;
    }

    public double[] H0()
    {
        var rng = new Random(Seed * 7 + 2);
        var h = new double[Rows * D];
        for (int i = 0; i < h.Length; i++) h[i] = Normal(rng);
        return h;
    }

    public double[] Weights()
    {
        var rng = new Random(Seed * 7 + 3);
        var w = new double[Times.Length * Rows * D];
        for (int i = Rows * D; i < w.Length; i++) w[i] = Normal(rng);
        return w;
    }

    public double Cost(double[] states)
    {
        double[] w = Weights();
        double c = 0;
        for (int i = 0; i < states.Length; i++) c += w[i] * states[i];
        int last = (Times.Length - 1) * Rows * D;
        for (int i = last; i < states.Length; i++) c += 0.5 * states[i] * states[i];
        return c;
    }

    public double[] CostGradient(double[] states)
    {
        double[] g = Weights();
        int last = (Times.Length - 1) * Rows * D;
        for (int i = last; i < states.Length; i++) g[i] += states[i];
        return g;
    }

    /// <summary>C at (θ, h₀) and, when asked, ∂C/∂θ and ∂C/∂h₀ by <paramref name="gradient"/>.</summary>
    public double Evaluate(OdeSolver solver, OdeGradient gradient, double[] theta, double[] h0, double[]? dTheta = null, double[]? dH0 = null, int checkpoints = 0)
    {
        var trajectory = new OdeTrajectory<double>(F, solver, Times, Rows, gradient, checkpoints);
        var states = new double[Times.Length * Rows * D];
        trajectory.Solve(theta, h0, states);
        double c = Cost(states);
        if (dTheta is not null && dH0 is not null) trajectory.Gradient(theta, CostGradient(states), dH0, dTheta);
        return c;
    }

    public override string ToString() =>
        $"f {(Time ? "t+" : "")}{D}-{Hidden}:{Activation}-{D}, rows {Rows}, times [{string.Join(", ", Times.Select(t => t.ToString("G3")))}], seed {Seed}";

    private static double Normal(Random rng) => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
}
