namespace Backprop.Functional;

/// <summary>Hyper-parameters of <see cref="AdaHessian{T}"/> (Yao et al. 2021, Algorithm 1). The defaults are the authors'
/// (github.com/amirgholami/adahessian: lr 0.15, betas (0.9, 0.999), eps 1e-4, hessian_power 1, one Hutchinson probe per
/// step); <see cref="UpdateEach"/>, <see cref="Samples"/> and <see cref="SpatialBlock"/> are the knobs of the widely used
/// davda54/ada-hessian port (update_each, n_samples, average_conv_kernel), off by default.</summary>
/// <param name="LearningRate">η.</param>
/// <param name="Beta1">Decay β₁ of the first moment of g.</param>
/// <param name="Beta2">Decay β₂ of the second moment of the Hessian-diagonal estimate D.</param>
/// <param name="Epsilon">ε, added to the denominator after bias correction and the power.</param>
/// <param name="HessianPower">k in [0, 1]: the denominator is v̂^(k/2); 1 is the Newton-like scale, 0 turns AdaHessian into
/// momentum SGD with step η/(1 + ε).</param>
/// <param name="WeightDecay">Decoupled decay λ: θ ← θ − ηλθ before the step (AdamW-style, as the authors' code).</param>
/// <param name="UpdateEach">Refresh D by Hutchinson only every this many steps (≥ 1), reusing the last D in between.</param>
/// <param name="Samples">Rademacher probes per refresh of D (≥ 1).</param>
/// <param name="SpatialBlock">b ≥ 1: replace |D| by its mean over runs of b consecutive entries of each weight row (and of
/// each bias), the paper's spatial averaging (eq. 10), meant for a convolution's kernel positions; 1 turns it off.</param>
/// <param name="Seed">Seed of the Rademacher probes.</param>
public sealed record AdaHessianOptions(
    double LearningRate = 0.15,
    double Beta1 = 0.9,
    double Beta2 = 0.999,
    double Epsilon = 1e-4,
    double HessianPower = 1,
    double WeightDecay = 0,
    int UpdateEach = 1,
    int Samples = 1,
    int SpatialBlock = 1,
    long Seed = 0) : CurvatureMethod
{
    /// <summary><c>adahessian</c>.</summary>
    public override string Name => "adahessian";

    /// <summary>An <see cref="AdaHessian{T}"/> whose probes are seeded by <see cref="Seed"/> combined with <paramref name="seed"/>.</summary>
    public override ICurvatureOptimizer<T> Create<T>(NetworkSpec spec, int batch, int threads, long seed) =>
        new AdaHessian<T>(spec, batch, this with { Seed = CombineSeeds(Seed, seed) }, threads);

    /// <summary>η, a finite number ≥ 0.</summary>
    public double LearningRate { get; init => field = HyperParameter.NonNegative(value, nameof(LearningRate)); } = HyperParameter.NonNegative(LearningRate, nameof(LearningRate));

    /// <summary>β₁, in [0, 1).</summary>
    public double Beta1 { get; init => field = HyperParameter.Below1(value, nameof(Beta1)); } = HyperParameter.Below1(Beta1, nameof(Beta1));

    /// <summary>β₂, in [0, 1).</summary>
    public double Beta2 { get; init => field = HyperParameter.Below1(value, nameof(Beta2)); } = HyperParameter.Below1(Beta2, nameof(Beta2));

    /// <summary>ε, a finite number ≥ 0.</summary>
    public double Epsilon { get; init => field = HyperParameter.NonNegative(value, nameof(Epsilon)); } = HyperParameter.NonNegative(Epsilon, nameof(Epsilon));

    /// <summary>k, in [0, 1].</summary>
    public double HessianPower { get; init => field = HyperParameter.Fraction(value, nameof(HessianPower)); } = HyperParameter.Fraction(HessianPower, nameof(HessianPower));

    /// <summary>λ, a finite number ≥ 0.</summary>
    public double WeightDecay { get; init => field = HyperParameter.NonNegative(value, nameof(WeightDecay)); } = HyperParameter.NonNegative(WeightDecay, nameof(WeightDecay));

    /// <summary>Steps between refreshes of D, ≥ 1.</summary>
    public int UpdateEach { get; init => field = AtLeast1(value, nameof(UpdateEach)); } = AtLeast1(UpdateEach, nameof(UpdateEach));

    /// <summary>Probes per refresh, ≥ 1.</summary>
    public int Samples { get; init => field = AtLeast1(value, nameof(Samples)); } = AtLeast1(Samples, nameof(Samples));

    /// <summary>Spatial-averaging block, ≥ 1 (1: off).</summary>
    public int SpatialBlock { get; init => field = AtLeast1(value, nameof(SpatialBlock)); } = AtLeast1(SpatialBlock, nameof(SpatialBlock));

    private static int AtLeast1(int value, string name) =>
        value >= 1 ? value : throw new ArgumentOutOfRangeException(name, value, $"{name} must be at least 1");
}
