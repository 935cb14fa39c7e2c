using System.Numerics;

namespace Backprop.Functional;

/// <summary>Natural gradient (Amari 1998) by conjugate gradient on Fisher-vector products: d solves (F + λI)d = ∇C,
/// then v ← μv + d and θ ← θ − ηv. Builds a <see cref="NaturalGradient{T}"/>; the CLI's name is <c>natural</c>.
/// <para>Threads: immutable, so one instance can be shared by any number of threads.</para></summary>
/// <param name="LearningRate">η (default 0.3; there is no canonical default: η = 1 is the full step, for the matching
/// output/cost pairs, where the true Fisher equals G, a damped Gauss–Newton step, and with a fixed λ = 10⁻² it diverged
/// on a 4-8-3 classifier; η = 0.3 with λ = 10⁻² was the best of the seven pairs we tried there).</param>
/// <param name="Damping">λ, added to F (default 10⁻², with <paramref name="LearningRate"/>: F is singular for networks
/// with more parameters than rows × outputs, and λ bounds the step by η‖∇C‖/λ; fixed, not adapted).</param>
/// <param name="Fisher">Which Fisher (default <see cref="FisherKind.True"/>, the expectation over the model's own
/// targets, as Amari's; <see cref="FisherKind.Empirical"/> uses the data's targets, see Kunstner et al. 2019 for why
/// that is not the same method).</param>
/// <param name="Momentum">μ of v ← μv + d (default 0: no momentum).</param>
/// <param name="WarmStartDecay">CG starts from this times the previous d (default 0: each solve from zero, so the
/// iterates are those of the Krylov space of ∇C).</param>
/// <param name="Solver">CG's stopping rules (default at most 50 iterations, Martens' relative-progress rule with
/// ε = 5·10⁻⁴; the iterates it keeps are not used).</param>
public sealed record NaturalGradientOptions(
    double LearningRate = 0.3,
    double Damping = 1e-2,
    FisherKind Fisher = FisherKind.True,
    double Momentum = 0,
    double WarmStartDecay = 0,
    ConjugateGradientOptions? Solver = null) : CurvatureMethod
{
    /// <summary>A finite number &gt; 0.</summary>
    public double LearningRate { get; init => field = HessianFreeOptions.Positive(value, nameof(LearningRate)); } =
        HessianFreeOptions.Positive(LearningRate, nameof(LearningRate));

    /// <summary>A finite number &gt; 0.</summary>
    public double Damping { get; init => field = HessianFreeOptions.Positive(value, nameof(Damping)); } =
        HessianFreeOptions.Positive(Damping, nameof(Damping));

    /// <summary>In [0, 1).</summary>
    public double Momentum { get; init => field = HyperParameter.Below1(value, nameof(Momentum)); } = HyperParameter.Below1(Momentum, nameof(Momentum));

    /// <summary>In [0, 1].</summary>
    public double WarmStartDecay { get; init => field = HyperParameter.Fraction(value, nameof(WarmStartDecay)); } =
        HyperParameter.Fraction(WarmStartDecay, nameof(WarmStartDecay));

    /// <summary>A defined <see cref="FisherKind"/>.</summary>
    public FisherKind Fisher { get; init => field = Enum.IsDefined(value) ? value : throw new ArgumentOutOfRangeException(nameof(Fisher), value, "True or Empirical"); } =
        Enum.IsDefined(Fisher) ? Fisher : throw new ArgumentOutOfRangeException(nameof(Fisher), Fisher, "True or Empirical");

    /// <summary><c>natural</c>.</summary>
    public override string Name => "natural";

    /// <inheritdoc/>
    public override ICurvatureOptimizer<T> Create<T>(NetworkSpec spec, int batch, int threads, long seed) =>
        new NaturalGradient<T>(spec, batch, this, threads);

    /// <summary>The solver options in effect: null (given or set) means at most 50 iterations, so the record prints and
    /// compares by the rules CG will follow.</summary>
    public ConjugateGradientOptions? Solver { get; init => field = value ?? DefaultSolver; } = Solver ?? DefaultSolver;

    private static ConjugateGradientOptions DefaultSolver => new(MaxIterations: 50);
}
