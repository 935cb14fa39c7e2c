using System.Globalization;

namespace Backprop.Functional;

/// <summary>Hyper-parameters of <see cref="KFac{T}"/>: the step θ ← θ − η·v, v ← μv + ν·F̃⁻¹∇C, where F̃ is the
/// damped Kronecker-factored Fisher (Martens &amp; Grosse 2015) and ν ≤ 1 the KL clip.
/// <para>Threads: immutable, so one instance can be shared by any number of threads.</para></summary>
/// <param name="LearningRate">η, the step size along the preconditioned direction (default 0.01).</param>
/// <param name="Momentum">μ, heavy-ball momentum on the (clipped) preconditioned direction, in [0, 1) (default 0: off;
/// with the KL clip binding, μ multiplies the step's size by up to 1/(1 − μ), which the clip does not see).</param>
/// <param name="Damping">λ of the factored Tikhonov damping: each factor gets √λ, split between the two by π
/// (default 1e-3).</param>
/// <param name="Decay">ε of the running averages of the factors, in [0, 1): A ← ε_k A + (1 − ε_k)A_batch with
/// ε_k = min(1 − 1/k, ε) at the k-th statistics update, so the first batch is taken whole (default 0.95).</param>
/// <param name="StatisticsEvery">Steps between updates of the factors A and G (default 10; 1: every step).</param>
/// <param name="InverseEvery">Steps between refreshes of the damped inverses (default 20; 1: every step).</param>
/// <param name="KlClip">κ of the KL clip: the direction is scaled by ν = min(1, √(κ / (η²·∇ᵀF̃⁻¹∇))), so the
/// update's ½η²ν²∇ᵀF̃⁻¹∇ (its KL divergence under F̃) stays below κ/2; <c>null</c> turns it off (default 1e-3).</param>
/// <param name="Seed">Seed of the generator that draws the targets for G from the model's predictive distribution
/// (default 0).</param>
/// <remarks>The defaults are those of the widely used PyTorch K-FAC code (alecwangcq/KFAC-Pytorch: lr 0.01, damping
/// 1e-3, stat_decay 0.95, kl_clip 1e-3, TCov 10) except <see cref="Momentum"/>, 0 instead of 0.9 (on MNIST 784-128-10,
/// batch 64, μ = 0.9 drove the test loss from 0.62 to 0.90 over two epochs, μ = 0 reached 0.087 after one; see
/// docs/curvature.md), and <see cref="InverseEvery"/>, 20 as in Martens &amp; Grosse's T₃ (that code refreshes every 100 steps). λ stays fixed: the paper's Levenberg–Marquardt adjustment of λ,
/// its separate γ and its quadratic-model choice of η and μ are not implemented (see docs/curvature.md).</remarks>
public sealed record KFacOptions(
    double LearningRate = 0.01,
    double Momentum = 0,
    double Damping = 1e-3,
    double Decay = 0.95,
    int StatisticsEvery = 10,
    int InverseEvery = 20,
    double? KlClip = 1e-3,
    long Seed = 0) : CurvatureMethod
{
    /// <summary><c>kfac</c>.</summary>
    public override string Name => "kfac";

    /// <summary>A <see cref="KFac{T}"/> whose target draws are seeded by <see cref="Seed"/> combined with <paramref name="seed"/>.</summary>
    public override ICurvatureOptimizer<T> Create<T>(NetworkSpec spec, int batch, int threads, long seed) =>
        new KFac<T>(spec, batch, this with { Seed = CombineSeeds(Seed, seed) }, threads);

    /// <summary>η, a finite number ≥ 0.</summary>
    public double LearningRate { get; init => field = HyperParameter.NonNegative(value, nameof(LearningRate)); } = HyperParameter.NonNegative(LearningRate, nameof(LearningRate));

    /// <summary>μ, in [0, 1).</summary>
    public double Momentum { get; init => field = HyperParameter.Below1(value, nameof(Momentum)); } = HyperParameter.Below1(Momentum, nameof(Momentum));

    /// <summary>λ, a finite number &gt; 0.</summary>
    public double Damping { get; init => field = Positive(value, nameof(Damping)); } = Positive(Damping, nameof(Damping));

    /// <summary>ε, in [0, 1).</summary>
    public double Decay { get; init => field = HyperParameter.Below1(value, nameof(Decay)); } = HyperParameter.Below1(Decay, nameof(Decay));

    /// <summary>At least 1.</summary>
    public int StatisticsEvery { get; init => field = AtLeast1(value, nameof(StatisticsEvery)); } = AtLeast1(StatisticsEvery, nameof(StatisticsEvery));

    /// <summary>At least 1.</summary>
    public int InverseEvery { get; init => field = AtLeast1(value, nameof(InverseEvery)); } = AtLeast1(InverseEvery, nameof(InverseEvery));

    /// <summary>κ, a finite number &gt; 0, or <c>null</c>.</summary>
    public double? KlClip { get; init => field = value is { } k ? Positive(k, nameof(KlClip)) : null; } = KlClip is { } k ? Positive(k, nameof(KlClip)) : null;

    private static double Positive(double value, string name) =>
        value > 0 && double.IsFinite(value) ? value
        : throw new ArgumentOutOfRangeException(name, string.Create(CultureInfo.InvariantCulture, $"{name} must be a finite number > 0, got {value}"));

    private static int AtLeast1(int value, string name) =>
        value >= 1 ? value
        : throw new ArgumentOutOfRangeException(name, string.Create(CultureInfo.InvariantCulture, $"{name} must be at least 1, got {value}"));
}
