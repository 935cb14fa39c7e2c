using System.Globalization;

namespace Backprop.Functional;

/// <summary>How an <see cref="OdeBlock"/> or <see cref="OdeTrajectory{T}"/> integrates dh/dt = f(h, t; θ): an explicit
/// Runge–Kutta method, with a fixed number of steps (<see cref="Euler"/>, <see cref="RungeKutta4"/>) or adaptive steps
/// under a tolerance (<see cref="DormandPrince"/>). All three share one integrator over their Butcher tableaux.
/// <para>Threads: immutable.</para></summary>
public abstract record OdeSolver
{
    private protected OdeSolver() { }

    /// <summary>The solver's name in a layer list and the CLI: <c>euler</c>, <c>rk4</c>, <c>dopri5</c>.</summary>
    public abstract string Name { get; }

    /// <summary>The order p of the method: the global error falls as hᵖ with the step h.</summary>
    public abstract int Order { get; }

    internal abstract ButcherTableau Tableau { get; }

    /// <summary>Steps per interval for a fixed-step method; 0 for an adaptive one.</summary>
    internal virtual int FixedSteps => 0;

    /// <summary>The arguments after <c>solver=</c> in a layer list: <c>rk4:20</c>, <c>dopri5:1E-06:1E-08:100</c>.</summary>
    public abstract string Format();

    /// <summary>Parses what <see cref="Format"/> writes; false with a one-line reason.</summary>
    public static bool TryParse(string text, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out OdeSolver? solver, out string reason)
    {
        ArgumentNullException.ThrowIfNull(text);
        solver = null;
        reason = "";
        var parts = text.Split(':');
        try
        {
            switch (parts[0])
            {
                case "euler" when parts.Length == 2 && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int n):
                    solver = new Euler(n);
                    return true;
                case "rk4" when parts.Length == 2 && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int n):
                    solver = new RungeKutta4(n);
                    return true;
                case "dopri5" when parts.Length == 4
                    && double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out double rtol)
                    && double.TryParse(parts[2], NumberStyles.Float, CultureInfo.InvariantCulture, out double atol)
                    && int.TryParse(parts[3], NumberStyles.None, CultureInfo.InvariantCulture, out int max):
                    solver = new DormandPrince(rtol, atol, max);
                    return true;
            }
        }
        catch (ArgumentOutOfRangeException e)
        {
            reason = $"solver \"{InputText.Excerpt(text)}\": {e.Message.Split('\n')[0].Split(" (Parameter")[0]}";
            return false;
        }
        reason = $"\"{InputText.Excerpt(text)}\" is not a solver (euler:STEPS, rk4:STEPS or dopri5:RTOL:ATOL:MAXSTEPS, e.g. rk4:20)";
        return false;
    }
}

/// <summary>A method taken at a fixed number of steps per interval: the steps, validated once, and the text
/// <c>name:steps</c>.</summary>
public abstract record FixedStepOdeSolver : OdeSolver
{
    private protected FixedStepOdeSolver(int steps) =>
        Steps = steps is > 0 and <= FixedStepLimits.MaxSteps ? steps
            : throw new ArgumentOutOfRangeException(nameof(steps), steps, $"steps must be between 1 and {FixedStepLimits.MaxSteps}");

    /// <summary>Steps per interval (between consecutive output times; an <see cref="OdeBlock"/> has one), at least 1.</summary>
    public int Steps { get; }

    internal override int FixedSteps => Steps;

    /// <inheritdoc/>
    public override string Format() => string.Create(CultureInfo.InvariantCulture, $"{Name}:{Steps}");
}

/// <summary>Forward Euler, h ← h + Δt·f(h, t): order 1, one evaluation of f per step.</summary>
/// <param name="Steps">Steps per interval (between consecutive output times; an <see cref="OdeBlock"/> has one), at least 1.</param>
public sealed record Euler(int Steps) : FixedStepOdeSolver(Steps)
{
    /// <inheritdoc/>
    public override string Name => "euler";

