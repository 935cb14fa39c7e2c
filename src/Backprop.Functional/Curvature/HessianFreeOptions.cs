using System.Numerics;

namespace Backprop.Functional;

/// <summary>Hessian-free optimisation (Martens 2010): each update solves the damped Gauss–Newton system
/// (G + λI)d = −∇C by conjugate gradient, backtracks over CG's iterates, adapts λ by Levenberg–Marquardt and ends
/// with an Armijo line search. Builds a <see cref="HessianFree{T}"/>; the CLI's name is <c>hessian-free</c>.
/// <para>Threads: immutable, so one instance can be shared by any number of threads.</para></summary>
/// <param name="Damping">λ₀, the first damping (default 1, as in init2winit's port of Martens' code; only its scale
/// relative to G's eigenvalues matters, and the adaptation below finds that within a few updates). λ then follows the
/// reduction ratio ρ = (C(θ + d) − C(θ)) / (q(d) − q(0)), q the undamped quadratic model gᵀd + ½dᵀGd: ×3/2 when
/// ρ &lt; ¼, ×2/3 when ρ &gt; ¾ (Martens 2010 §4.1, after Moré 1978), unchanged between.</param>
/// <param name="WarmStartDecay">ζ: CG starts from ζ times the previous update's last CG iterate (default 0.95,
/// Martens 2010 §4.5); 0 starts every solve from zero.</param>
/// <param name="CurvatureFraction">The share of the batch (its first rows, at least one) the Gv products run on; the
/// gradient, the backtracking and the line search use the whole batch (default ¼: Martens 2010 §4.3 takes the curvature
/// on a mini-batch much smaller than the gradient's; 1 uses the whole batch).</param>
/// <param name="Solver">CG's stopping and keeping rules (default <see cref="ConjugateGradientOptions"/>'s: at most 250
/// iterations, Martens' relative-progress rule with ε = 5·10⁻⁴, iterates kept at ⌈5·1.3ʲ⌉ for backtracking).</param>
/// <param name="ArmijoConstant">c of the line search's sufficient-decrease test C(θ + αd) ≤ C(θ) + cα∇Cᵀd (default
/// 10⁻², Martens &amp; Sutskever 2012, the line search of their HF).</param>
/// <param name="LineSearchShrink">α ← this·α after each failed test, from α = 1 (default 0.8, Martens &amp; Sutskever
/// 2012).</param>
/// <param name="LineSearchSteps">At most this many shrinks; then no step is taken (α = 0; default 60, Martens' code).</param>
/// <param name="PreconditionerExponent">ξ of Martens' (2010 §4.7) CG preconditioner M = diag((1/m) Σᵢ ∇ℓᵢ⊙∇ℓᵢ + λ)^ξ,
/// the squared per-sample gradients of the gradient's batch (default ¾, his choice; 0 runs CG unpreconditioned; networks
/// with other than dense layers always do).</param>
/// <param name="InitialIterations">K₀ of a growing CG cap: update k (from 0) runs at most min(⌈K₀·γᵏ⌉,
/// <see cref="ConjugateGradientOptions.MaxIterations"/>) iterations, γ = <paramref name="IterationGrowth"/> (default 0: no
/// schedule, every solve may run to the solver's cap). Ours: early in training many cheap updates gain most, later
/// better solves (docs/curvature.md, "The MNIST autoencoder race").</param>
/// <param name="IterationGrowth">γ ≥ 1 of the growing cap (default 1).</param>
/// <param name="HeldOutFraction">The share h of the batch (its last ⌊h·rows⌉ rows, at least one) held out of the fit:
/// the gradient, the preconditioner and Gv use the other rows, and CG backtracking, ρ and the line search measure C on
/// the held-out rows (default 0: everything on the whole batch, as in Martens 2010). Ours: ρ measured on the rows a
/// step was fitted to overstates how well the step generalises, so λ falls too far (docs/curvature.md, "The MNIST
/// autoencoder race").</param>
/// <param name="MinDamping">A floor under λ: the ×2/3 decrease stops there (default 0: none).</param>
/// <param name="Preconditioner">CG's preconditioner: <see cref="HessianFreePreconditioner.Diagonal"/> (default, Martens
/// 2010) or <see cref="HessianFreePreconditioner.KFac"/>, the Kronecker-factored blocks of the damped Gauss–Newton matrix
/// on the curvature rows (Martens &amp; Grosse 2015; ours to use them inside Hessian-free's CG: docs/curvature.md,
/// "K-FAC as CG's preconditioner"; dense networks only).</param>
/// <param name="PreconditionerRows">With the K-FAC preconditioner: its factors come from the first this many curvature
/// rows (default 0: all of them). Applying M⁻¹ costs about 4·m multiply-adds per parameter for m rows, a Gv product's
/// worth at m = the curvature rows; fewer rows make it cheaper and its factors noisier.</param>
public sealed record HessianFreeOptions(
    double Damping = 1.0,
    double WarmStartDecay = 0.95,
    double CurvatureFraction = 0.25,
    ConjugateGradientOptions? Solver = null,
    double ArmijoConstant = 1e-2,
    double LineSearchShrink = 0.8,
    int LineSearchSteps = 60,
    double PreconditionerExponent = 0.75,
    int InitialIterations = 0,
    double IterationGrowth = 1,
    double HeldOutFraction = 0,
    double MinDamping = 0,
    HessianFreePreconditioner Preconditioner = HessianFreePreconditioner.Diagonal,
    int PreconditionerRows = 0) : CurvatureMethod
{
    /// <summary>At least 0 (0: all the curvature rows).</summary>
    public int PreconditionerRows { get; init => field = value >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(PreconditionerRows), value, "at least 0"); } =
        PreconditionerRows >= 0 ? PreconditionerRows : throw new ArgumentOutOfRangeException(nameof(PreconditionerRows), PreconditionerRows, "at least 0");

    /// <summary>A defined <see cref="HessianFreePreconditioner"/>.</summary>
    public HessianFreePreconditioner Preconditioner { get; init => field = Defined(value, nameof(Preconditioner)); } = Defined(Preconditioner, nameof(Preconditioner));

    /// <summary>A finite number &gt; 0.</summary>
    public double Damping { get; init => field = Positive(value, nameof(Damping)); } = Positive(Damping, nameof(Damping));

    /// <summary>The solver options in effect: null (given or set) means <see cref="ConjugateGradientOptions"/>' defaults,
    /// so the record prints and compares by the rules CG will follow.</summary>
    public ConjugateGradientOptions? Solver { get; init => field = value ?? new ConjugateGradientOptions(); } = Solver ?? new ConjugateGradientOptions();

    /// <summary>In [0, 1].</summary>
    public double WarmStartDecay { get; init => field = HyperParameter.Fraction(value, nameof(WarmStartDecay)); } =
        HyperParameter.Fraction(WarmStartDecay, nameof(WarmStartDecay));

    /// <summary>In (0, 1].</summary>
    public double CurvatureFraction { get; init => field = OpenFraction(value, nameof(CurvatureFraction)); } =
        OpenFraction(CurvatureFraction, nameof(CurvatureFraction));

    /// <summary>In (0, 1).</summary>
    public double ArmijoConstant { get; init => field = Open(value, nameof(ArmijoConstant)); } = Open(ArmijoConstant, nameof(ArmijoConstant));

    /// <summary>In (0, 1).</summary>
    public double LineSearchShrink { get; init => field = Open(value, nameof(LineSearchShrink)); } = Open(LineSearchShrink, nameof(LineSearchShrink));

    /// <summary>At least 0.</summary>
    public int LineSearchSteps { get; init => field = value >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(LineSearchSteps), value, "at least 0"); } =
        LineSearchSteps >= 0 ? LineSearchSteps : throw new ArgumentOutOfRangeException(nameof(LineSearchSteps), LineSearchSteps, "at least 0");

    /// <summary>In [0, 1].</summary>
    public double PreconditionerExponent { get; init => field = HyperParameter.Fraction(value, nameof(PreconditionerExponent)); } =
        HyperParameter.Fraction(PreconditionerExponent, nameof(PreconditionerExponent));

    /// <summary>At least 0 (0: no schedule).</summary>
    public int InitialIterations { get; init => field = value >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(InitialIterations), value, "at least 0"); } =
        InitialIterations >= 0 ? InitialIterations : throw new ArgumentOutOfRangeException(nameof(InitialIterations), InitialIterations, "at least 0");

    /// <summary>A finite number ≥ 1.</summary>
    public double IterationGrowth { get; init => field = Growth(value, nameof(IterationGrowth)); } = Growth(IterationGrowth, nameof(IterationGrowth));

    /// <summary>In [0, 1).</summary>
    public double HeldOutFraction { get; init => field = HeldOut(value, nameof(HeldOutFraction)); } = HeldOut(HeldOutFraction, nameof(HeldOutFraction));

    /// <summary>A finite number ≥ 0.</summary>
    public double MinDamping { get; init => field = NonNegative(value, nameof(MinDamping)); } = NonNegative(MinDamping, nameof(MinDamping));

    /// <summary>The CG cap of update <paramref name="update"/> (from 0): min(⌈K₀·γᵏ⌉, the solver's cap), or the solver's
    /// cap without a schedule.</summary>
    public int IterationCap(long update) => IterationCap(update, Solver!.MaxIterations);

    /// <summary><see cref="IterationCap(long)"/> under the solver's cap <paramref name="max"/> (allocates nothing).</summary>
    internal int IterationCap(long update, int max)
    {
        if (InitialIterations == 0) return max;
        double cap = Math.Ceiling(InitialIterations * Math.Pow(IterationGrowth, update));
        return cap >= max ? max : (int)cap;
    }

    /// <summary><c>hessian-free</c>.</summary>
    public override string Name => "hessian-free";

    /// <inheritdoc/>
    public override ICurvatureOptimizer<T> Create<T>(NetworkSpec spec, int batch, int threads, long seed) =>
        new HessianFree<T>(spec, batch, this, threads, seed);

    internal static double Positive(double value, string name) =>
        value > 0 && double.IsFinite(value) ? value : throw new ArgumentOutOfRangeException(name, value, $"{name} must be a finite number > 0");

    internal static double OpenFraction(double value, string name) =>
        value is > 0 and <= 1 ? value : throw new ArgumentOutOfRangeException(name, value, $"{name} must be in (0, 1]");

    private static double Growth(double value, string name) =>
        value >= 1 && double.IsFinite(value) ? value : throw new ArgumentOutOfRangeException(name, value, $"{name} must be a finite number ≥ 1");

    private static double HeldOut(double value, string name) =>
        value is >= 0 and < 1 ? value : throw new ArgumentOutOfRangeException(name, value, $"{name} must be in [0, 1)");

    private static double NonNegative(double value, string name) =>
        value >= 0 && double.IsFinite(value) ? value : throw new ArgumentOutOfRangeException(name, value, $"{name} must be a finite number ≥ 0");

    private static HessianFreePreconditioner Defined(HessianFreePreconditioner value, string name) =>
        Enum.IsDefined(value) ? value : throw new ArgumentOutOfRangeException(name, value, $"{name} must be Diagonal or KFac, got {(int)value}");

    private static double Open(double value, string name) =>
        value is > 0 and < 1 ? value : throw new ArgumentOutOfRangeException(name, value, $"{name} must be in (0, 1)");
}