    /// <inheritdoc/>
    public override int Order => 1;

    internal override ButcherTableau Tableau => ButcherTableau.Euler;
}

/// <summary>The classical fourth-order Runge–Kutta method: order 4, four evaluations of f per step.</summary>
/// <param name="Steps">Steps per interval (between consecutive output times; an <see cref="OdeBlock"/> has one), at least 1.</param>
public sealed record RungeKutta4(int Steps) : FixedStepOdeSolver(Steps)
{
    /// <inheritdoc/>
    public override string Name => "rk4";

    /// <inheritdoc/>
    public override int Order => 4;

    internal override ButcherTableau Tableau => ButcherTableau.RungeKutta4;
}

/// <summary>Dormand–Prince 5(4) with adaptive steps (Hairer, Nørsett &amp; Wanner's DOPRI5): seven stages, the last
/// reused as the next step's first (six evaluations per accepted step), the fifth-order solution propagated, the
/// embedded fourth-order one estimating the error. A step is accepted when
/// √(mean((eᵢ / (atol + rtol·max(|yᵢ|, |y′ᵢ|)))²)) ≤ 1, and the next step is Δt·clamp(0.9·err^(−1/5), 0.2, 10);
/// the first step is Hairer's estimate from f at the start. The norm runs over the whole batch's state, so the steps
/// (and so, within the tolerance, each row's result) depend on the other rows of the batch, as in torchdiffeq.</summary>
/// <param name="RelativeTolerance">rtol, in (0, 1).</param>
/// <param name="AbsoluteTolerance">atol, positive.</param>
/// <param name="MaxSteps">Accepted steps allowed in one solve before it is refused; it also sizes the memory
/// <see cref="OdeGradient.Discretise"/> keeps (one state per step).</param>
public sealed record DormandPrince(double RelativeTolerance = 1e-6, double AbsoluteTolerance = 1e-8, int MaxSteps = 200) : OdeSolver
{
    /// <inheritdoc cref="DormandPrince"/>
    public double RelativeTolerance { get; } = RelativeTolerance is > 0 and < 1 ? RelativeTolerance
        : throw new ArgumentOutOfRangeException(nameof(RelativeTolerance), RelativeTolerance, "rtol must be in (0, 1)");

    /// <inheritdoc cref="DormandPrince"/>
    public double AbsoluteTolerance { get; } = AbsoluteTolerance > 0 && double.IsFinite(AbsoluteTolerance) ? AbsoluteTolerance
        : throw new ArgumentOutOfRangeException(nameof(AbsoluteTolerance), AbsoluteTolerance, "atol must be positive and finite");

    /// <inheritdoc cref="DormandPrince"/>
    public int MaxSteps { get; } = MaxSteps is > 0 and <= FixedStepLimits.MaxSteps ? MaxSteps
        : throw new ArgumentOutOfRangeException(nameof(MaxSteps), MaxSteps, $"max steps must be between 1 and {FixedStepLimits.MaxSteps}");

    /// <inheritdoc/>
    public override string Name => "dopri5";

    /// <inheritdoc/>
    public override int Order => 5;

    internal override ButcherTableau Tableau => ButcherTableau.DormandPrince;

    /// <inheritdoc/>
    public override string Format() =>
        string.Create(CultureInfo.InvariantCulture, $"dopri5:{RelativeTolerance:R}:{AbsoluteTolerance:R}:{MaxSteps}");
}

internal static class FixedStepLimits
{
    /// <summary>Steps per solve any solver may take: bounds the memory sized from a description.</summary>
    public const int MaxSteps = 100_000;
}

/// <summary>Any tableau at a fixed number of steps (the adaptive method's own fifth-order formula, for order tests).</summary>
internal sealed record TableauSolver(ButcherTableau Method, int Count, int MethodOrder) : FixedStepOdeSolver(Count)
{
    public override string Name => "fixed";

    public override int Order => MethodOrder;

    internal override ButcherTableau Tableau => Method;
}
